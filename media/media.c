#include <stdio.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "media.h"

//  Codecs that Matroska and players handle well and that FFmpeg names the
//  same way in every version we build with.  Anything else is refused:
//  a viewer never hands an exotic codec's parameters to its muxer.
static const struct {
    const char *name;
    int kind;
} s_allowed [] = {
    { "h264", MEDIA_VIDEO }, { "hevc", MEDIA_VIDEO }, { "vp8", MEDIA_VIDEO },
    { "vp9", MEDIA_VIDEO }, { "av1", MEDIA_VIDEO }, { "mpeg4", MEDIA_VIDEO },
    { "mpeg2video", MEDIA_VIDEO }, { "mpeg1video", MEDIA_VIDEO }, { "theora", MEDIA_VIDEO },
    { "aac", MEDIA_AUDIO }, { "mp3", MEDIA_AUDIO }, { "mp2", MEDIA_AUDIO },
    { "opus", MEDIA_AUDIO }, { "vorbis", MEDIA_AUDIO }, { "flac", MEDIA_AUDIO },
    { "ac3", MEDIA_AUDIO }, { "eac3", MEDIA_AUDIO },
    { "subrip", MEDIA_SUBTITLE }, { "ass", MEDIA_SUBTITLE }, { "ssa", MEDIA_SUBTITLE },
    { "webvtt", MEDIA_SUBTITLE },
};

const char *
media_kind_name (int kind)
{
    return kind == MEDIA_VIDEO? "video": kind == MEDIA_AUDIO? "audio": "subtitle";
}

bool
media_codec_allowed (const char *codec, int *kind)
{
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed [0]; i++)
        if (strcmp (codec, s_allowed [i].name) == 0) {
            if (kind)
                *kind = s_allowed [i].kind;
            return true;
        }
    return false;
}

//  H.264 (avcC) and HEVC (hvcC) codec data lists parameter sets by count
//  and length.  Muxers and their bitstream filters loop over those counts
//  (FFmpeg's hevc_mp4toannexb grows a buffer once per declared NAL), so
//  every count and length must fit the bytes there, within a small total.
#define NALS_MAX 64
static bool
s_nals_fit (const uint8_t *p, size_t len, size_t *at, unsigned count, int *total)
{
    for (unsigned i = 0; i < count; i++) {
        if (len - *at < 2 || ++*total > NALS_MAX)
            return false;
        size_t n = (size_t) p [*at] << 8 | p [*at + 1];
        *at += 2;
        if (n == 0 || n > len - *at)
            return false;
        *at += n;
    }
    return true;
}

static bool
s_codec_data_fits (const media_stream_t *s)
{
    const uint8_t *p = s->extradata;
    size_t len = s->extradata_size, at;
    int total = 0;
    bool h264 = strcmp (s->codec, "h264") == 0, hevc = strcmp (s->codec, "hevc") == 0;
    //  AV1 codec data is an av1C record (marker and version 1), as every
    //  container we read gives it: anything else FFmpeg parses as OBUs,
    //  and some such bytes keep its Matroska muxer looping (fuzz_stream)
    if (len && strcmp (s->codec, "av1") == 0)
        return len >= 4 && p [0] == 0x81;
    if (len == 0 || (!h264 && !hevc))
        return true;
    //  Annex B (start codes) has no counts to trust; anything else is read
    //  as avcC / hvcC by FFmpeg whatever its version byte says
    if (len >= 3 && p [0] == 0 && p [1] == 0 && (p [2] == 1 || (len >= 4 && p [2] == 0 && p [3] == 1)))
        return true;
    if (h264) {
        if (len < 7)
            return false;
        at = 6;
        if (!s_nals_fit (p, len, &at, p [5] & 0x1f, &total) || at >= len)
            return false;
        unsigned pps = p [at++];
        return s_nals_fit (p, len, &at, pps, &total);
    }
    if (hevc) {
        if (len < 23)
            return false;
        at = 23;
        for (unsigned a = 0; a < p [22]; a++) {
            if (len - at < 3)
                return false;
            unsigned count = (unsigned) p [at + 1] << 8 | p [at + 2];
            at += 3;
            if (!s_nals_fit (p, len, &at, count, &total))
                return false;
        }
    }
    return true;
}

static bool
s_in (int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

//  A NUL-terminated string within size: a language (empty, or 2 or 3
//  letters a-z) or a title (no control characters).
static bool
s_word (const char *text, size_t size, bool title)
{
    size_t len = strnlen (text, size);
    if (len == size)
        return false;
    if (!title && len != 0 && len != 2 && len != 3)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text [i];
        if (title? c < 0x20 || c == 0x7f: c < 'a' || c > 'z')
            return false;
    }
    return true;
}

int
media_header_check (const media_header_t *h, char *err, size_t err_size)
{
    if (h->nstreams < 1 || h->nstreams > MEDIA_STREAMS_MAX) {
        snprintf (err, err_size, "a stream header must list 1 to %d streams, not %d",
                  MEDIA_STREAMS_MAX, h->nstreams);
        return SC_EMALFORMED;
    }
    if (h->duration_ms < 0 || h->start_ms < 0) {
        snprintf (err, err_size, "negative duration or start in a stream header");
        return SC_EMALFORMED;
    }
    bool video = false;
    for (int i = 0; i < h->nstreams; i++) {
        const media_stream_t *s = &h->streams [i];
        int kind;
        if (memchr (s->codec, 0, sizeof s->codec) == NULL
        ||  !media_codec_allowed (s->codec, &kind) || kind != s->kind) {
            snprintf (err, err_size, "stream %d: codec '%.*s' is not one we play", i,
                      (int) strnlen (s->codec, sizeof s->codec - 1), s->codec);
            return SC_EMALFORMED;
        }
        if (s->tb_num < 1 || s->tb_den < 1) {
            snprintf (err, err_size, "stream %d: bad time base %d/%d", i, s->tb_num, s->tb_den);
            return SC_EMALFORMED;
        }
        if (s->extradata_size > MEDIA_EXTRADATA_MAX || (s->extradata_size && !s->extradata)) {
            snprintf (err, err_size, "stream %d: %zu bytes of codec data (at most %d)", i,
                      s->extradata_size, MEDIA_EXTRADATA_MAX);
            return SC_ETOOBIG;
        }
        if (!s_codec_data_fits (s)) {
            snprintf (err, err_size, "stream %d: the %s codec data does not hold what it declares",
                      i, s->codec);
            return SC_EMALFORMED;
        }
        if (s->kind == MEDIA_VIDEO) {
            video = true;
            if (!s_in (s->width, 1, MEDIA_DIM_MAX) || !s_in (s->height, 1, MEDIA_DIM_MAX)
            ||  s->sar_num < 0 || s->sar_den < 0) {
                snprintf (err, err_size, "stream %d: picture size %dx%d is out of bounds (at most %d)",
                          i, s->width, s->height, MEDIA_DIM_MAX);
                return SC_ETOOBIG;
            }
        }
        else if (s->kind == MEDIA_AUDIO
             && (!s_in (s->sample_rate, 1, MEDIA_RATE_MAX) || !s_in (s->channels, 1, MEDIA_CHANNELS_MAX))) {
            snprintf (err, err_size, "stream %d: %d Hz with %d channels is out of bounds", i,
                      s->sample_rate, s->channels);
            return SC_EMALFORMED;
        }
        //  Everything else is a small number; a negative or huge one is a lie
        if (!s_in (s->frame_size, 0, 1 << 20) || !s_in (s->initial_padding, 0, 1 << 20)
        ||  !s_in (s->trailing_padding, 0, 1 << 20) || !s_in (s->seek_preroll, 0, 1 << 20)
        ||  !s_in (s->block_align, 0, 1 << 20) || !s_in (s->bits_per_coded_sample, 0, 64)
        ||  s->bit_rate < 0 || !s_in (s->field_order, 0, 16) || !s_in (s->color_range, 0, 16)
        ||  !s_in (s->color_primaries, 0, 255) || !s_in (s->color_trc, 0, 255)
        ||  !s_in (s->color_space, 0, 255) || !s_in (s->chroma_location, 0, 16)) {
            snprintf (err, err_size, "stream %d: codec parameters out of bounds", i);
            return SC_EMALFORMED;
        }
        if (!s_in (s->video_delay, 0, MEDIA_DELAY_MAX) || !s_word (s->language, MEDIA_LANG_MAX, false)) {
            snprintf (err, err_size, "stream %d: reordering or language out of bounds", i);
            return SC_EMALFORMED;
        }
    }
    if (h->nchapters < 0 || h->nchapters > MEDIA_CHAPTERS_MAX) {
        snprintf (err, err_size, "%d chapters (at most %d)", h->nchapters, MEDIA_CHAPTERS_MAX);
        return SC_ETOOBIG;
    }
    for (int i = 0; i < h->nchapters; i++) {
        const media_chapter_t *c = &h->chapters [i];
        if (c->start_ms < 0 || c->end_ms < c->start_ms || c->end_ms > INT64_MAX / 1000
        ||  !s_word (c->title, MEDIA_TITLE_MAX, true)) {
            snprintf (err, err_size, "chapter %d is out of bounds", i);
            return SC_EMALFORMED;
        }
    }
    if (!video) {
        snprintf (err, err_size, "the stream has no video");
        return SC_EMALFORMED;
    }
    return 0;
}

int
media_offset_check (uint64_t offset_ms, char *err, size_t err_size)
{
    if (offset_ms <= (uint64_t) MEDIA_OFFSET_MAX_MS)
        return 0;
    snprintf (err, err_size, "the offset %llu.%03llu s is past any video we stream (at most %lld s)",
              (unsigned long long) (offset_ms / 1000), (unsigned long long) (offset_ms % 1000),
              MEDIA_OFFSET_MAX_MS / 1000);
    return SC_EINVAL;
}

int
media_packet_check (const media_header_t *h, const media_packet_t *p, char *err, size_t err_size)
{
    if (p->stream < 0 || p->stream >= h->nstreams) {
        snprintf (err, err_size, "a packet names stream %d of %d", p->stream, h->nstreams);
        return SC_EMALFORMED;
    }
    if (p->size == 0 || p->size > MEDIA_PART_MAX) {
        snprintf (err, err_size, "a packet record of %zu bytes (1 to %d)", p->size, MEDIA_PART_MAX);
        return SC_EMALFORMED;
    }
    if (p->duration < 0) {
        snprintf (err, err_size, "a packet with a negative duration");
        return SC_EMALFORMED;
    }
    return 0;
}

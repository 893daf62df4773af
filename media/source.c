#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "dts.h"
#include "fdio.h"
#include "probe.h"
#include "source.h"

#define IO_BUFFER (64 * 1024)
#define AHEAD_MAX 4096                  //  packets read ahead to measure reordering
#define AHEAD_BYTES (64 * 1024 * 1024)
#define S_START_MAX (100LL * 365 * 86400 * AV_TIME_BASE)      //  a file's start time, a century

struct _media_source_t {
    int fd;                         //  first: fdio_seek reads it
    AVFormatContext *fmt;
    AVIOContext *io;
    AVPacket *pkt;
    int map [64];                   //  file stream -> our stream, -1 dropped
    int video;                      //  our first video stream
    bool keyframe_seen;             //  video waits for its first keyframe
    media_header_t header;
    media_dts_t *dts [MEDIA_STREAMS_MAX];       //  decode timestamps made here, or NULL
    AVPacket **ahead;               //  read ahead at the open, handed out first
    size_t ahead_at, ahead_len, ahead_cap;
    AVPacket *out;                  //  the packet last handed out
};

static int s_look_ahead (media_source_t *self, char *err, size_t err_size);

static int
s_read (void *opaque, uint8_t *buf, int size)
{
    media_source_t *self = opaque;
    ssize_t n;
    do
        n = read (self->fd, buf, (size_t) size);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return AVERROR (errno);
    return n == 0? AVERROR_EOF: (int) n;
}

//  Copies what a muxer needs from the file's codec parameters.
static void
s_describe (const AVStream *st, media_stream_t *s)
{
    const AVCodecParameters *par = st->codecpar;
    snprintf (s->codec, sizeof s->codec, "%s", avcodec_get_name (par->codec_id));
    s->tb_num = st->time_base.num;
    s->tb_den = st->time_base.den;
    s->extradata = par->extradata;
    s->extradata_size = par->extradata? (size_t) par->extradata_size: 0;
    s->width = par->width;
    s->height = par->height;
    s->sar_num = par->sample_aspect_ratio.num;
    s->sar_den = par->sample_aspect_ratio.den;
    s->field_order = par->field_order;
    s->color_range = par->color_range;
    s->color_primaries = par->color_primaries;
    s->color_trc = par->color_trc;
    s->color_space = par->color_space;
    s->chroma_location = par->chroma_location;
    s->sample_rate = par->sample_rate;
    s->channels = par->ch_layout.nb_channels;
    s->channel_mask = par->ch_layout.order == AV_CHANNEL_ORDER_NATIVE? par->ch_layout.u.mask: 0;
    s->frame_size = par->frame_size;
    s->initial_padding = par->initial_padding;
    s->trailing_padding = par->trailing_padding;
    s->seek_preroll = par->seek_preroll;
    s->block_align = par->block_align;
    s->bits_per_coded_sample = par->bits_per_coded_sample;
    s->profile = par->profile;
    s->level = par->level;
    s->bit_rate = par->bit_rate;
    s->video_delay = par->video_delay >= 0 && par->video_delay <= MEDIA_DELAY_MAX? par->video_delay: 0;
    probe_language (st, s->language);
}

int
media_source_open (int fd, int64_t offset_ms, media_source_t **out, char *err, size_t err_size)
{
    *out = NULL;
    //  Bounded before any arithmetic on it (a WATCH says any 64-bit number)
    if (offset_ms < 0) {
        snprintf (err, err_size, "a negative offset");
        return SC_EINVAL;
    }
    if (media_offset_check ((uint64_t) offset_ms, err, err_size) != 0)
        return SC_EINVAL;
    av_log_set_level (AV_LOG_QUIET);
    media_source_t *self = calloc (1, sizeof *self);
    uint8_t *buffer = av_malloc (IO_BUFFER);
    if (!self || !buffer) {
        av_free (buffer);
        free (self);
        snprintf (err, err_size, "out of memory");
        return SC_ENOMEM;
    }
    self->fd = fd;
    self->video = -1;
    int rc = SC_EIO;            //  the file cannot be read as a video, unless said below
    self->io = avio_alloc_context (buffer, IO_BUFFER, 0, self, s_read, NULL, fdio_seek);
    self->fmt = avformat_alloc_context ();
    self->pkt = av_packet_alloc ();
    if (!self->io || !self->fmt || !self->pkt) {
        if (!self->io)
            av_free (buffer);
        snprintf (err, err_size, "out of memory");
        goto out;
    }
    self->fmt->pb = self->io;
    //  Packets without pts (AVI's packed B-frames) get them made from the
    //  next ones' dts, as ffmpeg -fflags +genpts does: without, no muxer
    //  writes them
    self->fmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_GENPTS;
    if (avformat_open_input (&self->fmt, NULL, NULL, NULL) != 0) {
        snprintf (err, err_size, "the file is not a media file FFmpeg can read");
        goto out;
    }
    //  Containers like MP4, Matroska and WebM say everything in their header;
    //  only when a stream lacks what a muxer needs are packets decoded to
    //  find it (which costs a viewer several milliseconds of waiting)
    bool complete = self->fmt->nb_streams > 0;
    for (unsigned i = 0; i < self->fmt->nb_streams; i++) {
        const AVCodecParameters *par = self->fmt->streams [i]->codecpar;
        if (par->codec_id == AV_CODEC_ID_NONE
        ||  (par->codec_type == AVMEDIA_TYPE_VIDEO && (par->width <= 0 || par->height <= 0))
        ||  (par->codec_type == AVMEDIA_TYPE_AUDIO && (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0)))
            complete = false;
    }
    //  They are read too before a seek in a file sought by decode
    //  timestamps (below)
    bool seek_by_dts = offset_ms > 0 && !(self->fmt->iformat->flags & AVFMT_SEEK_TO_PTS);
    if ((!complete || seek_by_dts) && avformat_find_stream_info (self->fmt, NULL) < 0) {
        snprintf (err, err_size, "cannot read the streams of the file");
        goto out;
    }
    media_header_t *h = &self->header;
    for (unsigned i = 0; i < self->fmt->nb_streams && i < 64; i++) {
        const AVStream *st = self->fmt->streams [i];
        int kind;
        self->map [i] = -1;
        //  Cover art, data and codecs outside the allowlist stay home
        //  (probe.c says so in /videos)
        if (h->nstreams == MEDIA_STREAMS_MAX || probe_stream_refusal (st, &kind) != NULL)
            continue;
        media_stream_t *s = &h->streams [h->nstreams];
        s->kind = kind;
        s_describe (st, s);
        if (kind == MEDIA_VIDEO && self->video < 0)
            self->video = h->nstreams;
        self->map [i] = h->nstreams++;
    }
    if (self->fmt->duration > 0)
        h->duration_ms = self->fmt->duration / 1000;
    probe_chapters (self->fmt, h);
    if (self->video < 0) {
        snprintf (err, err_size, "the file has no video in a codec we stream");
        goto out;
    }
    char why [200];
    if (media_header_check (h, why, sizeof why) != 0) {
        snprintf (err, err_size, "the file cannot be streamed: %s", why);
        goto out;
    }
    if (offset_ms > 0) {
        if (h->duration_ms > 0 && offset_ms >= h->duration_ms) {
            snprintf (err, err_size, "the offset %lld.%03lld s is past the end (%lld.%03lld s)",
                      (long long) offset_ms / 1000, (long long) offset_ms % 1000,
                      (long long) h->duration_ms / 1000, (long long) h->duration_ms % 1000);
            goto out;
        }
        //  The keyframe at or before the offset, on the default (video)
        //  stream, as ffmpeg -ss finds it: a file that seeks by decode
        //  timestamps (MPEG-TS, AVI, FLV) with B-frames is sought 3/23 s
        //  earlier, else the seek can land past the keyframe it wants.
        //  (Whether there are B-frames is known once frames are decoded.)
        int64_t ts = offset_ms * (AV_TIME_BASE / 1000);
        //  (A start time past a century either way is nonsense, not added)
        int64_t start = self->fmt->start_time;
        if (start != AV_NOPTS_VALUE && start > -S_START_MAX && start < S_START_MAX)
            ts += start;
        if (seek_by_dts) {
            for (unsigned i = 0; i < self->fmt->nb_streams; i++)
                if (self->fmt->streams [i]->codecpar->video_delay > 0) {
                    ts -= 3 * AV_TIME_BASE / 23;
                    break;
                }
        }
        if (av_seek_frame (self->fmt, -1, ts, AVSEEK_FLAG_BACKWARD) < 0) {
            snprintf (err, err_size, "cannot seek to %lld ms in this file", (long long) offset_ms);
            goto out;
        }
        h->start_ms = offset_ms;
    }
    if (s_look_ahead (self, err, err_size) != 0)
        goto out;
    rc = 0;
out:
    if (rc == 0)
        *out = self;
    else
        media_source_destroy (&self);
    return rc;
}

const media_header_t *
media_source_header (const media_source_t *self)
{
    return &self->header;
}

//  Reads the next packet that will be sent into self->pkt (stream_index
//  set to ours).  Returns 1, 0 at the end, or -1 with err.
static int
s_next (media_source_t *self, char *err, size_t err_size)
{
    for (;;) {
        av_packet_unref (self->pkt);
        int rc = av_read_frame (self->fmt, self->pkt);
        if (rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            char text [AV_ERROR_MAX_STRING_SIZE];
            av_strerror (rc, text, sizeof text);
            snprintf (err, err_size, "reading the file failed: %s", text);
            return SC_EIO;
        }
        int index = self->pkt->stream_index;
        if (index < 0 || index >= 64 || (unsigned) index >= self->fmt->nb_streams
        ||  self->map [index] < 0)
            continue;
        int stream = self->map [index];
        bool key = self->pkt->flags & AV_PKT_FLAG_KEY;
        //  The picture starts at a keyframe, whatever the seek gave
        if (stream == self->video && !self->keyframe_seen) {
            if (!key)
                continue;
            self->keyframe_seen = true;
        }
        if (self->pkt->size > MEDIA_PACKET_MAX) {       //  parts join up to this
            snprintf (err, err_size, "a packet of %d bytes is larger than we stream (%d)",
                      self->pkt->size, MEDIA_PACKET_MAX);
            return SC_ETOOBIG;
        }
        if (self->pkt->size <= 0)
            continue;
        self->pkt->stream_index = stream;
        return 1;
    }
}

static int64_t
s_ts (int64_t ts)
{
    return ts == AV_NOPTS_VALUE? MEDIA_NOPTS: ts;
}

//  Reads ahead until each video stream has MEDIA_DTS_WINDOW packets (or the
//  file ends), then decides per video stream whether its decode timestamps
//  are remade (dts.h).  Returns 0 or -1 with err.
static int
s_look_ahead (media_source_t *self, char *err, size_t err_size)
{
    const media_header_t *h = &self->header;
    size_t have [MEDIA_STREAMS_MAX] = { 0 }, bytes = 0;
    bool trusted [MEDIA_STREAMS_MAX] = { false };
    for (;;) {
        bool enough = true;
        for (int i = 0; i < h->nstreams; i++)
            if (h->streams [i].kind == MEDIA_VIDEO && have [i] < MEDIA_DTS_WINDOW && !trusted [i])
                enough = false;
        if (enough || self->ahead_len == AHEAD_MAX || bytes > AHEAD_BYTES)
            break;
        int rc = s_next (self, err, err_size);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        if (self->ahead_len == self->ahead_cap) {
            size_t cap = self->ahead_cap? self->ahead_cap * 2: 256;
            AVPacket **more = realloc (self->ahead, cap * sizeof *more);
            if (!more) {
                snprintf (err, err_size, "out of memory");
                return SC_ENOMEM;
            }
            self->ahead = more;
            self->ahead_cap = cap;
        }
        AVPacket *copy = av_packet_alloc ();
        if (!copy) {
            snprintf (err, err_size, "out of memory");
            return SC_ENOMEM;
        }
        av_packet_move_ref (copy, self->pkt);
        self->ahead [self->ahead_len++] = copy;
        //  A container that gives the first picture a dts before its pts
        //  stores decode timestamps (MP4, MPEG-TS): nothing to wait for
        if (have [copy->stream_index]++ == 0 && copy->dts != AV_NOPTS_VALUE
        &&  copy->pts != AV_NOPTS_VALUE && copy->dts < copy->pts)
            trusted [copy->stream_index] = true;
        bytes += (size_t) copy->size;
    }
    for (int i = 0; i < h->nstreams; i++) {
        if (h->streams [i].kind != MEDIA_VIDEO || have [i] == 0 || trusted [i])
            continue;
        int64_t pts [MEDIA_DTS_WINDOW], dts [MEDIA_DTS_WINDOW], dur [MEDIA_DTS_WINDOW];
        size_t n = 0;
        for (size_t k = 0; k < self->ahead_len && n < MEDIA_DTS_WINDOW; k++) {
            const AVPacket *pkt = self->ahead [k];
            if (pkt->stream_index != i)
                continue;
            pts [n] = s_ts (pkt->pts);
            dts [n] = s_ts (pkt->dts);
            dur [n++] = pkt->duration > 0? pkt->duration: 0;
        }
        self->dts [i] = media_dts_new (pts, dts, dur, n, h->streams [i].video_delay);
        if (self->dts [i])
            self->header.streams [i].video_delay = media_dts_delay (self->dts [i]);
    }
    return 0;
}

int
media_source_read (media_source_t *self, media_packet_t *p, char *err, size_t err_size)
{
    AVPacket *pkt = self->pkt;
    if (self->ahead_at < self->ahead_len) {
        av_packet_free (&self->out);
        self->out = self->ahead [self->ahead_at];
        self->ahead [self->ahead_at++] = NULL;
        pkt = self->out;
    }
    else {
        int rc = s_next (self, err, err_size);
        if (rc <= 0)
            return rc;
    }
    int stream = pkt->stream_index;
    *p = (media_packet_t) {
        .stream = stream, .key = pkt->flags & AV_PKT_FLAG_KEY,
        .pts = s_ts (pkt->pts), .dts = s_ts (pkt->dts),
        .duration = pkt->duration > 0? pkt->duration: 0,
        .data = pkt->data, .size = (size_t) pkt->size,
    };
    if (self->dts [stream])
        p->dts = media_dts_next (self->dts [stream], p->pts);
    return 1;
}

void
media_source_destroy (media_source_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    media_source_t *self = *self_p;
    av_packet_free (&self->pkt);
    av_packet_free (&self->out);
    for (size_t i = self->ahead_at; i < self->ahead_len; i++)
        av_packet_free (&self->ahead [i]);
    free (self->ahead);
    for (int i = 0; i < MEDIA_STREAMS_MAX; i++)
        media_dts_destroy (&self->dts [i]);
    if (self->fmt)
        avformat_close_input (&self->fmt);
    if (self->io) {
        av_freep (&self->io->buffer);
        avio_context_free (&self->io);
    }
    free (self);
    *self_p = NULL;
}

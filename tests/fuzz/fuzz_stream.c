//  libFuzzer harness: what a viewer gets from an owner.  Stream headers and
//  packet batches are decoded (media/pack.c) and, when they pass the checks,
//  handed to the real muxer (media/sink.c) writing to /dev/null, the way the
//  viewer's helper does.  The first byte picks how the rest is read:
//    even: [2-byte header length][header msgpack][batch msgpack]
//    odd:  header fields taken from the bytes themselves (so that headers
//          which pass media_header_check are common), then packets
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../media/pack.h"
#include "../../media/sink.h"

static int s_null = -1;

//  FFmpeg's bitstream filters reallocate a lot for some extradata (seconds
//  and ~90 MB for one input, all freed); ASan's quarantine would keep every
//  freed byte and trip the RSS limit, so keep it small here.
const char *
__asan_default_options (void)
{
    return "quarantine_size_mb=32";
}

static int
s_write (void *arg, const media_packet_t *p)
{
    char err [256];
    return media_sink_write (arg, p, err, sizeof err) == 0? 0: -1;
}

//  Reads n bytes as an integer (0 when the input is short).
static int64_t
s_take (const uint8_t **data, size_t *size, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n && *size; i++, (*data)++, (*size)--)
        v = (v << 8) | **data;
    return v;
}

static void
s_mux (const media_header_t *h, const uint8_t *batch, size_t batch_len, bool decoded)
{
    media_sink_t *sink;
    char err [256];
    const char *format = batch_len & 1? "mpegts": "matroska";
    if (media_sink_open (h, format, s_null, &sink, err, sizeof err) != 0)
        return;
    if (decoded)
        (void) pack_batch_decode (batch, batch_len, h, s_write, sink, err, sizeof err);
    else {
        //  Packets straight from the bytes: [stream][dts:2][pts:1][size:2][data]
        int64_t dts = 0;
        while (batch_len >= 7) {
            media_packet_t p = { .stream = (int) s_take (&batch, &batch_len, 1) % h->nstreams };
            dts += s_take (&batch, &batch_len, 2);
            p.pts = dts + s_take (&batch, &batch_len, 1);
            //  Some without decode timestamps: the muxer makes them
            p.dts = (dts & 12) == 4? MEDIA_NOPTS: dts;
            p.key = p.stream == 0;
            p.more = (dts & 3) == 1;        //  some records are parts of one packet
            p.duration = 1;
            size_t n = (size_t) s_take (&batch, &batch_len, 2) % 512 + 1;
            if (n > batch_len)
                n = batch_len;
            p.data = batch;
            p.size = n;
            batch += n;
            batch_len -= n;
            if (p.size == 0 || media_sink_write (sink, &p, err, sizeof err) != 0)
                break;
        }
    }
    media_sink_close (&sink, true, err, sizeof err);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (s_null < 0)
        s_null = open ("/dev/null", O_WRONLY);
    if (size < 3)
        return 0;
    bool structured = data [0] & 1;
    data++;
    size--;
    media_header_t h;
    char err [256];
    if (!structured) {
        size_t hlen = ((size_t) data [0] << 8 | data [1]) % (size - 1);
        data += 2;
        size -= 2;
        if (pack_header_decode (data, hlen, &h, err, sizeof err) == 0)
            s_mux (&h, data + hlen, size - hlen, true);
        //  The rest alone as a batch, against a header that allows stream 0
        return 0;
    }
    static const char *codecs [] = { "h264", "hevc", "vp9", "av1", "mpeg4", "aac", "opus",
                                     "mp3", "flac", "vorbis", "ac3", "rawvideo",
                                     "subrip", "ass", "webvtt", "ssa" };
    static const char *langs [] = { "", "en", "eng", "fra" };
    memset (&h, 0, sizeof h);
    h.nstreams = (int) s_take (&data, &size, 1) % 3 + 1;
    uint8_t extradata [MEDIA_STREAMS_MAX][64];
    for (int i = 0; i < h.nstreams; i++) {
        media_stream_t *s = &h.streams [i];
        snprintf (s->codec, sizeof s->codec, "%s", codecs [s_take (&data, &size, 1) % 16]);
        media_codec_allowed (s->codec, &s->kind);
        s->tb_num = (int) s_take (&data, &size, 1) + 1;
        s->tb_den = (int) s_take (&data, &size, 2) + 1;
        s->width = (int) s_take (&data, &size, 2) % 2000 + 1;
        s->height = (int) s_take (&data, &size, 2) % 2000 + 1;
        s->sample_rate = (int) s_take (&data, &size, 2) + 1;
        s->channels = (int) s_take (&data, &size, 1) % 9 + 1;
        s->channel_mask = (uint64_t) s_take (&data, &size, 1);
        s->frame_size = (int) s_take (&data, &size, 2);
        s->initial_padding = (int) s_take (&data, &size, 1);
        s->profile = (int) s_take (&data, &size, 1) - 99;
        s->video_delay = (int) s_take (&data, &size, 1) % (MEDIA_DELAY_MAX + 2);
        snprintf (s->language, sizeof s->language, "%s", langs [s_take (&data, &size, 1) % 4]);
        s->extradata_size = (size_t) s_take (&data, &size, 1) % 65;
        if (s->extradata_size > size)
            s->extradata_size = size;
        memcpy (extradata [i], data, s->extradata_size);
        s->extradata = extradata [i];
        data += s->extradata_size;
        size -= s->extradata_size;
    }
    //  Chapters with titles from the bytes (some with control characters)
    h.nchapters = (int) s_take (&data, &size, 1) % 4;
    for (int i = 0; i < h.nchapters; i++) {
        h.chapters [i].start_ms = s_take (&data, &size, 2);
        h.chapters [i].end_ms = h.chapters [i].start_ms + s_take (&data, &size, 1);
        size_t n = (size_t) s_take (&data, &size, 1) % MEDIA_TITLE_MAX;
        if (n > size)
            n = size;
        memcpy (h.chapters [i].title, data, n);
        h.chapters [i].title [n] = 0;
        data += n;
        size -= n;
    }
    if (media_header_check (&h, err, sizeof err) != 0)
        return 0;
    //  What passes the check survives the wire unchanged
    uint8_t *buf;
    size_t len;
    media_header_t back;
    if (pack_header_encode (&h, &buf, &len) != 0)
        abort ();
    if (pack_header_decode (buf, len, &back, err, sizeof err) != 0 || back.nstreams != h.nstreams)
        abort ();
    for (int i = 0; i < h.nstreams; i++)
        if (strcmp (back.streams [i].codec, h.streams [i].codec) != 0
        ||  back.streams [i].extradata_size != h.streams [i].extradata_size
        ||  strcmp (back.streams [i].language, h.streams [i].language) != 0
        ||  back.streams [i].video_delay != h.streams [i].video_delay)
            abort ();
    if (back.nchapters != h.nchapters)
        abort ();
    for (int i = 0; i < h.nchapters; i++)
        if (strcmp (back.chapters [i].title, h.chapters [i].title) != 0
        ||  back.chapters [i].end_ms != h.chapters [i].end_ms)
            abort ();
    s_mux (&back, data, size, false);
    free (buf);
    return 0;
}

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "fdio.h"
#include "sink.h"

#define IO_BUFFER (64 * 1024)

struct _media_sink_t {
    int fd;                         //  first: fdio_seek reads it
    AVFormatContext *fmt;
    AVIOContext *io;
    AVPacket *pkt;
    media_header_t header;          //  time bases and stream count (no pointers kept)
    int io_error;                   //  errno of a failed write
    uint8_t *part;                  //  a packet coming in parts, so far
    size_t part_len, part_cap;
    media_packet_t first;           //  its first part (stream, timestamps)
    int map [MEDIA_STREAMS_MAX];    //  header stream -> muxer stream, -1 when not kept
};

static int
s_write (void *opaque, uint8_t *buf, int size)
{
    media_sink_t *self = opaque;
    int done = 0;
    while (done < size) {
        ssize_t n = write (self->fd, buf + done, (size_t) (size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            self->io_error = n < 0? errno: EIO;
            return AVERROR (self->io_error);
        }
        done += (int) n;
    }
    return size;
}

static void
s_averror (media_sink_t *self, int rc, const char *what, char *err, size_t err_size)
{
    char text [AV_ERROR_MAX_STRING_SIZE];
    av_strerror (self->io_error? AVERROR (self->io_error): rc, text, sizeof text);
    snprintf (err, err_size, "%s: %s", what, text);
}

//  Gives a new stream the codec parameters from the header.
static int
s_stream (AVFormatContext *fmt, const media_stream_t *s, char *err, size_t err_size)
{
    const AVCodecDescriptor *desc = avcodec_descriptor_get_by_name (s->codec);
    enum AVMediaType type = s->kind == MEDIA_VIDEO? AVMEDIA_TYPE_VIDEO
                          : s->kind == MEDIA_AUDIO? AVMEDIA_TYPE_AUDIO: AVMEDIA_TYPE_SUBTITLE;
    if (!desc || desc->type != type) {
        snprintf (err, err_size, "this FFmpeg does not know the codec '%s'", s->codec);
        return SC_EMALFORMED;
    }
    AVStream *st = avformat_new_stream (fmt, NULL);
    if (!st) {
        snprintf (err, err_size, "out of memory");
        return SC_ENOMEM;
    }
    AVCodecParameters *par = st->codecpar;
    par->codec_type = type;
    par->codec_id = desc->id;
    st->time_base = (AVRational) { s->tb_num, s->tb_den };
    if (s->extradata_size) {
        par->extradata = av_mallocz (s->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!par->extradata) {
            snprintf (err, err_size, "out of memory");
            return SC_ENOMEM;
        }
        memcpy (par->extradata, s->extradata, s->extradata_size);
        par->extradata_size = (int) s->extradata_size;
    }
    if (type == AVMEDIA_TYPE_VIDEO) {
        par->width = s->width;
        par->height = s->height;
        par->sample_aspect_ratio = (AVRational) { s->sar_num, s->sar_den };
        st->sample_aspect_ratio = par->sample_aspect_ratio;
        par->field_order = (enum AVFieldOrder) s->field_order;
        par->color_range = (enum AVColorRange) s->color_range;
        par->color_primaries = (enum AVColorPrimaries) s->color_primaries;
        par->color_trc = (enum AVColorTransferCharacteristic) s->color_trc;
        par->color_space = (enum AVColorSpace) s->color_space;
        par->chroma_location = (enum AVChromaLocation) s->chroma_location;
        //  With it, a muxer given no decode timestamps makes them itself
        par->video_delay = s->video_delay;
    }
    else if (type == AVMEDIA_TYPE_AUDIO) {
        par->sample_rate = s->sample_rate;
        int rc = -1;
        if (s->channel_mask)
            rc = av_channel_layout_from_mask (&par->ch_layout, s->channel_mask);
        if (rc < 0 || par->ch_layout.nb_channels != s->channels)
            av_channel_layout_default (&par->ch_layout, s->channels);
        par->frame_size = s->frame_size;
        par->initial_padding = s->initial_padding;
        par->trailing_padding = s->trailing_padding;
        par->seek_preroll = s->seek_preroll;
        par->block_align = s->block_align;
    }
    par->bits_per_coded_sample = s->bits_per_coded_sample;
    par->profile = s->profile;
    par->level = s->level;
    par->bit_rate = s->bit_rate;
    if (s->language [0] && av_dict_set (&st->metadata, "language", s->language, 0) < 0) {
        snprintf (err, err_size, "out of memory");
        return SC_ENOMEM;
    }
    return 0;
}

//  Gives the output the header's chapters (Matroska keeps them).
static int
s_chapters (AVFormatContext *fmt, const media_header_t *h)
{
    if (h->nchapters == 0)
        return 0;
    fmt->chapters = av_calloc ((size_t) h->nchapters, sizeof *fmt->chapters);
    if (!fmt->chapters)
        return SC_ENOMEM;
    for (int i = 0; i < h->nchapters; i++) {
        AVChapter *ch = av_mallocz (sizeof *ch);
        if (!ch)
            return SC_ENOMEM;
        fmt->chapters [fmt->nb_chapters++] = ch;
        ch->id = i + 1;
        ch->time_base = (AVRational) { 1, 1000 };
        ch->start = h->chapters [i].start_ms;
        ch->end = h->chapters [i].end_ms;
        if (h->chapters [i].title [0] && av_dict_set (&ch->metadata, "title", h->chapters [i].title, 0) < 0)
            return SC_ENOMEM;
    }
    return 0;
}

//  The codecs FFmpeg's MPEG-TS muxer writes so that players read them back
//  (others it writes as opaque data: a file nothing plays)
static bool
s_ts_holds (const char *codec)
{
    static const char *held [] = { "h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video",
                                   "aac", "mp3", "mp2", "ac3", "eac3", "opus" };
    for (size_t i = 0; i < sizeof held / sizeof held [0]; i++)
        if (strcmp (codec, held [i]) == 0)
            return true;
    return false;
}

int
media_sink_open (const media_header_t *h, const char *format, int fd,
                 media_sink_t **out, char *err, size_t err_size)
{
    *out = NULL;
    av_log_set_level (AV_LOG_QUIET);
    int rc = media_header_check (h, err, err_size);
    if (rc != 0)
        return rc;
    media_sink_t *self = calloc (1, sizeof *self);
    uint8_t *buffer = av_malloc (IO_BUFFER);
    if (!self || !buffer) {
        av_free (buffer);
        free (self);
        snprintf (err, err_size, "out of memory");
        return SC_ENOMEM;
    }
    self->fd = fd;
    self->header = *h;
    for (int i = 0; i < h->nstreams; i++)
        self->header.streams [i].extradata = NULL;      //  not ours to keep
    rc = SC_EMALFORMED;         //  what the header asks cannot be written, unless said below
    struct stat st;
    bool seekable = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
    self->io = avio_alloc_context (buffer, IO_BUFFER, 1, self, NULL, s_write,
                                   seekable? fdio_seek: NULL);
    self->pkt = av_packet_alloc ();
    if (!self->io || !self->pkt) {
        if (!self->io)
            av_free (buffer);
        snprintf (err, err_size, "out of memory");
        goto out;
    }
    self->io->seekable = seekable? AVIO_SEEKABLE_NORMAL: 0;
    if (avformat_alloc_output_context2 (&self->fmt, NULL, format, NULL) < 0 || !self->fmt) {
        snprintf (err, err_size, "this FFmpeg cannot write %s", format);
        goto out;
    }
    self->fmt->pb = self->io;
    //  Bit-exact: the Matroska muxer then numbers its tracks instead of
    //  drawing random ids, for which FFmpeg opens /dev/urandom, which a
    //  confined job cannot, and then times the clock for 300 ms
    self->fmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    //  MPEG-TS holds no text subtitles and no chapters: they are left out
    bool text = strcmp (format, "mpegts") != 0;
    for (int i = 0; i < h->nstreams; i++) {
        self->map [i] = -1;
        if (h->streams [i].kind == MEDIA_SUBTITLE && !text)
            continue;
        if (!text && !s_ts_holds (h->streams [i].codec)) {
            snprintf (err, err_size, "MPEG-TS cannot hold %s %s: save it as Matroska (--out FILE.mkv)",
                      h->streams [i].codec, media_kind_name (h->streams [i].kind));
            goto out;
        }
        if (s_stream (self->fmt, &h->streams [i], err, err_size) != 0)
            goto out;
        self->map [i] = (int) self->fmt->nb_streams - 1;
    }
    if (text && s_chapters (self->fmt, h) != 0) {
        snprintf (err, err_size, "out of memory");
        goto out;
    }
    //  Matroska's optional CRC-32 elements cost a fifth of the muxer's time
    AVDictionary *options = NULL;
    if (strcmp (format, "matroska") == 0)
        av_dict_set (&options, "write_crc32", "0", 0);
    int arc = avformat_write_header (self->fmt, &options);
    av_dict_free (&options);
    if (arc < 0) {
        s_averror (self, arc, "the muxer refused the stream header", err, err_size);
        goto out;
    }
    rc = 0;
out:
    if (rc == 0)
        *out = self;
    else
        media_sink_close (&self, false, NULL, 0);
    return rc;
}

static int s_mux_one (media_sink_t *self, const media_packet_t *p, char *err, size_t err_size);

int
media_sink_write (media_sink_t *self, const media_packet_t *p, char *err, size_t err_size)
{
    if (media_packet_check (&self->header, p, err, err_size) != 0)
        return SC_EMALFORMED;
    if (!p->more && !self->part_len)
        return s_mux_one (self, p, err, err_size);
    //  A part: joined with the others of its packet, within a bound
    if (!self->part_len)
        self->first = *p;
    else if (p->stream != self->first.stream || p->pts != self->first.pts || p->dts != self->first.dts) {
        snprintf (err, err_size, "the parts of a packet are mixed with another packet");
        return SC_EMALFORMED;
    }
    if (p->size > MEDIA_PACKET_MAX - self->part_len) {
        snprintf (err, err_size, "a packet of more than %d bytes", MEDIA_PACKET_MAX);
        return SC_ETOOBIG;
    }
    if (self->part_len + p->size > self->part_cap) {
        size_t cap = self->part_cap? self->part_cap * 2: 2 * MEDIA_PART_MAX;
        while (cap < self->part_len + p->size)
            cap *= 2;
        uint8_t *more = realloc (self->part, cap);
        if (!more) {
            snprintf (err, err_size, "out of memory");
            return SC_ENOMEM;
        }
        self->part = more;
        self->part_cap = cap;
    }
    memcpy (self->part + self->part_len, p->data, p->size);
    self->part_len += p->size;
    if (p->more)
        return 0;
    media_packet_t whole = self->first;
    whole.data = self->part;
    whole.size = self->part_len;
    whole.more = false;
    self->part_len = 0;
    return s_mux_one (self, &whole, err, err_size);
}

static int
s_mux_one (media_sink_t *self, const media_packet_t *p, char *err, size_t err_size)
{
    const media_stream_t *s = &self->header.streams [p->stream];
    int index = self->map [p->stream];
    if (index < 0)
        return 0;               //  a stream this format does not keep
    AVPacket *pkt = self->pkt;
    //  Not reference-counted: libavformat copies what it keeps
    pkt->data = (uint8_t *) p->data;
    pkt->size = (int) p->size;
    pkt->stream_index = index;
    pkt->pts = p->pts == MEDIA_NOPTS? AV_NOPTS_VALUE: p->pts;
    pkt->dts = p->dts == MEDIA_NOPTS? AV_NOPTS_VALUE: p->dts;
    pkt->duration = p->duration;
    pkt->flags = p->key? AV_PKT_FLAG_KEY: 0;
    pkt->pos = -1;
    av_packet_rescale_ts (pkt, (AVRational) { s->tb_num, s->tb_den },
                          self->fmt->streams [index]->time_base);
    int rc = av_interleaved_write_frame (self->fmt, pkt);
    pkt->data = NULL;
    pkt->size = 0;
    av_packet_unref (pkt);
    if (rc < 0) {
        s_averror (self, rc, "muxing a packet failed", err, err_size);
        return SC_EIO;
    }
    return 0;
}

int
media_sink_close (media_sink_t **self_p, bool write, char *err, size_t err_size)
{
    if (!self_p || !*self_p)
        return 0;
    media_sink_t *self = *self_p;
    int rc = 0;
    if (write) {
        int arc = av_write_trailer (self->fmt);
        if (arc >= 0 && self->io)
            avio_flush (self->io);
        if (arc < 0 || self->io_error) {
            s_averror (self, arc, "finishing the file failed", err, err_size);
            rc = SC_EIO;
        }
    }
    av_packet_free (&self->pkt);
    free (self->part);          //  a packet cut off in its parts is not written
    avformat_free_context (self->fmt);
    if (self->io) {
        av_freep (&self->io->buffer);
        avio_context_free (&self->io);
    }
    free (self);
    *self_p = NULL;
    return rc;
}

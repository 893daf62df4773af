#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include "media.h"
#include "probe.h"

const char *
probe_stream_refusal (const AVStream *st, int *kind)
{
    enum AVMediaType type = st->codecpar->codec_type;
    enum AVCodecID id = st->codecpar->codec_id;
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return "cover art";
    if (type == AVMEDIA_TYPE_SUBTITLE && id == AV_CODEC_ID_MOV_TEXT)
        return "MP4 timed text, which Matroska and MPEG-TS cannot hold as it is";
    if (type == AVMEDIA_TYPE_SUBTITLE && avcodec_descriptor_get (id)
    &&  (avcodec_descriptor_get (id)->props & AV_CODEC_PROP_BITMAP_SUB))
        return "picture subtitles, which we do not stream";
    if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO && type != AVMEDIA_TYPE_SUBTITLE)
        return "not audio, video or subtitles";
    int k;
    if (!media_codec_allowed (avcodec_get_name (id), &k)
    ||  (k == MEDIA_VIDEO) != (type == AVMEDIA_TYPE_VIDEO)
    ||  (k == MEDIA_AUDIO) != (type == AVMEDIA_TYPE_AUDIO))
        return "a codec we do not stream";
    if (kind)
        *kind = k;
    return NULL;
}

void
probe_language (const AVStream *st, char out [MEDIA_LANG_MAX])
{
    out [0] = 0;
    const AVDictionaryEntry *e = av_dict_get (st->metadata, "language", NULL, 0);
    size_t len = e? strlen (e->value): 0;
    if (len < 2 || len > 3 || strcmp (e->value, "und") == 0)
        return;
    for (size_t i = 0; i < len; i++)
        if (e->value [i] < 'a' || e->value [i] > 'z')
            return;
    memcpy (out, e->value, len + 1);
}

void
probe_chapters (const AVFormatContext *fmt, media_header_t *h)
{
    h->nchapters = 0;
    for (unsigned i = 0; i < fmt->nb_chapters && h->nchapters < MEDIA_CHAPTERS_MAX; i++) {
        const AVChapter *ch = fmt->chapters [i];
        if (ch->time_base.num <= 0 || ch->time_base.den <= 0 || ch->start < 0 || ch->end < ch->start)
            continue;
        media_chapter_t *c = &h->chapters [h->nchapters];
        c->start_ms = av_rescale_q (ch->start, ch->time_base, (AVRational) { 1, 1000 });
        c->end_ms = av_rescale_q (ch->end, ch->time_base, (AVRational) { 1, 1000 });
        if (c->end_ms > INT64_MAX / 1000)
            continue;
        //  The title as it is, but for control characters, cut whole at a
        //  character boundary
        const AVDictionaryEntry *e = av_dict_get (ch->metadata, "title", NULL, 0);
        size_t n = 0;
        for (const char *t = e? e->value: ""; *t && n < MEDIA_TITLE_MAX - 1; t++)
            c->title [n++] = (unsigned char) *t < 0x20 || *t == 0x7f? ' ': *t;
        while (n > 0 && n == MEDIA_TITLE_MAX - 1 && ((unsigned char) c->title [n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0 && n == MEDIA_TITLE_MAX - 1 && ((unsigned char) c->title [n - 1] & 0xc0) == 0xc0)
            n--;
        c->title [n] = 0;
        h->nchapters++;
    }
}

static void
s_append (char *buf, size_t size, const char *sep, const char *text)
{
    size_t used = strlen (buf);
    if (used + strlen (sep) + strlen (text) + 1 < size)
        snprintf (buf + used, size - used, "%s%s", used? sep: "", text);
}

int
probe_file (const char *path, probe_info_t *info)
{
    memset (info, 0, sizeof *info);
    AVFormatContext *fmt = NULL;
    av_log_set_level (AV_LOG_QUIET);
    if (avformat_open_input (&fmt, path, NULL, NULL) != 0)
        return 0;           //  not something libavformat reads: not media
    if (avformat_find_stream_info (fmt, NULL) >= 0) {
        int carried = 0;
        for (unsigned i = 0; i < fmt->nb_streams; i++) {
            const AVStream *st = fmt->streams [i];
            enum AVMediaType type = st->codecpar->codec_type;
            const char *codec = avcodec_get_name (st->codecpar->codec_id);
            int kind = -1;
            const char *why = probe_stream_refusal (st, &kind);
            //  A video we can stream: not a still picture in an audio file,
            //  nor text read by a lenient demuxer as "ansi" pictures
            if (!why && kind == MEDIA_VIDEO)
                info->video = true;
            if (type == AVMEDIA_TYPE_AUDIO)
                info->audio = true;
            if (!why && carried == MEDIA_STREAMS_MAX)
                why = "more streams than we send at once";
            char text [200];
            if (why) {
                snprintf (text, sizeof text, "%s %s: %s",
                          type == AVMEDIA_TYPE_VIDEO? "video": type == AVMEDIA_TYPE_AUDIO? "audio"
                          : type == AVMEDIA_TYPE_SUBTITLE? "subtitle": "data", codec, why);
                s_append (info->skipped, sizeof info->skipped, "; ", text);
                continue;
            }
            //  The streams a viewer would get (source.c keeps the same ones)
            carried++;
            s_append (info->codecs, sizeof info->codecs, ",", codec);
            char lang [MEDIA_LANG_MAX];
            probe_language (st, lang);
            snprintf (text, sizeof text, "%s:%s:%s", media_kind_name (kind), codec, lang);
            s_append (info->tracks, sizeof info->tracks, ",", text);
        }
        info->streams = (int) fmt->nb_streams;
        if (fmt->duration > 0)
            info->duration = (double) fmt->duration / AV_TIME_BASE;
        if (fmt->nb_chapters > MEDIA_CHAPTERS_MAX) {
            char text [100];
            snprintf (text, sizeof text, "chapters after the first %d", MEDIA_CHAPTERS_MAX);
            s_append (info->skipped, sizeof info->skipped, "; ", text);
        }
    }
    //  Text and the like can be "read" by lenient demuxers: only a file
    //  with a real video stream and a duration counts as video
    if (info->duration <= 0)
        info->video = false;
    avformat_close_input (&fmt);
    return 0;
}

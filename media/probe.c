#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include "media.h"
#include "probe.h"

int
probe_file (const char *path, probe_info_t *info)
{
    memset (info, 0, sizeof *info);
    AVFormatContext *fmt = NULL;
    av_log_set_level (AV_LOG_QUIET);
    if (avformat_open_input (&fmt, path, NULL, NULL) != 0)
        return 0;           //  not something libavformat reads: not media
    if (avformat_find_stream_info (fmt, NULL) >= 0) {
        for (unsigned i = 0; i < fmt->nb_streams; i++) {
            const AVStream *st = fmt->streams [i];
            enum AVMediaType type = st->codecpar->codec_type;
            //  A still picture in an audio file is not a video
            //  A video we can stream: text read by a lenient demuxer as
            //  "ansi" pictures is not one
            int vkind;
            if (type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)
            &&  media_codec_allowed (avcodec_get_name (st->codecpar->codec_id), &vkind)
            &&  vkind == MEDIA_VIDEO)
                info->video = true;
            if (type == AVMEDIA_TYPE_AUDIO)
                info->audio = true;
            //  The codecs a viewer would get (source.c keeps the same ones)
            const char *codec = avcodec_get_name (st->codecpar->codec_id);
            int kind;
            if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC) && media_codec_allowed (codec, &kind)
            &&  (kind == MEDIA_VIDEO) == (type == AVMEDIA_TYPE_VIDEO)) {
                size_t used = strlen (info->codecs);
                if (used + strlen (codec) + 2 < sizeof info->codecs)
                    snprintf (info->codecs + used, sizeof info->codecs - used, "%s%s",
                              used? ",": "", codec);
            }
        }
        info->streams = (int) fmt->nb_streams;
        if (fmt->duration > 0)
            info->duration = (double) fmt->duration / AV_TIME_BASE;
    }
    //  Text and the like can be "read" by lenient demuxers: only a file
    //  with a real video stream and a duration counts as video
    if (info->duration <= 0)
        info->video = false;
    avformat_close_input (&fmt);
    return 0;
}

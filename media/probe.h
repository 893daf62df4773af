/*  probe: what a local media file holds, read with libavformat, and which
    of its streams travel (the source sends the same ones).  No network
    code here; only the node's own shared files are probed, never bytes
    from a peer.  */
#ifndef SC_PROBE_H
#define SC_PROBE_H

#include <stdbool.h>
#include "media.h"

struct AVStream;
struct AVFormatContext;

typedef struct {
    bool video;             //  has a video stream (not just cover art)
    bool audio;
    double duration;        //  seconds, 0 when unknown
    int streams;
    char codecs [64];       //  the playable streams' codecs, "h264,aac"
    char tracks [256];      //  the same streams, "video:h264:,audio:aac:eng,subtitle:subrip:eng"
    char skipped [512];     //  what stays home and why, "; " between: "" when all travel
} probe_info_t;

//  Probes path.  Returns 0 and fills info; a file that is not media, or
//  cannot be opened, gives 0 with everything false.
int probe_file (const char *path, probe_info_t *info);

//  Whether a stream of a file travels to a viewer.  Returns NULL and sets
//  *kind when it does; else a phrase that says why not ("MP4 timed text,
//  which Matroska and MPEG-TS cannot hold").
const char *probe_stream_refusal (const struct AVStream *st, int *kind);

//  The stream's language ("" when it has none or not 2 or 3 letters).
void probe_language (const struct AVStream *st, char out [MEDIA_LANG_MAX]);

//  Fills the header's chapters from the file's (at most MEDIA_CHAPTERS_MAX).
void probe_chapters (const struct AVFormatContext *fmt, media_header_t *header);

#endif

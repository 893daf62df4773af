/*  probe: what a local media file holds, read with libavformat.  No network
    code here; only the node's own shared files are probed, never bytes
    from a peer.  */
#ifndef SC_PROBE_H
#define SC_PROBE_H

#include <stdbool.h>

typedef struct {
    bool video;             //  has a video stream (not just cover art)
    bool audio;
    double duration;        //  seconds, 0 when unknown
    int streams;
    char codecs [64];       //  the playable streams' codecs, "h264,aac"
} probe_info_t;

//  Probes path.  Returns 0 and fills info (a file that is not media gives
//  0 with everything false), or -1 when the file cannot be opened at all.
int probe_file (const char *path, probe_info_t *info);

#endif

/*  dts: decode timestamps for a video stream whose container stores only
    presentation timestamps (Matroska and WebM store none; libavformat then
    hands out pts as dts, which go backwards wherever B-frames are).

    Made the way FFmpeg's own remuxing makes them (libavformat's pts_buffer
    in compute_pkt_fields and the muxer's, ffmpeg's stream copy): with a
    reorder depth D, the decode timestamp of the i-th packet is the
    (i - D)-th smallest presentation timestamp; the first D packets come
    one frame duration apart before the first picture.  D is measured on
    the first packets after the open or seek (the most any packet there
    comes before pictures shown ahead of it), and never below what the
    codec parameters say (video_delay).  Plain C, no FFmpeg: the unit
    tests and the fuzzers drive it with numbers.  */
#ifndef SC_DTS_H
#define SC_DTS_H

#include <stddef.h>
#include <stdint.h>

#define MEDIA_DTS_WINDOW 48             //  packets looked at before the first is sent
#define MEDIA_DTS_DELAY_MAX 16          //  deepest reordering we make timestamps for

typedef struct _media_dts_t media_dts_t;

//  Looks at the first n packets of a stream in decode order (pts and dts,
//  MEDIA_NOPTS when missing; duration 0 when unknown).  Returns a maker
//  of new decode timestamps when the stream's own are missing or broken
//  (absent, after their pts, or not increasing) and every pts is there;
//  NULL when its own are good, or when nothing better can be made (then
//  they travel as they are).  min_delay is the codec's own reorder depth.
media_dts_t *media_dts_new (const int64_t *pts, const int64_t *dts, const int64_t *duration,
                            size_t n, int min_delay);

//  The decode timestamp of the next packet, given its pts (MEDIA_NOPTS
//  when it has none: then the last one plus one).
int64_t media_dts_next (media_dts_t *self, int64_t pts);

//  The reorder depth in use.
int media_dts_delay (const media_dts_t *self);

//  Frees it; accepts NULL, nulls the pointer.
void media_dts_destroy (media_dts_t **self_p);

#endif

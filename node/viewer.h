/*  viewer: our /watches of the videos peers share.

    /watch draws a stream id, gets the output ready (a new file for --out,
    else a player's stdin: a child, node/child) and hands it to a mux job
    of the media helper; then it asks the owner with WATCH.  The STREAM
    header and every BATCH is checked here (pack_header_decode,
    pack_batch_decode: allowlist, bounds, stream indexes, order, credit)
    before it goes on to the muxer, and credit is returned only as the
    muxer takes batches, so a slow player or disk slows the owner instead
    of filling memory.  The viewer never feeds peer bytes to a demuxer.

    A watch is asked (WATCH sent), then playing (the header came), then
    ending (the job was told the input ends, and finishes the output);
    its job's 'D' or 'E' ends it.  What a viewer received is kept as a
    complete file; a file that never got a header goes.  A player that
    outlives its stream is reaped when it exits.  */
#ifndef SC_VIEWER_H
#define SC_VIEWER_H

#include <jansson.h>
#include <stdint.h>
#include <zmq.h>
#include "video.h"
#include "wire.h"

#define VIEWER_MAX 16               //  our own /watches at once
#define VIEWER_WINDOW 32            //  batches in flight (about 2 MiB)

typedef struct _viewer_t viewer_t;

//  Returns the viewer role, borrowing video (which outlives it), or NULL
//  when out of memory.
viewer_t *viewer_new (video_t *video);
//  Ends every watch (owners are told), stops their players; accepts NULL.
void viewer_destroy (viewer_t **self_p);

//  /watch: asks peer for the shared video name from offset_ms, to the file
//  out (NULL: the player).  Reports a clear error when it cannot start.
void viewer_watch (viewer_t *self, const uint8_t peer [32], const char *name,
                   int64_t offset_ms, const char *out, int64_t now_ms);
//  /stop: ends the watches whose id starts with prefix (NULL or "": all);
//  returns how many.
int viewer_stop (viewer_t *self, const char *prefix, int64_t now_ms);
//  /streams: appends each watch to list (borrowed).
void viewer_list (viewer_t *self, json_t *list, int64_t now_ms);

//  A STREAM, BATCH or SEND frame for one of our watches (others are ignored).
void viewer_on_frame (viewer_t *self, const uint8_t peer [32], const wire_frame_t *frame, int64_t now_ms);
//  The peer's link is gone: its watches end.
void viewer_peer_down (viewer_t *self, const uint8_t peer [32], int64_t now_ms);

//  Adds the descriptors to poll to items (at most max); returns how many.
int viewer_poll_items (viewer_t *self, zmq_pollitem_t *items, int max);
//  Handles what the poll found on the items viewer_poll_items gave.
void viewer_on_poll (viewer_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms);
//  Grants to repeat, stalls, owners that do not answer, players that
//  exited; call every tick.
void viewer_tick (viewer_t *self, int64_t now_ms);

#endif

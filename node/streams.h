/*  streams: /watch and the serving of shared videos, between peers.

    Viewer: /watch draws a stream id, gets the output ready (a new file for
    --out, else the player's stdin) and hands it to a mux job of the media
    helper (node/mediajob.h); then it asks the owner with WATCH.  The
    STREAM header and every BATCH is checked here (wire_header_decode,
    wire_batch_decode: allowlist, bounds, stream indexes, order) before it
    goes on to the muxer, and credit is returned only as the muxer takes
    batches, so a slow player or disk slows the owner instead of filling
    memory.  The viewer never feeds peer bytes to a demuxer.

    Owner: a WATCH names a share (never a path).  A share that is missing or
    not a video is refused with a sentence.  Otherwise the node opens the
    file, gives it to a demux job once the viewer grants its first credit,
    and forwards what the job writes, one frame per batch, while the
    viewer's credit lasts.

    Anyone who can reach the port can link with a throwaway key and send
    WATCHes, so what they hold is bounded: streams served to one viewer and
    to all, apart from our own /watches (which hostile viewers never
    crowd out); a WATCH that grants no credit ends in seconds without a
    job; a stream whose viewer paused (it repeats its grant, but grants no
    more) ends after the pause limit; an offset past any video is refused.

    Either side ending (SEND, the peer leaving, /stop, an error) ends the
    stream on both with an event that says why; what a viewer received is
    kept as a complete file.  No sockets to peers here: the node gives a
    host.  */
#ifndef SC_STREAMS_H
#define SC_STREAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>
#include "wire.h"

#define STREAMS_SERVED_MAX 16       //  served at once, to everyone (--serve-max)
#define STREAMS_SERVED_LIMIT 64     //  the most --serve-max may say
#define STREAMS_SERVED_PER_PEER 2   //  served to one viewer at once
#define STREAMS_WATCHED_MAX 16      //  our own /watches at once
#define STREAMS_MAX (STREAMS_SERVED_LIMIT + STREAMS_WATCHED_MAX)   //  the table, both roles
#define STREAMS_START_MS 5000       //  a served stream granted no credit this long ends
#define STREAMS_PAUSE_MAX_MS 600000 //  one granted nothing new this long ends (--pause-max)
#define STREAMS_WINDOW 32           //  batches in flight (about 2 MiB)

typedef struct {
    //  Sends a frame to the peer; returns 0 or SC_EAGAIN (link full or down).
    int (*send) (void *arg, const uint8_t peer [32], const wire_frame_t *frame);
    //  Reports an event (taken).
    void (*event) (void *arg, json_t *event);
    //  The peer's display name (NULL if unknown).
    const char *(*peer_name) (void *arg, const uint8_t peer [32]);
    //  Finds a share by name: 0 with its path and video flag, or SC_ENOENT.
    int (*find_share) (void *arg, const char *name, char *path, size_t path_size, bool *video);
    void *arg;
} streams_host_t;

typedef struct {
    const char *helper;         //  path of securechat-media
    const char *player;         //  --player CMD; NULL: ffplay or mpv when installed
    int64_t stall_ms;           //  no progress this long on a live link ends a stream (0: 60 s)
    int served_max;             //  streams served at once (0: STREAMS_SERVED_MAX)
    int64_t pause_max_ms;       //  a served stream paused this long ends (0: STREAMS_PAUSE_MAX_MS)
} streams_opts_t;

//  What flow control saw (for /stats).
typedef struct {
    uint64_t credit_clamped;    //  grants past our own window, held to it
    uint64_t credit_stale;      //  grants lower than one already seen, ignored
    uint64_t grants_repeated;   //  grants sent again because nothing came
    uint64_t stalls;            //  streams ended by the stall timeout
    uint64_t ctl_queued;        //  control frames that met a full link and waited
    uint64_t ctl_dropped;       //  control frames given up
} streams_stats_t;

typedef struct _streams_t streams_t;

//  Returns a new streams module, or NULL when out of memory.
streams_t *streams_new (const streams_opts_t *opts, const streams_host_t *host);
//  Ends every stream (peers are told), stops the helper; accepts NULL.
void streams_destroy (streams_t **self_p);

//  /watch: asks peer for the shared video name from offset_ms, to the file
//  out (NULL: the player).  Reports a clear error when it cannot start.
void streams_watch (streams_t *self, const uint8_t peer [32], const char *name,
                    int64_t offset_ms, const char *out);
//  /stop: ends the watches whose id starts with prefix (NULL or "": all).
void streams_stop (streams_t *self, const char *prefix);
//  /streams: one event listing every stream.
void streams_list (streams_t *self);

//  A WATCH, STREAM, BATCH, SCREDIT or SEND frame from a peer.
void streams_on_frame (streams_t *self, const uint8_t peer [32], const wire_frame_t *frame);
//  The peer's link is gone: its streams end.
void streams_peer_down (streams_t *self, const uint8_t peer [32]);

//  Adds the descriptors to poll to items (at most max); returns how many.
int streams_poll_items (streams_t *self, zmq_pollitem_t *items, int max);
//  Handles what the poll found on the items streams_poll_items gave.
void streams_on_poll (streams_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms);
//  Timeouts, stalls, grants and ends that waited for the link, finished
//  players; call every tick.
void streams_tick (streams_t *self, int64_t now_ms);
//  Counters for /stats.
streams_stats_t streams_stats (streams_t *self);

#endif

/*  owner: the videos we serve to peers that /watch them.

    A WATCH names a share (never a path).  A share that is missing or not
    a video is refused with a sentence.  Otherwise the node opens the
    file, gives it to a demux job of the media helper once the viewer
    grants its first credit, and forwards what the job writes, one frame
    per batch, while the viewer's credit lasts (held to OWNER_CREDIT_MAX
    ahead whatever a viewer claims).

    A served stream is waiting (no credit yet: a descriptor, no process),
    then sending, or paused (all it was granted is out and no higher grant
    came); it ends on the viewer's SEND, the job's end, /stop, the peer
    leaving or a timeout.

    Anyone who can reach the port can link with a throwaway key and send
    WATCHes, so what they hold is bounded: streams served to one viewer
    and to all (our own /watches are the viewer's and never crowded out);
    a WATCH that grants no credit ends in seconds without a job; a stream
    whose viewer paused (it repeats its grant, but grants no more) ends
    after the pause limit; an offset past any video is refused.  */
#ifndef SC_OWNER_H
#define SC_OWNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>
#include "video.h"
#include "wire.h"

#define OWNER_SERVED_MAX 16         //  served at once, to everyone (--serve-max)
#define OWNER_SERVED_LIMIT 64       //  the most --serve-max may say
#define OWNER_PER_PEER 2            //  served to one viewer at once
#define OWNER_START_MS 5000         //  a served stream granted no credit this long ends
#define OWNER_PAUSE_MAX_MS 600000   //  one granted nothing new this long ends (--pause-max)
#define OWNER_CREDIT_MAX 64         //  a viewer cannot ask for more in flight

typedef struct _owner_t owner_t;

//  Returns the owner role, borrowing video (which outlives it), or NULL
//  when out of memory.
owner_t *owner_new (video_t *video);
//  Ends every served stream (viewers are told); accepts NULL.
void owner_destroy (owner_t **self_p);

//  A WATCH, SCREDIT, or SEND for a stream we serve; returns false when
//  the frame is not ours (a SEND for one of our watches, a STREAM, a BATCH).
bool owner_on_frame (owner_t *self, const uint8_t peer [32], const wire_frame_t *frame, int64_t now_ms);
//  The peer's link is gone: what we serve it ends.
void owner_peer_down (owner_t *self, const uint8_t peer [32], int64_t now_ms);
//  /stop: ends the served streams whose id starts with prefix (NULL or
//  "": all); returns how many.
int owner_stop (owner_t *self, const char *prefix, int64_t now_ms);
//  /streams: appends each served stream to list (borrowed).
void owner_list (owner_t *self, json_t *list, int64_t now_ms);

//  Adds the descriptors to poll to items (at most max); returns how many.
int owner_poll_items (owner_t *self, zmq_pollitem_t *items, int max);
//  Handles what the poll found on the items owner_poll_items gave.
void owner_on_poll (owner_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms);
//  Frames that waited for the link, timeouts, pauses, stalls, keepalives;
//  call every tick.
void owner_tick (owner_t *self, int64_t now_ms);

#endif

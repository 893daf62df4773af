/*  ctlq: control frames that must not be lost to a full link.

    A frame the protocol depends on (an answer, a refusal, an end of
    stream, a DONE) is sent at once when the link takes it; when the link
    is full or down, a copy waits here and goes out, in order per peer,
    when the link takes it again.  While a frame for a peer waits, later
    ones for that peer wait behind it, so order is kept.  Bounded: past
    CTLQ_PEER_MAX waiting for one peer, that peer's oldest goes; past
    CTLQ_MAX in all, or after CTLQ_TTL_MS, the oldest is dropped; each is
    counted (the transfer or stream it belonged to then recovers or times
    out on its own).  Frames that are repeated anyway (cumulative credit,
    data) do not go through here.  No sockets: the owner passes its send.  */
#ifndef SC_CTLQ_H
#define SC_CTLQ_H

#include <stdint.h>
#include "wire.h"

#define CTLQ_MAX 256
#define CTLQ_PEER_MAX 32                //  waiting for one peer
#define CTLQ_TTL_MS 120000
#define CTLQ_DATA_MAX (64 * 1024)       //  larger frames are not copied

//  Sends a frame to a peer; returns 0 or an error (SC_EAGAIN: try later).
typedef int (ctlq_send_fn) (void *arg, const uint8_t peer [32], const wire_frame_t *frame);

typedef struct _ctlq_t ctlq_t;

typedef struct {
    uint64_t queued;            //  frames that met a full link and waited
    uint64_t dropped;           //  frames given up (queue full, too old)
} ctlq_stats_t;

//  Returns an empty queue, or NULL when out of memory.
ctlq_t *ctlq_new (ctlq_send_fn *send, void *arg);
//  Frees what still waits; accepts NULL, nulls the pointer.
void ctlq_destroy (ctlq_t **self_p);

//  Sends frame now, or keeps a copy (byte fields copied) to send later.
//  Returns 0 when sent or kept, SC_ETOOBIG for data over CTLQ_DATA_MAX
//  that could not go at once, SC_ENOMEM.
int ctlq_send (ctlq_t *self, const uint8_t peer [32], const wire_frame_t *frame, int64_t now_ms);
//  Sends what waits, in order per peer, as far as the links take it;
//  drops what is older than CTLQ_TTL_MS.
void ctlq_flush (ctlq_t *self, int64_t now_ms);
//  Frames waiting (for one peer, or all with peer NULL).
size_t ctlq_waiting (ctlq_t *self, const uint8_t *peer);
ctlq_stats_t ctlq_stats (ctlq_t *self);

#endif

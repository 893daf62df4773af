#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "ctlq.h"

typedef struct {
    uint8_t peer [32];
    wire_frame_t frame;         //  byte fields point into copy, owned here
    uint8_t *copy;
    int64_t since;
} s_entry_t;

struct _ctlq_t {
    ctlq_send_fn *send;
    void *arg;
    s_entry_t *entries;         //  oldest first
    size_t count;
    ctlq_stats_t stats;
};

ctlq_t *
ctlq_new (ctlq_send_fn *send, void *arg)
{
    ctlq_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc (CTLQ_MAX, sizeof *self->entries);
    if (!self->entries) {
        free (self);
        return NULL;
    }
    self->send = send;
    self->arg = arg;
    return self;
}

static void
s_drop (ctlq_t *self, size_t i)
{
    free (self->entries [i].copy);
    memmove (self->entries + i, self->entries + i + 1, (self->count - i - 1) * sizeof *self->entries);
    self->count--;
}

void
ctlq_destroy (ctlq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctlq_t *self = *self_p;
    while (self->count)
        s_drop (self, self->count - 1);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

size_t
ctlq_waiting (ctlq_t *self, const uint8_t *peer)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        n += !peer || memcmp (self->entries [i].peer, peer, 32) == 0;
    return n;
}

int
ctlq_send (ctlq_t *self, const uint8_t peer [32], const wire_frame_t *frame, int64_t now)
{
    //  Behind what already waits for this peer, or at once
    if (ctlq_waiting (self, peer) == 0) {
        int rc = self->send (self->arg, peer, frame);
        if (rc != SC_EAGAIN)
            return rc;
    }
    //  The frame's byte fields, as its spec in the codec's table says
    const wire_spec_t *spec = wire_spec (frame->type);
    if (!spec)
        return SC_ETYPE;
    //  (BIN and STR point elsewhere; FIXED ones, an optional one's length
    //  beside them, are held in the frame itself and copied with it)
    size_t bytes = 0;
    for (int i = 0; i < spec->nfields; i++)
        if (spec->fields [i].kind == WIRE_F_BIN || spec->fields [i].kind == WIRE_F_STR)
            bytes += *(const size_t *) ((const char *) frame + spec->fields [i].len_at);
    if (bytes > CTLQ_DATA_MAX)
        return SC_ETOOBIG;
    //  A peer that never reads makes room only at its own expense
    if (ctlq_waiting (self, peer) >= CTLQ_PEER_MAX) {
        for (size_t i = 0; i < self->count; i++)
            if (memcmp (self->entries [i].peer, peer, 32) == 0) {
                s_drop (self, i);
                self->stats.dropped++;
                break;
            }
    }
    else if (self->count == CTLQ_MAX) {
        s_drop (self, 0);
        self->stats.dropped++;
    }
    s_entry_t *e = &self->entries [self->count];
    memset (e, 0, sizeof *e);
    memcpy (e->peer, peer, 32);
    e->frame = *frame;
    e->since = now;
    if (bytes && !(e->copy = malloc (bytes)))
        return SC_ENOMEM;
    size_t at = 0;
    for (int i = 0; i < spec->nfields; i++) {
        const wire_field_t *d = &spec->fields [i];
        if (d->kind != WIRE_F_BIN && d->kind != WIRE_F_STR)
            continue;
        size_t n = *(const size_t *) ((const char *) frame + d->len_at);
        const void *from = *(const void *const *) ((const char *) frame + d->at);
        if (n)
            memcpy (e->copy + at, from, n);
        *(const void **) ((char *) &e->frame + d->at) = n? e->copy + at: NULL;
        at += n;
    }
    self->count++;
    self->stats.queued++;
    return 0;
}

void
ctlq_flush (ctlq_t *self, int64_t now)
{
    //  Peers whose link refused a frame in this pass keep the rest waiting
    uint8_t blocked [CTLQ_MAX][32];
    size_t nblocked = 0;
    for (size_t i = 0; i < self->count; ) {
        s_entry_t *e = &self->entries [i];
        if (now - e->since > CTLQ_TTL_MS) {
            s_drop (self, i);
            self->stats.dropped++;
            continue;
        }
        bool skip = false;
        for (size_t k = 0; k < nblocked && !skip; k++)
            skip = memcmp (blocked [k], e->peer, 32) == 0;
        if (!skip && self->send (self->arg, e->peer, &e->frame) != SC_EAGAIN) {
            s_drop (self, i);           //  sent (or refused for good)
            continue;
        }
        if (!skip)
            memcpy (blocked [nblocked++], e->peer, 32);
        i++;
    }
}

ctlq_stats_t
ctlq_stats (ctlq_t *self)
{
    return self->stats;
}

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "peers.h"

struct _peers_t {
    peer_t **items;     //  pointers stay valid while others are added
    size_t count, alloc;
};

peers_t *
peers_new (void)
{
    return calloc (1, sizeof (peers_t));
}

static void
s_outbox_clear (peer_t *p)
{
    peers_outbox_t *o = &p->outbox;
    for (size_t i = 0; i < o->len; i++)
        free (o->items [o->head + i].text);
    free (o->items);
    memset (o, 0, sizeof *o);
}

void
peers_destroy (peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    peers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        s_outbox_clear (self->items [i]);
        free (self->items [i]->owed);
        free (self->items [i]);
    }
    free (self->items);
    free (self);
    *self_p = NULL;
}

size_t peers_size (peers_t *self) { return self->count; }
peer_t *peers_at (peers_t *self, size_t i) { return i < self->count? self->items [i]: NULL; }

peer_t *
peers_find_sign (peers_t *self, const uint8_t sign_pk [32])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->items [i]->sign_pk, sign_pk, 32) == 0)
            return self->items [i];
    return NULL;
}

peer_t *
peers_find_box (peers_t *self, const uint8_t box_pk [32])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->items [i]->box_pk, box_pk, 32) == 0)
            return self->items [i];
    return NULL;
}

peer_t *
peers_add (peers_t *self, const record_t *rec)
{
    if (self->count == self->alloc) {
        size_t alloc = self->alloc? self->alloc * 2: 16;
        peer_t **more = realloc (self->items, alloc * sizeof *more);
        if (!more)
            return NULL;
        self->items = more;
        self->alloc = alloc;
    }
    peer_t *p = calloc (1, sizeof *p);
    if (!p)
        return NULL;
    memcpy (p->sign_pk, rec->sign_pk, 32);
    memcpy (p->box_pk, rec->box_pk, 32);
    identity_fingerprint_hex (rec->sign_pk, p->id);
    snprintf (p->name, sizeof p->name, "%s", rec->name);
    p->record_ts = rec->ts_ms;
    memcpy (p->record, rec->raw, RECORD_SIZE);
    self->items [self->count++] = p;
    return p;
}

void
peers_drop (peers_t *self, peer_t *peer)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->items [i] == peer) {
            s_outbox_clear (peer);
            free (peer->owed);
            free (peer);
            memmove (self->items + i, self->items + i + 1, (self->count - i - 1) * sizeof *self->items);
            self->count--;
            return;
        }
}

static bool
s_is_hex_prefix (const char *q)
{
    size_t n = strlen (q);
    if (n < 4 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit ((unsigned char) q [i]))
            return false;
    return true;
}

int
peers_resolve (peers_t *self, known_t *known, const char *query, bool allow_changed,
               peer_t **out, char *cands, size_t cands_size)
{
    *out = NULL;
    if (cands_size)
        cands [0] = 0;
    peer_t *match [16];
    size_t n = 0;
    bool hex = s_is_hex_prefix (query);
    char lower [65] = "";
    if (hex) {
        for (size_t i = 0; query [i]; i++)
            lower [i] = (char) tolower ((unsigned char) query [i]);
        lower [strlen (query)] = 0;
    }
    //  A fingerprint prefix is checked first: a peer cannot take over a
    //  prefix by choosing it as its display name.
    for (size_t i = 0; hex && i < self->count; i++)
        if (strncmp (self->items [i]->id, lower, strlen (lower)) == 0 && n < 16)
            match [n++] = self->items [i];
    if (n == 0)
        for (size_t i = 0; i < self->count; i++)
            if (strcmp (self->items [i]->name, query) == 0 && n < 16)
                match [n++] = self->items [i];
    if (n == 0)
        return SC_ENOPEER;
    if (n > 1) {
        size_t used = 0;
        for (size_t i = 0; i < n && used < cands_size; i++)
            used += (size_t) snprintf (cands + used, cands_size - used, "%s%s (%.16s)",
                                       i? ", ": "", match [i]->name, match [i]->id);
        return SC_EAMBIGUOUS;
    }
    //  By name, refuse an identity that took over a name another known
    //  identity had, until the user verifies it or uses its fingerprint
    if (!hex && !allow_changed && known && known_name_conflict (known, match [0]->sign_pk,
                                                                 match [0]->name)) {
        snprintf (cands, cands_size, "%s (%.16s)", match [0]->name, match [0]->id);
        return SC_EKEYCHANGED;
    }
    *out = match [0];
    return 0;
}

int
peers_outbox_add (peer_t *peer, unsigned kind, const char *text, peers_out_t **out)
{
    peers_outbox_t *o = &peer->outbox;
    *out = NULL;
    size_t len = strlen (text);
    size_t cost = len + PEERS_OUT_COST;
    if (len > PEERS_OUTBOX_BYTES || o->bytes + cost > PEERS_OUTBOX_BYTES)
        return SC_EAGAIN;
    if (o->head + o->len == o->alloc) {
        if (o->head > 0 && o->head >= o->alloc / 2) {
            //  Half the room is behind the head: slide down (each slide
            //  moves no more than the receipts that made the room)
            memmove (o->items, o->items + o->head, o->len * sizeof *o->items);
            o->head = 0;
        }
        else {
            size_t alloc = o->alloc? o->alloc * 2: 16;
            peers_out_t *more = realloc (o->items, alloc * sizeof *more);
            if (!more)
                return SC_ENOMEM;
            o->items = more;
            o->alloc = alloc;
        }
    }
    peers_out_t *m = &o->items [o->head + o->len];
    memset (m, 0, sizeof *m);
    m->text = malloc (len + 1);
    if (!m->text)
        return SC_ENOMEM;
    memcpy (m->text, text, len + 1);
    m->kind = kind;
    m->cost = cost;
    randombytes_buf (m->msg_id, sizeof m->msg_id);
    o->len++;
    o->bytes += cost;
    *out = m;
    return 0;
}

bool
peers_outbox_remove (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    peers_outbox_t *o = &peer->outbox;
    size_t limit = o->len < PEERS_WINDOW? o->len: PEERS_WINDOW;
    for (size_t i = 0; i < limit; i++) {
        peers_out_t *m = &o->items [o->head + i];
        if (memcmp (m->msg_id, msg_id, ENVELOPE_ID_SIZE) != 0)
            continue;
        o->bytes -= m->cost;
        free (m->text);
        //  The older ones move up one: the head advances, and a receipt for
        //  the oldest (the usual case) moves nothing
        memmove (&o->items [o->head + 1], &o->items [o->head], i * sizeof *o->items);
        o->head++;
        o->len--;
        if (i < o->sent)
            o->sent--;
        if (o->len == 0) {
            free (o->items);
            memset (o, 0, sizeof *o);
        }
        return true;
    }
    return false;
}

size_t peers_outbox_len (const peer_t *peer) { return peer->outbox.len; }
size_t peers_outbox_bytes (const peer_t *peer) { return peer->outbox.bytes; }
size_t peers_outbox_in_flight (const peer_t *peer) { return peer->outbox.sent; }

peers_out_t *
peers_outbox_at (peer_t *peer, size_t i)
{
    peers_outbox_t *o = &peer->outbox;
    return i < o->len? &o->items [o->head + i]: NULL;
}

peers_out_t *
peers_outbox_next (peer_t *peer)
{
    peers_outbox_t *o = &peer->outbox;
    return o->sent < o->len && o->sent < PEERS_WINDOW? &o->items [o->head + o->sent]: NULL;
}

void
peers_outbox_mark_sent (peer_t *peer, int64_t now)
{
    peers_outbox_t *o = &peer->outbox;
    assert (o->sent < o->len && o->sent < PEERS_WINDOW);
    o->items [o->head + o->sent].sent_at = now;
    o->sent++;
}

void
peers_outbox_rewind (peer_t *peer)
{
    peers_outbox_t *o = &peer->outbox;
    for (size_t i = 0; i < o->sent; i++)
        o->items [o->head + i].sent_at = 0;
    o->sent = 0;
}

bool
peers_receipt_owe (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    if (!peer->owed)
        peer->owed = malloc (PEERS_WINDOW * sizeof *peer->owed);
    if (!peer->owed || peer->owed_len == PEERS_WINDOW)
        return false;
    memcpy (peer->owed [peer->owed_len++], msg_id, ENVELOPE_ID_SIZE);
    return true;
}

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/err.h"
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
    for (size_t i = 0; i < p->outbox_len; i++)
        free (p->outbox [i].text);
    free (p->outbox);
}

void
peers_destroy (peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    peers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        s_outbox_clear (self->items [i]);
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

peers_out_t *
peers_outbox_add (peer_t *peer, unsigned kind, const char *text)
{
    if (peer->outbox_len >= PEERS_OUTBOX_MAX)
        return NULL;
    if (peer->outbox_len % 16 == 0) {
        peers_out_t *more = realloc (peer->outbox, (peer->outbox_len + 16) * sizeof *more);
        if (!more)
            return NULL;
        peer->outbox = more;
    }
    peers_out_t *m = &peer->outbox [peer->outbox_len];
    memset (m, 0, sizeof *m);
    m->text = strdup (text);
    if (!m->text)
        return NULL;
    m->kind = kind;
    randombytes_buf (m->msg_id, sizeof m->msg_id);
    peer->outbox_len++;
    return m;
}

bool
peers_outbox_remove (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    for (size_t i = 0; i < peer->outbox_len; i++) {
        if (memcmp (peer->outbox [i].msg_id, msg_id, ENVELOPE_ID_SIZE) != 0)
            continue;
        free (peer->outbox [i].text);
        memmove (&peer->outbox [i], &peer->outbox [i + 1],
                 (peer->outbox_len - i - 1) * sizeof peer->outbox [0]);
        peer->outbox_len--;
        return true;
    }
    return false;
}

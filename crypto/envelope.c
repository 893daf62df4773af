#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "bytes.h"
#include "envelope.h"
#include "err.h"

#define CTX "securechat envelope v1"
#define INNER_HEADER 93
#define SIG_SIZE crypto_sign_BYTES

//  The replay cache: two generations of open-addressed id sets.  When the
//  current one fills, the older one is dropped and the newest timestamp it
//  held becomes the floor: anything at or below the floor is refused as
//  stale, so a dropped id can never be replayed.
typedef struct {
    uint8_t (*ids) [ENVELOPE_ID_SIZE];
    uint8_t *used;
    size_t slots, count;
    int64_t max_ts;
} s_gen_t;

struct _envelope_opener_t {
    const identity_t *self;
    int64_t window_ms;
    size_t capacity;            //  ids per generation
    envelope_pinned_fn *pinned;
    void *arg;
    s_gen_t gen [2];            //  gen [0] current, gen [1] previous
    int64_t floor_ts;
};



int
envelope_seal (const identity_t *self,
               const uint8_t to_sign_pk [IDENTITY_PK_SIZE],
               const uint8_t to_box_pk [IDENTITY_PK_SIZE],
               int64_t ts_ms, const uint8_t *body, size_t body_len,
               const uint8_t msg_id [ENVELOPE_ID_SIZE], uint8_t **out, size_t *out_len)
{
    *out = NULL;
    if (body_len > ENVELOPE_MAX_BODY)
        return SC_ETOOBIG;
    size_t plain_len = SIG_SIZE + INNER_HEADER + body_len;
    uint8_t *plain = malloc (plain_len);
    uint8_t *sealed = malloc (plain_len + crypto_box_SEALBYTES);
    int rc = SC_ENOMEM;
    if (!plain || !sealed)
        goto out;
    uint8_t *inner = plain + SIG_SIZE;
    inner [0] = 1;
    memcpy (inner + 1, identity_sign_pk (self), 32);
    memcpy (inner + 33, to_sign_pk, 32);
    memcpy (inner + 65, msg_id, ENVELOPE_ID_SIZE);
    bytes_put_be (inner + 81, (uint64_t) ts_ms, 8);
    bytes_put_be (inner + 89, body_len, 4);
    if (body_len)
        memcpy (inner + INNER_HEADER, body, body_len);
    rc = identity_sign (self, CTX, inner, INNER_HEADER + body_len, plain);
    if (rc != 0)
        goto out;
    if (crypto_box_seal (sealed, plain, plain_len, to_box_pk) != 0) {
        rc = SC_ECRYPTO;
        goto out;
    }
    *out = sealed;
    *out_len = plain_len + crypto_box_SEALBYTES;
    sealed = NULL;      //  transferred
out:
    free (plain);
    free (sealed);
    return rc;
}

static int
s_gen_init (s_gen_t *g, size_t capacity)
{
    g->slots = 1;
    while (g->slots < capacity * 2)
        g->slots <<= 1;
    g->ids = calloc (g->slots, ENVELOPE_ID_SIZE);
    g->used = calloc (g->slots, 1);
    g->count = 0;
    g->max_ts = INT64_MIN;
    return g->ids && g->used? 0: SC_ENOMEM;
}

static void
s_gen_clear (s_gen_t *g)
{
    memset (g->used, 0, g->slots);
    g->count = 0;
    g->max_ts = INT64_MIN;
}

//  Ids are random (or attacker-chosen, which only costs the attacker's own
//  probe lengths), so a keyed hash keeps chains short either way.
static size_t
s_slot (const s_gen_t *g, const uint8_t id [ENVELOPE_ID_SIZE])
{
    static uint8_t key [crypto_shorthash_KEYBYTES];
    static bool keyed = false;
    if (!keyed) {
        randombytes_buf (key, sizeof key);
        keyed = true;
    }
    uint8_t h [crypto_shorthash_BYTES];
    crypto_shorthash (h, id, ENVELOPE_ID_SIZE, key);
    return (size_t) bytes_get_be (h, 8) & (g->slots - 1);
}

static bool
s_gen_has (const s_gen_t *g, const uint8_t id [ENVELOPE_ID_SIZE])
{
    for (size_t i = s_slot (g, id); g->used [i]; i = (i + 1) & (g->slots - 1))
        if (memcmp (g->ids [i], id, ENVELOPE_ID_SIZE) == 0)
            return true;
    return false;
}

static void
s_gen_add (s_gen_t *g, const uint8_t id [ENVELOPE_ID_SIZE], int64_t ts)
{
    size_t i = s_slot (g, id);
    while (g->used [i])
        i = (i + 1) & (g->slots - 1);
    g->used [i] = 1;
    memcpy (g->ids [i], id, ENVELOPE_ID_SIZE);
    g->count++;
    if (ts > g->max_ts)
        g->max_ts = ts;
}

envelope_opener_t *
envelope_opener_new (const identity_t *self, int64_t window_ms,
                     size_t capacity, envelope_pinned_fn *pinned, void *arg)
{
    envelope_opener_t *o = calloc (1, sizeof *o);
    if (!o)
        return NULL;
    o->self = self;
    o->window_ms = window_ms;
    o->capacity = capacity? capacity: 1;
    o->pinned = pinned;
    o->arg = arg;
    o->floor_ts = INT64_MIN;
    if (s_gen_init (&o->gen [0], o->capacity) || s_gen_init (&o->gen [1], o->capacity))
        envelope_opener_destroy (&o);
    return o;
}

void
envelope_opener_destroy (envelope_opener_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    envelope_opener_t *o = *self_p;
    for (int i = 0; i < 2; i++) {
        free (o->gen [i].ids);
        free (o->gen [i].used);
    }
    free (o);
    *self_p = NULL;
}

int
envelope_open (envelope_opener_t *self, const uint8_t *sealed, size_t len,
               const uint8_t *expect_from, int64_t now_ms, envelope_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    size_t min = crypto_box_SEALBYTES + SIG_SIZE + INNER_HEADER;
    if (len < min)
        return SC_ETRUNC;
    if (len > min + ENVELOPE_MAX_BODY)
        return SC_ETOOBIG;
    size_t plain_len = len - crypto_box_SEALBYTES;
    uint8_t *plain = malloc (plain_len + 1);
    if (!plain)
        return SC_ENOMEM;
    int rc = identity_unseal (self->self, sealed, len, plain);
    if (rc != 0)
        goto out;
    const uint8_t *inner = plain + SIG_SIZE;
    size_t inner_len = plain_len - SIG_SIZE;
    rc = SC_EMALFORMED;
    if (inner [0] != 1) {
        rc = SC_EVERSION;
        goto out;
    }
    if (bytes_get_be (inner + 89, 4) != inner_len - INNER_HEADER)
        goto out;
    rc = identity_verify (inner + 1, CTX, inner, inner_len, plain);
    if (rc != 0)
        goto out;
    if (sodium_memcmp (inner + 33, identity_sign_pk (self->self), 32) != 0) {
        rc = SC_ENOTFORME;
        goto out;
    }
    if (self->pinned && !self->pinned (inner + 1, self->arg)) {
        rc = SC_EUNKNOWN;
        goto out;
    }
    if (expect_from && sodium_memcmp (inner + 1, expect_from, 32) != 0) {
        rc = SC_ESENDER;
        goto out;
    }
    int64_t ts = (int64_t) bytes_get_be (inner + 81, 8);
    if (ts < now_ms - self->window_ms || ts > now_ms + self->window_ms
    ||  ts <= self->floor_ts) {
        rc = SC_ESTALE;
        goto out;
    }
    const uint8_t *id = inner + 65;
    if (s_gen_has (&self->gen [0], id) || s_gen_has (&self->gen [1], id)) {
        //  Authentic but seen: tell the caller which, so it can re-send a
        //  receipt that may have been lost
        memcpy (msg->from, inner + 1, 32);
        memcpy (msg->msg_id, id, ENVELOPE_ID_SIZE);
        rc = SC_EREPLAY;
        goto out;
    }
    //  All checks passed: now, and only now, change state
    if (self->gen [0].count >= self->capacity) {
        if (self->gen [1].max_ts > self->floor_ts)
            self->floor_ts = self->gen [1].max_ts;
        s_gen_t spare = self->gen [1];
        s_gen_clear (&spare);
        self->gen [1] = self->gen [0];
        self->gen [0] = spare;
    }
    s_gen_add (&self->gen [0], id, ts);
    memcpy (msg->from, inner + 1, 32);
    memcpy (msg->to, inner + 33, 32);
    memcpy (msg->msg_id, id, ENVELOPE_ID_SIZE);
    msg->ts_ms = ts;
    msg->body_len = inner_len - INNER_HEADER;
    //  Move the body to the front of our buffer and hand it over
    memmove (plain, inner + INNER_HEADER, msg->body_len);
    plain [msg->body_len] = 0;
    msg->body = plain;
    plain = NULL;       //  transferred
    rc = 0;
out:
    free (plain);
    return rc;
}

void
envelope_msg_clear (envelope_msg_t *msg)
{
    if (msg->body) {
        sodium_memzero (msg->body, msg->body_len);
        free (msg->body);
    }
    memset (msg, 0, sizeof *msg);
}

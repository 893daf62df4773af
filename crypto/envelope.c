#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "base/bytes.h"
#include "envelope.h"
#include "base/err.h"

#define CTX "securechat envelope v1"
#define INNER_HEADER 93
#define SIG_SIZE crypto_sign_BYTES

#define GEN_MIN_SLOTS 16        //  a new generation's slots (8 ids)

//  Replay state of one sender: two generations of open-addressed id sets.
//  When the current one fills, the older one is dropped and the newest
//  timestamp it held becomes the sender's floor: anything of that sender at
//  or below the floor is refused as stale, so a dropped id can never be
//  replayed.  Only the sender's own messages fill its generations.
typedef struct {
    uint8_t (*ids) [ENVELOPE_ID_SIZE];
    uint8_t *used;
    size_t slots, count;
    int64_t max_ts;
} s_gen_t;

typedef struct _s_sender_t s_sender_t;
struct _s_sender_t {
    uint8_t pk [IDENTITY_PK_SIZE];
    s_gen_t gen [2];            //  gen [0] current, gen [1] previous
    int64_t floor_ts;
    s_sender_t *newer, *older;  //  the recency list, by last accepted message
    s_sender_t *chain;          //  next in the same hash bucket
};

struct _envelope_opener_t {
    const identity_t *self;
    envelope_limits_t limits;
    size_t gen_ids;             //  ids per generation (a power of two)
    size_t max_slots;           //  id slots allocated over all senders
    envelope_pinned_fn *pinned;
    void *arg;
    uint8_t key [crypto_shorthash_KEYBYTES];
    s_sender_t **buckets;
    size_t nbuckets;            //  a power of two
    s_sender_t *newest, *oldest;
    size_t senders, slots, ids, evicted;
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

//  Ids are random (or attacker-chosen, which only costs the attacker's own
//  probe lengths), so a keyed hash keeps chains short either way.
static size_t
s_hash (const envelope_opener_t *self, const uint8_t *data, size_t len, size_t mask)
{
    uint8_t h [crypto_shorthash_BYTES];
    crypto_shorthash (h, data, len, self->key);
    return (size_t) bytes_get_be (h, 8) & mask;
}

static int
s_gen_alloc (s_gen_t *g, size_t slots)
{
    g->ids = calloc (slots, ENVELOPE_ID_SIZE);
    g->used = calloc (slots, 1);
    g->slots = slots;
    g->count = 0;
    g->max_ts = INT64_MIN;
    if (g->ids && g->used)
        return 0;
    free (g->ids);
    free (g->used);
    memset (g, 0, sizeof *g);
    return SC_ENOMEM;
}

static void
s_gen_free (s_gen_t *g)
{
    free (g->ids);
    free (g->used);
    memset (g, 0, sizeof *g);
}

static bool
s_gen_has (const envelope_opener_t *self, const s_gen_t *g, const uint8_t id [ENVELOPE_ID_SIZE])
{
    size_t mask = g->slots - 1;
    for (size_t i = s_hash (self, id, ENVELOPE_ID_SIZE, mask); g->used [i]; i = (i + 1) & mask)
        if (memcmp (g->ids [i], id, ENVELOPE_ID_SIZE) == 0)
            return true;
    return false;
}

//  The caller keeps the load at most one half.
static void
s_gen_add (const envelope_opener_t *self, s_gen_t *g, const uint8_t id [ENVELOPE_ID_SIZE], int64_t ts)
{
    size_t mask = g->slots - 1;
    size_t i = s_hash (self, id, ENVELOPE_ID_SIZE, mask);
    while (g->used [i])
        i = (i + 1) & mask;
    g->used [i] = 1;
    memcpy (g->ids [i], id, ENVELOPE_ID_SIZE);
    g->count++;
    if (ts > g->max_ts)
        g->max_ts = ts;
}

static s_sender_t *
s_find (const envelope_opener_t *self, const uint8_t pk [IDENTITY_PK_SIZE])
{
    s_sender_t *s = self->buckets [s_hash (self, pk, IDENTITY_PK_SIZE, self->nbuckets - 1)];
    while (s && memcmp (s->pk, pk, IDENTITY_PK_SIZE) != 0)
        s = s->chain;
    return s;
}

static void
s_unlist (envelope_opener_t *self, s_sender_t *s)
{
    if (s->newer)
        s->newer->older = s->older;
    else
        self->newest = s->older;
    if (s->older)
        s->older->newer = s->newer;
    else
        self->oldest = s->newer;
    s->newer = s->older = NULL;
}

static void
s_list_front (envelope_opener_t *self, s_sender_t *s)
{
    s->older = self->newest;
    s->newer = NULL;
    if (self->newest)
        self->newest->newer = s;
    else
        self->oldest = s;
    self->newest = s;
}

//  Drops a sender's state whole: its ids, its floor, its place.
static void
s_drop (envelope_opener_t *self, s_sender_t *s)
{
    s_sender_t **pp = &self->buckets [s_hash (self, s->pk, IDENTITY_PK_SIZE, self->nbuckets - 1)];
    while (*pp != s)
        pp = &(*pp)->chain;
    *pp = s->chain;
    s_unlist (self, s);
    for (int i = 0; i < 2; i++) {
        self->slots -= s->gen [i].slots;
        self->ids -= s->gen [i].count;
        s_gen_free (&s->gen [i]);
    }
    self->senders--;
    free (s);
}

//  Makes room for `more` id slots by evicting the senders accepted least
//  recently, never `keep`.
static void
s_make_room (envelope_opener_t *self, size_t more, const s_sender_t *keep)
{
    while (self->slots + more > self->max_slots && self->oldest && self->oldest != keep) {
        s_drop (self, self->oldest);
        self->evicted++;
    }
}

static s_sender_t *
s_sender_new (envelope_opener_t *self, const uint8_t pk [IDENTITY_PK_SIZE])
{
    size_t slots = GEN_MIN_SLOTS;     //  gen_ids is at least 8
    if (self->senders >= self->limits.senders && self->oldest) {
        s_drop (self, self->oldest);
        self->evicted++;
    }
    s_make_room (self, 2 * slots, NULL);
    s_sender_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    if (s_gen_alloc (&s->gen [0], slots) || s_gen_alloc (&s->gen [1], slots)) {
        s_gen_free (&s->gen [0]);
        free (s);
        return NULL;
    }
    memcpy (s->pk, pk, IDENTITY_PK_SIZE);
    s->floor_ts = INT64_MIN;
    size_t b = s_hash (self, pk, IDENTITY_PK_SIZE, self->nbuckets - 1);
    s->chain = self->buckets [b];
    self->buckets [b] = s;
    s_list_front (self, s);
    self->senders++;
    self->slots += 2 * slots;
    return s;
}

//  Remembers id (ts) for sender pk, turning its generations over or growing
//  the current one as needed.  Returns 0 or SC_ENOMEM.
static int
s_remember (envelope_opener_t *self, const uint8_t pk [IDENTITY_PK_SIZE],
            const uint8_t id [ENVELOPE_ID_SIZE], int64_t ts)
{
    s_sender_t *s = s_find (self, pk);
    if (!s && !(s = s_sender_new (self, pk)))
        return SC_ENOMEM;
    s_gen_t *g = &s->gen [0];
    if (g->count >= self->gen_ids) {
        //  Turn over: the previous generation goes, its newest time is the floor
        s_gen_t fresh;
        size_t slots = s->gen [1].slots;
        if (s_gen_alloc (&fresh, slots))
            return SC_ENOMEM;
        if (s->gen [1].max_ts > s->floor_ts)
            s->floor_ts = s->gen [1].max_ts;
        self->ids -= s->gen [1].count;
        s_gen_free (&s->gen [1]);
        s->gen [1] = *g;
        *g = fresh;
    }
    else
    if ((g->count + 1) * 2 > g->slots) {
        //  Grow by doubling, up to twice gen_ids slots
        s_make_room (self, g->slots, s);
        s_gen_t bigger;
        if (s_gen_alloc (&bigger, g->slots * 2))
            return SC_ENOMEM;
        for (size_t i = 0; i < g->slots; i++)
            if (g->used [i])
                s_gen_add (self, &bigger, g->ids [i], INT64_MIN);
        bigger.max_ts = g->max_ts;
        self->slots += g->slots;
        s_gen_free (g);
        *g = bigger;
    }
    s_gen_add (self, g, id, ts);
    self->ids++;
    s_unlist (self, s);
    s_list_front (self, s);
    return 0;
}

envelope_opener_t *
envelope_opener_new (const identity_t *self, const envelope_limits_t *limits,
                     envelope_pinned_fn *pinned, void *arg)
{
    static const envelope_limits_t defaults = ENVELOPE_LIMITS_DEFAULT;
    envelope_opener_t *o = calloc (1, sizeof *o);
    if (!o)
        return NULL;
    o->self = self;
    o->limits = limits? *limits: defaults;
    if (o->limits.senders < 1)
        o->limits.senders = 1;
    if (o->limits.ids < 16)
        o->limits.ids = 16;
    //  A power of two, so that one sender's two full generations (4 x
    //  gen_ids slots at a load of one half) fit in the slots of `ids`
    o->gen_ids = 8;
    while (o->gen_ids * 2 <= o->limits.sender_ids && o->gen_ids * 2 <= o->limits.ids / 2)
        o->gen_ids *= 2;
    o->max_slots = o->limits.ids * 2;
    o->pinned = pinned;
    o->arg = arg;
    randombytes_buf (o->key, sizeof o->key);
    o->nbuckets = 1;
    while (o->nbuckets < o->limits.senders)
        o->nbuckets <<= 1;
    o->buckets = calloc (o->nbuckets, sizeof *o->buckets);
    if (!o->buckets)
        envelope_opener_destroy (&o);
    return o;
}

void
envelope_opener_destroy (envelope_opener_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    envelope_opener_t *o = *self_p;
    while (o->oldest)
        s_drop (o, o->oldest);
    free (o->buckets);
    free (o);
    *self_p = NULL;
}

envelope_stats_t
envelope_opener_stats (const envelope_opener_t *self)
{
    return (envelope_stats_t) { .senders = self->senders, .ids = self->ids,
                                .evicted = self->evicted };
}

int
envelope_peek_ts (const envelope_opener_t *self, const uint8_t *sealed, size_t len, int64_t *ts)
{
    size_t min = crypto_box_SEALBYTES + SIG_SIZE + INNER_HEADER;
    if (len < min || len > min + ENVELOPE_MAX_BODY)
        return SC_EMALFORMED;
    size_t plain_len = len - crypto_box_SEALBYTES;
    uint8_t *plain = malloc (plain_len + 1);
    if (!plain)
        return SC_ENOMEM;
    int rc = identity_unseal (self->self, sealed, len, plain);
    if (rc == 0)
        *ts = (int64_t) bytes_get_be (plain + SIG_SIZE + 81, 8);
    sodium_memzero (plain, plain_len);
    free (plain);
    return rc;
}

int
envelope_open (envelope_opener_t *self, const uint8_t *sealed, size_t len,
               const uint8_t *expect_from, int64_t now_ms, envelope_msg_t *msg)
{
    return envelope_open_window (self, sealed, len, expect_from, now_ms, self->limits.past_ms, msg);
}

int
envelope_open_window (envelope_opener_t *self, const uint8_t *sealed, size_t len,
                      const uint8_t *expect_from, int64_t now_ms, int64_t past_ms,
                      envelope_msg_t *msg)
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
    const uint8_t *from = inner + 1, *id = inner + 65;
    const s_sender_t *sender = s_find (self, from);
    if (ts < now_ms - past_ms || ts > now_ms + self->limits.ahead_ms
    ||  (sender && ts <= sender->floor_ts)) {
        rc = SC_ESTALE;
        goto out;
    }
    if (sender && (s_gen_has (self, &sender->gen [0], id) || s_gen_has (self, &sender->gen [1], id))) {
        //  Authentic but seen: tell the caller which, so it can re-send a
        //  receipt that may have been lost
        memcpy (msg->from, from, 32);
        memcpy (msg->msg_id, id, ENVELOPE_ID_SIZE);
        rc = SC_EREPLAY;
        goto out;
    }
    //  All checks passed: now, and only now, change state
    rc = s_remember (self, from, id, ts);
    if (rc != 0)
        goto out;
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

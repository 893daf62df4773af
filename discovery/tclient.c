/*  tclient: the node's rules for its trackers.  See tclient.h.  */
#define LOG_MODULE "tclient"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/fileio.h"
#include "../crypto/base/log.h"
#include "tclient.h"

#define S_TEXT_MAX 160
#define S_CODE_MAX 32
#define S_ADDR_MAX 64
#define S_BUCKETS 131072        //  a power of two, twice TCLIENT_SEEN_MAX
#define S_SEEN_MAGIC "SCSEEN1\n"
#define S_SEEN_ENTRY (32 + 16 + 8)

typedef struct {
    char name [33];
    uint8_t sign_pk [32];
} s_name_t;

typedef struct {
    char text [S_TEXT_MAX];
    uint8_t fp [32];
    uint8_t sign_pk [32];
    tclient_state_t state;
    bool linked;
    int64_t due;                //  the next T_REGISTER (REGISTERING, REFUSED) or refresh
    int64_t expires;            //  REGISTERED: the record's end
    int64_t backoff;
    uint64_t reg_tag;           //  the register in flight
    char addr [S_ADDR_MAX];
    uint64_t registrations, refusals;
    char code [S_CODE_MAX];
    s_name_t names [TCLIENT_NAMES_MAX];
    size_t nnames, names_next;
} s_tracker_t;

typedef struct {
    uint8_t sender [32];
    uint8_t id [16];
    int64_t ts;                 //  wall ms when marked
    int32_t next;               //  hash chain, -1 at its end
} s_seen_t;

struct _tclient_t {
    s_tracker_t trackers [TCLIENT_TRACKERS_MAX];
    int ntrackers;
    uint64_t seq;
    s_seen_t *seen;             //  a ring of TCLIENT_SEEN_MAX, oldest at seen_head
    size_t seen_head, seen_len;
    int32_t *buckets;
    uint8_t hash_key [crypto_shorthash_KEYBYTES];   //  a secret: senders cannot aim at one chain
    bool dirty;
};

tclient_t *
tclient_new (void)
{
    tclient_t *self = calloc (1, sizeof *self);
    if (self) {
        self->seen = calloc (TCLIENT_SEEN_MAX, sizeof *self->seen);
        self->buckets = malloc (S_BUCKETS * sizeof *self->buckets);
    }
    if (!self || !self->seen || !self->buckets) {
        tclient_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < S_BUCKETS; i++)
        self->buckets [i] = -1;
    randombytes_buf (self->hash_key, sizeof self->hash_key);
    return self;
}

void
tclient_destroy (tclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->seen);
    free ((*self_p)->buckets);
    free (*self_p);
    *self_p = NULL;
}

int
tclient_add (tclient_t *self, const char *text, const uint8_t fp [32])
{
    if (self->ntrackers == TCLIENT_TRACKERS_MAX)
        return SC_ETOOBIG;
    s_tracker_t *t = &self->trackers [self->ntrackers];
    memset (t, 0, sizeof *t);
    snprintf (t->text, sizeof t->text, "%s", text);
    memcpy (t->fp, fp, 32);
    t->state = TCLIENT_RESOLVING;
    return self->ntrackers++;
}

size_t tclient_size (const tclient_t *self) { return (size_t) self->ntrackers; }

int
tclient_find_text (const tclient_t *self, const char *text)
{
    for (int i = 0; text && i < self->ntrackers; i++)
        if (strcmp (self->trackers [i].text, text) == 0)
            return i;
    return -1;
}

int
tclient_find_sign (const tclient_t *self, const uint8_t sign_pk [32])
{
    for (int i = 0; i < self->ntrackers; i++)
        if (self->trackers [i].state != TCLIENT_RESOLVING
        &&  memcmp (self->trackers [i].sign_pk, sign_pk, 32) == 0)
            return i;
    return -1;
}

bool
tclient_on_resolved (tclient_t *self, int i, const uint8_t sign_pk [32], int64_t now_ms)
{
    s_tracker_t *t = &self->trackers [i];
    if (t->state != TCLIENT_RESOLVING)
        return false;
    memcpy (t->sign_pk, sign_pk, 32);
    t->state = TCLIENT_REGISTERING;
    t->linked = true;
    t->due = now_ms;
    t->backoff = TCLIENT_RETRY_MS;
    return true;
}

void
tclient_on_closed (tclient_t *self, int i, int64_t now_ms)
{
    s_tracker_t *t = &self->trackers [i];
    if (t->state == TCLIENT_RESOLVING)
        return;
    t->linked = false;
    if (t->state == TCLIENT_REGISTERED) {
        t->state = TCLIENT_REGISTERING;
        t->due = now_ms;
        t->backoff = TCLIENT_RETRY_MS;
    }
}

void
tclient_on_frame (tclient_t *self, int i)
{
    self->trackers [i].linked = true;
}

uint64_t
tclient_tag (tclient_t *self, tclient_req_t req)
{
    return (++self->seq << 4) | (uint64_t) req;
}

tclient_req_t
tclient_tag_req (uint64_t tag)
{
    return (tclient_req_t) (tag & 15);
}

bool
tclient_register_due (tclient_t *self, int i, int64_t now_ms, uint64_t *tag)
{
    s_tracker_t *t = &self->trackers [i];
    if (t->state == TCLIENT_RESOLVING || now_ms < t->due)
        return false;
    if (t->state == TCLIENT_REGISTERED && now_ms >= t->expires) {
        t->state = TCLIENT_REGISTERING;     //  no answer to the refreshes in time
        t->backoff = TCLIENT_RETRY_MS;
    }
    *tag = t->reg_tag = tclient_tag (self, TCLIENT_REQ_REGISTER);
    //  Unanswered, ask again after the backoff (a refresh too: its time is
    //  running out); the answer sets the next time
    t->due = now_ms + t->backoff;
    t->backoff = t->backoff * 2 > TCLIENT_RETRY_MAX_MS? TCLIENT_RETRY_MAX_MS: t->backoff * 2;
    return true;
}

bool
tclient_on_registered (tclient_t *self, int i, uint64_t tag, uint64_t ttl_ms, const char *addr,
                       double jitter, int64_t now_ms)
{
    s_tracker_t *t = &self->trackers [i];
    if (t->state == TCLIENT_RESOLVING || tag != t->reg_tag || ttl_ms == 0)
        return false;
    bool news = t->state != TCLIENT_REGISTERED;
    if (jitter < 0 || jitter > 1)
        jitter = 0.5;
    if (ttl_ms > (uint64_t) TCLIENT_SEEN_TTL_MS)
        ttl_ms = (uint64_t) TCLIENT_SEEN_TTL_MS;
    t->state = TCLIENT_REGISTERED;
    t->linked = true;
    t->expires = now_ms + (int64_t) ttl_ms;
    t->due = now_ms + (int64_t) ((double) ttl_ms * (0.5 + 0.25 * jitter));
    t->backoff = TCLIENT_RETRY_MS;
    t->registrations++;
    snprintf (t->addr, sizeof t->addr, "%s", addr? addr: "");
    return news;
}

void
tclient_on_refused (tclient_t *self, int i, uint64_t tag, const char *code, uint64_t retry_ms,
                    int64_t now_ms)
{
    s_tracker_t *t = &self->trackers [i];
    t->refusals++;
    snprintf (t->code, sizeof t->code, "%s", code? code: "");
    if (tclient_tag_req (tag) != TCLIENT_REQ_REGISTER || tag != t->reg_tag
    ||  t->state == TCLIENT_RESOLVING)
        return;
    //  retry_ms 0: not as it is; our record will not change, so wait long
    int64_t wait = retry_ms == 0? TCLIENT_RETRY_MAX_MS
                 : retry_ms > (uint64_t) TCLIENT_RETRY_MAX_MS * 4? TCLIENT_RETRY_MAX_MS * 4
                 : (int64_t) retry_ms;
    if (wait < t->backoff)
        wait = t->backoff;
    t->state = TCLIENT_REFUSED;
    t->due = now_ms + wait;
}

int64_t
tclient_next_due (const tclient_t *self)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < self->ntrackers; i++)
        if (self->trackers [i].state != TCLIENT_RESOLVING && self->trackers [i].due < next)
            next = self->trackers [i].due;
    return next;
}

tclient_state_t tclient_state (const tclient_t *self, int i) { return self->trackers [i].state; }

bool
tclient_registered (const tclient_t *self, int i)
{
    return self->trackers [i].state == TCLIENT_REGISTERED && self->trackers [i].linked;
}

int
tclient_any_registered (const tclient_t *self)
{
    for (int i = 0; i < self->ntrackers; i++)
        if (tclient_registered (self, i))
            return i;
    return -1;
}

tclient_info_t
tclient_info (const tclient_t *self, int i, int64_t now_ms)
{
    const s_tracker_t *t = &self->trackers [i];
    tclient_info_t info = {
        .text = t->text, .state = t->state, .linked = t->linked, .seen_addr = t->addr,
        .ttl_left_ms = t->state == TCLIENT_REGISTERED && t->expires > now_ms? t->expires - now_ms: 0,
        .registrations = t->registrations, .refusals = t->refusals, .last_refusal = t->code };
    return info;
}

int
tclient_on_name (tclient_t *self, int i, const char *name, const uint8_t sign_pk [32])
{
    int other = -1;
    for (int k = 0; k < self->ntrackers; k++)
        for (size_t n = 0; k != i && other < 0 && n < self->trackers [k].nnames; n++) {
            const s_name_t *e = &self->trackers [k].names [n];
            if (strcmp (e->name, name) == 0 && memcmp (e->sign_pk, sign_pk, 32) != 0)
                other = k;
        }
    s_tracker_t *t = &self->trackers [i];
    for (size_t n = 0; n < t->nnames; n++)
        if (strcmp (t->names [n].name, name) == 0) {
            memcpy (t->names [n].sign_pk, sign_pk, 32);
            return other;
        }
    //  Bounded: the oldest answer is forgotten first
    s_name_t *e = &t->names [t->nnames < TCLIENT_NAMES_MAX? t->nnames++: t->names_next];
    if (t->nnames == TCLIENT_NAMES_MAX)
        t->names_next = (t->names_next + 1) % TCLIENT_NAMES_MAX;
    snprintf (e->name, sizeof e->name, "%s", name);
    memcpy (e->sign_pk, sign_pk, 32);
    return other;
}

//  ---------------------------------------------------------------------
//  Messages shown

//  SipHash under a random key: the ids come from peers, who cannot then
//  pile their marks into one chain
static size_t
s_hash (const tclient_t *self, const uint8_t sender [32], const uint8_t id [16])
{
    uint8_t in [48], out [crypto_shorthash_BYTES];
    memcpy (in, sender, 32);
    memcpy (in + 32, id, 16);
    crypto_shorthash (out, in, sizeof in, self->hash_key);
    uint64_t h;
    memcpy (&h, out, sizeof h);
    return (size_t) (h & (S_BUCKETS - 1));
}

static int32_t
s_find (const tclient_t *self, const uint8_t sender [32], const uint8_t id [16])
{
    for (int32_t k = self->buckets [s_hash (self, sender, id)]; k >= 0; k = self->seen [k].next)
        if (memcmp (self->seen [k].id, id, 16) == 0 && memcmp (self->seen [k].sender, sender, 32) == 0)
            return k;
    return -1;
}

//  Drops the oldest mark.
static void
s_pop (tclient_t *self)
{
    int32_t k = (int32_t) self->seen_head;
    int32_t *p = &self->buckets [s_hash (self, self->seen [k].sender, self->seen [k].id)];
    while (*p >= 0 && *p != k)
        p = &self->seen [*p].next;
    if (*p == k)
        *p = self->seen [k].next;
    self->seen_head = (self->seen_head + 1) % TCLIENT_SEEN_MAX;
    self->seen_len--;
}

static void
s_expire (tclient_t *self, int64_t wall_ms)
{
    while (self->seen_len
    &&     self->seen [self->seen_head].ts < wall_ms - TCLIENT_SEEN_TTL_MS) {
        s_pop (self);
        self->dirty = true;
    }
}

static void
s_push (tclient_t *self, const uint8_t sender [32], const uint8_t id [16], int64_t ts)
{
    if (self->seen_len == TCLIENT_SEEN_MAX)
        s_pop (self);
    int32_t k = (int32_t) ((self->seen_head + self->seen_len) % TCLIENT_SEEN_MAX);
    s_seen_t *e = &self->seen [k];
    memcpy (e->sender, sender, 32);
    memcpy (e->id, id, 16);
    e->ts = ts;
    size_t b = s_hash (self, sender, id);
    e->next = self->buckets [b];
    self->buckets [b] = k;
    self->seen_len++;
}

bool
tclient_seen (const tclient_t *self, const uint8_t sender [32], const uint8_t msg_id [16],
              int64_t wall_ms)
{
    int32_t k = s_find (self, sender, msg_id);
    return k >= 0 && self->seen [k].ts >= wall_ms - TCLIENT_SEEN_TTL_MS;
}

bool
tclient_seen_mark (tclient_t *self, const uint8_t sender [32], const uint8_t msg_id [16],
                   int64_t wall_ms)
{
    s_expire (self, wall_ms);
    if (s_find (self, sender, msg_id) >= 0)
        return true;
    s_push (self, sender, msg_id, wall_ms);
    self->dirty = true;
    return false;
}

size_t tclient_seen_count (const tclient_t *self) { return self->seen_len; }
bool tclient_seen_dirty (const tclient_t *self) { return self->dirty; }

int
tclient_seen_save (tclient_t *self, const char *path, int64_t wall_ms)
{
    s_expire (self, wall_ms);
    size_t len = sizeof S_SEEN_MAGIC - 1 + self->seen_len * S_SEEN_ENTRY;
    uint8_t *buf = malloc (len);
    if (!buf)
        return SC_ENOMEM;
    memcpy (buf, S_SEEN_MAGIC, sizeof S_SEEN_MAGIC - 1);
    uint8_t *p = buf + sizeof S_SEEN_MAGIC - 1;
    for (size_t i = 0; i < self->seen_len; i++, p += S_SEEN_ENTRY) {
        const s_seen_t *e = &self->seen [(self->seen_head + i) % TCLIENT_SEEN_MAX];
        memcpy (p, e->sender, 32);
        memcpy (p + 32, e->id, 16);
        for (int b = 0; b < 8; b++)
            p [48 + b] = (uint8_t) ((uint64_t) e->ts >> (56 - 8 * b));
    }
    int rc = fileio_write_atomic (path, buf, len);
    free (buf);
    if (rc == 0)
        self->dirty = false;
    return rc;
}

int
tclient_seen_load (tclient_t *self, const char *path, int64_t wall_ms)
{
    uint8_t *buf = NULL;
    size_t len;
    int rc = fileio_read_all (path, sizeof S_SEEN_MAGIC - 1 + (size_t) TCLIENT_SEEN_MAX * S_SEEN_ENTRY,
                              &buf, &len);
    if (rc == SC_ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    size_t head = sizeof S_SEEN_MAGIC - 1;
    if (len < head || memcmp (buf, S_SEEN_MAGIC, head) != 0 || (len - head) % S_SEEN_ENTRY) {
        free (buf);
        return SC_ECORRUPT;
    }
    for (const uint8_t *p = buf + head; p < buf + len; p += S_SEEN_ENTRY) {
        uint64_t ts = 0;
        for (int b = 0; b < 8; b++)
            ts = ts << 8 | p [48 + b];
        if ((int64_t) ts >= wall_ms - TCLIENT_SEEN_TTL_MS && s_find (self, p, p + 32) < 0)
            s_push (self, p, p + 32, (int64_t) ts);
    }
    free (buf);
    return 0;
}

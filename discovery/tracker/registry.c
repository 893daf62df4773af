/*  registry: the tracker's records and their limits.  See registry.h.

    Records and sources live in arrays that grow by doubling up to their
    limits, each chained into a hash table of fixed size (a power of two at
    least the limit) by a keyed hash; a free slot is chained on a free
    list.  Indices, not pointers, so that growing moves nothing that is
    referred to.  */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/bytes.h"
#include "../../crypto/base/err.h"
#include "../../crypto/base/fileio.h"
#include "registry.h"
#include "registry_int.h"



static size_t
s_pow2 (size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static size_t
s_hash (const registry_t *self, const void *data, size_t len, size_t buckets)
{
    uint8_t h [crypto_shorthash_BYTES];
    crypto_shorthash (h, data, len, self->hash_key);
    return (size_t) (bytes_get_be (h, 8) & (buckets - 1));
}

registry_t *
registry_new (const registry_limits_t *limits)
{
    registry_limits_t def = REGISTRY_LIMITS_DEFAULT;
    const registry_limits_t *l = limits? limits: &def;
    if (l->records == 0 || l->records > INT32_MAX / 4 || l->keys_per_source == 0
    ||  l->register_per_s == 0 || l->register_burst == 0
    ||  l->lookup_per_s == 0 || l->lookup_burst == 0 || l->backoff_ms <= 0
    ||  l->backoff_max_ms < l->backoff_ms || l->ttl_ms <= 0 || l->events == 0
    ||  l->sources > INT32_MAX / 4)
        return NULL;
    registry_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->lim = *l;
    randombytes_buf (self->hash_key, sizeof self->hash_key);
    self->entries_free = -1;
    self->sources_free = -1;
    self->key_buckets = s_pow2 (l->records);
    self->sources_max = l->records + l->sources;
    self->addr_buckets = s_pow2 (self->sources_max);
    self->by_key = malloc (self->key_buckets * sizeof (int32_t));
    self->by_addr = malloc (self->addr_buckets * sizeof (int32_t));
    self->events = calloc (l->events, sizeof (registry_event_t));
    if (!self->by_key || !self->by_addr || !self->events) {
        registry_destroy (&self);
        return NULL;
    }
    memset (self->by_key, 0xff, self->key_buckets * sizeof (int32_t));
    memset (self->by_addr, 0xff, self->addr_buckets * sizeof (int32_t));
    return self;
}

void
registry_destroy (registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_t *self = *self_p;
    free (self->entries);
    free (self->by_key);
    free (self->sources);
    free (self->by_addr);
    free (self->events);
    free (self);
    *self_p = NULL;
}

//  -------------------------------------------------------------------------
//  Token buckets

static bool
s_take (s_bucket_t *b, int64_t now, uint32_t per_s, uint32_t burst, int64_t *retry_ms)
{
    int64_t cap = (int64_t) burst * 1000;
    if (now > b->at_ms) {
        int64_t add = (now - b->at_ms) * (int64_t) per_s;     //  per_s milli-tokens a ms
        b->milli = add >= cap - b->milli? cap: b->milli + add;
        b->at_ms = now;
    }
    else if (now < b->at_ms)
        b->at_ms = now;         //  the clock stepped back: refill from here
    if (b->milli >= 1000) {
        b->milli -= 1000;
        return true;
    }
    *retry_ms = (1000 - b->milli + per_s - 1) / per_s;
    return false;
}

static int
s_refuse (registry_refusal_t *why, const char *limit, int64_t retry_ms, uint64_t *counter)
{
    (*counter)++;
    if (why) {
        why->limit = limit;
        why->retry_ms = retry_ms < 1? 1: retry_ms;
    }
    return SC_EAGAIN;
}

//  -------------------------------------------------------------------------
//  Sources

static void
s_source_unlink (registry_t *self, int32_t i)
{
    s_source_t *s = &self->sources [i];
    size_t b = s_hash (self, s->addr, strlen (s->addr), self->addr_buckets);
    int32_t *p = &self->by_addr [b];
    while (*p != i)
        p = &self->sources [*p].next;
    *p = s->next;
    //  Its notices still waiting are nobody's now (the slot is reused)
    for (size_t k = 0; s->events && k < self->ev_count; k++) {
        registry_event_t *ev = &self->events [(self->ev_head + k) % self->lim.events];
        if (ev->source == i)
            ev->source = -1;
    }
    s->used = false;
    s->next = self->sources_free;
    self->sources_free = i;
    self->st.sources--;
}

//  Returns the source for addr, made when new (forgetting the idle source
//  seen longest ago when full), or -1 (addr unusable, out of memory).
int32_t
reg_source (registry_t *self, const char *addr, int64_t now)
{
    size_t len = addr? strnlen (addr, REGISTRY_ADDR_MAX): 0;
    if (len == 0 || len >= REGISTRY_ADDR_MAX)
        return -1;
    size_t b = s_hash (self, addr, len, self->addr_buckets);
    for (int32_t i = self->by_addr [b]; i >= 0; i = self->sources [i].next)
        if (strcmp (self->sources [i].addr, addr) == 0) {
            self->sources [i].seen_ms = now;
            return i;
        }
    if (self->st.sources >= self->sources_max) {
        int32_t old = -1;
        for (size_t i = 0; i < self->sources_cap; i++) {
            s_source_t *s = &self->sources [i];
            if (s->used && s->keys == 0 && (old < 0 || s->seen_ms < self->sources [old].seen_ms))
                old = (int32_t) i;
        }
        if (old < 0)
            return -1;          //  cannot be: sources holding records <= records
        s_source_unlink (self, old);
        self->st.sources_forgotten++;
    }
    if (self->sources_free < 0) {
        size_t cap = self->sources_cap? self->sources_cap * 2: 64;
        if (cap > self->sources_max)
            cap = self->sources_max;
        s_source_t *grown = realloc (self->sources, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->sources = grown;
        for (size_t i = cap; i-- > self->sources_cap; ) {
            grown [i].used = false;
            grown [i].next = self->sources_free;
            self->sources_free = (int32_t) i;
        }
        self->sources_cap = cap;
    }
    int32_t i = self->sources_free;
    s_source_t *s = &self->sources [i];
    self->sources_free = s->next;
    memset (s, 0, sizeof *s);
    memcpy (s->addr, addr, len);
    s->used = true;
    s->reg = (s_bucket_t) { (int64_t) self->lim.register_burst * 1000, now };
    s->look = (s_bucket_t) { (int64_t) self->lim.lookup_burst * 1000, now };
    s->seen_ms = now;
    s->next = self->by_addr [b];
    self->by_addr [b] = i;
    self->st.sources++;
    return i;
}

//  -------------------------------------------------------------------------
//  Records

int32_t
reg_find (const registry_t *self, const uint8_t sign_pk [IDENTITY_PK_SIZE])
{
    size_t b = s_hash (self, sign_pk, IDENTITY_PK_SIZE, self->key_buckets);
    for (int32_t i = self->by_key [b]; i >= 0; i = self->entries [i].next)
        if (memcmp (self->entries [i].pub.rec.sign_pk, sign_pk, IDENTITY_PK_SIZE) == 0)
            return i;
    return -1;
}

bool
reg_live (const s_entry_t *e, int64_t now)
{
    return e->used && e->pub.expires_ms > now;
}

//  Takes the oldest notice off the queue, and off its source's count.
static void
s_event_pop (registry_t *self, registry_event_t *out)
{
    registry_event_t *ev = &self->events [self->ev_head];
    if (ev->source >= 0 && self->sources [ev->source].events > 0)
        self->sources [ev->source].events--;
    if (out)
        *out = *ev;
    self->ev_head = (self->ev_head + 1) % self->lim.events;
    self->ev_count--;
}

//  Queues a notice.  One source address has at most
//  REGISTRY_EVENTS_PER_SOURCE waiting (its newest go past that), so
//  one that comes and goes all day cannot push everyone else's out; past
//  the whole queue's size the oldest goes.  Both counted.
static void
s_notice (registry_t *self, registry_event_type_t type, const char *reason, const s_entry_t *e)
{
    if (e->source >= 0 && self->sources [e->source].events >= REGISTRY_EVENTS_PER_SOURCE) {
        self->st.events_dropped++;
        return;
    }
    if (self->ev_count == self->lim.events) {
        s_event_pop (self, NULL);
        self->st.events_dropped++;
    }
    registry_event_t *ev = &self->events [(self->ev_head + self->ev_count++) % self->lim.events];
    ev->source = e->source;
    if (e->source >= 0)
        self->sources [e->source].events++;
    ev->type = type;
    ev->reason = reason;
    memcpy (ev->sign_pk, e->pub.rec.sign_pk, IDENTITY_PK_SIZE);
    memcpy (ev->record, e->pub.rec.raw, RECORD_SIZE);
    memcpy (ev->addr, e->pub.addr, REGISTRY_ADDR_MAX);
}

static void
s_remove (registry_t *self, int32_t i, const char *reason)
{
    s_entry_t *e = &self->entries [i];
    if (reason)
        s_notice (self, REGISTRY_LEFT, reason, e);
    size_t b = s_hash (self, e->pub.rec.sign_pk, IDENTITY_PK_SIZE, self->key_buckets);
    int32_t *p = &self->by_key [b];
    while (*p != i)
        p = &self->entries [*p].next;
    *p = e->next;
    self->sources [e->source].keys--;
    e->used = false;
    e->next = self->entries_free;
    self->entries_free = i;
    self->st.records--;
}

static void
s_set_addr (s_entry_t *e, const s_source_t *s)
{
    memset (e->pub.addr, 0, REGISTRY_ADDR_MAX);
    memcpy (e->pub.addr, s->addr, strlen (s->addr));
}

//  Adds a record of a key not held, from source si.  -1 when out of memory.
int32_t
reg_insert (registry_t *self, const record_t *rec, int32_t si, int64_t registered, int64_t expires)
{
    if (self->entries_free < 0) {
        size_t cap = self->entries_cap? self->entries_cap * 2: 64;
        if (cap > self->lim.records)
            cap = self->lim.records;
        if (cap <= self->entries_cap)
            return -1;
        s_entry_t *grown = realloc (self->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->entries = grown;
        for (size_t i = cap; i-- > self->entries_cap; ) {
            grown [i].used = false;
            grown [i].next = self->entries_free;
            self->entries_free = (int32_t) i;
        }
        self->entries_cap = cap;
    }
    int32_t i = self->entries_free;
    s_entry_t *e = &self->entries [i];
    self->entries_free = e->next;
    memset (e, 0, sizeof *e);
    e->pub.rec = *rec;
    e->pub.registered_ms = registered;
    e->pub.expires_ms = expires;
    e->pub.seq = ++self->seq;
    identity_fingerprint (rec->sign_pk, e->fp);
    e->source = si;
    s_set_addr (e, &self->sources [si]);
    e->used = true;
    size_t b = s_hash (self, rec->sign_pk, IDENTITY_PK_SIZE, self->key_buckets);
    e->next = self->by_key [b];
    self->by_key [b] = i;
    self->sources [si].keys++;
    self->st.records++;
    return i;
}

//  How long until the first of the records (of source si, or all when -1)
//  ends: when room comes back at the latest.
static int64_t
s_room_in (const registry_t *self, int32_t si, int64_t now)
{
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < self->entries_cap; i++) {
        const s_entry_t *e = &self->entries [i];
        if (e->used && (si < 0 || e->source == si) && e->pub.expires_ms < first)
            first = e->pub.expires_ms;
    }
    return first == INT64_MAX || first <= now? 1000: first - now;
}

//  Sweeps a record that ended but was not swept yet, so its key is free.
static int32_t
s_find_live (registry_t *self, const uint8_t sign_pk [IDENTITY_PK_SIZE], int64_t now)
{
    int32_t i = reg_find (self, sign_pk);
    if (i >= 0 && !reg_live (&self->entries [i], now)) {
        s_remove (self, i, "expired");
        self->st.expired++;
        i = -1;
    }
    return i;
}

int
registry_register (registry_t *self, const char *src, const uint8_t link_pk [IDENTITY_PK_SIZE],
                   const uint8_t *buf, size_t len, int64_t now,
                   int64_t *expires_ms, registry_refusal_t *why)
{
    int32_t si = reg_source (self, src, now);
    if (si < 0)
        return SC_EINVAL;
    s_source_t *s = &self->sources [si];
    int64_t wait;
    if (!s_take (&s->reg, now, self->lim.register_per_s, self->lim.register_burst, &wait))
        return s_refuse (why, "register_rate", wait, &self->st.refused_register_rate);
    record_t rec;
    int rc = record_decode (buf, len, &rec);
    if (rc != 0) {
        self->st.bad_record++;
        return rc;
    }
    if (memcmp (rec.box_pk, link_pk, IDENTITY_PK_SIZE) != 0) {
        self->st.foreign_key++;
        return SC_ESENDER;
    }
    int32_t i = s_find_live (self, rec.sign_pk, now);
    if (rec.flags & RECORD_FLAG_LEAVE) {
        if (i >= 0) {
            s_remove (self, i, "leave");
            self->st.left++;
        }
        if (expires_ms)
            *expires_ms = 0;
        return 0;
    }
    int64_t expires = now + self->lim.ttl_ms;
    if (i >= 0) {
        s_entry_t *e = &self->entries [i];
        if (rec.ts_ms < e->pub.rec.ts_ms) {
            self->st.stale++;
            return SC_ESTALE;
        }
        if (e->source != si) {
            if (s->keys >= self->lim.keys_per_source)
                return s_refuse (why, "keys_per_source", s_room_in (self, si, now),
                                 &self->st.refused_keys_per_source);
            self->sources [e->source].keys--;
            e->source = si;
            s->keys++;
        }
        bool changed = strcmp (e->pub.addr, s->addr) != 0 || e->pub.rec.port != rec.port
                    || strcmp (e->pub.rec.name, rec.name) != 0
                    || memcmp (e->pub.rec.box_pk, rec.box_pk, IDENTITY_PK_SIZE) != 0;
        e->pub.rec = rec;
        s_set_addr (e, s);
        e->pub.expires_ms = expires;
        if (changed)
            s_notice (self, REGISTRY_JOINED, "changed", e);
        self->st.refreshed++;
    }
    else {
        if (self->st.records >= self->lim.records)
            return s_refuse (why, "records", s_room_in (self, -1, now), &self->st.refused_records);
        if (s->keys >= self->lim.keys_per_source)
            return s_refuse (why, "keys_per_source", s_room_in (self, si, now),
                             &self->st.refused_keys_per_source);
        i = reg_insert (self, &rec, si, now, expires);
        if (i < 0)
            return SC_ENOMEM;
        s_notice (self, REGISTRY_JOINED, "new", &self->entries [i]);
        self->st.registered++;
    }
    if (expires_ms)
        *expires_ms = expires;
    return 0;
}

int
registry_refresh (registry_t *self, const char *src, const uint8_t link_pk [IDENTITY_PK_SIZE],
                  const uint8_t sign_pk [IDENTITY_PK_SIZE], int64_t now,
                  int64_t *expires_ms, registry_refusal_t *why)
{
    int32_t si = reg_source (self, src, now);
    if (si < 0)
        return SC_EINVAL;
    int64_t wait;
    if (!s_take (&self->sources [si].reg, now, self->lim.register_per_s,
                 self->lim.register_burst, &wait))
        return s_refuse (why, "register_rate", wait, &self->st.refused_register_rate);
    int32_t i = s_find_live (self, sign_pk, now);
    if (i < 0)
        return SC_ENOPEER;
    s_entry_t *e = &self->entries [i];
    if (memcmp (e->pub.rec.box_pk, link_pk, IDENTITY_PK_SIZE) != 0) {
        self->st.foreign_key++;
        return SC_ESENDER;
    }
    if (e->source != si)
        return SC_ENOPEER;      //  it moved: a new record says where it is now
    e->pub.expires_ms = now + self->lim.ttl_ms;
    self->st.refreshed++;
    if (expires_ms)
        *expires_ms = e->pub.expires_ms;
    return 0;
}

int
registry_leave (registry_t *self, const uint8_t link_pk [IDENTITY_PK_SIZE],
                const uint8_t sign_pk [IDENTITY_PK_SIZE], int64_t now)
{
    int32_t i = s_find_live (self, sign_pk, now);
    if (i < 0)
        return SC_ENOPEER;
    if (memcmp (self->entries [i].pub.rec.box_pk, link_pk, IDENTITY_PK_SIZE) != 0) {
        self->st.foreign_key++;
        return SC_ESENDER;
    }
    s_remove (self, i, "leave");
    self->st.left++;
    return 0;
}

//  -------------------------------------------------------------------------
//  Lookups

//  The gate every lookup passes: the source's backoff, then its bucket.
static int
s_lookup_gate (registry_t *self, const char *src, int64_t now, int32_t *si,
               registry_refusal_t *why)
{
    *si = reg_source (self, src, now);
    if (*si < 0)
        return SC_EINVAL;
    s_source_t *s = &self->sources [*si];
    if (s->blocked_until > now + self->lim.backoff_max_ms)
        s->blocked_until = now + self->lim.backoff_max_ms;     //  the clock stepped back
    if (s->blocked_until > now)
        return s_refuse (why, "backoff", s->blocked_until - now, &self->st.refused_backoff);
    int64_t wait;
    if (!s_take (&s->look, now, self->lim.lookup_per_s, self->lim.lookup_burst, &wait))
        return s_refuse (why, "lookup_rate", wait, &self->st.refused_lookup_rate);
    self->st.lookups++;
    return 0;
}

int
registry_charge (registry_t *self, const char *src, int64_t now, registry_refusal_t *why)
{
    int32_t si;
    return s_lookup_gate (self, src, now, &si, why);
}

static int
s_miss (registry_t *self, int32_t si, int64_t now)
{
    s_source_t *s = &self->sources [si];
    self->st.lookups_missed++;
    if (now - s->last_miss_ms >= self->lim.miss_forget_ms)
        s->misses = 0;
    s->last_miss_ms = now;
    if (++s->misses > self->lim.misses_free) {
        uint32_t over = s->misses - self->lim.misses_free - 1;
        int64_t wait = self->lim.backoff_ms;
        while (over-- > 0 && wait < self->lim.backoff_max_ms)
            wait *= 2;
        if (wait > self->lim.backoff_max_ms)
            wait = self->lim.backoff_max_ms;
        s->blocked_until = now + wait;
    }
    return SC_ENOPEER;
}

int
registry_lookup_key (registry_t *self, const char *src, const uint8_t sign_pk [IDENTITY_PK_SIZE],
                     int64_t now, registry_entry_t *out, registry_refusal_t *why)
{
    int32_t si;
    int rc = s_lookup_gate (self, src, now, &si, why);
    if (rc != 0)
        return rc;
    int32_t i = reg_find (self, sign_pk);
    if (i < 0 || !reg_live (&self->entries [i], now))
        return s_miss (self, si, now);
    *out = self->entries [i].pub;
    return 0;
}

static int
s_nibble (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
registry_lookup_prefix (registry_t *self, const char *src, const char *hex, int64_t now,
                        registry_entry_t *out, size_t max, size_t *n, registry_refusal_t *why)
{
    *n = 0;
    size_t len = hex? strnlen (hex, IDENTITY_FP_HEX_SIZE): 0;
    uint8_t want [IDENTITY_FP_HEX_SIZE];
    bool ok = len >= REGISTRY_PREFIX_MIN && len < IDENTITY_FP_HEX_SIZE;
    for (size_t k = 0; ok && k < len; k++) {
        int v = s_nibble (hex [k]);
        ok = v >= 0;
        want [k] = (uint8_t) v;
    }
    if (!ok) {
        self->st.refused_prefix++;
        return SC_EINVAL;
    }
    int32_t si;
    int rc = s_lookup_gate (self, src, now, &si, why);
    if (rc != 0)
        return rc;
    if (max > REGISTRY_MATCHES_MAX)
        max = REGISTRY_MATCHES_MAX;
    for (size_t i = 0; i < self->entries_cap && *n < max; i++) {
        const s_entry_t *e = &self->entries [i];
        if (!reg_live (e, now))
            continue;
        size_t k = 0;
        while (k < len && want [k] == ((k & 1)? e->fp [k / 2] & 0x0f: e->fp [k / 2] >> 4))
            k++;
        if (k == len)
            out [(*n)++] = e->pub;
    }
    return *n? 0: s_miss (self, si, now);
}

int
registry_lookup_name (registry_t *self, const char *src, const char *name, int64_t now,
                      registry_entry_t *out, size_t max, size_t *n, registry_refusal_t *why)
{
    *n = 0;
    int32_t si;
    int rc = s_lookup_gate (self, src, now, &si, why);
    if (rc != 0)
        return rc;
    if (max > REGISTRY_MATCHES_MAX)
        max = REGISTRY_MATCHES_MAX;
    for (size_t i = 0; name && i < self->entries_cap && *n < max; i++) {
        const s_entry_t *e = &self->entries [i];
        if (reg_live (e, now) && strcmp (e->pub.rec.name, name) == 0)
            out [(*n)++] = e->pub;
    }
    return *n? 0: s_miss (self, si, now);
}

int
registry_list (registry_t *self, const char *src, uint64_t cursor, int64_t now,
               registry_entry_t *out, size_t max, size_t *n, uint64_t *next,
               registry_refusal_t *why)
{
    *n = 0;
    *next = 0;
    int32_t si;
    int rc = s_lookup_gate (self, src, now, &si, why);
    if (rc != 0)
        return rc;
    if (max > REGISTRY_PAGE_MAX)
        max = REGISTRY_PAGE_MAX;
    if (max == 0)
        return SC_EINVAL;
    //  The max smallest seqs above cursor, kept sorted in out
    size_t more = 0;
    for (size_t i = 0; i < self->entries_cap; i++) {
        const s_entry_t *e = &self->entries [i];
        if (!reg_live (e, now) || e->pub.seq <= cursor)
            continue;
        if (*n == max && e->pub.seq > out [max - 1].seq) {
            more++;
            continue;
        }
        if (*n == max)
            more++;             //  the last one falls out
        size_t k = *n < max? (*n)++: max - 1;
        while (k > 0 && out [k - 1].seq > e->pub.seq) {
            out [k] = out [k - 1];
            k--;
        }
        out [k] = e->pub;
    }
    if (more > 0)
        *next = out [*n - 1].seq;
    return 0;
}

//  -------------------------------------------------------------------------

size_t
registry_sweep (registry_t *self, int64_t now)
{
    size_t gone = 0;
    for (size_t i = 0; i < self->entries_cap; i++)
        if (self->entries [i].used && !reg_live (&self->entries [i], now)) {
            s_remove (self, (int32_t) i, "expired");
            self->st.expired++;
            gone++;
        }
    for (size_t i = 0; i < self->sources_cap; i++) {
        s_source_t *s = &self->sources [i];
        if (s->used && s->keys == 0 && s->events == 0 && s->blocked_until <= now
        &&  now - s->seen_ms >= SOURCE_IDLE_MS && now - s->last_miss_ms >= self->lim.miss_forget_ms)
            s_source_unlink (self, (int32_t) i);
    }
    return gone;
}

int
registry_event_next (registry_t *self, registry_event_t *ev)
{
    if (self->ev_count == 0)
        return SC_EAGAIN;
    s_event_pop (self, ev);
    return 0;
}

size_t
registry_events_waiting (const registry_t *self)
{
    return self->ev_count;
}

registry_stats_t
registry_stats (const registry_t *self)
{
    registry_stats_t st = self->st;
    st.memory = sizeof *self + self->entries_cap * sizeof (s_entry_t)
              + self->key_buckets * sizeof (int32_t)
              + self->sources_cap * sizeof (s_source_t)
              + self->addr_buckets * sizeof (int32_t)
              + self->lim.events * sizeof (registry_event_t);
    return st;
}


/*  registry: the tracker's records and the limits that guard them, with no
    sockets (DESIGN.md section 9).  A thin socket layer feeds it events (a
    record that came on a CURVE link, a lookup, a leave) and sends on what
    it answers; it never reads the clock: `now` is passed in, in Unix ms
    (wall clock: expiry times outlive the process in the snapshot).  A
    clock that steps back holds no source up longer than a limit says.

    What it does.  A record is the 177-byte signed record of record.h,
    kept by its signing key.  A registration is accepted only when the
    record verifies and its X25519 key is the CURVE key of the link it came
    on (the caller passes that key): nobody registers a key it cannot use.
    The tracker notes the source address it saw (the IP as text, no port)
    and grants a time to live; the node refreshes (a new record, or just
    the time) before it ends, leaves, or expires in registry_sweep.
    Lookup by full key, by fingerprint prefix (REGISTRY_PREFIX_MIN hex
    digits at least: shorter is SC_EINVAL) or by name (several may match:
    all of them, up to the caller's array), and a paged list whose cursor
    is the `seq` of the last entry seen.  Joins, changes and leaves become
    notices the caller drains with registry_event_next and pushes to the
    nodes it has registered.

    What it bounds.  Every limit has a default below, can be changed in
    registry_limits_t and is counted in registry_stats_t: records in all;
    distinct keys per source address; registrations (and refreshes) a
    second per source, and lookups a second per source (token buckets);
    lookups that find nothing (after misses_free of them, within
    miss_forget_ms of each other, the source's lookups wait, the wait
    doubling up to backoff_max_ms); source addresses tracked (those holding
    records, plus `sources` idle ones: the idle one seen longest ago is
    forgotten); notices waiting (the oldest is dropped).  Memory is then at
    most about (records x 480) + ((records + sources) x 200) + (events x
    320) bytes: with the defaults under 8 MiB.  Over a limit the answer is
    SC_EAGAIN with a registry_refusal_t: how long to wait, and the limit's
    name.  The checks that cost nothing (rates) come before the signature
    check, so a flood costs bounded CPU, and one source's flood uses up its
    own buckets only: everyone else keeps being served.

    Cost.  Key and source lookups are hashed (a keyed hash: no chosen
    collisions); prefix, name and list scan the records, like the expiry
    sweep and the snapshot.

    Who owns what.  The registry owns its records; entries and notices are
    copied out to the caller's structs; strings and keys passed in are
    borrowed for the call.  */
#ifndef SC_TRACKER_REGISTRY_H
#define SC_TRACKER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../record.h"

#define REGISTRY_ADDR_MAX 64                //  a source address, with its NUL
#define REGISTRY_PREFIX_MIN 8               //  hex digits of a fingerprint prefix
#define REGISTRY_MATCHES_MAX 16             //  matches a name or prefix lookup gives
#define REGISTRY_PAGE_MAX 64                //  entries in one page of the list

#define REGISTRY_RECORDS 10000              //  records in all
#define REGISTRY_KEYS_PER_SOURCE 64         //  distinct keys registered from one address
#define REGISTRY_REGISTER_PER_S 2           //  registrations a second per source...
#define REGISTRY_REGISTER_BURST 16          //  ...after a burst of this many
#define REGISTRY_LOOKUP_PER_S 20            //  lookups a second per source...
#define REGISTRY_LOOKUP_BURST 60            //  ...after a burst of this many
#define REGISTRY_MISSES_FREE 16             //  lookups finding nothing before the backoff
#define REGISTRY_MISS_FORGET_MS 60000       //  misses are forgotten after this long without one
#define REGISTRY_BACKOFF_MS 1000            //  first wait, doubling with each miss
#define REGISTRY_BACKOFF_MAX_MS 60000       //  longest wait
#define REGISTRY_TTL_MS (10 * 60 * 1000)    //  time to live granted
#define REGISTRY_SOURCES 4096               //  idle source addresses tracked
#define REGISTRY_EVENTS 1024                //  notices waiting to be drained
#define REGISTRY_EVENTS_PER_SOURCE 64       //  of them from one source address

typedef struct {
    size_t records;                 //  records in all
    size_t keys_per_source;         //  distinct keys per source address
    uint32_t register_per_s, register_burst;
    uint32_t lookup_per_s, lookup_burst;
    uint32_t misses_free;
    int64_t miss_forget_ms, backoff_ms, backoff_max_ms;
    int64_t ttl_ms;                 //  granted at each registration or refresh
    size_t sources;                 //  idle sources tracked beside those holding records
    size_t events;                  //  notices waiting
} registry_limits_t;

#define REGISTRY_LIMITS_DEFAULT { .records = REGISTRY_RECORDS, \
    .keys_per_source = REGISTRY_KEYS_PER_SOURCE, \
    .register_per_s = REGISTRY_REGISTER_PER_S, .register_burst = REGISTRY_REGISTER_BURST, \
    .lookup_per_s = REGISTRY_LOOKUP_PER_S, .lookup_burst = REGISTRY_LOOKUP_BURST, \
    .misses_free = REGISTRY_MISSES_FREE, .miss_forget_ms = REGISTRY_MISS_FORGET_MS, \
    .backoff_ms = REGISTRY_BACKOFF_MS, .backoff_max_ms = REGISTRY_BACKOFF_MAX_MS, \
    .ttl_ms = REGISTRY_TTL_MS, .sources = REGISTRY_SOURCES, .events = REGISTRY_EVENTS }

typedef struct {
    size_t records;                 //  held now
    size_t sources;                 //  source addresses tracked now
    size_t memory;                  //  bytes the registry holds now
    uint64_t registered;            //  new keys accepted
    uint64_t refreshed;             //  registrations and refreshes of a key held
    uint64_t left, expired;         //  records gone by leave, by time
    uint64_t bad_record;            //  did not decode or verify
    uint64_t foreign_key;           //  X25519 key not the link's
    uint64_t stale;                 //  older than the record held
    uint64_t refused_records;       //  limit "records"
    uint64_t refused_keys_per_source;   //  limit "keys_per_source"
    uint64_t refused_register_rate; //  limit "register_rate"
    uint64_t lookups;               //  answered (found or not)
    uint64_t lookups_missed;        //  of which found nothing
    uint64_t refused_lookup_rate;   //  limit "lookup_rate"
    uint64_t refused_backoff;       //  limit "backoff"
    uint64_t refused_prefix;        //  prefix too short or not hex
    uint64_t sources_forgotten;     //  idle sources dropped for room
    uint64_t events_dropped;        //  notices dropped, the caller not draining
    uint64_t snapshot_dropped;      //  snapshot records not taken back (expired, bad, over a limit)
} registry_stats_t;

//  Why a request was refused by a limit (SC_EAGAIN).
typedef struct {
    int64_t retry_ms;               //  ask again after this long
    const char *limit;              //  static: "records", "keys_per_source", "register_rate",
                                    //  "lookup_rate", "backoff"; NULL when no limit was hit
} registry_refusal_t;

//  One record as the registry holds it (a copy).
typedef struct {
    record_t rec;                   //  verified; rec.raw is what to hand on
    char addr [REGISTRY_ADDR_MAX];  //  the source address the tracker saw
    int64_t registered_ms;          //  when this key was first registered
    int64_t expires_ms;             //  the granted time to live ends
    uint64_t seq;                   //  its place in the list (a cursor)
} registry_entry_t;

typedef enum { REGISTRY_JOINED = 1, REGISTRY_LEFT = 2 } registry_event_type_t;

//  A notice for the registered nodes.
typedef struct {
    registry_event_type_t type;
    const char *reason;             //  static: joined "new" or "changed" (address, port,
                                    //  name or key); left "leave" or "expired"
    uint8_t sign_pk [IDENTITY_PK_SIZE];
    uint8_t record [RECORD_SIZE];   //  the record (as it was, for a leave)
    char addr [REGISTRY_ADDR_MAX];
    int32_t source;                 //  the registry's own: whose notices these are
} registry_event_t;

typedef struct _registry_t registry_t;

//  Returns a new, empty registry (limits copied; NULL for the defaults), or
//  NULL when out of memory or a limit is 0.
registry_t *registry_new (const registry_limits_t *limits);

//  Destroys a registry; accepts NULL, nulls the pointer.
void registry_destroy (registry_t **self_p);

//  Registers len bytes that came from source address src on the link whose
//  CURVE key is link_pk.  A record of a key held refreshes it (its
//  timestamp may not go back); one with RECORD_FLAG_LEAVE is a leave.
//  Returns 0 and the end of the granted time in *expires_ms (may be NULL),
//  or SC_EAGAIN (a limit: *why), SC_ESENDER (X25519 key not the link's),
//  SC_ESTALE, SC_EINVAL (src), or record_decode's code.  why may be NULL.
int registry_register (registry_t *self, const char *src, const uint8_t link_pk [IDENTITY_PK_SIZE],
                       const uint8_t *buf, size_t len, int64_t now,
                       int64_t *expires_ms, registry_refusal_t *why);

//  Extends the time of the record of sign_pk, asked on the link link_pk
//  (which must be its X25519 key) from src.  0 and *expires_ms, SC_ENOPEER
//  (none, or expired: register again), SC_ESENDER, SC_EAGAIN, SC_EINVAL.
int registry_refresh (registry_t *self, const char *src, const uint8_t link_pk [IDENTITY_PK_SIZE],
                      const uint8_t sign_pk [IDENTITY_PK_SIZE], int64_t now,
                      int64_t *expires_ms, registry_refusal_t *why);

//  Removes the record of sign_pk, asked on the link link_pk.  0 (and a
//  left notice), SC_ENOPEER, SC_ESENDER.
int registry_leave (registry_t *self, const uint8_t link_pk [IDENTITY_PK_SIZE],
                    const uint8_t sign_pk [IDENTITY_PK_SIZE], int64_t now);

//  Looks up a full signing key for src.  0 and *out, SC_ENOPEER (counted
//  as a miss), SC_EAGAIN (*why), SC_EINVAL (src).
int registry_lookup_key (registry_t *self, const char *src, const uint8_t sign_pk [IDENTITY_PK_SIZE],
                         int64_t now, registry_entry_t *out, registry_refusal_t *why);

//  Charges a request of another kind from src (a mail fetch, a status) to
//  the same lookup rate and backoff, so that no request is free of them.
//  0, or SC_EAGAIN with why (SC_EINVAL: no room to track src).
int registry_charge (registry_t *self, const char *src, int64_t now, registry_refusal_t *why);

//  Looks up records whose fingerprint (identity_fingerprint_hex) starts
//  with hex (REGISTRY_PREFIX_MIN to 64 hex digits, either case).  0 and
//  up to max (at most REGISTRY_MATCHES_MAX) entries in out, their number
//  in *n; SC_ENOPEER, SC_EAGAIN, SC_EINVAL (too short, not hex, or src).
int registry_lookup_prefix (registry_t *self, const char *src, const char *hex, int64_t now,
                            registry_entry_t *out, size_t max, size_t *n, registry_refusal_t *why);

//  Looks up records by display name (exact bytes): the same answers.
int registry_lookup_name (registry_t *self, const char *src, const char *name, int64_t now,
                          registry_entry_t *out, size_t max, size_t *n, registry_refusal_t *why);

//  One page of the list: the live records whose seq is above cursor (0
//  for the first page), in seq order, up to max (at most
//  REGISTRY_PAGE_MAX).  *next is the cursor of the next page, 0 when this
//  was the last.  Counts as a lookup.  0, SC_EAGAIN, SC_EINVAL.
int registry_list (registry_t *self, const char *src, uint64_t cursor, int64_t now,
                   registry_entry_t *out, size_t max, size_t *n, uint64_t *next,
                   registry_refusal_t *why);

//  Removes the records whose time has ended (a left notice each) and the
//  idle sources nothing is known of for long; the caller calls it about
//  once a second.  Returns the number of records removed.
size_t registry_sweep (registry_t *self, int64_t now);

//  Takes the oldest waiting notice.  0 and *ev, or SC_EAGAIN when none.
int registry_event_next (registry_t *self, registry_event_t *ev);
//  Returns the number of notices waiting.
size_t registry_events_waiting (const registry_t *self);

//  Returns the counters and what is held now.
registry_stats_t registry_stats (const registry_t *self);

//  Writes the live records to path (atomic: a temporary file, fsync,
//  rename).  Layout (big-endian): "SCTS", version 1, count (4), then
//  count x { record (177), address (64, NUL padded), registered_ms (8),
//  expires_ms (8) }, then BLAKE2b-256 of all that came before.
//  Returns 0, SC_EIO, SC_ENOMEM.
int registry_save (const registry_t *self, const char *path, int64_t now);

//  Takes back what registry_save wrote: records past their time, bad ones
//  and those over a limit are dropped (counted in snapshot_dropped); keys
//  already held are kept as they are; none ends later than a registration
//  now would (now + ttl_ms), whatever the file says.  Records are checked for layout and
//  the file as a whole against its hash, but signatures are not verified
//  again (they were when registered, and the file lives under the
//  tracker's 0700 home), so a restarted tracker answers at once.  No
//  notices.  Returns 0 and how many were taken in *loaded (may be NULL),
//  SC_ENOENT, SC_ECORRUPT, SC_EIO, SC_ENOMEM.
int registry_load (registry_t *self, const char *path, int64_t now, size_t *loaded);

//  The same from len bytes of a snapshot in memory (borrowed): what
//  registry_load does once the file is read.  0 and *loaded (may be NULL),
//  or SC_ECORRUPT.
int registry_load_buf (registry_t *self, const uint8_t *buf, size_t len, int64_t now,
                       size_t *loaded);

#endif

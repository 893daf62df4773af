/*  registry_int: what registry.c (records, lookups, limits) and
    registry_snap.c (the records snapshot) share.  Nothing else includes it.  */
#ifndef SC_REGISTRY_INT_H
#define SC_REGISTRY_INT_H

#include "registry.h"

#define SOURCE_IDLE_MS (10 * 60 * 1000)     //  an idle source with nothing held is forgotten

typedef struct {
    int64_t milli;                  //  tokens x 1000
    int64_t at_ms;                  //  last refill
} s_bucket_t;

typedef struct {
    registry_entry_t pub;
    uint8_t fp [IDENTITY_FP_SIZE];
    int32_t next;                   //  hash chain, or free list
    int32_t source;
    bool used;
} s_entry_t;

typedef struct {
    char addr [REGISTRY_ADDR_MAX];
    int32_t next;
    bool used;
    size_t keys;                    //  records registered from here
    uint32_t events;                //  notices from here waiting to be drained
    s_bucket_t reg, look;
    uint32_t misses;
    int64_t last_miss_ms, blocked_until, seen_ms;
} s_source_t;

struct _registry_t {
    registry_limits_t lim;
    registry_stats_t st;
    uint8_t hash_key [crypto_shorthash_KEYBYTES];
    s_entry_t *entries;
    size_t entries_cap;
    int32_t entries_free;
    int32_t *by_key;
    size_t key_buckets;             //  a power of two
    s_source_t *sources;
    size_t sources_cap, sources_max;
    int32_t sources_free;
    int32_t *by_addr;
    size_t addr_buckets;
    registry_event_t *events;
    size_t ev_head, ev_count;
    uint64_t seq;
};

//  The index of the entry of that signing key, or -1.
int32_t reg_find (const registry_t *self, const uint8_t sign_pk [IDENTITY_PK_SIZE]);
//  Adds a record from source si; the entry's index, or -1 when full.
int32_t reg_insert (registry_t *self, const record_t *rec, int32_t si, int64_t registered, int64_t expires);
//  Whether the entry's time to live runs at now.
bool reg_live (const s_entry_t *e, int64_t now);
//  The index of the source with that address (made when new), or -1.
int32_t reg_source (registry_t *self, const char *addr, int64_t now);

#endif

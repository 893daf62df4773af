//  libFuzzer harness: the tracker's own files, the records snapshot
//  (registry_load_buf) and a mailbox item file (mailbox_item_decode).
//  Both end in a BLAKE2b-256 of what comes before, which random bytes never
//  match: each input is also tried with its hash made right (and, for the
//  snapshot, its count), so that what lies behind the hash is fuzzed too.
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/bytes.h"
#include "../../discovery/record.h"
#include "../../discovery/tracker/mailbox.h"
#include "../../discovery/tracker/registry.h"

#define NOW 1700000000000LL
#define HASH 32
#define SNAP_HEAD 9
#define SNAP_ENTRY (RECORD_SIZE + REGISTRY_ADDR_MAX + 16)

static void
s_registry (const uint8_t *data, size_t size)
{
    //  Small limits, so that loading meets them
    registry_limits_t lim = REGISTRY_LIMITS_DEFAULT;
    lim.records = 8;
    lim.keys_per_source = 3;
    lim.sources = 4;
    lim.events = 4;
    lim.lookup_burst = 1000;
    registry_t *reg = registry_new (&lim);
    if (!reg)
        abort ();
    size_t loaded = 99;
    int rc = registry_load_buf (reg, data, size, NOW, &loaded);
    registry_stats_t st = registry_stats (reg);
    if (rc != 0 && (loaded != 0 || st.records != 0))
        abort ();
    if (rc == 0 && (st.records != loaded || loaded > lim.records
    ||  loaded > (size - SNAP_HEAD - HASH) / SNAP_ENTRY))
        abort ();
    //  Whatever was taken back is a live, well-formed record within the
    //  limits the registry states, found again by its key
    registry_entry_t page [REGISTRY_PAGE_MAX], e;
    size_t n = 0, seen = 0;
    uint64_t cursor = 0, next;
    do {
        if (registry_list (reg, "fuzz", cursor, NOW, page, REGISTRY_PAGE_MAX, &n, &next, NULL) != 0)
            abort ();
        for (size_t i = 0; i < n; i++) {
            const registry_entry_t *p = &page [i];
            size_t alen = strnlen (p->addr, REGISTRY_ADDR_MAX);
            if (!record_name_ok (p->rec.name) || p->rec.port == 0
            ||  p->expires_ms <= NOW || p->expires_ms > NOW + lim.ttl_ms
            ||  alen == 0 || alen >= REGISTRY_ADDR_MAX)
                abort ();
            if (registry_lookup_key (reg, "fuzz", p->rec.sign_pk, NOW, &e, NULL) != 0
            ||  memcmp (e.rec.raw, p->rec.raw, RECORD_SIZE) != 0)
                abort ();
        }
        seen += n;
        cursor = next;
    } while (next);
    if (seen != loaded)
        abort ();
    //  Everything taken back ends within the time to live granted
    if (registry_sweep (reg, NOW + lim.ttl_ms) != loaded || registry_stats (reg).records != 0)
        abort ();
    registry_destroy (&reg);
}

static void
s_mailbox (const uint8_t *data, size_t size)
{
    mailbox_item_t it;
    if (mailbox_item_decode (data, size, &it) != 0)
        return;
    //  One envelope at most, never empty, every byte of the file accounted for
    if (it.len == 0 || it.len > MAILBOX_ITEM_MAX
    ||  size != MAILBOX_ITEM_HEAD + it.len + MAILBOX_ITEM_HASH)
        abort ();
    if (memcmp (it.recipient, data + 5, MAILBOX_KEY_SIZE) != 0
    ||  memcmp (it.sender, data + 37, MAILBOX_KEY_SIZE) != 0
    ||  memcmp (it.id, data + 69, MAILBOX_ID_SIZE) != 0)
        abort ();
    //  What mailbox_put can have written: stored at a time, ending after it
    if (it.stored_ms < 0 || it.expires_ms <= it.stored_ms)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sodium_init () < 0)
        abort ();
    s_registry (data, size);
    s_mailbox (data, size);
    if (size < HASH)
        return 0;
    uint8_t *copy = malloc (size);
    if (!copy)
        return 0;
    memcpy (copy, data, size);
    crypto_generichash (copy + size - HASH, HASH, copy, size - HASH, NULL, 0);
    s_registry (copy, size);
    s_mailbox (copy, size);
    if (size >= SNAP_HEAD + HASH) {
        bytes_put_be (copy + 5, (size - SNAP_HEAD - HASH) / SNAP_ENTRY, 4);
        crypto_generichash (copy + size - HASH, HASH, copy, size - HASH, NULL, 0);
        s_registry (copy, size);
    }
    free (copy);
    return 0;
}

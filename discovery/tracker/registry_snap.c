/*  registry_snap: the tracker's records snapshot, saved atomically with a
    BLAKE2b trailer and taken back at start (records past their time, or
    damaged files, are dropped and counted).  See registry.h.  */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/bytes.h"
#include "../../crypto/base/err.h"
#include "../../crypto/base/fileio.h"
#include "registry.h"
#include "registry_int.h"

#define SNAP_MAGIC "SCTS"
#define SNAP_HEAD 9                         //  magic, version, count
#define SNAP_ENTRY (RECORD_SIZE + REGISTRY_ADDR_MAX + 16)
#define SNAP_HASH 32
#define SNAP_FILE_MAX (64u << 20)

//  -------------------------------------------------------------------------
//  Snapshot

int
registry_save (const registry_t *self, const char *path, int64_t now)
{
    size_t count = 0;
    for (size_t i = 0; i < self->entries_cap; i++)
        count += reg_live (&self->entries [i], now);
    size_t size = SNAP_HEAD + count * SNAP_ENTRY + SNAP_HASH;
    uint8_t *buf = calloc (1, size);
    if (!buf)
        return SC_ENOMEM;
    memcpy (buf, SNAP_MAGIC, 4);
    buf [4] = 1;
    bytes_put_be (buf + 5, count, 4);
    uint8_t *p = buf + SNAP_HEAD;
    for (size_t i = 0; i < self->entries_cap; i++) {
        const s_entry_t *e = &self->entries [i];
        if (!reg_live (e, now))
            continue;
        memcpy (p, e->pub.rec.raw, RECORD_SIZE);
        memcpy (p + RECORD_SIZE, e->pub.addr, REGISTRY_ADDR_MAX);
        bytes_put_be (p + RECORD_SIZE + REGISTRY_ADDR_MAX, (uint64_t) e->pub.registered_ms, 8);
        bytes_put_be (p + RECORD_SIZE + REGISTRY_ADDR_MAX + 8, (uint64_t) e->pub.expires_ms, 8);
        p += SNAP_ENTRY;
    }
    crypto_generichash (p, SNAP_HASH, buf, (size_t) (p - buf), NULL, 0);
    int rc = fileio_write_atomic (path, buf, size);
    free (buf);
    return rc;
}

int
registry_load_buf (registry_t *self, const uint8_t *buf, size_t len, int64_t now, size_t *loaded)
{
    if (loaded)
        *loaded = 0;
    uint8_t hash [SNAP_HASH];
    if (!buf || len < SNAP_HEAD + SNAP_HASH || memcmp (buf, SNAP_MAGIC, 4) != 0 || buf [4] != 1)
        return SC_ECORRUPT;
    size_t count = (size_t) bytes_get_be (buf + 5, 4);
    if ((len - SNAP_HEAD - SNAP_HASH) / SNAP_ENTRY != count
    ||  (len - SNAP_HEAD - SNAP_HASH) % SNAP_ENTRY != 0)
        return SC_ECORRUPT;
    crypto_generichash (hash, SNAP_HASH, buf, len - SNAP_HASH, NULL, 0);
    if (sodium_memcmp (hash, buf + len - SNAP_HASH, SNAP_HASH) != 0)
        return SC_ECORRUPT;
    const uint8_t *p = buf + SNAP_HEAD;
    for (size_t k = 0; k < count; k++, p += SNAP_ENTRY) {
        record_t rec;
        char addr [REGISTRY_ADDR_MAX];
        memcpy (addr, p + RECORD_SIZE, REGISTRY_ADDR_MAX);
        addr [REGISTRY_ADDR_MAX - 1] = 0;
        int64_t registered = (int64_t) bytes_get_be (p + RECORD_SIZE + REGISTRY_ADDR_MAX, 8);
        int64_t expires = (int64_t) bytes_get_be (p + RECORD_SIZE + REGISTRY_ADDR_MAX + 8, 8);
        //  The file's hash covers it: the layout is checked, not the signature again
        int32_t si = -1;
        bool ok = record_decode_known (p, RECORD_SIZE, p, &rec) == 0
               && !(rec.flags & RECORD_FLAG_LEAVE)
               && expires > now && reg_find (self, rec.sign_pk) < 0
               && self->st.records < self->lim.records
               && (si = reg_source (self, addr, now)) >= 0
               && self->sources [si].keys < self->lim.keys_per_source;
        //  Never longer than a registration grants now (the clock stepped
        //  back since the save, or the time to live was shortened)
        if (expires > now + self->lim.ttl_ms)
            expires = now + self->lim.ttl_ms;
        if (ok && reg_insert (self, &rec, si, registered, expires) >= 0) {
            if (loaded)
                (*loaded)++;
        }
        else
            self->st.snapshot_dropped++;
    }
    return 0;
}

int
registry_load (registry_t *self, const char *path, int64_t now, size_t *loaded)
{
    if (loaded)
        *loaded = 0;
    uint8_t *buf = NULL;
    size_t len;
    int rc = fileio_read_all (path, SNAP_FILE_MAX, &buf, &len);
    if (rc == SC_ETOOBIG)
        rc = SC_ECORRUPT;
    if (rc == 0)
        rc = registry_load_buf (self, buf, len, now, loaded);
    free (buf);
    return rc;
}

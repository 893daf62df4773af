#define LOG_MODULE "known"
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/fileio.h"
#include "../crypto/base/log.h"
#include "../discovery/record.h"
#include "known.h"

typedef struct {
    uint8_t sign_pk [32];
    uint8_t box_pk [32];
    char name [RECORD_NAME_MAX + 1];
    int64_t first_seen;
    int64_t last_seen;          //  saved with the rest, not on its own
    bool verified;
    bool messaged;              //  the user sent it a private message
    bool proven;                //  it holds its name: a handshake proved the key while no
                                //  other such identity held that name (the first keeps it)
} s_entry_t;

struct _known_t {
    bool (*in_use) (const uint8_t sign_pk [32], void *arg);
    void *in_use_arg;
    char *path;
    bool dirty;
    s_entry_t *entries;
    size_t count, alloc;
};

static s_entry_t *
s_find (known_t *self, const uint8_t sign_pk [32])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->entries [i].sign_pk, sign_pk, 32) == 0)
            return &self->entries [i];
    return NULL;
}

static int
s_hexkey (json_t *obj, const char *field, uint8_t out [32])
{
    const char *hex = json_string_value (json_object_get (obj, field));
    if (!hex || strlen (hex) != 64
    ||  sodium_hex2bin (out, 32, hex, 64, NULL, NULL, NULL) != 0)
        return SC_ECORRUPT;
    return 0;
}

static s_entry_t *
s_append (known_t *self)
{
    if (self->count == self->alloc) {
        size_t alloc = self->alloc? self->alloc * 2: 16;
        s_entry_t *more = realloc (self->entries, alloc * sizeof *more);
        if (!more)
            return NULL;
        self->entries = more;
        self->alloc = alloc;
    }
    s_entry_t *e = &self->entries [self->count++];
    memset (e, 0, sizeof *e);
    return e;
}

static int
s_load (known_t *self)
{
    json_error_t jerr;
    json_t *root = json_load_file (self->path, 0, &jerr);
    if (!root)
        return json_error_code (&jerr) == json_error_cannot_open_file? 0: SC_ECORRUPT;
    int rc = SC_ECORRUPT;
    json_t *peers = json_object_get (root, "peers");
    if (!json_is_array (peers))
        goto out;
    size_t i;
    json_t *p;
    json_array_foreach (peers, i, p) {
        s_entry_t *e = s_append (self);
        if (!e) {
            rc = SC_ENOMEM;
            goto out;
        }
        const char *name = json_string_value (json_object_get (p, "name"));
        if (s_hexkey (p, "sign_key", e->sign_pk) || s_hexkey (p, "box_key", e->box_pk)
        ||  !name || !record_name_ok (name))
            goto out;
        snprintf (e->name, sizeof e->name, "%s", name);
        e->first_seen = json_integer_value (json_object_get (p, "first_seen"));
        e->last_seen = json_integer_value (json_object_get (p, "last_seen"));
        if (e->last_seen < e->first_seen)
            e->last_seen = e->first_seen;
        e->verified = json_is_true (json_object_get (p, "verified"));
        e->messaged = json_is_true (json_object_get (p, "messaged"));
        e->proven = !json_is_false (json_object_get (p, "proven"));   //  older files: all were
    }
    rc = 0;
out:
    json_decref (root);
    return rc;
}

static int
s_save (known_t *self)
{
    json_t *peers = json_array ();
    for (size_t i = 0; i < self->count; i++) {
        s_entry_t *e = &self->entries [i];
        char id [IDENTITY_FP_HEX_SIZE], sk [65], bk [65];
        identity_fingerprint_hex (e->sign_pk, id);
        sodium_bin2hex (sk, sizeof sk, e->sign_pk, 32);
        sodium_bin2hex (bk, sizeof bk, e->box_pk, 32);
        json_array_append_new (peers, json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:b}",
            "id", id, "name", e->name, "sign_key", sk, "box_key", bk,
            "first_seen", (json_int_t) e->first_seen, "last_seen", (json_int_t) e->last_seen,
            "verified", e->verified, "messaged", e->messaged, "proven", e->proven));
    }
    json_t *root = json_pack ("{s:i, s:o}", "version", 1, "peers", peers);
    char *text = json_dumps (root, JSON_INDENT (1));
    json_decref (root);
    if (!text)
        return SC_ENOMEM;
    int rc = fileio_write_atomic (self->path, text, strlen (text));
    free (text);
    if (rc != 0)
        log_warn ("cannot save %s: %s", self->path, sc_strerror (rc));
    return rc;
}

known_t *
known_new (const char *path, int *err)
{
    known_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        free (self);
        *err = SC_ENOMEM;
        return NULL;
    }
    *err = s_load (self);
    if (*err != 0)
        known_destroy (&self);
    return self;
}

void
known_destroy (known_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    known_flush (*self_p);
    free ((*self_p)->entries);
    free ((*self_p)->path);
    free (*self_p);
    *self_p = NULL;
}

//  The other identity that holds name: only one a handshake proved holds
//  a name (a record heard in a beacon or from a tracker claims it only)
static const s_entry_t *
s_other_with_name (known_t *self, const uint8_t sign_pk [32], const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->entries [i].proven && memcmp (self->entries [i].sign_pk, sign_pk, 32) != 0
        &&  strcmp (self->entries [i].name, name) == 0)
            return &self->entries [i];
    return NULL;
}

int
known_observe (known_t *self, const uint8_t sign_pk [32], const uint8_t box_pk [32],
               const char *name, bool proven, int64_t now_ms, char clash_id [IDENTITY_FP_HEX_SIZE])
{
    int result = KNOWN_SAME;
    const s_entry_t *other = s_other_with_name (self, sign_pk, name);
    bool held = other != NULL;  //  (other may move below)
    if (other) {
        result |= KNOWN_NAME_CLASH;
        if (clash_id)
            identity_fingerprint_hex (other->sign_pk, clash_id);
    }
    s_entry_t *e = s_find (self, sign_pk);
    if (!e && self->count >= KNOWN_MAX) {
        //  Full: the unverified key the user never wrote to, unseen
        //  longest, makes room; verified and messaged keys stay, and so do
        //  keys of peers in use now (seen again: a long link says no more)
        s_entry_t *old = NULL;
        for (int tries = 0; tries < 32; tries++) {
            old = NULL;
            for (size_t i = 0; i < self->count; i++) {
                s_entry_t *c = &self->entries [i];
                if (!c->verified && !c->messaged && (!old || c->last_seen < old->last_seen))
                    old = c;
            }
            if (!old || !self->in_use || !self->in_use (old->sign_pk, self->in_use_arg))
                break;
            old->last_seen = now_ms;
            old = NULL;
        }
        if (!old)
            return result | KNOWN_FULL;
        *old = self->entries [--self->count];
        self->dirty = true;
    }
    if (!e) {
        e = s_append (self);
        if (!e)
            return result | KNOWN_FULL;
        memcpy (e->sign_pk, sign_pk, 32);
        memcpy (e->box_pk, box_pk, 32);
        snprintf (e->name, sizeof e->name, "%s", name);
        e->first_seen = now_ms;
        e->proven = proven && !held;
        result |= KNOWN_NEW;
    }
    else {
        if (strcmp (e->name, name) != 0) {
            snprintf (e->name, sizeof e->name, "%s", name);
            result |= KNOWN_RENAMED;
            if (held)
                e->proven = false;      //  renamed to a name another holds: a claim
        }
        if (memcmp (e->box_pk, box_pk, 32) != 0) {
            memcpy (e->box_pk, box_pk, 32);
            result |= KNOWN_BOX_CHANGED;
        }
    }
    e->last_seen = now_ms;
    if (proven && !e->proven && !held) {
        e->proven = true;
        self->dirty = true;
    }
    if (result & (KNOWN_NEW | KNOWN_RENAMED | KNOWN_BOX_CHANGED))
        self->dirty = true;
    return result;
}

int
known_flush (known_t *self)
{
    if (!self->dirty)
        return 0;
    int rc = s_save (self);
    if (rc == 0)
        self->dirty = false;
    return rc;
}

bool
known_verified (known_t *self, const uint8_t sign_pk [32])
{
    s_entry_t *e = s_find (self, sign_pk);
    return e && e->verified;
}

bool
known_find_box (known_t *self, const uint8_t box_pk [32], uint8_t sign_pk [32],
                char name [33])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->entries [i].box_pk, box_pk, 32) == 0) {
            memcpy (sign_pk, self->entries [i].sign_pk, 32);
            snprintf (name, RECORD_NAME_MAX + 1, "%s", self->entries [i].name);
            return true;
        }
    return false;
}

int
known_set_verified (known_t *self, const uint8_t sign_pk [32], bool verified)
{
    s_entry_t *e = s_find (self, sign_pk);
    if (!e)
        return SC_ENOENT;
    e->verified = verified;
    int rc = s_save (self);
    if (rc == 0)
        self->dirty = false;
    return rc;
}

void
known_set_in_use (known_t *self, bool (*in_use) (const uint8_t sign_pk [32], void *arg), void *arg)
{
    self->in_use = in_use;
    self->in_use_arg = arg;
}

int
known_set_messaged (known_t *self, const uint8_t sign_pk [32])
{
    s_entry_t *e = s_find (self, sign_pk);
    if (!e)
        return SC_ENOENT;
    if (!e->messaged) {
        e->messaged = true;
        self->dirty = true;
    }
    return 0;
}

bool
known_messaged (known_t *self, const uint8_t sign_pk [32])
{
    s_entry_t *e = s_find (self, sign_pk);
    return e && e->messaged;
}

bool
known_name_conflict (known_t *self, const uint8_t sign_pk [32], const char *name)
{
    return !known_verified (self, sign_pk) && s_other_with_name (self, sign_pk, name);
}

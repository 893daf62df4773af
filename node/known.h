/*  known: trust on first use.  Maps each identity (Ed25519 key) to its
    X25519 key, display name, first-seen time and verified flag, kept in
    HOME/known_peers.json (mode 0600, atomic rename).

    A new identity is accepted as unverified.  A known name that arrives
    with a different identity is never silently accepted: known_observe
    reports it, and known_name_conflict lets the node refuse the name until
    the user picks the peer by fingerprint (or verifies it).  */
#ifndef SC_KNOWN_H
#define SC_KNOWN_H

#include <stdbool.h>
#include <stdint.h>
#include "../crypto/identity.h"

typedef struct _known_t known_t;

typedef enum {
    KNOWN_SAME = 0,         //  identity known, nothing changed
    KNOWN_NEW = 1,          //  first time we see this identity
    KNOWN_RENAMED = 2,      //  known identity, new display name
    KNOWN_NAME_CLASH = 4,   //  another known identity already has this name
    KNOWN_BOX_CHANGED = 8,  //  known identity, new (signed) X25519 key
    KNOWN_FULL = 16,        //  a new identity, not kept: the store is full of keys
                            //  that are verified or were written to
} known_result_t;

#define KNOWN_MAX 4096      //  identities kept; past that the unverified ones the
                            //  user never wrote to, unseen longest, go first

//  Loads (or starts) the store at path.  Returns NULL on a damaged file or
//  out of memory, with *err set.
known_t *known_new (const char *path, int *err);

//  Destroys the store; accepts NULL, nulls the pointer.
void known_destroy (known_t **self_p);

//  Records what a verified peer record says.  Changes are saved by
//  known_flush (the node calls it once a second and at exit): an fsync per
//  new peer would stall a node that meets thirty at once.
//  proven: the record came over a link whose handshake proved the key.
//  The first identity proven with a name holds it against others; a
//  record from a beacon or a tracker, or a later key with a held name, is
//  only a claim (refused by name until verified).
//  Returns a mask of known_result_t; *clash_id (optional) receives the hex
//  fingerprint of the other identity that holds the name.
int known_observe (known_t *self, const uint8_t sign_pk [32], const uint8_t box_pk [32],
                   const char *name, bool proven, int64_t now_ms,
                   char clash_id [IDENTITY_FP_HEX_SIZE]);

//  Saves pending changes, if any.  Returns 0 or SC_EIO.
int known_flush (known_t *self);

//  Says whether the identity is marked verified.
bool known_verified (known_t *self, const uint8_t sign_pk [32]);

//  Marks an identity verified (it must be known) and saves at once.
//  Returns 0, SC_ENOENT or SC_EIO.
int known_set_verified (known_t *self, const uint8_t sign_pk [32], bool verified);

//  Tells the store which keys are in use now (peers online): they are not
//  evicted when it is full.
void known_set_in_use (known_t *self, bool (*in_use) (const uint8_t sign_pk [32], void *arg),
                       void *arg);

//  Marks an identity as one the user wrote to (never evicted); saved with
//  the next flush.  Returns 0 or SC_ENOENT.
int known_set_messaged (known_t *self, const uint8_t sign_pk [32]);
bool known_messaged (known_t *self, const uint8_t sign_pk [32]);

//  The identity known with this X25519 key: true, and its signing key and
//  name set.
bool known_find_box (known_t *self, const uint8_t box_pk [32], uint8_t sign_pk [32],
                     char name [33]);          //  RECORD_NAME_MAX + 1

//  Says whether another identity, not verified-over, claims this identity's
//  name: true when a different known identity has the same name and this one
//  is not verified.
bool known_name_conflict (known_t *self, const uint8_t sign_pk [32], const char *name);

#endif

/*  identity: this node's keys.

    An Ed25519 signing key is the identity; an X25519 key pair (used for
    sealed boxes and as the CurveZMQ key) is bound to it by an Ed25519
    signature.  Secret keys live in sodium_malloc memory and are wiped when
    the identity is destroyed.  On disk the file is mode 0600, written by
    atomic rename; with a passphrase the secret keys are encrypted with a key
    from crypto_pwhash (Argon2id, MODERATE: 3 passes over 256 MiB) and
    crypto_secretbox.  The file keeps the cost it was saved with, so files
    saved at the lighter INTERACTIVE cost of earlier versions still open
    (identity_open_home then saves them again at today's cost).

    File layout (all integers big-endian):
      0   4  magic "SCID"      4  1  version (1)     5  1  flags (1 = encrypted)
      6  32  Ed25519 public   38 32  X25519 public   70 64  binding signature
     134     plain:     Ed25519 secret (64) || X25519 secret (32)
             encrypted: salt (16) || opslimit (8) || memlimit (8) || nonce (24)
                        || secretbox of the 96 secret bytes (112)  */
#ifndef SC_IDENTITY_H
#define SC_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_PK_SIZE 32
#define IDENTITY_SIG_SIZE 64
#define IDENTITY_FP_SIZE 32
#define IDENTITY_FP_HEX_SIZE 65         //  64 hex digits and NUL
#define IDENTITY_SHORT_SIZE 17          //  16 hex digits and NUL
#define IDENTITY_SAFETY_SIZE 72         //  12 groups of 5 digits, spaces, NUL
#define IDENTITY_FILE "identity"

typedef struct _identity_t identity_t;

//  Returns a fresh random identity, or NULL on failure.
identity_t *identity_generate (void);

//  Destroys an identity, wiping its secrets; accepts NULL, nulls the pointer.
void identity_destroy (identity_t **self_p);

//  Loads path; passphrase may be NULL.  Returns 0 and a new identity in *out,
//  or SC_ENOENT, SC_ENEEDPASS, SC_EPASSPHRASE, SC_ECORRUPT, SC_EIO.
int identity_load (const char *path, const char *passphrase, identity_t **out);

//  Saves to path (mode 0600, atomic).  With a passphrase the secrets are
//  encrypted.  Returns 0 or SC_EIO / SC_ECRYPTO.
int identity_save (const identity_t *self, const char *path, const char *passphrase);

//  Loads HOME/identity, or creates and saves a new one when there is none
//  (making HOME mode 0700).  *created tells which.  One encrypted at a
//  lighter cost than today's is saved again at it.  Returns 0 or
//  an error.
int identity_open_home (const char *home, const char *passphrase,
                        identity_t **out, bool *created);

//  Borrowed views of the public keys and of the X25519 secret (for CURVE).
const uint8_t *identity_sign_pk (const identity_t *self);
const uint8_t *identity_box_pk (const identity_t *self);
const uint8_t *identity_box_sk (const identity_t *self);

//  Signs ctx || msg (ctx is a NUL-terminated domain string).  Returns 0 or SC_ECRYPTO.
int identity_sign (const identity_t *self, const char *ctx,
                   const uint8_t *msg, size_t len, uint8_t sig [IDENTITY_SIG_SIZE]);

//  Verifies a signature made by identity_sign.  Returns 0 or SC_ESIG.
int identity_verify (const uint8_t sign_pk [IDENTITY_PK_SIZE], const char *ctx,
                     const uint8_t *msg, size_t len, const uint8_t sig [IDENTITY_SIG_SIZE]);

//  Opens a box sealed to our X25519 key (crypto_box_seal).  out must hold
//  len - crypto_box_SEALBYTES bytes.  Returns 0, SC_ETRUNC or SC_EBOX.
int identity_unseal (const identity_t *self, const uint8_t *sealed, size_t len, uint8_t *out);

//  Derives a 32-byte secret key for local encryption at rest, by purpose
//  (8 chars, e.g. "history_").  Returns 0 or SC_ECRYPTO.
int identity_derive_key (const identity_t *self, const char purpose [8], uint8_t key [32]);

//  Fingerprint = BLAKE2b-256 of the Ed25519 public key.
void identity_fingerprint (const uint8_t sign_pk [IDENTITY_PK_SIZE], uint8_t fp [IDENTITY_FP_SIZE]);
//  Full fingerprint as 64 lowercase hex digits (the peer "id").
void identity_fingerprint_hex (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_FP_HEX_SIZE]);
//  Short fingerprint for lists: the first 16 hex digits.
void identity_short_id (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_SHORT_SIZE]);
//  Safety number to compare aloud: 12 groups of 5 digits.
void identity_safety_number (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_SAFETY_SIZE]);

#endif

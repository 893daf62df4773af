#define LOG_MODULE "identity"
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "base/bytes.h"
#include "base/err.h"
#include "base/fileio.h"
#include "identity.h"
#include "base/log.h"

#define BIND_CTX "securechat identity binding v1"
#define HEADER_SIZE 134
#define SECRET_SIZE (crypto_sign_SECRETKEYBYTES + crypto_box_SECRETKEYBYTES)
#define PLAIN_SIZE (HEADER_SIZE + SECRET_SIZE)
#define SALT_SIZE crypto_pwhash_SALTBYTES
#define ENC_SIZE (HEADER_SIZE + SALT_SIZE + 8 + 8 + crypto_secretbox_NONCEBYTES \
                  + crypto_secretbox_MACBYTES + SECRET_SIZE)
#define FLAG_ENCRYPTED 1
//  Argon2id cost of a passphrase, for every save: 3 passes over 256 MiB
#define IDENTITY_PWHASH_OPS crypto_pwhash_OPSLIMIT_MODERATE
#define IDENTITY_PWHASH_MEM crypto_pwhash_MEMLIMIT_MODERATE

struct _identity_t {
    uint8_t sign_pk [crypto_sign_PUBLICKEYBYTES];
    uint8_t box_pk [crypto_box_PUBLICKEYBYTES];
    uint8_t binding [crypto_sign_BYTES];
    uint8_t sign_sk [crypto_sign_SECRETKEYBYTES];
    uint8_t box_sk [crypto_box_SECRETKEYBYTES];
};



static identity_t *
s_alloc (void)
{
    if (sodium_init () < 0)
        return NULL;
    identity_t *self = sodium_malloc (sizeof *self);
    if (self)
        memset (self, 0, sizeof *self);
    return self;
}

int
identity_sign (const identity_t *self, const char *ctx,
               const uint8_t *msg, size_t len, uint8_t sig [IDENTITY_SIG_SIZE])
{
    crypto_sign_state st;
    if (crypto_sign_init (&st) != 0
    ||  crypto_sign_update (&st, (const uint8_t *) ctx, strlen (ctx) + 1) != 0
    ||  crypto_sign_update (&st, msg, len) != 0
    ||  crypto_sign_final_create (&st, sig, NULL, self->sign_sk) != 0)
        return SC_ECRYPTO;
    return 0;
}

int
identity_verify (const uint8_t sign_pk [IDENTITY_PK_SIZE], const char *ctx,
                 const uint8_t *msg, size_t len, const uint8_t sig [IDENTITY_SIG_SIZE])
{
    crypto_sign_state st;
    if (crypto_sign_init (&st) != 0
    ||  crypto_sign_update (&st, (const uint8_t *) ctx, strlen (ctx) + 1) != 0
    ||  crypto_sign_update (&st, msg, len) != 0
    ||  crypto_sign_final_verify (&st, (uint8_t *) sig, sign_pk) != 0)
        return SC_ESIG;
    return 0;
}

identity_t *
identity_generate (void)
{
    identity_t *self = s_alloc ();
    if (!self)
        return NULL;
    if (crypto_sign_keypair (self->sign_pk, self->sign_sk) != 0
    ||  crypto_box_keypair (self->box_pk, self->box_sk) != 0
    ||  identity_sign (self, BIND_CTX, self->box_pk, sizeof self->box_pk, self->binding) != 0)
        identity_destroy (&self);
    return self;
}

void
identity_destroy (identity_t **self_p)
{
    if (self_p && *self_p) {
        sodium_free (*self_p);      //  wipes
        *self_p = NULL;
    }
}

const uint8_t *identity_sign_pk (const identity_t *self) { return self->sign_pk; }
const uint8_t *identity_box_pk (const identity_t *self) { return self->box_pk; }
const uint8_t *identity_box_sk (const identity_t *self) { return self->box_sk; }

int
identity_unseal (const identity_t *self, const uint8_t *sealed, size_t len, uint8_t *out)
{
    if (len < crypto_box_SEALBYTES)
        return SC_ETRUNC;
    if (crypto_box_seal_open (out, sealed, len, self->box_pk, self->box_sk) != 0)
        return SC_EBOX;
    return 0;
}

int
identity_derive_key (const identity_t *self, const char purpose [8], uint8_t key [32])
{
    //  The Ed25519 seed (first 32 bytes of the secret key) is the master key
    if (crypto_kdf_derive_from_key (key, 32, 1, purpose, self->sign_sk) != 0)
        return SC_ECRYPTO;
    return 0;
}

//  Derives the passphrase key; returns 0 or SC_ECRYPTO (out of memory).
static int
s_pwkey (uint8_t key [crypto_secretbox_KEYBYTES], const char *passphrase,
         const uint8_t *salt, uint64_t ops, uint64_t mem)
{
    if (crypto_pwhash (key, crypto_secretbox_KEYBYTES, passphrase, strlen (passphrase),
                       salt, ops, (size_t) mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return SC_ECRYPTO;
    return 0;
}

int
identity_save (const identity_t *self, const char *path, const char *passphrase)
{
    uint8_t *buf = sodium_malloc (ENC_SIZE);
    if (!buf)
        return SC_ENOMEM;
    int rc = SC_ECRYPTO;
    size_t size;
    memcpy (buf, "SCID", 4);
    buf [4] = 1;
    buf [5] = passphrase? FLAG_ENCRYPTED: 0;
    memcpy (buf + 6, self->sign_pk, 32);
    memcpy (buf + 38, self->box_pk, 32);
    memcpy (buf + 70, self->binding, 64);
    uint8_t *p = buf + HEADER_SIZE;
    if (!passphrase) {
        memcpy (p, self->sign_sk, sizeof self->sign_sk);
        memcpy (p + sizeof self->sign_sk, self->box_sk, sizeof self->box_sk);
        size = PLAIN_SIZE;
    }
    else {
        uint8_t secrets [SECRET_SIZE];
        uint8_t key [crypto_secretbox_KEYBYTES];
        uint64_t ops = IDENTITY_PWHASH_OPS, mem = IDENTITY_PWHASH_MEM;
        uint8_t *salt = p, *nonce = p + SALT_SIZE + 16;
        randombytes_buf (salt, SALT_SIZE);
        bytes_put_be (p + SALT_SIZE, ops, 8);
        bytes_put_be (p + SALT_SIZE + 8, mem, 8);
        randombytes_buf (nonce, crypto_secretbox_NONCEBYTES);
        memcpy (secrets, self->sign_sk, sizeof self->sign_sk);
        memcpy (secrets + sizeof self->sign_sk, self->box_sk, sizeof self->box_sk);
        int krc = s_pwkey (key, passphrase, salt, ops, mem);
        if (krc == 0)
            crypto_secretbox_easy (nonce + crypto_secretbox_NONCEBYTES, secrets,
                                   SECRET_SIZE, nonce, key);
        sodium_memzero (secrets, sizeof secrets);
        sodium_memzero (key, sizeof key);
        if (krc != 0)
            goto out;
        size = ENC_SIZE;
    }
    rc = fileio_write_atomic (path, buf, size);
out:
    sodium_free (buf);
    return rc;
}

//  Checks that secret and public halves belong together and the binding holds.
static int
s_consistent (const identity_t *self)
{
    uint8_t pk [crypto_scalarmult_BYTES];
    uint8_t spk [crypto_sign_PUBLICKEYBYTES];
    uint8_t ssk [crypto_sign_SECRETKEYBYTES];
    //  The Ed25519 secret key is seed || public key: derive both from the seed
    int rc = crypto_sign_seed_keypair (spk, ssk, self->sign_sk);
    sodium_memzero (ssk, sizeof ssk);
    if (rc != 0
    ||  sodium_memcmp (spk, self->sign_pk, sizeof spk) != 0
    ||  sodium_memcmp (self->sign_sk + 32, self->sign_pk, 32) != 0
    ||  crypto_scalarmult_base (pk, self->box_sk) != 0
    ||  sodium_memcmp (pk, self->box_pk, sizeof pk) != 0
    ||  identity_verify (self->sign_pk, BIND_CTX, self->box_pk, sizeof self->box_pk,
                         self->binding) != 0)
        return SC_ECORRUPT;
    return 0;
}

//  identity_load, telling also what the passphrase cost (0 for a plain file).
static int
s_load (const char *path, const char *passphrase, identity_t **out, uint64_t *ops_p, uint64_t *mem_p)
{
    *out = NULL;
    *ops_p = *mem_p = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = fileio_read_all (path, 4096, &data, &len);
    if (rc == SC_ETOOBIG)
        return SC_ECORRUPT;
    if (rc != 0)
        return rc;
    identity_t *self = s_alloc ();
    if (!self) {
        rc = SC_ENOMEM;
        goto out;
    }
    rc = SC_ECORRUPT;
    if (len < HEADER_SIZE || memcmp (data, "SCID", 4) != 0)
        goto out;
    if (data [4] != 1) {
        rc = SC_EVERSION;
        goto out;
    }
    bool encrypted = data [5] == FLAG_ENCRYPTED;
    if (data [5] & ~FLAG_ENCRYPTED || len != (encrypted? ENC_SIZE: PLAIN_SIZE))
        goto out;
    memcpy (self->sign_pk, data + 6, 32);
    memcpy (self->box_pk, data + 38, 32);
    memcpy (self->binding, data + 70, 64);
    const uint8_t *p = data + HEADER_SIZE;
    if (!encrypted) {
        memcpy (self->sign_sk, p, sizeof self->sign_sk);
        memcpy (self->box_sk, p + sizeof self->sign_sk, sizeof self->box_sk);
    }
    else {
        if (!passphrase) {
            rc = SC_ENEEDPASS;
            goto out;
        }
        uint64_t ops = bytes_get_be (p + SALT_SIZE, 8), mem = bytes_get_be (p + SALT_SIZE + 8, 8);
        //  Refuse absurd cost parameters from a damaged or hostile file
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE
        ||  mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
            goto out;
        *ops_p = ops;
        *mem_p = mem;
        const uint8_t *nonce = p + SALT_SIZE + 16;
        uint8_t key [crypto_secretbox_KEYBYTES];
        uint8_t secrets [SECRET_SIZE];
        rc = s_pwkey (key, passphrase, p, ops, mem);
        if (rc == 0 && crypto_secretbox_open_easy (secrets, nonce + crypto_secretbox_NONCEBYTES,
                                                   SECRET_SIZE + crypto_secretbox_MACBYTES,
                                                   nonce, key) != 0)
            rc = SC_EPASSPHRASE;
        if (rc == 0) {
            memcpy (self->sign_sk, secrets, sizeof self->sign_sk);
            memcpy (self->box_sk, secrets + sizeof self->sign_sk, sizeof self->box_sk);
        }
        sodium_memzero (secrets, sizeof secrets);
        sodium_memzero (key, sizeof key);
        if (rc != 0)
            goto out;
    }
    rc = s_consistent (self);
    if (rc == 0) {
        *out = self;
        self = NULL;    //  transferred
    }
out:
    identity_destroy (&self);
    if (data) {
        sodium_memzero (data, len);
        free (data);
    }
    return rc;
}

int
identity_load (const char *path, const char *passphrase, identity_t **out)
{
    uint64_t ops, mem;
    return s_load (path, passphrase, out, &ops, &mem);
}

int
identity_open_home (const char *home, const char *passphrase, identity_t **out, bool *created)
{
    char path [PATH_MAX];
    *created = false;
    if (snprintf (path, sizeof path, "%s/%s", home, IDENTITY_FILE) >= (int) sizeof path)
        return SC_EINVAL;
    uint64_t ops, mem;
    int rc = s_load (path, passphrase, out, &ops, &mem);
    if (rc == 0 && ops && (ops < IDENTITY_PWHASH_OPS || mem < IDENTITY_PWHASH_MEM)) {
        //  Saved at a lighter cost (before it was raised): save again at
        //  today's.  Should that fail, the identity still opened as it was.
        int src = identity_save (*out, path, passphrase);
        if (src != 0)
            log_warn ("%s is encrypted at a lighter Argon2id cost than today's; "
                      "saving it again failed: %s", path, sc_strerror (src));
        else
            log_info ("%s saved again at today's Argon2id cost", path);
    }
    if (rc != SC_ENOENT)
        return rc;
    rc = fileio_mkdir_private (home);
    if (rc != 0)
        return rc;
    identity_t *self = identity_generate ();
    if (!self)
        return SC_ECRYPTO;
    rc = identity_save (self, path, passphrase);
    if (rc != 0) {
        identity_destroy (&self);
        return rc;
    }
    *out = self;
    *created = true;
    return 0;
}

void
identity_fingerprint (const uint8_t sign_pk [IDENTITY_PK_SIZE], uint8_t fp [IDENTITY_FP_SIZE])
{
    crypto_generichash (fp, IDENTITY_FP_SIZE, sign_pk, IDENTITY_PK_SIZE, NULL, 0);
}

void
identity_fingerprint_hex (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_FP_HEX_SIZE])
{
    uint8_t fp [IDENTITY_FP_SIZE];
    identity_fingerprint (sign_pk, fp);
    sodium_bin2hex (out, IDENTITY_FP_HEX_SIZE, fp, sizeof fp);
}

void
identity_short_id (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_SHORT_SIZE])
{
    char hex [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (sign_pk, hex);
    memcpy (out, hex, IDENTITY_SHORT_SIZE - 1);
    out [IDENTITY_SHORT_SIZE - 1] = 0;
}

void
identity_safety_number (const uint8_t sign_pk [IDENTITY_PK_SIZE], char out [IDENTITY_SAFETY_SIZE])
{
    static const char key [] = "securechat safety number v1";
    uint8_t h [60];
    crypto_generichash (h, sizeof h, sign_pk, IDENTITY_PK_SIZE,
                        (const uint8_t *) key, sizeof key - 1);
    char *p = out;
    for (int g = 0; g < 12; g++) {
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = (v << 8) | h [g * 5 + i];
        p += sprintf (p, g? " %05u": "%05u", (unsigned) (v % 100000));
    }
}

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../../crypto/bytes.h"
#include "../../crypto/err.h"
#include "../../crypto/fileio.h"
#include "../../crypto/identity.h"
#include "fault.h"
#include "unit.h"

static void
s_round_trip (void)
{
    const char *home = unit_tmpdir ();
    char dir [PATH_MAX];
    snprintf (dir, sizeof dir, "%s/a/b", home);
    identity_t *a = NULL, *b = NULL;
    bool created;
    CHECK_RC (identity_open_home (dir, NULL, &a, &created), 0);
    CHECK (created);
    CHECK_RC (identity_open_home (dir, NULL, &b, &created), 0);
    CHECK (!created);
    CHECK (memcmp (identity_sign_pk (a), identity_sign_pk (b), 32) == 0);
    CHECK (memcmp (identity_box_pk (a), identity_box_pk (b), 32) == 0);
    CHECK (memcmp (identity_box_sk (a), identity_box_sk (b), 32) == 0);
    uint8_t sig [64];
    CHECK_RC (identity_sign (a, "ctx", (const uint8_t *) "m", 1, sig), 0);
    CHECK_RC (identity_verify (identity_sign_pk (b), "ctx", (const uint8_t *) "m", 1, sig), 0);
    CHECK_RC (identity_verify (identity_sign_pk (b), "ctx2", (const uint8_t *) "m", 1, sig), SC_ESIG);
    identity_destroy (&a);
    identity_destroy (&b);
    CHECK (a == NULL);
    identity_destroy (&a);      //  NULL is fine
}

static void
s_permissions (void)
{
    const char *home = unit_tmpdir ();
    char dir [PATH_MAX], path [PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/home", home);
    snprintf (path, sizeof path, "%s/identity", dir);
    identity_t *a = NULL;
    bool created;
    CHECK_RC (identity_open_home (dir, NULL, &a, &created), 0);
    identity_destroy (&a);
    struct stat st;
    CHECK (stat (path, &st) == 0);
    CHECK ((st.st_mode & 0777) == 0600);
    CHECK (stat (dir, &st) == 0);
    CHECK ((st.st_mode & 0777) == 0700);
}

static void
s_passphrase (void)
{
    const char *home = unit_tmpdir ();
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/identity", home);
    identity_t *a = identity_generate (), *b = NULL;
    CHECK (a);
    CHECK_RC (identity_save (a, path, "correct horse"), 0);
    CHECK_RC (identity_load (path, "wrong horse", &b), SC_EPASSPHRASE);
    CHECK (b == NULL);
    CHECK_RC (identity_load (path, NULL, &b), SC_ENEEDPASS);
    CHECK_RC (identity_load (path, "correct horse", &b), 0);
    CHECK (memcmp (identity_box_sk (a), identity_box_sk (b), 32) == 0);
    //  The secret keys are not in the file in the clear
    uint8_t *data;
    size_t len;
    CHECK_RC (fileio_read_all (path, 4096, &data, &len), 0);
    CHECK (memmem (data, len, identity_box_sk (a), 32) == NULL);
    //  Argon2id at MODERATE, the cost written in the file (salt, ops, mem)
    CHECK (len > 134 + 32 && bytes_get_be (data + 134 + 16, 8) == crypto_pwhash_OPSLIMIT_MODERATE
           && bytes_get_be (data + 134 + 24, 8) == crypto_pwhash_MEMLIMIT_MODERATE);
    free (data);
    //  A wrong passphrase never replaces the identity
    bool created;
    identity_t *c = NULL;
    CHECK_RC (identity_open_home (home, "nope", &c, &created), SC_EPASSPHRASE);
    CHECK_RC (identity_load (path, "correct horse", &c), 0);
    CHECK (memcmp (identity_sign_pk (a), identity_sign_pk (c), 32) == 0);
    identity_destroy (&a);
    identity_destroy (&b);
    identity_destroy (&c);
}

//  Writes a as an encrypted identity file at the cost earlier versions used
//  (Argon2id INTERACTIVE), by hand after the layout in identity.h.
static int
s_save_light (identity_t *a, const char *path, const char *pass)
{
    uint8_t *plain;
    size_t plain_len;
    int rc = identity_save (a, path, NULL);
    if (rc == 0)
        rc = fileio_read_all (path, 4096, &plain, &plain_len);
    if (rc != 0)
        return rc;
    uint8_t file [134 + 16 + 8 + 8 + 24 + 16 + 96], key [32];
    memcpy (file, plain, 134);
    file [5] = 1;
    uint8_t *salt = file + 134, *nonce = file + 134 + 32;
    randombytes_buf (salt, 16);
    bytes_put_be (file + 134 + 16, crypto_pwhash_OPSLIMIT_INTERACTIVE, 8);
    bytes_put_be (file + 134 + 24, crypto_pwhash_MEMLIMIT_INTERACTIVE, 8);
    randombytes_buf (nonce, 24);
    rc = SC_ECRYPTO;
    if (plain_len == 134 + 96
    &&  crypto_pwhash (key, 32, pass, strlen (pass), salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                       crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) == 0
    &&  crypto_secretbox_easy (nonce + 24, plain + 134, 96, nonce, key) == 0)
        rc = fileio_write_atomic (path, file, sizeof file);
    sodium_memzero (plain, plain_len);
    sodium_memzero (key, sizeof key);
    free (plain);
    return rc;
}

//  Saved at the old, lighter cost: still opens, and opening it at home
//  saves it again at today's cost (MODERATE).
static void
s_passphrase_old_cost (void)
{
    const char *home = unit_tmpdir ();
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/identity", home);
    identity_t *a = identity_generate (), *b = NULL, *c = NULL;
    CHECK (a);
    CHECK_RC (s_save_light (a, path, "old horse"), 0);
    CHECK_RC (identity_load (path, "old horse", &b), 0);
    CHECK (memcmp (identity_sign_pk (a), identity_sign_pk (b), 32) == 0);
    identity_destroy (&b);
    bool created;
    CHECK_RC (identity_open_home (home, "old horse", &b, &created), 0);
    CHECK (!created && memcmp (identity_box_sk (a), identity_box_sk (b), 32) == 0);
    uint8_t *data;
    size_t len;
    CHECK_RC (fileio_read_all (path, 4096, &data, &len), 0);
    CHECK (len > 134 + 32 && data [5] == 1
           && bytes_get_be (data + 134 + 16, 8) == crypto_pwhash_OPSLIMIT_MODERATE
           && bytes_get_be (data + 134 + 24, 8) == crypto_pwhash_MEMLIMIT_MODERATE);
    free (data);
    CHECK_RC (identity_load (path, "old horse", &c), 0);
    CHECK (memcmp (identity_sign_pk (a), identity_sign_pk (c), 32) == 0);
    identity_destroy (&a);
    identity_destroy (&b);
    identity_destroy (&c);
}

static void
s_corrupt (void)
{
    const char *home = unit_tmpdir ();
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/identity", home);
    identity_t *a = identity_generate (), *b = NULL;
    CHECK_RC (identity_save (a, path, NULL), 0);
    uint8_t *data;
    size_t len;
    CHECK_RC (fileio_read_all (path, 4096, &data, &len), 0);
    //  Flip one byte in each region: header, keys, binding, secrets
    size_t spots [] = { 0, 10, 40, 100, 150, 200 };
    for (size_t i = 0; i < sizeof spots / sizeof spots [0]; i++) {
        data [spots [i]] ^= 0x01;
        CHECK_RC (fileio_write_atomic (path, data, len), 0);
        int rc = identity_load (path, NULL, &b);
        CHECK (rc == SC_ECORRUPT || rc == SC_EVERSION);
        CHECK (b == NULL);
        data [spots [i]] ^= 0x01;
    }
    //  Truncated and empty
    CHECK_RC (fileio_write_atomic (path, data, len - 1), 0);
    CHECK_RC (identity_load (path, NULL, &b), SC_ECORRUPT);
    CHECK_RC (fileio_write_atomic (path, data, 0), 0);
    CHECK_RC (identity_load (path, NULL, &b), SC_ECORRUPT);
    //  Corrupt file in a home is an error, never a fresh identity
    bool created;
    CHECK_RC (identity_open_home (home, NULL, &b, &created), SC_ECORRUPT);
    free (data);
    identity_destroy (&a);
}

static void
s_fingerprints (void)
{
    identity_t *a = identity_generate (), *b = identity_generate ();
    char hex [IDENTITY_FP_HEX_SIZE], hex2 [IDENTITY_FP_HEX_SIZE], shrt [IDENTITY_SHORT_SIZE];
    char safety [IDENTITY_SAFETY_SIZE], safety2 [IDENTITY_SAFETY_SIZE];
    identity_fingerprint_hex (identity_sign_pk (a), hex);
    identity_fingerprint_hex (identity_sign_pk (b), hex2);
    identity_short_id (identity_sign_pk (a), shrt);
    CHECK (strlen (hex) == 64);
    CHECK (strcmp (hex, hex2) != 0);
    CHECK (strlen (shrt) == 16 && strncmp (hex, shrt, 16) == 0);
    uint8_t fp [32], want [32];
    identity_fingerprint (identity_sign_pk (a), fp);
    crypto_generichash (want, 32, identity_sign_pk (a), 32, NULL, 0);
    CHECK (memcmp (fp, want, 32) == 0);
    identity_safety_number (identity_sign_pk (a), safety);
    identity_safety_number (identity_sign_pk (b), safety2);
    CHECK (strlen (safety) == 71);
    CHECK (strcmp (safety, safety2) != 0);
    for (int i = 0; i < 71; i++)
        CHECK (i % 6 == 5? safety [i] == ' ': (safety [i] >= '0' && safety [i] <= '9'));
    identity_destroy (&a);
    identity_destroy (&b);
}

//  A write is acknowledged only once its rename is durable: a directory
//  that cannot be synced is an error (it used to be ignored), and the new
//  contents are in place all the same
static void
s_dir_sync (void)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/state", unit_tmpdir ());
    CHECK_RC (fileio_write_atomic (path, "old", 3), 0);
    fault_dir_fsync (1);
    int rc = fileio_write_atomic (path, "new", 3);
    fault_dir_fsync (0);
    CHECK_RC (rc, SC_EIO);
    uint8_t *data;
    size_t len;
    CHECK_RC (fileio_read_all (path, 16, &data, &len), 0);
    CHECK (len == 3 && memcmp (data, "new", 3) == 0);
    free (data);
    CHECK_RC (fileio_write_atomic (path, "newer", 5), 0);
    //  A directory that cannot be opened is not synced either
    char missing [PATH_MAX + 16];
    snprintf (missing, sizeof missing, "%s/none/state", unit_tmpdir ());
    CHECK_RC (fileio_write_atomic (missing, "x", 1), SC_EIO);
}

void
identity_tests (void)
{
    unit_run ("identity: create, reload, sign", s_round_trip);
    unit_run ("identity: file 0600, home 0700", s_permissions);
    unit_run ("identity: passphrase and wrong passphrase", s_passphrase);
    unit_run ("identity: a file saved at the old Argon2id cost opens, is saved at MODERATE",
              s_passphrase_old_cost);
    unit_run ("identity: corrupt or truncated file", s_corrupt);
    unit_run ("identity: fingerprint and safety number", s_fingerprints);
    unit_run ("fileio: a directory that cannot be synced fails the write", s_dir_sync);
}

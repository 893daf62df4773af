/*  securechat-node: options, home, identity, then the node's event loop.  */
#define LOG_MODULE "main"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "../crypto/err.h"
#include "../crypto/fileio.h"
#include "../crypto/identity.h"
#include "../crypto/log.h"
#include "../discovery/record.h"
#include "node.h"
#include "opts.h"

#define PASS_MAX 1024

static int
s_home (const opts_t *opts, char *out, size_t size)
{
    if (opts->home)
        snprintf (out, size, "%s", opts->home);
    else if (getenv ("XDG_CONFIG_HOME") && *getenv ("XDG_CONFIG_HOME"))
        snprintf (out, size, "%s/securechat", getenv ("XDG_CONFIG_HOME"));
    else if (getenv ("HOME"))
        snprintf (out, size, "%s/.config/securechat", getenv ("HOME"));
    else
        return SC_EINVAL;
    return 0;
}

//  Reads the first line of path into a sodium_malloc buffer (caller frees).
static int
s_read_passfile (const char *path, char **out)
{
    uint8_t *data;
    size_t len;
    int rc = fileio_read_all (path, PASS_MAX, &data, &len);
    if (rc != 0)
        return rc;
    size_t n = strcspn ((char *) data, "\r\n");
    *out = sodium_malloc (n + 1);
    if (*out) {
        memcpy (*out, data, n);
        (*out) [n] = 0;
    }
    sodium_memzero (data, len);
    free (data);
    return *out? (n? 0: SC_EINVAL): SC_ENOMEM;
}

//  Asks on the terminal with echo off; NULL when there is no terminal.
static char *
s_ask_passphrase (const char *prompt)
{
    int fd = open ("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *pass = sodium_malloc (PASS_MAX);
    struct termios old, quiet;
    bool restore = tcgetattr (fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~ECHO;
        tcsetattr (fd, TCSAFLUSH, &quiet);
    }
    bool asked = write (fd, prompt, strlen (prompt)) > 0;
    ssize_t n = pass? read (fd, pass, PASS_MAX - 1): -1;
    if (restore)
        tcsetattr (fd, TCSAFLUSH, &old);
    if (asked && write (fd, "\n", 1) < 0)
        n = -1;
    close (fd);
    if (n <= 0) {
        if (pass)
            sodium_free (pass);
        return NULL;
    }
    pass [n] = 0;
    pass [strcspn (pass, "\r\n")] = 0;
    return pass;
}

//  The display name: --name (remembered in HOME/name), else the remembered
//  one, else $USER, else "anon".
static int
s_name (const opts_t *opts, const char *home, char *out, size_t size)
{
    char path [PATH_MAX + 8];
    snprintf (path, sizeof path, "%s/name", home);
    if (opts->name) {
        if (!record_name_ok (opts->name)) {
            fprintf (stderr, "securechat-node: --name '%s' is not usable: give 1 to %d bytes of "
                     "UTF-8 with no control characters, no '@', not starting with '/'\n",
                     opts->name, RECORD_NAME_MAX);
            return SC_EINVAL;
        }
        snprintf (out, size, "%s", opts->name);
        int rc = fileio_write_atomic (path, opts->name, strlen (opts->name));
        if (rc != 0)
            log_warn ("could not remember the name in %s (%s): it is used for this run; "
                      "give --name again next time", path, sc_strerror (rc));
        return 0;
    }
    uint8_t *data;
    size_t len;
    if (fileio_read_all (path, RECORD_NAME_MAX, &data, &len) == 0) {
        bool ok = record_name_ok ((char *) data);
        if (ok)
            snprintf (out, size, "%s", (char *) data);
        free (data);
        if (ok)
            return 0;
    }
    const char *user = getenv ("USER");
    snprintf (out, size, "%s", user && record_name_ok (user)? user: "anon");
    return 0;
}

int
main (int argc, char **argv)
{
    opts_t opts;
    char err [512];
    int rc = opts_parse (argc, argv, &opts, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf (stderr, "securechat-node: %s\n", err);
        return 2;
    }
    log_set_level (LOG_LEVEL_WARN + opts.verbose);
    if (sodium_init () < 0) {
        fprintf (stderr, "securechat-node: libsodium could not start\n");
        return 1;
    }
    char home [PATH_MAX];
    if (s_home (&opts, home, sizeof home) != 0) {
        fprintf (stderr, "securechat-node: no home directory: give --home DIR\n");
        return 2;
    }
    char *pass = NULL;
    if (opts.passphrase_file && (rc = s_read_passfile (opts.passphrase_file, &pass)) != 0) {
        fprintf (stderr, "securechat-node: cannot read a passphrase from %s: %s\n",
                 opts.passphrase_file, rc == SC_EINVAL? "its first line is empty": sc_strerror (rc));
        return 2;
    }
    identity_t *id = NULL;
    bool created = false;
    rc = identity_open_home (home, pass, &id, &created);
    if (rc == SC_ENEEDPASS && (pass = s_ask_passphrase ("Passphrase for your securechat identity: ")))
        rc = identity_open_home (home, pass, &id, &created);
    if (pass)
        sodium_free (pass);
    if (rc != 0) {
        char path [PATH_MAX + 16];
        snprintf (path, sizeof path, "%s/%s", home, IDENTITY_FILE);
        fprintf (stderr, "securechat-node: cannot open the identity %s: %s\n", path, sc_strerror (rc));
        if (rc == SC_ECORRUPT)
            fprintf (stderr, "securechat-node: the file is left as it is; move it away to start "
                     "a new identity (peers will see a new key)\n");
        return 1;
    }
    char name [RECORD_NAME_MAX + 1];
    if (s_name (&opts, home, name, sizeof name) != 0) {
        identity_destroy (&id);
        return 2;
    }
    if (opts.whoami) {
        char fp [IDENTITY_FP_HEX_SIZE], safety [IDENTITY_SAFETY_SIZE];
        identity_fingerprint_hex (identity_sign_pk (id), fp);
        identity_safety_number (identity_sign_pk (id), safety);
        printf ("name:          %s\nfingerprint:   %s\nsafety number: %s\nhome:          %s%s\n",
                name, fp, safety, home, created? " (new identity created)": "");
        identity_destroy (&id);
        return 0;
    }
    node_t *node = node_new (&opts, home, name, &id, &rc);
    if (!node) {
        identity_destroy (&id);
        fprintf (stderr, "securechat-node: cannot start: %s\n", sc_strerror (rc));
        return 1;
    }
    rc = node_run (node);
    node_destroy (&node);
    return rc;
}

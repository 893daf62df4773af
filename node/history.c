#define LOG_MODULE "history"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../crypto/bytes.h"
#include "../crypto/err.h"
#include "../crypto/fileio.h"
#include "../crypto/log.h"
#include "history.h"

#define MAX_ENTRY (128 * 1024)
#define MAX_FILE (256u * 1024 * 1024)

struct _history_t {
    char *path;
    uint8_t *key;       //  sodium_malloc
};

history_t *
history_new (const char *path, const uint8_t key [32])
{
    history_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup (path);
    self->key = sodium_malloc (crypto_secretbox_KEYBYTES);
    if (!self->path || !self->key) {
        history_destroy (&self);
        return NULL;
    }
    memcpy (self->key, key, crypto_secretbox_KEYBYTES);
    return self;
}

void
history_destroy (history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    history_t *self = *self_p;
    if (self->key)
        sodium_free (self->key);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
history_append (history_t *self, const json_t *entry)
{
    char *text = json_dumps (entry, JSON_COMPACT);
    if (!text)
        return SC_ENOMEM;
    size_t len = strlen (text);
    int rc = SC_ETOOBIG;
    uint8_t *rec = NULL;
    if (len > MAX_ENTRY)
        goto out;
    size_t body = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    rec = malloc (4 + body);
    rc = SC_ENOMEM;
    if (!rec)
        goto out;
    bytes_put_be (rec, body, 4);
    randombytes_buf (rec + 4, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (rec + 4 + crypto_secretbox_NONCEBYTES, (uint8_t *) text, len,
                           rec + 4, self->key);
    rc = SC_EIO;
    int fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    //  One write of the whole record: a crash leaves at most one torn tail
    ssize_t n = write (fd, rec, 4 + body);
    if (close (fd) == 0 && n == (ssize_t) (4 + body))
        rc = 0;
out:
    if (rc != 0)
        log_warn ("cannot append to %s: %s", self->path, sc_strerror (rc));
    sodium_memzero (text, len);
    free (text);
    free (rec);
    return rc;
}

json_t *
history_read (history_t *self, const char *peer_id, size_t max)
{
    json_t *all = json_array ();
    if (!all)
        return NULL;
    uint8_t *data;
    size_t len;
    if (fileio_read_all (self->path, MAX_FILE, &data, &len) != 0)
        return all;
    uint8_t *plain = malloc (MAX_ENTRY + 1);
    for (size_t pos = 0; plain && len - pos >= 4; ) {
        size_t body = (size_t) bytes_get_be (data + pos, 4);
        pos += 4;
        size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
        if (body > len - pos || body < overhead || body - overhead > MAX_ENTRY)
            break;      //  torn or damaged tail
        const uint8_t *nonce = data + pos;
        if (crypto_secretbox_open_easy (plain, nonce + crypto_secretbox_NONCEBYTES,
                                        body - crypto_secretbox_NONCEBYTES, nonce, self->key) == 0) {
            json_t *entry = json_loadb ((char *) plain, body - overhead, 0, NULL);
            const char *peer = json_string_value (json_object_get (entry, "peer"));
            if (entry && (!peer_id || (peer && strcmp (peer, peer_id) == 0)))
                json_array_append (all, entry);
            json_decref (entry);
            sodium_memzero (plain, body - overhead);
        }
        pos += body;
    }
    free (plain);
    free (data);
    //  Keep the last max, in one pass
    size_t size = json_array_size (all);
    if (size <= max)
        return all;
    json_t *last = json_array ();
    for (size_t i = size - max; last && i < size; i++)
        json_array_append (last, json_array_get (all, i));
    json_decref (all);
    return last;
}

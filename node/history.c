#define LOG_MODULE "history"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "../crypto/base/bytes.h"
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "history.h"

#define MAX_ENTRY (128 * 1024)
#define OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
#define RECORD_MAX (4 + OVERHEAD + MAX_ENTRY)
#define CHUNK (64 * 1024)               //  read from the end at a time
#define CHUNK_MAX (256 * 1024)          //  grown to when a chunk holds no whole record
#define CHUNK_RECORDS (CHUNK_MAX / (4 + OVERHEAD) + 1)

_Static_assert (CHUNK_MAX >= RECORD_MAX, "a chunk must be able to hold any one record");

struct _history_t {
    char *path, *path1;         //  HOME/history, HOME/history.1
    uint8_t *key;               //  sodium_malloc
    history_limits_t limits;
    size_t read_bytes;          //  by the last read
};

//  One read, from the newest record back
typedef struct {
    const char *peer_id;        //  NULL: every entry
    char *pattern;              //  "peer":"ID" as jansson writes it, when ID needs no escape
    size_t max;
    json_t *found;              //  newest first
    size_t budget;              //  bytes still to read
    size_t mac_budget;          //  bytes still to spend on boxes that do not open
    uint8_t *buf, *plain;
    struct { size_t off, len; } *recs;
} s_reader_t;

history_t *
history_new (const char *path, const uint8_t key [32], const history_limits_t *limits)
{
    history_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->limits = limits? *limits: (history_limits_t) { HISTORY_FILE_MAX, HISTORY_READ_MAX };
    self->path = strdup (path);
    self->path1 = malloc (strlen (path) + 3);
    self->key = sodium_malloc (crypto_secretbox_KEYBYTES);
    if (!self->path || !self->path1 || !self->key) {
        history_destroy (&self);
        return NULL;
    }
    sprintf (self->path1, "%s.1", path);
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
    free (self->path1);
    free (self);
    *self_p = NULL;
}

static int
s_open_append (const char *path)
{
    return open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

int
history_append (history_t *self, const json_t *entry)
{
    char *text = json_dumps (entry, JSON_COMPACT);
    if (!text)
        return SC_ENOMEM;
    size_t len = strlen (text);
    int rc = SC_ETOOBIG;
    int fd = -1;
    uint8_t *rec = NULL;
    if (len > MAX_ENTRY)
        goto out;
    size_t body = OVERHEAD + len;
    rec = malloc (4 + body);
    rc = SC_ENOMEM;
    if (!rec)
        goto out;
    bytes_put_be (rec, body, 4);
    randombytes_buf (rec + 4, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (rec + 4 + crypto_secretbox_NONCEBYTES, (uint8_t *) text, len,
                           rec + 4, self->key);
    rc = SC_EIO;
    fd = s_open_append (self->path);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0)
        goto out;
    if (st.st_size > 0 && (uint64_t) st.st_size + 4 + body > self->limits.file_max) {
        //  Full: it becomes the older generation, whose own older one goes
        close (fd);
        fd = -1;
        if (rename (self->path, self->path1) != 0)
            goto out;
        log_info ("%s reached %zu bytes: kept as %s, the one before dropped",
                  self->path, (size_t) st.st_size, self->path1);
        fd = s_open_append (self->path);
        if (fd < 0)
            goto out;
    }
    //  One write of the whole record: a crash leaves at most one torn tail
    ssize_t n = write (fd, rec, 4 + body);
    int crc = close (fd);
    fd = -1;
    if (crc == 0 && n == (ssize_t) (4 + body))
        rc = 0;
out:
    if (fd >= 0)
        close (fd);
    if (rc != 0)
        log_warn ("cannot append to %s: %s", self->path, sc_strerror (rc));
    sodium_memzero (text, len);
    free (text);
    free (rec);
    return rc;
}

//  Opens the record at buf [off] (of n bytes) into plain; returns its
//  plaintext length, or -1 when no whole record that opens starts there.
static long
s_open_at (history_t *self, s_reader_t *r, const uint8_t *buf, size_t n, size_t off,
           uint8_t *plain)
{
    if (n - off < 4)
        return -1;
    size_t body = (size_t) bytes_get_be (buf + off, 4);
    if (body < OVERHEAD || body - OVERHEAD > MAX_ENTRY || body > n - off - 4 || body > r->mac_budget)
        return -1;
    const uint8_t *nonce = buf + off + 4;
    if (crypto_secretbox_open_easy (plain, nonce + crypto_secretbox_NONCEBYTES,
                                    body - crypto_secretbox_NONCEBYTES, nonce, self->key) != 0) {
        r->mac_budget -= body;
        return -1;
    }
    return (long) (body - OVERHEAD);
}

//  Takes one entry if it matches, newest first.
static void
s_take (s_reader_t *r, const uint8_t *plain, size_t len)
{
    if (r->pattern && !memmem (plain, len, r->pattern, strlen (r->pattern)))
        return;
    json_t *entry = json_loadb ((const char *) plain, len, 0, NULL);
    const char *peer = json_string_value (json_object_get (entry, "peer"));
    if (entry && (!r->peer_id || (peer && strcmp (peer, r->peer_id) == 0)))
        json_array_append (r->found, entry);
    json_decref (entry);
}

static int
s_pread (int fd, uint8_t *buf, size_t n, uint64_t at)
{
    while (n > 0) {
        ssize_t got = pread (fd, buf, n, (off_t) at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return SC_EIO;
        buf += got;
        n -= (size_t) got;
        at += (uint64_t) got;
    }
    return 0;
}

//  Reads one file backwards, a chunk at a time, until enough entries are
//  found or a budget is spent.
static void
s_read_file (history_t *self, s_reader_t *r, const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        close (fd);
        return;
    }
    uint64_t end = (uint64_t) st.st_size;
    size_t want = CHUNK, n = 0;        //  buf holds the last n bytes before end
    while (end > 0 && json_array_size (r->found) < r->max && r->budget > 0) {
        size_t more = (end < want? (size_t) end: want) - n;
        if (more > r->budget)
            more = r->budget;
        //  Bytes already read (when the chunk grows) move up, the new ones go before
        memmove (r->buf + more, r->buf, n);
        uint64_t start = end - n - more;
        if (s_pread (fd, r->buf, more, start) != 0)
            break;
        n += more;
        r->budget -= more;
        self->read_bytes += more;
        //  The first offset whose box opens is a record; from there the
        //  lengths chain, and after damage the search starts again
        size_t nrec = 0, poff = 0, first = n;
        for (size_t off = 0; off < n; ) {
            long len = s_open_at (self, r, r->buf, n, off, r->plain + poff);
            if (len < 0) {
                off++;
                continue;
            }
            if (nrec == 0)
                first = off;
            r->recs [nrec].off = poff;
            r->recs [nrec].len = (size_t) len;
            nrec++;
            poff += (size_t) len;
            off += 4 + OVERHEAD + (size_t) len;
        }
        if (nrec == 0) {
            //  Only the end of a long record (look further back), or damage (skip it)
            if (start > 0 && n == want && want < CHUNK_MAX)
                want *= 2;
            else {
                end = start;
                want = CHUNK;
                n = 0;
            }
            continue;
        }
        for (size_t i = nrec; i-- > 0 && json_array_size (r->found) < r->max; )
            s_take (r, r->plain + r->recs [i].off, r->recs [i].len);
        sodium_memzero (r->plain, poff);
        end = start + first;
        want = CHUNK;
        n = 0;
    }
    close (fd);
}

json_t *
history_read (history_t *self, const char *peer_id, size_t max)
{
    size_t read_max = self->limits.read_max;
    s_reader_t r = { .peer_id = peer_id, .max = max, .budget = read_max,
                     .mac_budget = read_max < (SIZE_MAX - RECORD_MAX) / 2? 2 * read_max + RECORD_MAX
                                                                       : SIZE_MAX };
    json_t *out = json_array ();
    r.found = json_array ();
    r.buf = malloc (CHUNK_MAX);
    r.plain = malloc (CHUNK_MAX);
    r.recs = malloc (CHUNK_RECORDS * sizeof *r.recs);
    if (peer_id && peer_id [strspn (peer_id, "0123456789abcdefABCDEF")] == 0
    &&  (r.pattern = malloc (strlen (peer_id) + 12)))
        sprintf (r.pattern, "\"peer\":\"%s\"", peer_id);
    self->read_bytes = 0;
    if (out && r.found && r.buf && r.plain && r.recs && max > 0) {
        s_read_file (self, &r, self->path);
        s_read_file (self, &r, self->path1);
        //  Oldest first
        for (size_t i = json_array_size (r.found); i-- > 0; )
            json_array_append (out, json_array_get (r.found, i));
    }
    json_decref (r.found);
    free (r.pattern);
    free (r.buf);
    free (r.plain);
    free (r.recs);
    return out;
}

size_t
history_read_bytes (const history_t *self)
{
    return self->read_bytes;
}

/*  mailbox: the tracker's post box.  See mailbox.h.

    Item file (integers big-endian):
      0  4  magic "SCMB"     4  1  version (1)     5 32  recipient
     37 32  sender          69 16  id              85  8  stored_ms
     93  8  expires_ms     101  4  length         105     the bytes
     then BLAKE2b-256 of everything before it.
    Its name: 32 hex digits of BLAKE2b-128 (recipient || sender || id), ".mb".  */
#define LOG_MODULE "mailbox"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "../../crypto/bytes.h"
#include "../../crypto/err.h"
#include "../../crypto/fileio.h"
#include "../../crypto/log.h"
#include "mailbox.h"

#define HEAD MAILBOX_ITEM_HEAD
#define HASH MAILBOX_ITEM_HASH
#define NAME_SIZE 36                    //  32 hex digits, ".mb", NUL
#define DAY_MS (24 * 3600 * 1000LL)

typedef struct {
    mailbox_item_t pub;
    char name [NAME_SIZE];
} s_item_t;

//  A sender's put bucket: tokens x 1000, refilled put_per_s a second
typedef struct {
    uint8_t key [MAILBOX_KEY_SIZE];
    int64_t milli, at_ms, seen_ms;
    bool used;
} s_rate_t;

struct _mailbox_t {
    mailbox_limits_t lim;
    mailbox_stats_t st;
    char dir [PATH_MAX - NAME_SIZE - 32];
    int dir_fd;
    s_item_t *items;                    //  oldest first
    size_t count, cap;
    s_rate_t *rates;                    //  lim.rate_senders of them
};

static void
s_name (const uint8_t *recipient, const uint8_t *sender, const uint8_t *id, char out [NAME_SIZE])
{
    uint8_t key [MAILBOX_KEY_SIZE * 2 + MAILBOX_ID_SIZE], h [16];
    memcpy (key, recipient, MAILBOX_KEY_SIZE);
    memcpy (key + MAILBOX_KEY_SIZE, sender, MAILBOX_KEY_SIZE);
    memcpy (key + 2 * MAILBOX_KEY_SIZE, id, MAILBOX_ID_SIZE);
    crypto_generichash (h, sizeof h, key, sizeof key, NULL, 0);
    sodium_bin2hex (out, 33, h, sizeof h);
    memcpy (out + 32, ".mb", 4);
}

static bool
s_is_item_name (const char *name)
{
    if (strlen (name) != NAME_SIZE - 1 || strcmp (name + 32, ".mb") != 0)
        return false;
    return strspn (name, "0123456789abcdef") == 32;
}

static int
s_find (const mailbox_t *self, const uint8_t *recipient, const uint8_t *sender, const uint8_t *id)
{
    for (size_t i = 0; i < self->count; i++) {
        const mailbox_item_t *it = &self->items [i].pub;
        if (memcmp (it->id, id, MAILBOX_ID_SIZE) == 0
        &&  memcmp (it->recipient, recipient, MAILBOX_KEY_SIZE) == 0
        &&  memcmp (it->sender, sender, MAILBOX_KEY_SIZE) == 0)
            return (int) i;
    }
    return -1;
}

//  Says whether dir/name fitted in out.
static bool
s_path (const mailbox_t *self, const char *name, char *out, size_t size)
{
    return (size_t) snprintf (out, size, "%s/%s", self->dir, name) < size;
}

//  Puts an item into the index: in time order (after those stored at the
//  same time), or at the end (loading: sorted once after).  SC_ENOMEM, or 0.
static int
s_index_add (mailbox_t *self, const s_item_t *item, bool in_order)
{
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 64;
        s_item_t *grown = realloc (self->items, cap * sizeof *grown);
        if (!grown)
            return SC_ENOMEM;
        self->items = grown;
        self->cap = cap;
    }
    size_t k = self->count;
    while (in_order && k > 0 && self->items [k - 1].pub.stored_ms > item->pub.stored_ms) {
        self->items [k] = self->items [k - 1];
        k--;
    }
    self->items [k] = *item;
    self->count++;
    self->st.items++;
    self->st.bytes += item->pub.len;
    return 0;
}

static void
s_index_remove (mailbox_t *self, size_t i, bool unlink_file)
{
    if (unlink_file) {
        char path [PATH_MAX];
        s_path (self, self->items [i].name, path, sizeof path);
        if (unlink (path) != 0 && errno != ENOENT)
            log_warn ("could not remove %s: %s", path, strerror (errno));
    }
    self->st.items--;
    self->st.bytes -= self->items [i].pub.len;
    memmove (&self->items [i], &self->items [i + 1], (self->count - i - 1) * sizeof *self->items);
    self->count--;
}

int
mailbox_item_decode (const uint8_t *buf, size_t len, mailbox_item_t *it)
{
    if (len < HEAD + HASH || memcmp (buf, "SCMB", 4) != 0 || buf [4] != 1)
        return SC_ECORRUPT;
    size_t n = (size_t) bytes_get_be (buf + 101, 4);
    if (n == 0 || n > MAILBOX_ITEM_MAX || len != HEAD + n + HASH)
        return SC_ECORRUPT;
    uint8_t h [HASH];
    crypto_generichash (h, HASH, buf, HEAD + n, NULL, 0);
    if (sodium_memcmp (h, buf + HEAD + n, HASH) != 0)
        return SC_ECORRUPT;
    //  mailbox_put writes a time since 1970 and an end after it; anything
    //  else (a negative time, an end before the start) is not its file
    uint64_t stored = bytes_get_be (buf + 85, 8), expires = bytes_get_be (buf + 93, 8);
    if (stored > INT64_MAX || expires > INT64_MAX || expires <= stored)
        return SC_ECORRUPT;
    memcpy (it->recipient, buf + 5, MAILBOX_KEY_SIZE);
    memcpy (it->sender, buf + 37, MAILBOX_KEY_SIZE);
    memcpy (it->id, buf + 69, MAILBOX_ID_SIZE);
    it->stored_ms = (int64_t) stored;
    it->expires_ms = (int64_t) expires;
    it->len = n;
    return 0;
}

static int
s_older (const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    if (x->pub.stored_ms != y->pub.stored_ms)
        return x->pub.stored_ms < y->pub.stored_ms? -1: 1;
    return strcmp (x->name, y->name);
}

static int
s_load (mailbox_t *self, int64_t now)
{
    DIR *d = opendir (self->dir);
    if (!d)
        return SC_EIO;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir (d))) {
        const char *name = de->d_name;
        char path [PATH_MAX];
        if (!s_path (self, name, path, sizeof path))
            continue;
        if (strstr (name, ".tmp.")) {
            //  fileio_write_atomic's temporary file, never renamed: never acknowledged
            if (unlink (path) == 0)
                self->st.temp_removed++;
            continue;
        }
        if (!s_is_item_name (name))
            continue;
        uint8_t *buf = NULL;
        size_t len = 0;
        s_item_t item;
        int k;
        int r = fileio_read_all (path, HEAD + MAILBOX_ITEM_MAX + HASH, &buf, &len);
        if (r == SC_ENOMEM) {
            rc = r;
            break;
        }
        if (r != 0 || mailbox_item_decode (buf, len, &item.pub) != 0) {
            log_warn ("%s is damaged or cut short: left alone", path);
            self->st.damaged++;
        }
        else if (item.pub.expires_ms <= now) {
            unlink (path);
            self->st.expired++;
        }
        else if ((k = s_find (self, item.pub.recipient, item.pub.sender, item.pub.id)) >= 0) {
            //  One item, two files (one copied by hand?): keep the one under
            //  the item's own name, so that an ack leaves no copy to come back
            char own [NAME_SIZE], other [PATH_MAX];
            s_name (item.pub.recipient, item.pub.sender, item.pub.id, own);
            if (strcmp (name, own) == 0 && s_path (self, self->items [k].name, other, sizeof other)) {
                unlink (other);
                memcpy (self->items [k].name, own, NAME_SIZE);
            }
            else
                unlink (path);
            self->st.duplicates++;
        }
        else if (self->count >= self->lim.total_items)
            self->st.refused_total++;
        else {
            memcpy (item.name, name, NAME_SIZE);
            if ((r = s_index_add (self, &item, false)) != 0) {
                free (buf);
                rc = r;
                break;
            }
            self->st.loaded++;
        }
        free (buf);
    }
    closedir (d);
    if (self->count > 1)
        qsort (self->items, self->count, sizeof *self->items, s_older);
    return rc;
}

mailbox_t *
mailbox_new (const char *dir, const mailbox_limits_t *limits, int64_t now, int *err)
{
    mailbox_limits_t def = MAILBOX_LIMITS_DEFAULT;
    const mailbox_limits_t *l = limits? limits: &def;
    int rc = SC_EINVAL;
    mailbox_t *self = NULL;
    if (!dir || !*dir || l->recipient_items == 0 || l->sender_items == 0 || l->total_items == 0
    ||  l->ttl_days == 0 || l->retry_ms <= 0 || l->put_per_s == 0 || l->put_burst == 0
    ||  l->rate_senders == 0)
        goto out;
    rc = SC_ENOMEM;
    self = calloc (1, sizeof *self);
    if (!self)
        goto out;
    self->lim = *l;
    self->dir_fd = -1;
    self->rates = calloc (l->rate_senders, sizeof *self->rates);
    if (!self->rates)
        goto out;
    rc = SC_EINVAL;
    if (snprintf (self->dir, sizeof self->dir, "%s", dir) >= (int) sizeof self->dir)
        goto out;
    rc = SC_EIO;
    if (fileio_mkdir_private (self->dir) != 0 || chmod (self->dir, 0700) != 0)
        goto out;
    self->dir_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0)
        goto out;
    rc = s_load (self, now);
    if (rc == 0 && (self->st.damaged || self->st.temp_removed))
        log_info ("%s: %llu items, %llu damaged files left alone, %llu temporary files removed",
                  self->dir, (unsigned long long) self->st.loaded,
                  (unsigned long long) self->st.damaged,
                  (unsigned long long) self->st.temp_removed);
out:
    if (rc != 0)
        mailbox_destroy (&self);
    if (err)
        *err = rc;
    return self;
}

void
mailbox_destroy (mailbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mailbox_t *self = *self_p;
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    free (self->items);
    free (self->rates);
    free (self);
    *self_p = NULL;
}

static int
s_refuse (mailbox_t *self, mailbox_refusal_t *why, const char *limit, uint64_t *counter)
{
    (*counter)++;
    if (why) {
        why->limit = limit;
        why->retry_ms = self->lim.retry_ms;
    }
    return SC_EAGAIN;
}

//  Takes a token of sender's bucket: true, or false and the wait in *retry_ms.
//  A sender not kept starts full, in the place of the one heard from least
//  recently (whose bucket is then full again, as far as anyone can tell).
static bool
s_rate_take (mailbox_t *self, const uint8_t *sender, int64_t now, int64_t *retry_ms)
{
    s_rate_t *r = NULL, *old = NULL;
    int64_t cap = (int64_t) self->lim.put_burst * 1000, per_s = self->lim.put_per_s;
    for (size_t i = 0; i < self->lim.rate_senders && !r; i++) {
        s_rate_t *e = &self->rates [i];
        if (e->used && memcmp (e->key, sender, MAILBOX_KEY_SIZE) == 0)
            r = e;
        else if (!old || !e->used || (old->used && e->seen_ms < old->seen_ms))
            old = e;
    }
    if (!r) {
        r = old;
        memcpy (r->key, sender, MAILBOX_KEY_SIZE);
        r->milli = cap;
        r->at_ms = now;
        r->used = true;
    }
    r->seen_ms = now;
    if (now > r->at_ms) {
        int64_t add = (now - r->at_ms) * per_s;     //  per_s milli-tokens a ms
        r->milli = add >= cap - r->milli? cap: r->milli + add;
        r->at_ms = now;
    }
    else if (now < r->at_ms)
        r->at_ms = now;         //  the clock stepped back: refill from here
    if (r->milli >= 1000) {
        r->milli -= 1000;
        return true;
    }
    *retry_ms = (1000 - r->milli + per_s - 1) / per_s;
    return false;
}

int
mailbox_put (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
             const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE],
             const uint8_t *data, size_t len, uint32_t ttl_days, int64_t now,
             mailbox_refusal_t *why)
{
    if (why)
        why->limit = NULL, why->retry_ms = 0;
    if (len == 0 || !data)
        return SC_EINVAL;
    if (len > MAILBOX_ITEM_MAX) {
        self->st.refused_item_size++;
        return SC_ETOOBIG;
    }
    int64_t wait;
    if (!s_rate_take (self, sender, now, &wait)) {
        self->st.refused_sender_rate++;
        if (why) {
            why->limit = "sender_rate";
            why->retry_ms = wait < 1? 1: wait;
        }
        return SC_EAGAIN;
    }
    if (s_find (self, recipient, sender, id) >= 0) {
        self->st.duplicates++;
        return 0;               //  on disk already: acknowledged again
    }
    if (self->count >= self->lim.total_items || self->st.bytes + len > self->lim.total_bytes)
        return s_refuse (self, why, "total", &self->st.refused_total);
    size_t r_items = 0, r_bytes = 0, s_items = 0, s_bytes = 0;
    for (size_t i = 0; i < self->count; i++) {
        const mailbox_item_t *it = &self->items [i].pub;
        if (memcmp (it->recipient, recipient, MAILBOX_KEY_SIZE) == 0)
            r_items++, r_bytes += it->len;
        if (memcmp (it->sender, sender, MAILBOX_KEY_SIZE) == 0)
            s_items++, s_bytes += it->len;
    }
    if (r_items >= self->lim.recipient_items || r_bytes + len > self->lim.recipient_bytes)
        return s_refuse (self, why, "recipient", &self->st.refused_recipient);
    if (s_items >= self->lim.sender_items || s_bytes + len > self->lim.sender_bytes)
        return s_refuse (self, why, "sender", &self->st.refused_sender);
    size_t size = HEAD + len + HASH;
    struct statvfs vfs;
    if (fstatvfs (self->dir_fd, &vfs) != 0) {
        self->st.io_errors++;
        return SC_EIO;
    }
    if ((uint64_t) vfs.f_bavail * vfs.f_frsize < self->lim.disk_floor + size)
        return s_refuse (self, why, "disk_floor", &self->st.refused_disk);

    if (ttl_days == 0 || ttl_days > self->lim.ttl_days)
        ttl_days = self->lim.ttl_days;
    s_item_t item;
    memcpy (item.pub.recipient, recipient, MAILBOX_KEY_SIZE);
    memcpy (item.pub.sender, sender, MAILBOX_KEY_SIZE);
    memcpy (item.pub.id, id, MAILBOX_ID_SIZE);
    item.pub.stored_ms = now;
    item.pub.expires_ms = now + (int64_t) ttl_days * DAY_MS;
    item.pub.len = len;
    s_name (recipient, sender, id, item.name);

    int rc = SC_ENOMEM;
    uint8_t *buf = malloc (size);
    if (!buf)
        goto out;
    memcpy (buf, "SCMB", 4);
    buf [4] = 1;
    memcpy (buf + 5, recipient, MAILBOX_KEY_SIZE);
    memcpy (buf + 37, sender, MAILBOX_KEY_SIZE);
    memcpy (buf + 69, id, MAILBOX_ID_SIZE);
    bytes_put_be (buf + 85, (uint64_t) item.pub.stored_ms, 8);
    bytes_put_be (buf + 93, (uint64_t) item.pub.expires_ms, 8);
    bytes_put_be (buf + 101, len, 4);
    memcpy (buf + HEAD, data, len);
    crypto_generichash (buf + HEAD + len, HASH, buf, HEAD + len, NULL, 0);
    char path [PATH_MAX];
    s_path (self, item.name, path, sizeof path);
    //  0 once file and rename are synced.  On a failure the file may be in
    //  place but not durable: it goes, since it was not acknowledged
    rc = fileio_write_atomic (path, buf, size);
    if (rc != 0) {
        unlink (path);
        self->st.io_errors++;
        goto out;
    }
    rc = s_index_add (self, &item, true);
    if (rc != 0) {
        unlink (path);
        goto out;
    }
    self->st.stored++;
out:
    free (buf);
    return rc;
}

size_t
mailbox_list (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE], int64_t now,
              mailbox_item_t *out, size_t max, size_t *n)
{
    size_t all = 0;
    *n = 0;
    for (size_t i = 0; i < self->count; i++) {
        const mailbox_item_t *it = &self->items [i].pub;
        if (it->expires_ms <= now || memcmp (it->recipient, recipient, MAILBOX_KEY_SIZE) != 0)
            continue;
        if (*n < max)
            out [(*n)++] = *it;
        all++;
    }
    return all;
}

int
mailbox_fetch (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
               const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE],
               int64_t now, uint8_t **data, size_t *len, mailbox_item_t *item)
{
    *data = NULL;
    *len = 0;
    int i = s_find (self, recipient, sender, id);
    if (i < 0 || self->items [i].pub.expires_ms <= now)
        return SC_ENOENT;
    char path [PATH_MAX];
    s_path (self, self->items [i].name, path, sizeof path);
    uint8_t *buf = NULL;
    size_t size = 0;
    mailbox_item_t back;
    int rc = fileio_read_all (path, HEAD + MAILBOX_ITEM_MAX + HASH, &buf, &size);
    if (rc == 0 && (mailbox_item_decode (buf, size, &back) != 0 || back.len != self->items [i].pub.len))
        rc = SC_ECORRUPT;
    if (rc != 0) {
        log_warn ("could not read %s: %s", path, sc_strerror (rc));
        self->st.io_errors++;
        free (buf);
        return SC_EIO;
    }
    memmove (buf, buf + HEAD, back.len);
    *data = buf;
    *len = back.len;
    if (item)
        *item = self->items [i].pub;
    self->st.fetched++;
    return 0;
}

int
mailbox_ack (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
             const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE])
{
    int i = s_find (self, recipient, sender, id);
    if (i < 0)
        return SC_ENOENT;
    s_index_remove (self, (size_t) i, true);
    self->st.acked++;
    return 0;
}

size_t
mailbox_sweep (mailbox_t *self, int64_t now)
{
    size_t gone = 0;
    for (size_t i = self->count; i-- > 0; )
        if (self->items [i].pub.expires_ms <= now) {
            s_index_remove (self, i, true);
            self->st.expired++;
            gone++;
        }
    return gone;
}

mailbox_stats_t
mailbox_stats (const mailbox_t *self)
{
    return self->st;
}

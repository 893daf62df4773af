/*  files_state: the transfer records of the files module.  Events and
    progress, lookup, pausing and failing a transfer (and what that
    releases), saved state under HOME/transfers (a small JSON file each, a
    receiver's bitmap as bits beside it, both checked when loaded), and
    the XXH3-128 checksum read back from a file in slices (the sender
    after a restart, the receiver for what came out of order).  */
#define LOG_MODULE "files"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "../crypto/base/fileio.h"
#include "../crypto/identity.h"
#include "../crypto/base/log.h"
#include "../crypto/base/utf8.h"
#include "files_int.h"
#include "ui.h"

const char *files_state_names [] = {
    "offered", "running", "running", "paused", "done", "failed"
};

const char *
fstate_peer_name (files_t *self, const uint8_t peer [32])
{
    bool verified;
    const char *name = self->host.peer_name (self->host.arg, peer, &verified);
    return name? name: "?";
}

void
fstate_emit (files_t *self, json_t *ev)
{
    self->host.event (self->host.arg, ev);
}

void
fstate_error (files_t *self, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fstate_emit (self, ui_report_json ("error", code, fmt, ap));
    va_end (ap);
}

void
fstate_info (files_t *self, const char *message)
{
    fstate_emit (self, json_pack ("{s:s, s:s}", "event", "info", "message", message));
}

uint64_t
fstate_bytes (const files_xfer_t *x)
{
    if (x->state == S_DONE)
        return x->size;
    if (!x->map)
        return 0;
    uint64_t bytes = x->have * x->chunk_size;
    //  The last chunk may be short
    if (x->count && xfer_map_get (x->map, x->count - 1))
        bytes -= x->chunk_size - xfer_chunk_len (x->size, x->chunk_size, x->count - 1);
    return bytes > x->size? x->size: bytes;
}

json_t *
fstate_xfer_json (files_t *self, const files_xfer_t *x)
{
    char peer [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (x->peer, peer);
    json_t *ev = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I}",
                            "event", "transfer", "transfer_id", x->idhex, "peer", peer,
                            "peer_name", fstate_peer_name (self, x->peer), "name", x->name,
                            "size", (json_int_t) x->size, "bytes", (json_int_t) fstate_bytes (x),
                            "direction", x->out? "out": "in", "chunks_sent", (json_int_t) x->sent);
    json_object_set_new (ev, "state", json_string (files_state_names [x->state]));
    json_object_set_new (ev, "rate", json_integer ((json_int_t) x->rate));
    if (x->state == S_DONE && !x->out)
        json_object_set_new (ev, "path", json_string (x->path));
    if (x->error [0])
        json_object_set_new (ev, "error", json_string (x->error));
    //  Seconds without progress on a live link, once it is worth saying
    int64_t idle = self->now - x->last_progress;
    if (x->state == S_RUNNING && x->last_progress && idle >= STALLED_MS)
        json_object_set_new (ev, "stalled", json_integer (idle / 1000));
    return ev;
}

void
fstate_report (files_t *self, files_xfer_t *x, int64_t now)
{
    uint64_t bytes = fstate_bytes (x);
    if (x->last_event && now > x->last_event && bytes >= x->last_bytes)
        x->rate = (bytes - x->last_bytes) * 1000 / (uint64_t) (now - x->last_event);
    fstate_emit (self, fstate_xfer_json (self, x));
    x->last_event = now;
    x->last_bytes = bytes;
}

//  Sends a control frame that must not be lost: when the link is full it
//  waits in the control queue (ctlq.h) and goes when the link takes it.
void
fstate_send_ctl (files_t *self, const uint8_t peer [32], wire_type_t type, const uint8_t id [16],
            int ok, const char *text)
{
    wire_frame_t f = { .type = type };
    size_t text_len = text? strlen (text): 0;
    if (type == WIRE_REFUSE) {
        memcpy (f.refuse.id, id, 16);
        f.refuse.reason = text;
        f.refuse.reason_len = text_len;
    }
    else if (type == WIRE_DONE) {
        memcpy (f.done.id, id, 16);
        f.done.ok = ok;
    }
    else if (type == WIRE_CANCEL)
        memcpy (f.cancel.id, id, 16);
    int rc = ctlq_send (self->ctl, peer, &f, self->now);
    if (rc != 0)
        log_warn ("a control frame to %s is lost: %s", fstate_peer_name (self, peer), sc_strerror (rc));
}

//  Pauses a transfer for why (a sentence kept for the events).
void
fstate_pause (files_t *self, files_xfer_t *x, files_pause_t reason, const char *why)
{
    x->state = S_PAUSED;
    x->paused = reason;
    //  A paused receiver holds no descriptor: the next chunk opens the file again
    if (!x->out && x->fd >= 0) {
        close (x->fd);
        x->fd = -1;
    }
    if (why != x->error)
        snprintf (x->error, sizeof x->error, "%s", why);
}

//  Notes that something was heard on a transfer (a chunk, a grant): how
//  often that happens tells a slow link from a broken one.
void
fstate_heard (files_t *self, files_xfer_t *x)
{
    if (x->last_heard) {
        int64_t gap = self->now - x->last_heard;
        x->ivl = x->ivl? (x->ivl * 7 + gap) / 8: gap;
    }
    x->last_heard = self->now;
}

//  How long a transfer may be quiet before bitmaps are compared again:
//  a few of its usual gaps, within RESYNC_MS and RESYNC_MAX_MS
int64_t
fstate_resync_ms (const files_xfer_t *x)
{
    int64_t ms = 4 * x->ivl;
    return ms < RESYNC_MS? RESYNC_MS: ms > RESYNC_MAX_MS? RESYNC_MAX_MS: ms;
}

files_xfer_t *
fstate_find (files_t *self, const uint8_t id [16])
{
    for (size_t i = 0; i < self->nxfers; i++)
        if (memcmp (self->xfers [i]->id, id, 16) == 0)
            return self->xfers [i];
    return NULL;
}

//  By hex prefix (4+ digits), for commands; reports errors.
files_xfer_t *
fstate_find_prefix (files_t *self, const char *prefix)
{
    size_t n = strlen (prefix), matches = 0;
    files_xfer_t *found = NULL;
    for (size_t i = 0; n >= 4 && i < self->nxfers; i++)
        if (strncasecmp (self->xfers [i]->idhex, prefix, n) == 0) {
            found = self->xfers [i];
            matches++;
        }
    if (matches == 1)
        return found;
    fstate_error (self, matches? "ambiguous": "no_transfer", matches
             ? "'%s' matches several transfers: give more of the id (/transfers lists them)"
             : "no transfer with id '%s' (/transfers lists them)", prefix);
    return NULL;
}

static bool
s_ended (const files_xfer_t *x)
{
    return x->state == S_DONE || x->state == S_FAILED;
}

//  Forgets the oldest ended transfers past ENDED_MAX (their files are
//  released already): offers refused or expired by the thousand cost
//  nothing that lasts.
static void
s_prune (files_t *self)
{
    size_t ended = 0;
    for (size_t i = 0; i < self->nxfers; i++)
        ended += s_ended (self->xfers [i]);
    for (size_t i = 0; i < self->nxfers && ended >= ENDED_MAX; ) {
        files_xfer_t *x = self->xfers [i];
        if (!s_ended (x)) {
            i++;
            continue;
        }
        free (x->map);
        free (x);
        memmove (&self->xfers [i], &self->xfers [i + 1], (self->nxfers - i - 1) * sizeof *self->xfers);
        self->nxfers--;
        ended--;
    }
}

//  Wall clock ms (offers expire across restarts).
int64_t
fstate_wall (files_t *self)
{
    return self->host.wall_ms (self->host.arg);
}

//  Incoming transfers from peer (NULL: from everyone) waiting for /accept,
//  and accepted and not ended.
void
fstate_count_in (files_t *self, const uint8_t *peer, size_t *offered, size_t *accepted)
{
    *offered = *accepted = 0;
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (x->out || s_ended (x) || (peer && memcmp (x->peer, peer, 32) != 0))
            continue;
        if (x->state == S_OFFERED)
            ++*offered;
        else
            ++*accepted;
    }
}

files_xfer_t *
fstate_new_xfer (files_t *self, const uint8_t id [16], bool out, const uint8_t peer [32])
{
    s_prune (self);
    files_xfer_t **more = realloc (self->xfers, (self->nxfers + 1) * sizeof *more);
    files_xfer_t *x = calloc (1, sizeof *x);
    if (!more || !x) {
        free (x);
        if (more)
            self->xfers = more;
        return NULL;
    }
    self->xfers = more;
    memcpy (x->id, id, 16);
    sodium_bin2hex (x->idhex, sizeof x->idhex, id, 16);
    x->out = out;
    memcpy (x->peer, peer, 32);
    x->fd = -1;
    self->xfers [self->nxfers++] = x;
    return x;
}

static void
s_state_path (files_t *self, const files_xfer_t *x, char *out, size_t size)
{
    snprintf (out, size, "%s/%s-%s.json", self->state_dir, x->out? "out": "in", x->idhex);
}

//  A receiver's bitmap, as bits in a file of its own (trailing zero bytes left out).
static void
s_map_path (files_t *self, const files_xfer_t *x, char *out, size_t size)
{
    snprintf (out, size, "%s/in-%s.map", self->state_dir, x->idhex);
}

//  Closes and forgets a finished transfer's resources (the record stays
//  for /transfers).
void
fstate_release (files_t *self, files_xfer_t *x, bool remove_part)
{
    if (x->fd >= 0)
        close (x->fd);
    x->fd = -1;
    XXH3_freeState (x->xs);
    x->xs = NULL;
    if (remove_part && !x->out && x->part [0])
        unlinkat (self->dir_fd, x->part, 0);
    char path [PATH_MAX + 64];
    s_state_path (self, x, path, sizeof path);
    unlink (path);
    if (!x->out) {
        s_map_path (self, x, path, sizeof path);
        unlink (path);
    }
    //  The bitmap stays (progress is still reported); it goes at destroy
}

void
fstate_fail (files_t *self, files_xfer_t *x, const char *why, bool tell_peer)
{
    if (x->state == S_DONE || x->state == S_FAILED)
        return;
    if (tell_peer)
        fstate_send_ctl (self, x->peer, WIRE_CANCEL, x->id, 0, NULL);
    x->state = S_FAILED;
    snprintf (x->error, sizeof x->error, "%s", why);
    fstate_release (self, x, true);
    fstate_report (self, x, self->now);
}

//  Saves a receiver's bitmap: only as far as its last chunk held, so a
//  transfer that has just begun saves next to nothing.  None: no file.
//  The data is on the disk first, so the bitmap never claims more than
//  the file holds, even after a power cut.
int
fstate_save_map (files_t *self, files_xfer_t *x)
{
    if (!x->out && x->fd >= 0 && fdatasync (x->fd) != 0)
        return SC_EIO;
    x->map_saved = self->now;
    char path [PATH_MAX + 64];
    s_map_path (self, x, path, sizeof path);
    size_t n = x->map? xfer_map_size (x->count): 0;
    while (n > 0 && x->map [n - 1] == 0)
        n--;
    int rc = 0;
    if (n == 0)
        unlink (path);
    else
        rc = fileio_write_atomic (path, x->map, n);
    if (rc == 0)
        x->dirty = false;
    return rc;
}

void
fstate_save (files_t *self, files_xfer_t *x)
{
    x->save_due = false;
    if (x->state == S_DONE || x->state == S_FAILED)
        return;
    char peer [65];
    sodium_bin2hex (peer, sizeof peer, x->peer, 32);
    json_t *j = json_pack ("{s:s, s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:I}",
                           "id", x->idhex, "out", x->out, "peer", peer, "name", x->name,
                           "path", x->out? x->path: "", "part", x->part, "size", (json_int_t) x->size,
                           "chunk_size", (json_int_t) x->chunk_size, "count", (json_int_t) x->count,
                           "pull", x->pull, "offered_at", (json_int_t) x->offered_at);
    //  What the source was when offered: a changed file is not sent on
    if (x->out) {
        json_object_set_new (j, "mtime_ns", json_integer ((json_int_t) x->src_mtime_ns));
        json_object_set_new (j, "ino", json_integer ((json_int_t) x->src_ino));
        json_object_set_new (j, "dev", json_integer ((json_int_t) x->src_dev));
    }
    //  An offer still waiting for /accept must not come back accepted
    json_object_set_new (j, "accepted", json_boolean (x->out || x->state != S_OFFERED));
    char *text = json_dumps (j, JSON_COMPACT);
    json_decref (j);
    if (!text)
        return;
    char path [PATH_MAX + 64];
    s_state_path (self, x, path, sizeof path);
    int rc = fileio_write_atomic (path, text, strlen (text));
    if (rc == 0 && !x->out)
        rc = fstate_save_map (self, x);
    if (rc == 0)
        x->dirty = false;
    free (text);
}

static int
s_hexfield (json_t *j, const char *field, uint8_t *out, size_t size)
{
    const char *hex = json_string_value (json_object_get (j, field));
    return hex && strlen (hex) == size * 2
        && sodium_hex2bin (out, size, hex, size * 2, NULL, NULL, NULL) == 0? 0: SC_ECORRUPT;
}

//  Reads a receiver's saved bitmap back, and believes it only as far as
//  the temporary file goes: a chunk past its end (or no file at all, or
//  not a regular one) is fetched again.
static void
s_load_map (files_t *self, files_xfer_t *x, json_t *j)
{
    size_t size = xfer_map_size (x->count);
    char path [PATH_MAX + 64];
    s_map_path (self, x, path, sizeof path);
    uint8_t *bits = NULL;
    size_t len = 0;
    if (fileio_read_all (path, size, &bits, &len) == 0)
        memcpy (x->map, bits, len);
    else if (json_is_string (json_object_get (j, "have")))
        s_hexfield (j, "have", x->map, size);   //  saved by an earlier version
    free (bits);
    if (x->count % 8)
        x->map [size - 1] &= (uint8_t) ((1u << (x->count % 8)) - 1);
    struct stat st;
    bool part = fstatat (self->dir_fd, x->part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode);
    x->have = 0;
    for (uint64_t i = 0; i < x->count; i++) {
        if (!xfer_map_get (x->map, i))
            continue;
        uint64_t end = i * x->chunk_size + xfer_chunk_len (x->size, x->chunk_size, i);
        if (part && end <= (uint64_t) st.st_size)
            x->have++;
        else
            x->map [i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
}

static void
s_load_one (files_t *self, const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > STATE_FILE_MAX) {
        log_warn ("ignoring %s: not a transfer's saved state (too large)", path);
        return;
    }
    json_t *j = json_load_file (path, 0, NULL);
    uint8_t id [16], peer [32];
    if (!j || s_hexfield (j, "id", id, 16) || s_hexfield (j, "peer", peer, 32)) {
        log_warn ("ignoring damaged transfer state %s", path);
        json_decref (j);
        return;
    }
    bool out = json_is_true (json_object_get (j, "out"));
    const char *name = json_string_value (json_object_get (j, "name"));
    const char *src = json_string_value (json_object_get (j, "path"));
    const char *part = json_string_value (json_object_get (j, "part"));
    //  Names come from peers: a name must be a safe base name, and the
    //  temporary file only ever our own, in the download folder
    char safe [XFER_NAME_MAX + 1], ours [XFER_NAME_MAX + 64], idhex [33];
    sodium_bin2hex (idhex, sizeof idhex, id, 16);
    snprintf (ours, sizeof ours, ".securechat-%s.part", idhex);
    if (name)
        xfer_safe_name (name, strlen (name), safe);
    const char *wrong = !name || !src || !part? "a field is missing"
                      : strcmp (safe, name) != 0? "the name is not a safe base name"
                      : strcmp (part, out? "": ours) != 0? "the temporary file is not ours": NULL;
    if (wrong || fstate_find (self, id)) {
        log_warn ("ignoring transfer state %s: %s", path, wrong? wrong: "the transfer is there twice");
        json_decref (j);
        return;
    }
    files_xfer_t *x = fstate_new_xfer (self, id, out, peer);
    if (!x) {
        json_decref (j);
        return;
    }
    x->src_mtime_ns = (int64_t) json_integer_value (json_object_get (j, "mtime_ns"));
    x->src_ino = (uint64_t) json_integer_value (json_object_get (j, "ino"));
    x->src_dev = (uint64_t) json_integer_value (json_object_get (j, "dev"));
    snprintf (x->name, sizeof x->name, "%s", name);
    snprintf (x->path, sizeof x->path, "%s", out? src: "");
    snprintf (x->part, sizeof x->part, "%s", part);
    x->size = (uint64_t) json_integer_value (json_object_get (j, "size"));
    x->chunk_size = (uint64_t) json_integer_value (json_object_get (j, "chunk_size"));
    x->count = (uint64_t) json_integer_value (json_object_get (j, "count"));
    x->pull = json_is_true (json_object_get (j, "pull"));
    x->offered_at = json_is_integer (json_object_get (j, "offered_at"))
                  ? (int64_t) json_integer_value (json_object_get (j, "offered_at"))
                  : (int64_t) st.st_mtime * 1000;
    if (x->offered_at > fstate_wall (self))
        x->offered_at = fstate_wall (self);      //  a clock set back: the day counts from now
    wire_offer_t check = { .size = x->size, .chunk_size = x->chunk_size,
                           .chunk_count = x->count, .name_len = 1 };
    //  Until the peer is back; an offer nobody accepted stays an offer,
    //  and holds no bitmap
    bool accepted = !json_is_false (json_object_get (j, "accepted"));
    x->state = accepted? S_PAUSED: S_OFFERED;
    if (accepted)
        x->map = calloc (1, xfer_map_size (x->count) + 1);
    if (xfer_check_offer (&check, NULL, 0) != 0 || (accepted && !x->map)) {
        log_warn ("ignoring transfer state %s: impossible numbers", path);
        self->nxfers--;
        free (x->map);
        free (x);
        json_decref (j);
        return;
    }
    if (!out && accepted)
        s_load_map (self, x, j);
    json_decref (j);
}

static int
s_newest_first (const void *a, const void *b)
{
    const files_xfer_t *x = *(files_xfer_t * const *) a, *y = *(files_xfer_t * const *) b;
    return x->offered_at < y->offered_at? 1: x->offered_at > y->offered_at? -1: 0;
}

//  Offers waiting for /accept past the caps (state saved before there
//  were caps): the oldest go.  Nothing was accepted, so nothing is lost.
static void
s_load_bound (files_t *self)
{
    files_xfer_t **offers = calloc (self->nxfers + 1, sizeof *offers);
    if (!offers)
        return;
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < self->nxfers; i++)
        if (!self->xfers [i]->out && self->xfers [i]->state == S_OFFERED)
            offers [n++] = self->xfers [i];
    qsort (offers, n, sizeof *offers, s_newest_first);
    //  The newest are kept, as when they came
    for (size_t i = 0; i < n; i++) {
        size_t mine = 0;
        for (size_t k = 0; k < kept; k++)
            mine += memcmp (offers [k]->peer, offers [i]->peer, 32) == 0;
        if (kept < OFFERS_MAX && mine < OFFERS_PER_PEER) {
            offers [kept++] = offers [i];
            continue;
        }
        files_xfer_t *x = offers [i];
        log_warn ("forgetting the offer of %s (transfer %.8s): too many offers were waiting",
                  x->name, x->idhex);
        x->state = S_FAILED;
        snprintf (x->error, sizeof x->error, "too many offers were waiting");
        fstate_release (self, x, false);
    }
    free (offers);
}

void
fstate_load (files_t *self)
{
    DIR *d = opendir (self->state_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t n = strlen (e->d_name);
        if (n < 6 || strcmp (e->d_name + n - 5, ".json") != 0)
            continue;
        char path [PATH_MAX + 256];
        snprintf (path, sizeof path, "%s/%s", self->state_dir, e->d_name);
        s_load_one (self, path);
    }
    closedir (d);
    s_load_bound (self);
}

//  Reads back and checksums one slice of what was not checksummed as it
//  went (after a restart or a resume).  Returns true if more remains.
bool
fstate_sum_slice (files_t *self, files_xfer_t *x)
{
    if (!x->xs) {
        if (!(x->xs = XXH3_createState ()))
            return false;
        XXH3_128bits_reset (x->xs);
        x->hashed = 0;
    }
    uint64_t end = x->hashed + HASH_SLICE < x->size? x->hashed + HASH_SLICE: x->size;
    while (x->hashed < end) {
        size_t want = end - x->hashed < XFER_CHUNK_MAX? (size_t) (end - x->hashed): XFER_CHUNK_MAX;
        ssize_t n = pread (x->fd, self->buf, want, (off_t) x->hashed);
        if (n <= 0) {
            if (x->out)
                fstate_fail (self, x, n < 0? "the file could not be read": "the file shrank", true);
            else
                fstate_fail (self, x, "the received data could not be read back", true);
            return false;
        }
        XXH3_128bits_update (x->xs, self->buf, (size_t) n);
        x->hashed += (uint64_t) n;
    }
    return x->hashed < x->size;
}

//  The checksum of the whole file, canonical (big-endian) bytes.
void
fstate_digest (const files_xfer_t *x, uint8_t sum [WIRE_SUM_SIZE])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash (&c, XXH3_128bits_digest (x->xs));
    memcpy (sum, c.digest, WIRE_SUM_SIZE);
}

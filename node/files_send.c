/*  files_send: sending a file, for /send and for a peer's GET alike (one
    path, s_start_out).  The offer goes at once: nothing reads the file
    first.  Each chunk is read straight into the buffer that becomes its
    frame (ZeroMQ frees it once sent) and checksummed (XXH3-128) when it
    is the next in order; once all the receiver lacks is sent, DONE
    carries the sum (after a restart the sum is rebuilt by reading the
    file back).  Grants are cumulative and held to our own window; a
    resumed send checks that the file is still the one offered.  */
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

//  Starts an outgoing transfer of path under id and offers it at once:
//  nothing reads the file first, its checksum is taken as chunks go.
static files_xfer_t *
s_start_out (files_t *self, const uint8_t peer [32], const uint8_t id [16], const char *path,
             const char *name)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        fstate_error (self, "not_a_file", "cannot send '%s': %s", path,
                 fd < 0? strerror (errno): "not a regular file");
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    if ((uint64_t) st.st_size > XFER_SIZE_MAX) {
        close (fd);
        fstate_error (self, "too_big", "cannot send '%s': larger than 1 TiB", path);
        return NULL;
    }
    files_xfer_t *x = fstate_new_xfer (self, id, true, peer);
    if (!x) {
        close (fd);
        return NULL;
    }
    x->fd = fd;
    snprintf (x->path, sizeof x->path, "%s", path);
    xfer_safe_name (name, strlen (name), x->name);
    x->size = (uint64_t) st.st_size;
    //  Under --max-rate a chunk takes at most about a quarter of a second,
    //  so progress (and the stall watch) sees several a second
    x->chunk_size = XFER_CHUNK;
    //  (never so small that the chunks would be more than a receiver takes)
    while (self->opts.max_rate && x->chunk_size > XFER_CHUNK_MIN
    &&     x->chunk_size > self->opts.max_rate / 4
    &&     x->size / (x->chunk_size / 2) < XFER_COUNT_MAX)
        x->chunk_size /= 2;
    x->count = x->size / x->chunk_size + (x->size % x->chunk_size != 0);
    x->src_mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    x->src_ino = (uint64_t) st.st_ino;
    x->src_dev = (uint64_t) st.st_dev;
    x->map = calloc (1, xfer_map_size (x->count) + 1);
    x->xs = XXH3_createState ();
    if (!x->map || !x->xs) {
        fstate_fail (self, x, "out of memory", false);
        return NULL;
    }
    XXH3_128bits_reset (x->xs);
    x->hashed = 0;
    //  Saved as not yet accepted (offered again after a restart), at the
    //  next tick: the offer and the first chunks do not wait for an fsync
    x->state = S_PAUSED;
    x->save_due = true;
    fsend_offer (self, x, true);
    return x;
}

//  Opens the source again (a resume) and checks that it is the file that
//  was offered: same size, modification time and inode.  Returns 0, or
//  fails the transfer with a sentence and returns SC_EIO.
int
fsend_check_source (files_t *self, files_xfer_t *x)
{
    if (x->fd < 0)
        x->fd = open (x->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (x->fd < 0 || fstat (x->fd, &st) != 0) {
        fstate_fail (self, x, "the file to send is gone", true);
        return SC_EIO;
    }
    int64_t mtime = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t) st.st_size != x->size || (uint64_t) st.st_ino != x->src_ino
    ||  (uint64_t) st.st_dev != x->src_dev || mtime != x->src_mtime_ns) {
        char why [PATH_MAX + 200];
        snprintf (why, sizeof why, "%.300s changed since it was offered (%s): the transfer is "
                  "stopped; send it again to send it as it is now", x->path,
                  (uint64_t) st.st_size != x->size? "its size"
                  : mtime != x->src_mtime_ns? "its modification time": "it is another file");
        fstate_fail (self, x, why, true);
        return SC_EIO;
    }
    return 0;
}

void
files_send (files_t *self, const uint8_t peer [32], const char *path)
{
    uint8_t id [16];
    randombytes_buf (id, sizeof id);
    const char *base = strrchr (path, '/');
    s_start_out (self, peer, id, path, base? base + 1: path);
}

void
fsend_offer (files_t *self, files_xfer_t *x, bool first)
{
    wire_offer_t o = { .name = x->name, .name_len = strlen (x->name), .size = x->size,
                       .chunk_size = x->chunk_size, .chunk_count = x->count };
    memcpy (o.id, x->id, 16);
    uint8_t *body = NULL, *env = NULL;
    size_t body_len, env_len;
    int rc = wire_offer_encode (&o, &body, &body_len);
    if (rc == 0)
        rc = self->host.seal (self->host.arg, x->peer, body, body_len, &env, &env_len);
    if (rc == 0) {
        wire_frame_t f = { .type = WIRE_OFFER, .offer = { .envelope = env, .envelope_len = env_len } };
        rc = self->host.send (self->host.arg, x->peer, &f);
    }
    if (body)
        sodium_memzero (body, body_len);
    free (body);
    free (env);
    files_xstate_t before = x->state;
    //  A running transfer runs on: the receiver's ACCEPT brings its bitmap.
    //  Not taken by the link: tried again every REGRANT_MS (the peer's
    //  leaving pauses it, its return offers again)
    bool gone = rc != 0 && self->host.online && !self->host.online (self->host.arg, x->peer);
    if (gone && x->state != S_RUNNING)
        fstate_pause (self, x, P_PEER, "the peer is not online: offered when it is back");
    else if (x->state != S_RUNNING) {
        x->state = S_OFFERED;
        x->paused = P_NONE;
        x->error [0] = 0;
    }
    x->offer_due = rc != 0 && !gone;
    x->last_resync = self->now;
    if (first || x->state != before)
        fstate_report (self, x, self->now);
}

//  Sends a frame that is already encoded (taken in every case).
static int
s_send_owned (files_t *self, const uint8_t peer [32], uint8_t **buf, size_t len)
{
    if (self->host.send_owned)
        return self->host.send_owned (self->host.arg, peer, buf, len);
    wire_frame_t f;
    int rc = wire_decode (*buf, len, &f);
    if (rc == 0)
        rc = self->host.send (self->host.arg, peer, &f);
    free (*buf);
    *buf = NULL;
    return rc;
}

//  Everything the receiver lacked is sent: the last frame, DONE with the
//  checksum, once the source is checked unchanged (it was read as it was
//  offered, or the receiver would save a mix).  Returns true if more
//  work remains (reading back).
static bool
s_send_fin (files_t *self, files_xfer_t *x)
{
    if (x->hashed < x->size || !x->xs) {
        if (fstate_sum_slice (self, x) || x->state == S_FAILED)
            return x->state != S_FAILED;
    }
    struct stat st;
    int64_t mtime = 0;
    if (fstat (x->fd, &st) == 0)
        mtime = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime != x->src_mtime_ns || (uint64_t) st.st_size != x->size) {
        fstate_fail (self, x, "the file changed while it was sent: the transfer is stopped; "
                "send it again", true);
        return false;
    }
    uint8_t sum [WIRE_SUM_SIZE];
    fstate_digest (x, sum);
    wire_frame_t f = { .type = WIRE_DONE, .done = { .ok = 1, .sum_len = WIRE_SUM_SIZE } };
    memcpy (f.done.sum, sum, WIRE_SUM_SIZE);
    memcpy (f.done.id, x->id, 16);
    x->fin_sent = self->host.send (self->host.arg, x->peer, &f) == 0;
    return false;
}

//  Sends one chunk, read straight into the buffer that becomes the frame
//  (ZeroMQ frees it once sent), checksummed on the way when it is the
//  next in order.  Returns 0, SC_EAGAIN (link full) or another error.
static int
s_send_chunk (files_t *self, files_xfer_t *x, uint64_t index)
{
    uint64_t len = xfer_chunk_len (x->size, x->chunk_size, index);
    uint8_t head [WIRE_CHUNK_HEAD_MAX];
    size_t hlen;
    int rc = wire_chunk_head (x->id, index, (size_t) len, head, &hlen);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc (hlen + (size_t) len);
    if (!buf)
        return SC_ENOMEM;
    memcpy (buf, head, hlen);
    ssize_t n = pread (x->fd, buf + hlen, (size_t) len, (off_t) (index * x->chunk_size));
    if (n != (ssize_t) len) {
        free (buf);
        fstate_fail (self, x, "the file could not be read (changed or removed?)", true);
        return SC_EIO;
    }
    //  The checksum moves on only if the link takes the chunk
    bool in_order = x->xs && index * x->chunk_size == x->hashed;
    if (in_order) {
        XXH3_copyState (self->xs_try, x->xs);
        XXH3_128bits_update (self->xs_try, buf + hlen, (size_t) len);
    }
    rc = s_send_owned (self, x->peer, &buf, hlen + (size_t) len);
    if (rc == 0) {
        if (in_order) {
            XXH3_state_t *t = x->xs;
            x->xs = self->xs_try;
            self->xs_try = t;
            x->hashed += len;
        }
        xfer_map_set (x->map, index);
        x->have++;
        x->sent++;
        x->last_progress = self->now;
        self->rate_bytes += len;
    }
    return rc;
}

//  Takes a grant from the receiver: the highest one counts, and none
//  reaches past our own window, whatever a peer claims.
static void
s_take_grant (files_t *self, files_xfer_t *x, uint64_t grant)
{
    uint64_t cap = x->have + XFER_WINDOW * 4;
    if (grant > cap) {
        self->stats.credit_clamped++;
        grant = cap;
    }
    if (grant > x->limit) {
        x->limit = grant;
        x->last_progress = self->now;
        fstate_heard (self, x);
    }
    else if (grant < x->limit)
        self->stats.credit_stale++;
}

//  The next chunk the receiver lacks, from x->next on; count if none.
uint64_t
fsend_next_missing (files_xfer_t *x)
{
    while (x->next < x->count && xfer_map_get (x->map, x->next))
        x->next++;
    return x->next;
}

//  GET: a peer asks for a share by name (never a path).  It goes as a
//  /send does, by the same path (s_start_out).
void
fsend_on_get (files_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    char name [XFER_NAME_MAX + 1];
    char *raw = utf8_sanitize (f->get.name, f->get.name_len);
    snprintf (name, sizeof name, "%s", raw? raw: "");
    free (raw);
    //  Bounded, per peer and in all: each costs a descriptor
    size_t mine = 0, all = 0;
    for (size_t i = 0; i < self->nxfers; i++)
        if (self->xfers [i]->out && self->xfers [i]->state != S_DONE
        &&  self->xfers [i]->state != S_FAILED) {
            all++;
            mine += memcmp (self->xfers [i]->peer, peer, 32) == 0;
        }
    if (mine >= OUT_PER_PEER || all >= OUT_MAX) {
        fstate_send_ctl (self, peer, WIRE_REFUSE, f->get.id, 0, "too many transfers at once; try again later");
        return;
    }
    char path [PATH_MAX];
    bool video;
    if (files_find_share (self, name, path, sizeof path, &video) == 0 && !fstate_find (self, f->get.id)) {
        s_start_out (self, peer, f->get.id, path, name);
        return;
    }
    char why [300];
    snprintf (why, sizeof why, "no file called '%s' is shared", name);
    fstate_send_ctl (self, peer, WIRE_REFUSE, f->get.id, 0, why);
}

//  A frame about one of our outgoing transfers: ACCEPT, CREDIT, the
//  receiver's DONE.
void
fsend_on_frame (files_t *self, files_xfer_t *x, const wire_frame_t *f)
{
    switch (f->type) {
        case WIRE_ACCEPT:
            if (x->state == S_FAILED) {
                fstate_send_ctl (self, x->peer, WIRE_CANCEL, x->id, 0, NULL);     //  it missed ours
                return;
            }
            if ((x->state != S_OFFERED && x->state != S_PAUSED && x->state != S_RUNNING)
            ||  f->accept.have_len != xfer_map_size (x->count) || x->fd < 0)
                return;
            //  The receiver's bitmap is the truth: send what it lacks
            memcpy (x->map, f->accept.have, f->accept.have_len);
            x->have = 0;
            for (uint64_t i = 0; i < x->count; i++)
                x->have += xfer_map_get (x->map, i);
            x->next = 0;
            x->limit = 0;
            x->fin_sent = false;    //  what it lacks goes, then DONE again
            s_take_grant (self, x, f->accept.credit);
            x->state = S_RUNNING;
            x->paused = P_NONE;
            x->error [0] = 0;
            x->last_progress = x->last_resync = x->last_heard = self->now;
            x->offers = 0;
            fstate_report (self, x, self->now);
            break;
        case WIRE_CREDIT:
            if (x->state == S_RUNNING)
                s_take_grant (self, x, f->credit.credit);
            break;
        case WIRE_DONE:
            if (x->state != S_DONE && x->state != S_FAILED) {
                if (f->done.ok) {
                    x->state = S_DONE;
                    x->have = x->count;
                    fstate_release (self, x, false);
                    fstate_report (self, x, self->now);
                }
                else
                    fstate_fail (self, x, "the receiver found the checksum wrong", false);
            }
            break;
        default:
            break;
    }
}

//  /accept of a paused send: offers again (the receiver answers with its
//  bitmap), if the file is still the one offered.
void
fsend_resume (files_t *self, files_xfer_t *x)
{
    if (fsend_check_source (self, x) != 0)
        return;
    fsend_offer (self, x, false);
    if (x->state == S_PAUSED)
        fstate_error (self, "offline", "%s is not reachable now: %.8s resumes when it is back",
                 fstate_peer_name (self, x->peer), x->idhex);
}

//  Sends what the grant allows of one transfer, at most *budget chunks
//  (and while the rate bucket holds less than allowed bytes, 0: no
//  limit), then its DONE.  Returns true if more can be done at once.
bool
fsend_work (files_t *self, files_xfer_t *x, int *budget, uint64_t allowed)
{
    //  A send the link refused is tried again at the next wake-up, not in
    //  a busy loop
    while (*budget > 0 && x->have < x->limit && x->state == S_RUNNING
    &&  (!allowed || self->rate_bytes < allowed)) {
        uint64_t index = fsend_next_missing (x);
        if (index >= x->count)
            break;      //  all sent: our DONE (below), then theirs
        if (s_send_chunk (self, x, index) != 0)
            break;
        --*budget;
        if (allowed)
            break;      //  one chunk each while the rate allows
    }
    if (x->state == S_RUNNING && !x->fin_sent && fsend_next_missing (x) >= x->count)
        return s_send_fin (self, x);
    return false;
}

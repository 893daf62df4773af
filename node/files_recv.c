/*  files_recv: receiving a file.  Offers are checked and bounded (per
    peer and in all), taken by policy or /accept; ACCEPT carries the
    bitmap of what is held and the grant, which moves on as chunks are
    written.  A chunk is written with pwrite straight from the received
    frame and counts as held only then; in-order data is checksummed as
    it comes, the rest read back once at the end.  The sender's DONE
    brings its sum: checked, then the file is renamed without
    overwriting.  Chunks out of range, of the wrong size or after DONE
    fail the transfer.  */
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

//  The grant: what we hold plus a window, never past the end.
static uint64_t
s_grant_value (const files_xfer_t *x)
{
    uint64_t want = x->have + XFER_WINDOW;
    return want < x->count? want: x->count;
}

//  Sends the current grant (cumulative, so it may be repeated at will);
//  when the link does not take it, work() tries again.
void
frecv_grant (files_t *self, files_xfer_t *x)
{
    uint64_t want = s_grant_value (x);
    if (want > x->granted)
        x->granted = want;
    wire_frame_t f = { .type = WIRE_CREDIT, .credit = { .credit = x->granted } };
    memcpy (f.credit.id, x->id, 16);
    x->grant_due = self->host.send (self->host.arg, x->peer, &f) != 0;
    if (!x->grant_due)
        x->last_grant = self->now;
}

//  Sends ACCEPT: our bitmap (what we hold) and the grant.  The sender
//  takes the bitmap as the truth and sends what it lacks, so ACCEPT also
//  serves to compare notes when a transfer made no progress.
int
frecv_accept_frame (files_t *self, files_xfer_t *x)
{
    x->granted = s_grant_value (x);
    wire_frame_t f = { .type = WIRE_ACCEPT, .accept = { .have = x->map,
                       .have_len = xfer_map_size (x->count), .credit = x->granted } };
    memcpy (f.accept.id, x->id, 16);
    x->last_resync = x->last_grant = self->now;
    //  Not the first of this run: chunks on their way may cross it, and
    //  the sender sends again what it names (see frecv_on_chunk)
    if (x->accepts++ > 0)
        x->asked_again = self->now;
    int rc = self->host.send (self->host.arg, x->peer, &f);
    x->accept_due = rc != 0;    //  work() tries again
    return rc;
}

//  Takes or resumes an incoming transfer: running from now on (or, when
//  everything is there already, checking it).  The bitmap is made here:
//  an offer waiting for an answer holds none.
static void
s_send_accept (files_t *self, files_xfer_t *x)
{
    if (!x->map && !(x->map = calloc (1, xfer_map_size (x->count) + 1))) {
        fstate_fail (self, x, "out of memory", true);
        return;
    }
    x->paused = P_NONE;
    x->error [0] = 0;
    x->last_progress = x->last_heard = self->now;
    if (x->have == x->count && x->sum_known) {
        //  Stopped while checking: check (again), DONE follows
        x->state = S_VERIFYING;
        fstate_report (self, x, self->now);
        return;
    }
    //  A fresh transfer checksums chunks as they come in order, so the
    //  check at the end reads back only what came out of order (or before
    //  a restart)
    if (!x->xs && x->have == 0) {
        x->xs = XXH3_createState ();
        if (x->xs)
            XXH3_128bits_reset (x->xs);
        x->hashed = 0;
    }
    //  The sender's DONE is believed only with every chunk here; after a
    //  resume it comes again
    x->fin = false;
    x->state = S_RUNNING;
    frecv_accept_frame (self, x);
    fstate_report (self, x, self->now);
}

//  Whether the rest of a transfer fits on the disk.  Returns 0 or
//  SC_ETOOBIG with a sentence in x->error.
static int
s_check_space (files_t *self, files_xfer_t *x)
{
    struct statvfs vfs;
    if (fstatvfs (self->dir_fd, &vfs) == 0) {
        uint64_t free_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
        uint64_t need = x->size - fstate_bytes (x);
        if (need + FREE_MARGIN > free_bytes) {
            snprintf (x->error, sizeof x->error, "not enough free space in %.300s (%llu MB needed)",
                      self->downloads, (unsigned long long) ((need + FREE_MARGIN) >> 20));
            return SC_ETOOBIG;
        }
    }
    return 0;
}

//  Opens (or reopens, to resume) the temporary file, when data comes: an
//  accepted transfer that gets nothing holds no descriptor and leaves no
//  file.  Returns 0 or an error with a sentence in x->error.
static int
s_open_part (files_t *self, files_xfer_t *x)
{
    if (x->fd >= 0)
        return 0;
    //  Never follow a link, never take over a file that is there: a resumed
    //  transfer reopens only its own temporary file
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;
    x->fd = openat (self->dir_fd, x->part, x->have? flags: flags | O_CREAT | O_EXCL, 0600);
    if (x->fd < 0 && x->have == 0 && errno == EEXIST) {
        //  Left over from a run that saved nothing yet: only a regular file of ours
        struct stat st;
        if (fstatat (self->dir_fd, x->part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)
        &&  st.st_uid == geteuid () && unlinkat (self->dir_fd, x->part, 0) == 0)
            x->fd = openat (self->dir_fd, x->part, flags | O_CREAT | O_EXCL, 0600);
    }
    if (x->fd < 0) {
        snprintf (x->error, sizeof x->error, "cannot write in %.300s: %s", self->downloads,
                  strerror (errno));
        return SC_EIO;
    }
    return 0;
}

static bool
s_policy_allows (files_t *self, const uint8_t peer [32], uint64_t size)
{
    bool verified = false;
    self->host.peer_name (self->host.arg, peer, &verified);
    if (size > self->opts.accept_max || self->opts.policy == FILES_ACCEPT_ASK)
        return false;
    return self->opts.policy == FILES_ACCEPT_KNOWN || verified;
}

//  Ends an offer nobody answered: the sender is told why.
void
frecv_expire (files_t *self, files_xfer_t *x, const char *why)
{
    self->stats.offers_expired++;
    fstate_send_ctl (self, x->peer, WIRE_REFUSE, x->id, 0, why);
    fstate_fail (self, x, why, false);
}

//  Refuses an offer that is over a cap, without keeping anything of it.
static void
s_refuse (files_t *self, const uint8_t peer [32], const uint8_t id [16], const char *why)
{
    self->stats.offers_refused++;
    log_info ("an offer from %s is refused: %s", fstate_peer_name (self, peer), why);
    fstate_send_ctl (self, peer, WIRE_REFUSE, id, 0, why);
}

//  Whether a new incoming transfer may be taken now (automatic: accepted at
//  once; else it waits for /accept).  When not, a sentence in why.  An
//  offer that waits may put out the oldest that waits, from anyone.
static bool
s_admit (files_t *self, const uint8_t peer [32], bool automatic, char *why, size_t why_size)
{
    size_t offered, accepted, all_offered, all_accepted;
    fstate_count_in (self, peer, &offered, &accepted);
    fstate_count_in (self, NULL, &all_offered, &all_accepted);
    if (automatic && accepted >= IN_PER_PEER)
        snprintf (why, why_size, "%d of your transfers run here already, the most taken from one "
                  "peer: send it again once one has ended", IN_PER_PEER);
    else if (automatic && all_accepted >= IN_MAX)
        snprintf (why, why_size, "%d transfers run here already, the most taken at once: send "
                  "it again later", IN_MAX);
    else if (!automatic && offered >= OFFERS_PER_PEER)
        snprintf (why, why_size, "%d of your offers wait for an answer here already, the most "
                  "kept from one peer: offer it again once they are answered", OFFERS_PER_PEER);
    else {
        if (!automatic && all_offered >= OFFERS_MAX) {
            files_xfer_t *oldest = NULL;
            for (size_t i = 0; i < self->nxfers; i++) {
                files_xfer_t *x = self->xfers [i];
                if (!x->out && x->state == S_OFFERED && (!oldest || x->offered_at < oldest->offered_at))
                    oldest = x;
            }
            if (oldest) {
                char text [200];
                snprintf (text, sizeof text, "not answered, and %d newer offers wait here: "
                          "offer it again later", OFFERS_MAX);
                frecv_expire (self, oldest, text);
            }
        }
        return true;
    }
    return false;
}

void
files_on_offer (files_t *self, const uint8_t peer [32], const uint8_t *body, size_t len)
{
    wire_offer_t o;
    char why [512];
    snprintf (why, sizeof why, "offer refused: it cannot be read");
    int rc = wire_offer_decode (body, len, &o);
    bool decoded = rc == 0;     //  only then is there an id to answer
    if (rc == 0)
        rc = xfer_check_offer (&o, why, sizeof why);
    if (rc != 0) {
        self->stats.offers_refused++;
        fstate_error (self, sc_errname (rc), "%s offered a file with impossible numbers: refused (%s)",
                 fstate_peer_name (self, peer), why);
        if (decoded)
            fstate_send_ctl (self, peer, WIRE_REFUSE, o.id, 0, why);
        return;
    }
    files_xfer_t *x = fstate_find (self, o.id);
    if (x) {
        //  The same transfer offered again (peer back or restarted): resume,
        //  if it is the same file from the same peer
        if (x->out || memcmp (x->peer, peer, 32) != 0)
            return;
        //  Ended here: the sender missed how (its DONE or CANCEL was lost)
        if (x->state == S_DONE || x->state == S_FAILED) {
            fstate_send_ctl (self, peer, x->state == S_DONE? WIRE_DONE: WIRE_CANCEL, x->id,
                        x->state == S_DONE, NULL);
            return;
        }
        if (x->size != o.size || x->count != o.chunk_count || x->chunk_size != o.chunk_size)
            return;
        //  Waiting for /accept (a new offer, or room on the disk), or
        //  checking what came: DONE follows
        if (x->state == S_OFFERED || x->state == S_VERIFYING
        ||  (x->state == S_PAUSED && x->paused == P_DISK))
            return;
        if (s_check_space (self, x) != 0) {
            fstate_pause (self, x, P_DISK, x->error);
            fstate_report (self, x, self->now);
            return;
        }
        //  Running, and chunks came lately: the sender only waits for the
        //  grant (the link is slow, not broken), so resending what is on
        //  its way would only flood it
        if (x->state == S_RUNNING) {
            if (self->now - x->last_heard < fstate_resync_ms (x))
                frecv_grant (self, x);
            else
                frecv_accept_frame (self, x);
            return;
        }
        s_send_accept (self, x);
        return;
    }
    //  A new transfer: did we ask for it (/get)?
    bool pulled = false;
    for (size_t i = 0; i < self->ngets; i++)
        if (memcmp (self->gets [i].id, o.id, 16) == 0 && memcmp (self->gets [i].peer, peer, 32) == 0) {
            pulled = true;
            self->gets [i] = self->gets [--self->ngets];
            break;
        }
    bool automatic = pulled || s_policy_allows (self, peer, o.size);
    if (!s_admit (self, peer, automatic, why, sizeof why)) {
        s_refuse (self, peer, o.id, why);
        if (pulled) {
            char name [XFER_NAME_MAX + 1];
            xfer_safe_name (o.name, o.name_len, name);
            fstate_error (self, "too_many", "cannot take /get %s now: %s", name, why);
        }
        return;
    }
    x = fstate_new_xfer (self, o.id, false, peer);
    if (!x)
        return;
    xfer_safe_name (o.name, o.name_len, x->name);
    snprintf (x->part, sizeof x->part, ".securechat-%s.part", x->idhex);
    x->size = o.size;
    x->chunk_size = o.chunk_size;
    x->count = o.chunk_count;
    x->pull = pulled;
    x->offered_at = fstate_wall (self);
    x->state = S_OFFERED;
    if (automatic) {
        if (s_check_space (self, x) != 0) {
            snprintf (why, sizeof why, "%s", x->error);
            fstate_send_ctl (self, peer, WIRE_REFUSE, x->id, 0, why);
            fstate_fail (self, x, why, false);
            return;
        }
        //  Saved at the next tick: the first chunk does not wait for an fsync
        s_send_accept (self, x);
        x->save_due = true;
        return;
    }
    //  Waits for /accept: no bitmap, no file, a few hundred bytes saved
    fstate_save (self, x);
    fstate_report (self, x, self->now);
    char msg [400];
    snprintf (msg, sizeof msg, "%s offers '%s' (%llu bytes): /accept %.8s or /reject %.8s",
              fstate_peer_name (self, peer), x->name, (unsigned long long) x->size, x->idhex, x->idhex);
    fstate_info (self, msg);
}

//  Renames the checked file to its name without overwriting anything.
static int
s_finish_name (files_t *self, files_xfer_t *x)
{
    char name [XFER_NAME_MAX + 32];
    snprintf (name, sizeof name, "%s", x->name);
    for (int n = 1; n < 1000; n++) {
        if (renameat2 (self->dir_fd, x->part, self->dir_fd, name, RENAME_NOREPLACE) == 0) {
            snprintf (x->path, sizeof x->path, "%.3800s/%s", self->downloads, name);
            return 0;
        }
        if (errno != EEXIST)
            break;
        //  "notes.pdf" -> "notes (1).pdf"
        const char *dot = strrchr (x->name, '.');
        if (dot && dot != x->name)
            snprintf (name, sizeof name, "%.*s (%d)%s", (int) (dot - x->name), x->name, n, dot);
        else
            snprintf (name, sizeof name, "%s (%d)", x->name, n);
    }
    snprintf (x->error, sizeof x->error, "cannot name the received file in %.300s: %s",
              self->downloads, strerror (errno));
    return SC_EIO;
}

//  Checksums one slice of the received file that was not checksummed as
//  it came; when all is, compares with the sender's and finishes.
static bool
s_verify_slice (files_t *self, files_xfer_t *x)
{
    if (s_open_part (self, x) != 0) {
        fstate_pause (self, x, P_DISK, x->error);
        fstate_report (self, x, self->now);
        return false;
    }
    if (x->hashed < x->size || !x->xs) {
        if (fstate_sum_slice (self, x) || x->state == S_FAILED)
            return x->state != S_FAILED;
    }
    uint8_t sum [WIRE_SUM_SIZE];
    fstate_digest (x, sum);
    if (memcmp (sum, x->sum, sizeof sum) != 0) {
        fstate_send_ctl (self, x->peer, WIRE_DONE, x->id, 0, NULL);
        self->stats.sums_wrong++;
        fstate_fail (self, x, "the file's checksum does not match the sender's: discarded", false);
        return false;
    }
    if (fsync (x->fd) != 0 || s_finish_name (self, x) != 0) {
        char why [512];
        snprintf (why, sizeof why, "%s", x->error [0]? x->error: strerror (errno));
        if (!x->error [0])
            snprintf (why, sizeof why, "cannot save the file: %s", strerror (errno));
        fstate_pause (self, x, P_DISK, why);
        fstate_report (self, x, self->now);
        return false;
    }
    fstate_send_ctl (self, x->peer, WIRE_DONE, x->id, 1, NULL);
    x->state = S_DONE;
    x->part [0] = 0;            //  renamed: nothing to remove
    fstate_release (self, x, false);
    fstate_report (self, x, self->now);
    return false;
}

//  A chunk a peer should not have sent: the transfer fails, counted.
static void
s_bad_chunk (files_t *self, files_xfer_t *x, const wire_frame_t *f, const char *what)
{
    self->stats.bad_chunks++;
    char why [300];
    snprintf (why, sizeof why, "%s sent chunk %llu %s: the transfer is stopped",
              fstate_peer_name (self, x->peer), (unsigned long long) f->chunk.index, what);
    fstate_fail (self, x, why, true);
}

static void
s_on_chunk (files_t *self, files_xfer_t *x, const wire_frame_t *f)
{
    //  After the sender's DONE (all was here) nothing more may come, but
    //  for a chunk we hold that crossed an ACCEPT we sent again lately
    //  (its bitmap lacked what was on the way): the sender sends what an
    //  ACCEPT names, and its DONE may have left first
    if (x->fin && (x->state == S_RUNNING || x->state == S_VERIFYING)) {
        if (f->chunk.index < x->count && xfer_map_get (x->map, f->chunk.index) && x->asked_again
        &&  self->now - x->asked_again < 2 * fstate_resync_ms (x))
            return;
        s_bad_chunk (self, x, f, "after its DONE");
        return;
    }
    if (x->state != S_RUNNING)
        return;                 //  paused (disk full) or finished: ignored
    uint64_t len = f->chunk.index < x->count? xfer_chunk_len (x->size, x->chunk_size, f->chunk.index): 0;
    if (f->chunk.index >= x->count) {
        s_bad_chunk (self, x, f, "past the end of the file");
        return;
    }
    if (f->chunk.data_len != len) {
        char what [100];
        snprintf (what, sizeof what, "of %zu bytes where %llu belong", f->chunk.data_len, (unsigned long long) len);
        s_bad_chunk (self, x, f, what);
        return;
    }
    fstate_heard (self, x);          //  the link lives, even when it is a duplicate
    if (xfer_map_get (x->map, f->chunk.index))
        return;                 //  a duplicate: already written
    //  The temporary file is made when data comes, not when accepted
    if (s_open_part (self, x) != 0) {
        fstate_pause (self, x, P_DISK, x->error);
        fstate_save (self, x);
        fstate_report (self, x, self->now);
        return;
    }
    //  Straight from the frame ZeroMQ received: no copy of our own
    ssize_t n = pwrite (x->fd, f->chunk.data, (size_t) len, (off_t) (f->chunk.index * x->chunk_size));
    if (n != (ssize_t) len) {
        //  A full disk pauses: what is written stays, the rest comes later
        char why [512];
        snprintf (why, sizeof why, "%s: paused with %llu of %llu bytes kept; free some "
                  "space, then /accept %.8s", errno == ENOSPC? "the disk is full": strerror (errno),
                  (unsigned long long) fstate_bytes (x), (unsigned long long) x->size, x->idhex);
        fstate_pause (self, x, P_DISK, why);
        fstate_save (self, x);
        fstate_report (self, x, self->now);
        return;
    }
    //  The disk writes back as data comes (without waiting), so the
    //  fsync before the rename has little left to do
    //  (the range behind this chunk: asking for the whole file walks all
    //  its pages each time, 4x the CPU of the writes, measured)
    x->unsynced += len;
    if (x->unsynced >= WRITEBACK_BYTES) {
        uint64_t end = f->chunk.index * x->chunk_size + len;
        uint64_t start = end > 2 * WRITEBACK_BYTES? end - 2 * WRITEBACK_BYTES: 0;
        sync_file_range (x->fd, (off_t) start, (off_t) (end - start), SYNC_FILE_RANGE_WRITE);
        x->unsynced = 0;
    }
    //  Held only now that it is written
    xfer_map_set (x->map, f->chunk.index);
    x->have++;
    x->dirty = true;
    if (x->xs && f->chunk.index * x->chunk_size == x->hashed) {
        XXH3_128bits_update (x->xs, f->chunk.data, (size_t) len);
        x->hashed += len;
    }
    x->last_progress = self->now;
    //  The first bytes written in this run are said at once (then once a
    //  second): the user sees the transfer move
    if (x->last_bytes == 0)
        fstate_report (self, x, self->now);
    if (x->have == x->count) {
        //  The sender's DONE (with the checksum) follows the last chunk
        if (x->sum_known) {
            x->fin = true;
            x->state = S_VERIFYING;
        }
        fstate_save (self, x);
        return;
    }
    //  Grant more once a quarter of the window is used (one small frame
    //  per few chunks)
    if (s_grant_value (x) >= x->granted + XFER_WINDOW / 4)
        frecv_grant (self, x);
}

//  A frame about one of our incoming transfers: a CHUNK, the sender's
//  DONE with its checksum.
void
frecv_on_frame (files_t *self, files_xfer_t *x, const wire_frame_t *f)
{
    if (f->type == WIRE_CHUNK)
        s_on_chunk (self, x, f);
    else
    if (f->type == WIRE_DONE && f->done.sum_len == WIRE_SUM_SIZE && x->map
    &&  (x->state == S_RUNNING || x->state == S_PAUSED)) {
        //  The sender's last frame: its checksum.  With every chunk here,
        //  check; else ask again for what is missing
        memcpy (x->sum, f->done.sum, WIRE_SUM_SIZE);
        x->sum_known = true;
        if (x->state != S_RUNNING)
            return;
        if (x->have == x->count) {
            x->fin = true;
            x->state = S_VERIFYING;
        }
        else {
            self->stats.resyncs++;
            frecv_accept_frame (self, x);
        }
    }
}

//  REFUSE of a /get we asked for: said, and forgotten.
void
frecv_get_refused (files_t *self, const uint8_t peer [32], const wire_frame_t *f, const char *why)
{
    for (size_t i = 0; i < self->ngets; i++)
        if (memcmp (self->gets [i].id, f->refuse.id, 16) == 0 && memcmp (self->gets [i].peer, peer, 32) == 0) {
            fstate_error (self, "refused", "%s refused /get %s: %s", fstate_peer_name (self, peer),
                     self->gets [i].name, why);
            self->gets [i] = self->gets [--self->ngets];
            break;
        }
}

void
files_get (files_t *self, const uint8_t peer [32], const char *name)
{
    if (self->ngets == sizeof self->gets / sizeof self->gets [0]) {
        fstate_error (self, "again", "too many /get requests waiting for an answer");
        return;
    }
    files_get_t *g = &self->gets [self->ngets];
    randombytes_buf (g->id, sizeof g->id);
    memcpy (g->peer, peer, 32);
    snprintf (g->name, sizeof g->name, "%s", name);
    wire_frame_t f = { .type = WIRE_GET, .get = { .name = name, .name_len = strlen (name) } };
    memcpy (f.get.id, g->id, 16);
    if (self->host.send (self->host.arg, peer, &f) != 0) {
        fstate_error (self, "again", "%s is not reachable right now", fstate_peer_name (self, peer));
        return;
    }
    self->ngets++;
}

//  /accept of an incoming transfer: takes the offer, or resumes.
void
frecv_take (files_t *self, files_xfer_t *x)
{
    size_t offered, accepted, all_offered, all_accepted;
    fstate_count_in (self, x->peer, &offered, &accepted);
    fstate_count_in (self, NULL, &all_offered, &all_accepted);
    if (x->state == S_OFFERED && (accepted >= IN_PER_PEER || all_accepted >= IN_MAX)) {
        fstate_error (self, "too_many", "cannot accept %.8s now: %d transfers from %s run already "
                 "(%d from everyone, the most taken at once); /accept it once one has ended",
                 x->idhex, (int) accepted, fstate_peer_name (self, x->peer), (int) all_accepted);
        return;
    }
    if (self->host.online && !self->host.online (self->host.arg, x->peer)) {
        fstate_pause (self, x, P_PEER, "the peer is gone: resumes when it is back");
        fstate_error (self, "offline", "%s is not online now: %.8s resumes when it is back",
                 fstate_peer_name (self, x->peer), x->idhex);
        return;
    }
    if (s_check_space (self, x) != 0) {
        fstate_error (self, "no_space", "cannot accept %.8s: %s", x->idhex, x->error);
        return;
    }
    s_send_accept (self, x);
    fstate_save (self, x);
}

//  /reject: the peer is told, the offer is gone.
void
frecv_refuse_offer (files_t *self, files_xfer_t *x)
{
    fstate_send_ctl (self, x->peer, WIRE_REFUSE, x->id, 0, "declined");
    fstate_fail (self, x, "rejected", false);
}

//  A receiver's work: the check at the end, in slices; an ACCEPT or a
//  grant that waited for the link.  Returns true if more can be done at once.
bool
frecv_work (files_t *self, files_xfer_t *x)
{
    if (x->state == S_VERIFYING)
        return s_verify_slice (self, x);
    if (x->state == S_RUNNING && x->accept_due)
        frecv_accept_frame (self, x);
    else if (x->state == S_RUNNING && x->grant_due)
        frecv_grant (self, x);
    return false;
}

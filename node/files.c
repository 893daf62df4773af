/*  files: the dispatcher of the files module (node/files.h).  Life cycle;
    each frame and command to the role that owns it (files_shares.c,
    files_send.c, files_recv.c); the work loop that shares the send budget
    and the rate among transfers; the clock: stall watch, offers that
    expire, progress, bitmaps saved.  files_int.h says who does what.  */
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

files_t *
files_new (const files_opts_t *opts, const files_host_t *host, int *err)
{
    if (!host->wall_ms || !host->send) {
        *err = SC_EINVAL;       //  a programmer's error: the host gives both
        return NULL;
    }
    files_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    self->opts = *opts;
    self->host = *host;
    self->dir_fd = -1;
    snprintf (self->home, sizeof self->home, "%s", opts->home);
    snprintf (self->downloads, sizeof self->downloads, "%s", opts->downloads);
    snprintf (self->state_dir, sizeof self->state_dir, "%s/transfers", opts->home);
    self->buf = malloc (XFER_CHUNK_MAX);
    self->xs_try = XXH3_createState ();
    self->ctl = ctlq_new (self->host.send, self->host.arg);
    self->stall_ms = opts->stall_ms > 0? opts->stall_ms: STALL_MS_DEFAULT;
    *err = SC_ENOMEM;
    if (!self->buf || !self->xs_try || !self->ctl)
        goto fail;
    *err = fileio_mkdir_private (self->state_dir);
    if (*err == 0)
        *err = fileio_mkdir_private (self->downloads);
    if (*err != 0) {
        log_error ("cannot make %s or %s", self->state_dir, self->downloads);
        goto fail;
    }
    //  Everything received is written relative to this descriptor
    self->dir_fd = open (self->downloads, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0) {
        *err = SC_EIO;
        log_error ("cannot open the download folder %s", self->downloads);
        goto fail;
    }
    fshares_load (self);
    fstate_load (self);
    *err = 0;
    return self;
fail:
    files_destroy (&self);
    return NULL;
}

void
files_destroy (files_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    files_t *self = *self_p;
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (x->state != S_DONE && x->state != S_FAILED)
            fstate_save (self, x);
        if (x->fd >= 0)
            close (x->fd);
        XXH3_freeState (x->xs);
        free (x->map);
        free (x);
    }
    free (self->xfers);
    fshares_destroy (self);
    free (self->buf);
    XXH3_freeState (self->xs_try);
    if (self->ctl)
        ctlq_flush (self->ctl, self->now);      //  what the links take at the last moment
    ctlq_destroy (&self->ctl);
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    free (self);
    *self_p = NULL;
}

void
files_on_frame (files_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    switch (f->type) {
        case WIRE_LIST:
            fshares_send (self, peer);
            return;
        case WIRE_SHARES:
            fshares_on_shares (self, peer, f);
            return;
        case WIRE_GET:
            fsend_on_get (self, peer, f);
            return;
        default:
            break;
    }
    //  Everything else names a transfer, which must be with this peer
    files_xfer_t *x = fstate_find (self, wire_frame_id (f));
    if (f->type == WIRE_REFUSE) {
        char *why = utf8_sanitize (f->refuse.reason, f->refuse.reason_len);
        frecv_get_refused (self, peer, f, why? why: "");
        if (x && memcmp (x->peer, peer, 32) == 0) {
            char text [400];
            snprintf (text, sizeof text, "refused by %s: %.300s", fstate_peer_name (self, peer), why? why: "");
            fstate_fail (self, x, text, false);
        }
        free (why);
        return;
    }
    if (!x || memcmp (x->peer, peer, 32) != 0)
        return;
    if (f->type == WIRE_CANCEL)
        fstate_fail (self, x, "cancelled by the peer", false);
    else
    if (x->out)
        fsend_on_frame (self, x, f);
    else
        frecv_on_frame (self, x, f);
}

void
files_transfers (files_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < self->nxfers; i++) {
        json_t *x = fstate_xfer_json (self, self->xfers [i]);
        json_object_del (x, "event");
        json_array_append_new (list, x);
    }
    fstate_emit (self, json_pack ("{s:s, s:o}", "event", "transfers", "transfers", list));
}

void
files_accept (files_t *self, const char *prefix)
{
    files_xfer_t *x = fstate_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->out && x->state == S_PAUSED)
        fsend_resume (self, x);
    else
    if (x->out || (x->state != S_OFFERED && x->state != S_PAUSED))
        fstate_error (self, "invalid", "transfer %.8s is not waiting to be accepted", x->idhex);
    else
        frecv_take (self, x);
}

void
files_reject (files_t *self, const char *prefix)
{
    files_xfer_t *x = fstate_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->out || x->state != S_OFFERED)
        fstate_error (self, "invalid", "transfer %.8s is not an offer to us", x->idhex);
    else
        frecv_refuse_offer (self, x);
}

void
files_cancel (files_t *self, const char *prefix)
{
    files_xfer_t *x = fstate_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->state == S_DONE || x->state == S_FAILED) {
        fstate_error (self, "invalid", "transfer %.8s has ended already", x->idhex);
        return;
    }
    fstate_fail (self, x, "cancelled", true);
}

void
files_peer_up (files_t *self, const uint8_t peer [32])
{
    //  Offer again whatever we were sending: the receiver answers with
    //  what it holds
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (x->out && memcmp (x->peer, peer, 32) == 0
        &&  (x->state == S_PAUSED || x->state == S_OFFERED || x->state == S_RUNNING)
        &&  fsend_check_source (self, x) == 0)
            fsend_offer (self, x, false);
    }
}

void
files_peer_down (files_t *self, const uint8_t peer [32])
{
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (memcmp (x->peer, peer, 32) == 0 && (x->state == S_RUNNING || x->state == S_OFFERED)
        &&  !(x->state == S_OFFERED && !x->out)) {
            fstate_pause (self, x, P_PEER, "the peer is gone: resumes when it is back");
            if (!x->out)
                fstate_save (self, x);
            fstate_report (self, x, self->now);
        }
    }
}

//  Watches a transfer for progress (tick).  A receiver repeats its grant
//  when nothing came for a second; when nothing at all came for a few of
//  the transfer's usual gaps (10 to 60 s: a slow link is not a broken one)
//  it sends its bitmap again (ACCEPT), and the sender sends what is
//  missing.  A sender waiting for credit or for DONE that long offers
//  again: the receiver answers with its grant, its bitmap, or DONE.  An
//  offer with no answer is made again now and then.  A transfer that made
//  no progress for the stall timeout is paused, with a sentence, on each
//  side (a sender only while it waits for credit: waiting for DONE is the
//  receiver's check of what came, however long).
static void
s_watch (files_t *self, files_xfer_t *x, int64_t now)
{
    if (x->out && ((x->state == S_OFFERED && x->offers < REOFFER_MAX)
                   || (x->state == S_RUNNING && x->offer_due))
    &&  now - x->last_resync >= (x->offer_due? REGRANT_MS: REOFFER_MS)) {
        x->offers += !x->offer_due;
        fsend_offer (self, x, false);
        return;
    }
    if (x->state != S_RUNNING || !x->last_progress)
        return;
    int64_t quiet = now - (x->last_heard > x->last_progress? x->last_heard: x->last_progress);
    int64_t resync = fstate_resync_ms (x);
    bool waiting = false;
    if (!x->out) {
        if (quiet >= resync && now - x->last_resync >= resync) {
            self->stats.resyncs++;
            frecv_accept_frame (self, x);
        }
        else if (quiet >= REGRANT_MS && now - x->last_grant >= REGRANT_MS) {
            self->stats.grants_repeated++;
            frecv_grant (self, x);
        }
    }
    else {
        bool done = fsend_next_missing (x) >= x->count;
        waiting = !done && x->have >= x->limit;
        if ((waiting || done) && quiet >= 2 * resync && now - x->last_resync >= 2 * resync) {
            self->stats.resyncs++;
            fsend_offer (self, x, false);
        }
    }
    if (now - x->last_progress < self->stall_ms || (x->out && !waiting))
        return;
    self->stats.stalls++;
    char why [512];
    snprintf (why, sizeof why, "%s for %lld s although the link to %s is up: paused; it resumes "
              "when the link is back, or with /accept %.8s",
              x->out? "no credit came": "no data came", (long long) ((now - x->last_progress) / 1000),
              fstate_peer_name (self, x->peer), x->idhex);
    fstate_pause (self, x, P_STALL, why);
    if (!x->out)
        fstate_save (self, x);
    fstate_report (self, x, now);
}

bool
files_work (files_t *self, int64_t now)
{
    self->now = now;
    bool more = false;
    int budget = SEND_BURST;
    uint64_t allowed = 0;
    if (self->opts.max_rate) {
        //  A bucket refilled at max_rate: chunks go while it holds less
        //  than a tenth of a second's worth, and one chunk may overdraw it
        //  (the debt is paid before the next)
        if (now - self->rate_start >= 100) {
            uint64_t refill = self->opts.max_rate * (uint64_t) (now - self->rate_start) / 1000;
            self->rate_bytes = self->rate_bytes > refill? self->rate_bytes - refill: 0;
            self->rate_start = now;
        }
        allowed = self->opts.max_rate / 10;
    }
    //  Each call starts after the transfer that sent last, so the budget
    //  (and the rate) is shared among them
    size_t n = self->nxfers, first = n? self->rr % n: 0;
    for (size_t k = 0; k < n; k++) {
        size_t at = (first + k) % n;
        files_xfer_t *x = self->xfers [at];
        if (x->out && x->state == S_RUNNING) {
            int before = budget;
            more |= fsend_work (self, x, &budget, allowed);
            if (budget < before)
                self->rr = at + 1;
        }
        else if (!x->out)
            more |= frecv_work (self, x);
    }
    if (budget == 0 && !self->opts.max_rate)
        more = true;
    return more;
}

void
files_tick (files_t *self, int64_t now)
{
    self->now = now;
    ctlq_flush (self->ctl, now);
    fshares_tick (self, now);
    int64_t wall = fstate_wall (self);
    int64_t ttl = self->opts.offer_ttl_ms > 0? self->opts.offer_ttl_ms: OFFER_TTL_MS_DEFAULT;
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (!x->out && x->state == S_OFFERED && wall - x->offered_at >= ttl) {
            char why [200];
            snprintf (why, sizeof why, "not answered within %lld %s: the offer expired",
                      (long long) (ttl >= 3600000? ttl / 3600000: ttl / 1000), ttl >= 3600000? "h": "s");
            frecv_expire (self, x, why);
            continue;
        }
        s_watch (self, x, now);
        if (x->state == S_RUNNING && now - x->last_event >= PROGRESS_MS)
            fstate_report (self, x, now);
        if (x->save_due)
            fstate_save (self, x);
        //  Chunks came: the bitmap is saved (a small file of bits), at
        //  most once a second (each waits for the data to be on the disk)
        if (!x->out && x->dirty && x->state != S_DONE && x->state != S_FAILED
        &&  now - x->map_saved >= MAP_SAVE_MS)
            fstate_save_map (self, x);
    }
}

void
files_link_reset (files_t *self, const uint8_t peer [32])
{
    for (size_t i = 0; i < self->nxfers; i++) {
        files_xfer_t *x = self->xfers [i];
        if (!x->out && x->state == S_RUNNING && memcmp (x->peer, peer, 32) == 0) {
            self->stats.resyncs++;
            frecv_accept_frame (self, x);
        }
    }
}

files_stats_t
files_stats (files_t *self)
{
    files_stats_t st = self->stats;
    ctlq_stats_t q = ctlq_stats (self->ctl);
    st.ctl_queued = q.queued;
    st.ctl_dropped = q.dropped;
    return st;
}

static bool
s_on_frame (void *arg, const uint8_t peer [32], const wire_frame_t *f, int64_t now_ms)
{
    files_t *self = arg;
    (void) now_ms;
    if (f->type != WIRE_OFFER) {
        files_on_frame (self, peer, f);
        return true;
    }
    //  An offer is a signed, sealed envelope like a message
    uint8_t *body;
    size_t len;
    if (self->host.open
    &&  self->host.open (self->host.arg, peer, f->offer.envelope, f->offer.envelope_len,
                         &body, &len) == 0) {
        files_on_offer (self, peer, body, len);
        sodium_memzero (body, len);
        free (body);
    }
    return true;
}

int
files_register (files_t *self, wire_handlers_t *handlers)
{
    static const wire_type_t types [] = { WIRE_OFFER, WIRE_ACCEPT, WIRE_REFUSE, WIRE_CHUNK,
                                          WIRE_CREDIT, WIRE_DONE, WIRE_CANCEL, WIRE_LIST,
                                          WIRE_SHARES, WIRE_GET };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof types / sizeof types [0]; i++)
        rc = wire_handle (handlers, types [i], s_on_frame, self);
    return rc;
}

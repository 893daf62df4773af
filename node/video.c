#define LOG_MODULE "streams"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include "../crypto/base/err.h"
#include "../crypto/identity.h"
#include "../crypto/base/log.h"
#include "ctlq.h"
#include "jobs.h"
#include "video.h"
#include "ui.h"

struct _video_t {
    video_opts_t opts;
    video_host_t host;
    jobs_t *jobs;               //  the media helper, one for both roles
    ctlq_t *ctlq;               //  ends and refusals that met a full link
    video_stats_t stats;
    int64_t now;                //  of the call being handled (video_at)
};

video_t *
video_new (const video_opts_t *opts, const video_host_t *host)
{
    video_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = *opts;
    self->host = *host;
    if (self->opts.stall_ms <= 0)
        self->opts.stall_ms = VIDEO_STALL_MS;
    self->jobs = jobs_new (opts->helper);
    self->ctlq = ctlq_new (host->send, host->arg);
    if (!self->jobs || !self->ctlq) {
        video_destroy (&self);
        return NULL;
    }
    return self;
}

void
video_destroy (video_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    video_t *self = *self_p;
    jobs_destroy (&self->jobs);
    //  What the links took at the last moment is all the peers get
    if (self->ctlq)
        ctlq_flush (self->ctlq, self->now);
    ctlq_destroy (&self->ctlq);
    free (self);
    *self_p = NULL;
}

void
video_tick (video_t *self, int64_t now_ms)
{
    self->now = now_ms;
    ctlq_flush (self->ctlq, now_ms);
    jobs_tick (self->jobs);
}

video_stats_t
video_stats (video_t *self)
{
    video_stats_t st = self->stats;
    ctlq_stats_t q = ctlq_stats (self->ctlq);
    st.ctl_queued = q.queued;
    st.ctl_dropped = q.dropped;
    return st;
}

const video_opts_t *
video_opts (video_t *self)
{
    return &self->opts;
}

video_stats_t *
video_counters (video_t *self)
{
    return &self->stats;
}

int64_t video_now (video_t *self) { return self->now; }
void video_at (video_t *self, int64_t now_ms) { self->now = now_ms; }

//  ---------------------------------------------------------------------
//  A stream of either role

int
video_stream_init (video_stream_t *s, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE],
                   const char *name, size_t in_cap, int64_t now_ms)
{
    memset (s, 0, sizeof *s);
    memcpy (s->sid, sid, WIRE_ID_SIZE);
    sodium_bin2hex (s->idhex, sizeof s->idhex, sid, WIRE_ID_SIZE);
    memcpy (s->peer, peer, 32);
    snprintf (s->name, sizeof s->name, "%s", name);
    s->fd = -1;
    s->started = now_ms;
    s->in_cap = in_cap;
    s->in = malloc (in_cap);
    return s->in? 0: SC_ENOMEM;
}

void
video_stream_free (video_stream_t *s)
{
    if (s->fd >= 0)
        close (s->fd);
    s->fd = -1;
    free (s->in);
    s->in = NULL;
}

void
video_stream_read (video_stream_t *s, bool once)
{
    while (s->in_len < s->in_cap) {
        ssize_t n = read (s->fd, s->in + s->in_len, s->in_cap - s->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            //  All it said is in `in` now; the caller handles it
            s->eof = true;
            close (s->fd);
            s->fd = -1;
            break;
        }
        s->in_len += (size_t) n;
        if (once)
            break;
    }
}

//  ---------------------------------------------------------------------
//  Events and frames

json_t *
video_event (video_t *self, const video_stream_t *s, const char *role, const char *state)
{
    char id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (s->peer, id);
    const char *name = self->host.peer_name (self->host.arg, s->peer);
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I}", "event", "stream",
                      "stream_id", s->idhex, "role", role, "peer", id, "name", name? name: "?",
                      "video", s->name, "state", state, "offset", s->offset_ms / 1000.0,
                      "bytes", (json_int_t) s->bytes);
}

void
video_event_stalled (json_t *ev, const video_stream_t *s, bool stuck, int64_t now_ms)
{
    //  Seconds without progress on a live link, once it is worth saying
    int64_t idle = now_ms - s->last_heard;
    if (ev && s->last_heard && stuck && idle >= 3000)
        json_object_set_new (ev, "stalled", json_integer (idle / 1000));
}

void
video_emit (video_t *self, json_t *ev)
{
    if (ev)
        self->host.event (self->host.arg, ev);
}

void
video_error (video_t *self, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    video_emit (self, ui_report_json ("error", code, fmt, ap));
    va_end (ap);
}

const char *
video_peer (video_t *self, const uint8_t peer [32])
{
    const char *name = self->host.peer_name (self->host.arg, peer);
    return name? name: "the peer";
}

int
video_find_share (video_t *self, const char *name, char *path, size_t path_size, bool *video)
{
    return self->host.find_share (self->host.arg, name, path, path_size, video);
}

int
video_send (video_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    return self->host.send (self->host.arg, peer, f);
}

int
video_tell (video_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE], bool ok,
            const char *why)
{
    wire_frame_t f = { .type = WIRE_SEND, .send = { .ok = ok, .reason = why, .reason_len = strlen (why) } };
    memcpy (f.send.sid, sid, WIRE_ID_SIZE);
    return ctlq_send (self->ctlq, peer, &f, self->now);
}

void
video_tell_end (video_t *self, const video_stream_t *s, bool ok, const char *why)
{
    if (video_tell (self, s->peer, s->sid, ok, why) != 0)
        log_warn ("the end of stream %.8s is lost (out of memory)", s->idhex);
}

int
video_job (video_t *self, const char *line, int fd, int *data)
{
    return jobs_start (self->jobs, line, fd, data);
}

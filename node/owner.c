#define LOG_MODULE "streams"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../crypto/base/bytes.h"
#include "../crypto/base/log.h"
#include "../crypto/base/utf8.h"
#include "../media/job.h"
#include "../media/media.h"
#include "owner.h"

#define KEEPALIVE_MS 5000           //  an owner whose file is quiet (a paced gap) says so
#define IN_SIZE (MEDIAJOB_HEADER + MEDIAJOB_MAX)

typedef enum {
    OWNER_FREE = 0,             //  the slot is not in use
    OWNER_WAITING,              //  WATCH taken, the file open, no credit yet: no job
    OWNER_SENDING,              //  the demux job runs; batches go out while credit lasts
    OWNER_PAUSED                //  all that was granted is out, no higher grant came
                                //  (since paused_at); it ends after --pause-max
} s_state_t;

typedef struct {
    s_state_t state;
    video_stream_t s;
    int file;                   //  the shared file until the job starts, then -1 (the job has it)
    bool paced;                 //  for a player
    int64_t paused_at;          //  when it paused
    uint64_t limit;             //  the highest grant seen (held to OWNER_CREDIT_MAX ahead)
    uint64_t seq;               //  the batch to send next
    int64_t last_tx;            //  when the last frame went out
    bool retry;                 //  a frame waits for the link
} s_served_t;

struct _owner_t {
    video_t *video;
    int served_max;
    int64_t pause_max_ms;
    s_served_t served [OWNER_SERVED_LIMIT];
    int polled [OWNER_SERVED_LIMIT];    //  stream of each poll item given out
    int npolled;
};

//  ---------------------------------------------------------------------
//  Served streams

static json_t *
s_json (owner_t *self, const s_served_t *o, const char *state)
{
    json_t *ev = video_event (self->video, &o->s, "owner", state);
    //  Waiting for a grant that does not come
    video_event_stalled (ev, &o->s, o->seq >= o->limit, video_now (self->video));
    return ev;
}

static s_served_t *
s_find (owner_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE])
{
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state != OWNER_FREE && memcmp (o->s.sid, sid, WIRE_ID_SIZE) == 0
        &&  memcmp (o->s.peer, peer, 32) == 0)
            return o;
    }
    return NULL;
}

//  How many streams we serve to peer (NULL: to anyone).
static int
s_count (owner_t *self, const uint8_t *peer)
{
    int n = 0;
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        const s_served_t *o = &self->served [i];
        n += o->state != OWNER_FREE && (!peer || memcmp (o->s.peer, peer, 32) == 0);
    }
    return n;
}

static s_served_t *
s_new (owner_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE], const char *name)
{
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state != OWNER_FREE)
            continue;
        memset (o, 0, sizeof *o);
        if (video_stream_init (&o->s, peer, sid, name, IN_SIZE, video_now (self->video)) != 0) {
            video_stream_free (&o->s);
            return NULL;
        }
        o->file = -1;
        o->state = OWNER_WAITING;
        return o;
    }
    return NULL;
}

static void
s_free (s_served_t *o)
{
    video_stream_free (&o->s);
    if (o->file >= 0)
        close (o->file);
    o->file = -1;
    o->state = OWNER_FREE;
}

//  Ends a stream now: says why (and tells the viewer when tell), frees it.
static void
s_end (owner_t *self, s_served_t *o, bool ok, const char *why, bool tell)
{
    if (tell)
        video_tell_end (self->video, &o->s, ok, ok? "": why);
    json_t *ev = s_json (self, o, ok? "ended": "failed");
    if (ev && why && *why)
        json_object_set_new (ev, "message", json_string (why));
    video_emit (self->video, ev);
    s_free (o);
}

//  Takes a viewer's grant: the highest counts, none reaches past
//  OWNER_CREDIT_MAX batches ahead of what was sent, whatever a viewer
//  claims.  Any grant, even one repeated, says the viewer is there; only a
//  higher one ends a pause.
static void
s_take_grant (owner_t *self, s_served_t *o, uint64_t grant)
{
    video_stats_t *stats = video_counters (self->video);
    o->s.last_heard = video_now (self->video);
    uint64_t cap = o->seq + OWNER_CREDIT_MAX;
    if (grant > cap) {
        stats->credit_clamped++;
        grant = cap;
    }
    if (grant > o->limit) {
        o->limit = grant;
        if (o->state == OWNER_PAUSED)
            o->state = OWNER_SENDING;
    }
    else if (grant < o->limit)
        stats->credit_stale++;
}

//  Starts the demux job, with the first credit.  Returns 0 or an error (the
//  stream is then the caller's to end).
static int
s_start (owner_t *self, s_served_t *o)
{
    char line [64];
    snprintf (line, sizeof line, "demux %lld %d", (long long) o->s.offset_ms, o->paced? 1: 0);
    int rc = video_job (self->video, line, o->file, &o->s.fd);
    o->file = -1;               //  transferred
    if (rc != 0)
        return rc;
    o->state = OWNER_SENDING;
    video_emit (self->video, s_json (self, o, "started"));
    return 0;
}

//  ---------------------------------------------------------------------
//  Frames

static void
s_watch (owner_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    char name [XFER_NAME_MAX + 1];
    char text [400] = "";
    if (f->watch.name_len > XFER_NAME_MAX || memchr (f->watch.name, 0, f->watch.name_len))
        snprintf (text, sizeof text, "no video has that name");
    else if (s_find (self, peer, f->watch.sid))
        return;                 //  the same WATCH again
    else if (s_count (self, peer) >= OWNER_PER_PEER)
        snprintf (text, sizeof text, "too many streams to you at once (at most %d)", OWNER_PER_PEER);
    else if (s_count (self, NULL) >= self->served_max)
        snprintf (text, sizeof text, "too many streams at once (at most %d); try later",
                  self->served_max);
    else
        media_offset_check (f->watch.offset_ms, text, sizeof text);
    if (text [0]) {
        //  Refused before anything is opened: said to the viewer only (a
        //  throwaway key may send thousands)
        video_tell (self->video, peer, f->watch.sid, false, text);
        log_debug ("a WATCH from %s refused: %s", video_peer (self->video, peer), text);
        return;
    }
    memcpy (name, f->watch.name, f->watch.name_len);
    name [f->watch.name_len] = 0;
    char path [PATH_MAX];
    bool video = false;
    int fd = -1;
    if (video_find_share (self->video, name, path, sizeof path, &video) != 0)
        snprintf (text, sizeof text, "nothing called '%s' is shared", name);
    else if (!video)
        snprintf (text, sizeof text, "'%s' is shared, but it is not a video that can be streamed "
                  "(use /get to fetch it)", name);
    else if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
        snprintf (text, sizeof text, "'%s' cannot be read now", name);
    s_served_t *o = text [0]? NULL: s_new (self, peer, f->watch.sid, name);
    if (!text [0] && !o)
        snprintf (text, sizeof text, "the owner is out of memory; try later");
    if (o) {
        o->file = fd;
        fd = -1;                //  transferred
        o->paced = f->watch.paced;
        o->s.offset_ms = (int64_t) f->watch.offset_ms;
        s_take_grant (self, o, f->watch.credit);
        //  No job until the viewer grants credit: a WATCH that grants none
        //  costs a descriptor for OWNER_START_MS, no process
        if (o->limit == 0)
            video_emit (self->video, s_json (self, o, "requested"));
        else if (s_start (self, o) != 0) {
            snprintf (text, sizeof text, "the owner's media helper is missing");
            s_free (o);
            o = NULL;
        }
    }
    if (fd >= 0)
        close (fd);
    if (!o) {
        //  Said to the viewer, and shown here, so the owner knows who asked
        video_tell (self->video, peer, f->watch.sid, false, text);
        log_info ("%s asked for '%s': %s", video_peer (self->video, peer), name, text);
    }
}

//  Forwards the job's complete messages while credit lasts.
static void
s_forward (owner_t *self, s_served_t *o)
{
    size_t off = 0;
    o->retry = false;
    while (o->s.in_len - off >= MEDIAJOB_HEADER) {
        size_t len = (size_t) bytes_get_be (o->s.in + off, MEDIAJOB_HEADER);
        if (len < 1 || len > MEDIAJOB_MAX) {
            s_end (self, o, false, "the media helper sent a broken message", true);
            return;
        }
        if (o->s.in_len - off < MEDIAJOB_HEADER + len)
            break;
        char kind = (char) o->s.in [off + MEDIAJOB_HEADER];
        const uint8_t *body = o->s.in + off + MEDIAJOB_HEADER + 1;
        size_t size = len - 1;
        if (kind == 'B' && o->seq >= o->limit)
            break;
        if (kind == 'E') {
            char why [300];
            snprintf (why, sizeof why, "%.*s", (int) size, (const char *) body);
            s_end (self, o, size == 0, why, true);
            return;
        }
        wire_frame_t f = { .type = kind == 'H'? WIRE_STREAM: WIRE_BATCH };
        if (kind == 'H') {
            memcpy (f.stream.sid, o->s.sid, WIRE_ID_SIZE);
            f.stream.header = body;
            f.stream.header_len = size;
        }
        else {
            memcpy (f.batch.sid, o->s.sid, WIRE_ID_SIZE);
            f.batch.seq = o->seq;
            f.batch.packets = body;
            f.batch.packets_len = size;
        }
        if (video_send (self->video, o->s.peer, &f) != 0) {
            o->retry = true;    //  the link is full: again at the next tick
            break;
        }
        o->last_tx = video_now (self->video);
        if (kind == 'B') {
            o->seq++;
            o->s.bytes += size;
        }
        off += MEDIAJOB_HEADER + len;
    }
    memmove (o->s.in, o->s.in + off, o->s.in_len - off);
    o->s.in_len -= off;
    //  The job ended without its 'E': it crashed or was killed
    if (o->s.eof && !o->retry
    &&  (o->s.in_len < MEDIAJOB_HEADER
     ||  o->s.in_len < MEDIAJOB_HEADER + bytes_get_be (o->s.in, MEDIAJOB_HEADER)))
        s_end (self, o, false, VIDEO_JOB_GONE, true);
}

bool
owner_on_frame (owner_t *self, const uint8_t peer [32], const wire_frame_t *f, int64_t now_ms)
{
    video_at (self->video, now_ms);
    if (f->type == WIRE_WATCH) {
        s_watch (self, peer, f);
        return true;
    }
    if (f->type != WIRE_SCREDIT && f->type != WIRE_SEND)
        return false;
    s_served_t *o = s_find (self, peer, wire_frame_id (f));
    if (!o)
        return f->type == WIRE_SCREDIT;     //  a stream that ended, or never was
    if (f->type == WIRE_SCREDIT) {
        s_take_grant (self, o, f->scredit.credit);
        if (o->state == OWNER_WAITING && o->limit > 0 && s_start (self, o) != 0)
            s_end (self, o, false, "the owner's media helper is missing", true);
        else
            s_forward (self, o);
    }
    else {
        //  The viewer stopped (or failed): the job ends when its socket closes
        char *why = f->send.reason_len? utf8_sanitize (f->send.reason, f->send.reason_len): NULL;
        char text [400];
        snprintf (text, sizeof text, "%s stopped watching%s%s", video_peer (self->video, peer),
                  why? ": ": "", why? why: "");
        s_end (self, o, true, text, false);
        free (why);
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Polling, commands, timers

int
owner_poll_items (owner_t *self, zmq_pollitem_t *items, int max)
{
    self->npolled = 0;
    for (int i = 0; i < OWNER_SERVED_LIMIT && self->npolled < max; i++) {
        s_served_t *o = &self->served [i];
        if (o->state == OWNER_FREE || o->s.fd < 0 || o->retry || o->s.in_len >= o->s.in_cap)
            continue;
        //  Read on only while the last message read can go out
        if (o->s.in_len >= MEDIAJOB_HEADER + 1) {
            size_t len = (size_t) bytes_get_be (o->s.in, MEDIAJOB_HEADER);
            if (o->s.in_len >= MEDIAJOB_HEADER + len && o->s.in [MEDIAJOB_HEADER] == 'B'
            &&  o->seq >= o->limit)
                continue;
        }
        items [self->npolled] = (zmq_pollitem_t) { NULL, o->s.fd, ZMQ_POLLIN, 0 };
        self->polled [self->npolled++] = i;
    }
    return self->npolled;
}

void
owner_on_poll (owner_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int k = 0; k < count && k < self->npolled; k++) {
        s_served_t *o = &self->served [self->polled [k]];
        if (o->state == OWNER_FREE || o->s.fd != items [k].fd || !items [k].revents)
            continue;
        if (items [k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
            video_stream_read (&o->s, true);    //  forward before reading more
            s_forward (self, o);
        }
    }
}

void
owner_peer_down (owner_t *self, const uint8_t peer [32], int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state == OWNER_FREE || memcmp (o->s.peer, peer, 32) != 0)
            continue;
        char why [300];
        snprintf (why, sizeof why, "%s left", video_peer (self->video, peer));
        s_end (self, o, false, why, false);
    }
}

int
owner_stop (owner_t *self, const char *prefix, int64_t now_ms)
{
    video_at (self->video, now_ms);
    int n = 0;
    size_t plen = prefix? strlen (prefix): 0;
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state == OWNER_FREE || strncmp (o->s.idhex, prefix? prefix: "", plen) != 0)
            continue;
        n++;
        s_end (self, o, true, "stopped", true);
    }
    return n;
}

void
owner_list (owner_t *self, json_t *list, int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state == OWNER_FREE)
            continue;
        json_t *e = s_json (self, o, o->state == OWNER_WAITING? "requested": "running");
        json_object_del (e, "event");
        json_array_append_new (list, e);
    }
}

//  Ends a stream for a timeout: the viewer is told tell, the owner sees why.
static void
s_time_out (owner_t *self, s_served_t *o, const char *tell, const char *why)
{
    video_tell_end (self->video, &o->s, false, tell);
    s_end (self, o, false, why, false);
}

//  Watches a served stream.  One never granted any credit (so no job runs)
//  ends soon; one that sent all it was granted and got no more (a player
//  paused, its viewer repeating the grant) may wait much longer; one that
//  hears nothing at all while it waits for a grant ends at the stall
//  timeout.  A paced stream through a quiet stretch of its file says it is
//  there.  Returns true when it ended.
static bool
s_check (owner_t *self, s_served_t *o, int64_t now)
{
    char tell [300], why [300];
    const char *peer = video_peer (self->video, o->s.peer);
    if (o->state == OWNER_WAITING) {
        if (now - o->s.started < OWNER_START_MS)
            return false;
        snprintf (tell, sizeof tell, "no credit came within %d s of the WATCH", OWNER_START_MS / 1000);
        snprintf (why, sizeof why, "%s asked for '%s' but granted no credit within %d s",
                  peer, o->s.name, OWNER_START_MS / 1000);
        s_time_out (self, o, tell, why);
        return true;
    }
    if (o->state == OWNER_SENDING && o->seq >= o->limit) {
        o->state = OWNER_PAUSED;
        o->paused_at = now;
    }
    if (o->state == OWNER_PAUSED && now - o->paused_at >= self->pause_max_ms) {
        long long secs = (long long) (self->pause_max_ms / 1000);
        snprintf (tell, sizeof tell, "the stream was paused for longer than %lld s (--pause-max)",
                  secs);
        snprintf (why, sizeof why, "%s paused '%s' for longer than %lld s (--pause-max)",
                  peer, o->s.name, secs);
        s_time_out (self, o, tell, why);
        return true;
    }
    //  A paced stream through a quiet stretch of its file (a still screen,
    //  a gap in the timestamps) has credit and nothing to send: an empty
    //  batch tells the viewer the owner is there
    if (o->last_tx && !o->retry && o->seq < o->limit && o->s.in_len == 0
    &&  now - o->last_tx >= KEEPALIVE_MS) {
        static const uint8_t empty [1] = { 0x90 };      //  msgpack []
        wire_frame_t f = { .type = WIRE_BATCH, .batch = { .seq = o->seq, .packets = empty,
                                                          .packets_len = 1 } };
        memcpy (f.batch.sid, o->s.sid, WIRE_ID_SIZE);
        if (video_send (self->video, o->s.peer, &f) == 0) {
            o->seq++;
            o->last_tx = now;
        }
    }
    int64_t idle = now - o->s.last_heard;
    if (o->seq < o->limit || idle < video_opts (self->video)->stall_ms)
        return false;
    video_counters (self->video)->stalls++;
    snprintf (why, sizeof why, "nothing came from %s for %lld s although the link is up",
              peer, (long long) (idle / 1000));
    s_end (self, o, false, why, true);
    return true;
}

void
owner_tick (owner_t *self, int64_t now)
{
    video_at (self->video, now);
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state != OWNER_FREE && o->retry)
            s_forward (self, o);
        if (o->state != OWNER_FREE)
            s_check (self, o, now);
    }
}

//  ---------------------------------------------------------------------
//  Life cycle

owner_t *
owner_new (video_t *video)
{
    owner_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->video = video;
    const video_opts_t *opts = video_opts (video);
    self->served_max = opts->served_max > 0 && opts->served_max <= OWNER_SERVED_LIMIT?
                       opts->served_max: OWNER_SERVED_MAX;
    self->pause_max_ms = opts->pause_max_ms > 0? opts->pause_max_ms: OWNER_PAUSE_MAX_MS;
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++)
        self->served [i].file = -1;
    return self;
}

void
owner_destroy (owner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    owner_t *self = *self_p;
    for (int i = 0; i < OWNER_SERVED_LIMIT; i++) {
        s_served_t *o = &self->served [i];
        if (o->state == OWNER_FREE)
            continue;
        video_tell_end (self->video, &o->s, false, "the owner left");
        s_free (o);
    }
    free (self);
    *self_p = NULL;
}

static bool
s_on_frame (void *arg, const uint8_t peer [32], const wire_frame_t *f, int64_t now_ms)
{
    return owner_on_frame (arg, peer, f, now_ms);
}

int
owner_register (owner_t *self, wire_handlers_t *handlers)
{
    int rc = wire_handle (handlers, WIRE_WATCH, s_on_frame, self);
    if (rc == 0)
        rc = wire_handle (handlers, WIRE_SCREDIT, s_on_frame, self);
    if (rc == 0)
        rc = wire_handle (handlers, WIRE_SEND, s_on_frame, self);
    return rc;
}

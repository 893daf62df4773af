#define LOG_MODULE "streams"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../crypto/base/bytes.h"
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../crypto/base/utf8.h"
#include "../media/job.h"
#include "../media/pack.h"
#include "child.h"
#include "viewer.h"

#define HEADER_WAIT_MS 10000        //  a WATCH unanswered this long has failed
#define REGRANT_MS 1000             //  a viewer that heard nothing this long repeats its grant
#define QUEUE_LOW (256 * 1024)      //  credit goes back below this much queued
#define NOTE_MAX 1024               //  the longest message a mux job sends
#define IN_SIZE (4 * (MEDIAJOB_HEADER + NOTE_MAX))
#define PLAYERS_MAX 16              //  players that outlived their stream, reaped when they exit

typedef enum {
    VIEWER_FREE = 0,            //  the slot is not in use
    VIEWER_ASKED,               //  WATCH sent; no header yet
    VIEWER_PLAYING,             //  the header came; batches go on to the mux job
    VIEWER_ENDING               //  the job gets the end once its queue is written, and
                                //  finishes the output; its 'D' or 'E' ends the watch
} s_state_t;

typedef struct {
    s_state_t state;
    video_stream_t s;
    char out [PATH_MAX];        //  the file, or the player command
    bool to_player;
    child_t *player;            //  NULL once it exited (or for a file)
    uint8_t *outq;              //  messages to the job
    size_t outq_len, outq_off;
    uint64_t granted;           //  the grant given (batches in all)
    uint64_t unreturned;        //  batches queued, credit not yet returned
    bool grant_due;             //  the grant could not go out yet
    int64_t last_grant;         //  when the grant last went out
    uint64_t seq;               //  the batch expected next
    media_header_t hdr;         //  for checking batches (no extradata kept)
    bool written;               //  the job wrote the output's header ('S')
    bool shut;                  //  the job was told the input ended (or stopped reading)
    bool ended_ok;              //  the stream reached its end
    char why [512];             //  why it ended early
    int64_t latency;            //  ms from /watch to the first packet written, -1
} s_watch_t;

struct _viewer_t {
    video_t *video;
    char player [PATH_MAX];     //  the command, "" when none
    s_watch_t watches [VIEWER_MAX];
    int polled [VIEWER_MAX];    //  watch of each poll item given out
    int npolled;
    child_t *players [PLAYERS_MAX];
};

//  ---------------------------------------------------------------------
//  Watches

static json_t *
s_json (viewer_t *self, const s_watch_t *w, const char *state)
{
    json_t *ev = video_event (self->video, &w->s, "viewer", state);
    if (ev)
        json_object_set_new (ev, "out", json_string (w->to_player? "player": w->out));
    if (ev && w->to_player)
        json_object_set_new (ev, "player", json_string (w->out));
    if (ev && w->latency >= 0)
        json_object_set_new (ev, "latency_ms", json_integer (w->latency));
    //  Owed batches that do not come
    video_event_stalled (ev, &w->s, w->state == VIEWER_PLAYING && w->granted > w->seq, video_now (self->video));
    return ev;
}

static s_watch_t *
s_find (viewer_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE])
{
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state != VIEWER_FREE && memcmp (w->s.sid, sid, WIRE_ID_SIZE) == 0
        &&  memcmp (w->s.peer, peer, 32) == 0)
            return w;
    }
    return NULL;
}

static s_watch_t *
s_new (viewer_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE], const char *name)
{
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state != VIEWER_FREE)
            continue;
        memset (w, 0, sizeof *w);
        if (video_stream_init (&w->s, peer, sid, name, IN_SIZE, video_now (self->video)) != 0) {
            video_stream_free (&w->s);
            return NULL;
        }
        w->latency = -1;
        w->state = VIEWER_ASKED;
        return w;
    }
    return NULL;
}

//  Frees the slot.  A player still running plays what it has to its end
//  and is reaped when it exits.
static void
s_free (viewer_t *self, s_watch_t *w)
{
    video_stream_free (&w->s);
    free (w->outq);
    w->outq = NULL;
    for (int i = 0; i < PLAYERS_MAX && w->player; i++)
        if (!self->players [i]) {
            self->players [i] = w->player;
            w->player = NULL;   //  transferred
        }
    child_release (&w->player);     //  no room: left to run, never reaped
    w->state = VIEWER_FREE;
}

//  Ends a watch now: says why (and tells the owner when tell), frees it.
//  Its output is finished by its job first (s_finish).
static void
s_end (viewer_t *self, s_watch_t *w, bool ok, const char *why, bool tell)
{
    if (tell)
        video_tell_end (self->video, &w->s, ok, ok? "": why);
    //  A file we made that never got a header is empty: it goes (before
    //  the event, which a script may act on at once)
    if (!w->to_player && !w->written)
        unlink (w->out);
    json_t *ev = s_json (self, w, ok? "ended": "failed");
    if (ev && why && *why)
        json_object_set_new (ev, "message", json_string (why));
    video_emit (self->video, ev);
    s_free (self, w);
}

static void s_write (viewer_t *self, s_watch_t *w);

//  The watch stops taking input; the job finishes the file and says 'D'
//  (or 'E'), and then the watch ends with ok and why.  The watch may be
//  gone when this returns.
static void
s_finish (viewer_t *self, s_watch_t *w, bool ok, const char *why)
{
    if (w->state == VIEWER_ENDING || w->shut)
        return;
    w->state = VIEWER_ENDING;
    w->ended_ok = ok;
    if (why && !w->why [0])
        snprintf (w->why, sizeof w->why, "%s", why);
    s_write (self, w);          //  the job gets its end once the queue is out
}

//  ---------------------------------------------------------------------
//  /watch

//  ffplay, else mpv, when installed.
static void
s_default_player (char *out, size_t size)
{
    out [0] = 0;
    const char *path = getenv ("PATH");
    char dirs [4096];
    snprintf (dirs, sizeof dirs, "%s", path? path: "/usr/bin:/bin");
    static const char *players [][2] = {
        { "ffplay", "ffplay -autoexit -loglevel error -" },
        { "mpv", "mpv --really-quiet -" },
    };
    for (size_t k = 0; k < 2 && !out [0]; k++) {
        char copy [4096], *save = NULL;
        snprintf (copy, sizeof copy, "%s", dirs);
        for (char *d = strtok_r (copy, ":", &save); d; d = strtok_r (NULL, ":", &save)) {
            char file [PATH_MAX];
            snprintf (file, sizeof file, "%.3000s/%s", d, players [k][0]);
            if (access (file, X_OK) == 0) {
                snprintf (out, size, "%s", players [k][1]);
                break;
            }
        }
    }
}

//  Starts the player with a pipe on its stdin (its output goes nowhere: it
//  must not write over the node's terminal or JSON); returns the pipe's
//  write end, or -1.
static int
s_start_player (viewer_t *self, s_watch_t *w)
{
    const char *argv [] = { "sh", "-c", self->player, NULL };
    child_opts_t o = { .file = "/bin/sh", .argv = argv, .in = CHILD_PIPE, .out = CHILD_NULL,
                       .err = CHILD_NULL, .group = true };
    w->player = child_new (&o);
    return w->player? child_take_fd (w->player): -1;
}

static const char *
s_format_for (const char *out)
{
    const char *dot = out? strrchr (out, '.'): NULL;
    if (dot && (strcasecmp (dot, ".ts") == 0 || strcasecmp (dot, ".m2ts") == 0
            ||  strcasecmp (dot, ".mts") == 0))
        return "mpegts";
    return "matroska";
}

void
viewer_watch (viewer_t *self, const uint8_t peer [32], const char *name, int64_t offset_ms,
              const char *out, int64_t now_ms)
{
    video_at (self->video, now_ms);
    if (!out && !self->player [0]) {
        video_error (self->video, "no_player", "no player to show the video: install ffplay or "
                     "mpv, give --player CMD, or save it with /watch PEER NAME --out FILE");
        return;
    }
    if (strlen (name) > XFER_NAME_MAX) {
        video_error (self->video, "too_big", "a shared name is at most %d bytes", XFER_NAME_MAX);
        return;
    }
    char why [200];
    if (offset_ms < 0 || media_offset_check ((uint64_t) offset_ms, why, sizeof why) != 0) {
        video_error (self->video, "too_big", "%s", offset_ms < 0? "a negative offset": why);
        return;
    }
    int fd = -1;
    if (out) {
        //  A new file: nothing the user has is overwritten
        fd = open (out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            video_error (self->video, errno == EEXIST? "exists": "io",
                         "cannot write the video to '%s': %s", out,
                         errno == EEXIST? "the file exists; choose a new name": strerror (errno));
            return;
        }
    }
    uint8_t sid [WIRE_ID_SIZE];
    randombytes_buf (sid, sizeof sid);
    //  Our own watches have a table of their own: viewers never take it
    s_watch_t *w = s_new (self, peer, sid, name);
    if (!w) {
        video_error (self->video, "busy", "at most %d /watches at once: /stop one first", VIEWER_MAX);
        goto fail;
    }
    w->s.offset_ms = offset_ms;
    if (out) {
        if (!realpath (out, w->out))
            snprintf (w->out, sizeof w->out, "%s", out);
    }
    else {
        w->to_player = true;
        snprintf (w->out, sizeof w->out, "%s", self->player);
        fd = s_start_player (self, w);
        if (fd < 0) {
            video_error (self->video, "io", "cannot start the player '%s'", self->player);
            goto fail;
        }
    }
    char line [64];
    snprintf (line, sizeof line, "mux %s", s_format_for (out));
    int rc = video_job (self->video, line, fd, &w->s.fd);
    fd = -1;                    //  transferred
    if (rc != 0) {
        const char *helper = video_opts (self->video)->helper;
        video_error (self->video, "no_helper", "cannot start the media helper (%s): is securechat-media "
                     "in ../libexec/securechat/ or beside securechat-node?", helper? helper: "none");
        goto fail;
    }
    wire_frame_t f = { .type = WIRE_WATCH, .watch = { .name = name, .name_len = strlen (name),
                       .offset_ms = (uint64_t) offset_ms, .paced = out == NULL,
                       .credit = VIEWER_WINDOW } };
    memcpy (f.watch.sid, sid, WIRE_ID_SIZE);
    if (video_send (self->video, peer, &f) != 0) {
        video_error (self->video, "again", "%s is not reachable right now",
                     video_peer (self->video, peer));
        goto fail;
    }
    w->granted = VIEWER_WINDOW;
    w->last_grant = w->s.last_heard = video_now (self->video);
    video_emit (self->video, s_json (self, w, "requested"));
    return;
fail:
    if (fd >= 0)
        close (fd);
    if (out && w)
        unlink (w->out);        //  the empty file we made
    else if (out && !w)
        unlink (out);
    if (w) {
        child_stop (&w->player, SIGTERM, 0);
        s_free (self, w);
    }
}

//  ---------------------------------------------------------------------
//  Frames from the owner, messages to and from the mux job

//  Queues one message for the job.
static int
s_queue (s_watch_t *w, char kind, const uint8_t *body, size_t len)
{
    if (len + 1 > MEDIAJOB_MAX)
        return SC_ETOOBIG;
    //  What the job took goes (once it is at least what waits, so each byte
    //  moves about once), or a queue that never quite empties would grow
    //  for as long as the stream runs
    if (w->outq_off > 0 && w->outq_off >= w->outq_len - w->outq_off) {
        memmove (w->outq, w->outq + w->outq_off, w->outq_len - w->outq_off);
        w->outq_len -= w->outq_off;
        w->outq_off = 0;
    }
    uint8_t *more = realloc (w->outq, w->outq_len + MEDIAJOB_HEADER + 1 + len);
    if (!more)
        return SC_ENOMEM;
    w->outq = more;
    bytes_put_be (w->outq + w->outq_len, len + 1, MEDIAJOB_HEADER);
    w->outq [w->outq_len + MEDIAJOB_HEADER] = (uint8_t) kind;
    memcpy (w->outq + w->outq_len + MEDIAJOB_HEADER + 1, body, len);
    w->outq_len += MEDIAJOB_HEADER + 1 + len;
    return 0;
}

//  Sends the grant (cumulative: repeating it is harmless); when the link
//  does not take it, the tick tries again.
static void
s_send_grant (viewer_t *self, s_watch_t *w)
{
    wire_frame_t f = { .type = WIRE_SCREDIT, .scredit = { .credit = w->granted } };
    memcpy (f.scredit.sid, w->s.sid, WIRE_ID_SIZE);
    w->grant_due = video_send (self->video, w->s.peer, &f) != 0;
    if (!w->grant_due)
        w->last_grant = video_now (self->video);
}

//  Writes what waits for the job; returns credit once it is all taken.
static void
s_write (viewer_t *self, s_watch_t *w)
{
    while (w->s.fd >= 0 && !w->shut && w->outq_off < w->outq_len) {
        ssize_t n = write (w->s.fd, w->outq + w->outq_off, w->outq_len - w->outq_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            //  The job stopped reading: it failed (its 'E' says why, on the
            //  read side) or died (then its end of file does)
            shutdown (w->s.fd, SHUT_WR);
            w->shut = true;
            return;
        }
        w->outq_off += (size_t) n;
    }
    //  Credit goes back once the job has taken all but a little, a quarter
    //  window at a time (one small frame per several batches).  The owner
    //  stops only with a whole window out, so enough always comes back.
    bool ending = w->state == VIEWER_ENDING;
    if (w->outq_len - w->outq_off <= QUEUE_LOW && w->unreturned >= VIEWER_WINDOW / 4 && !ending) {
        w->granted += w->unreturned;
        w->unreturned = 0;
        s_send_grant (self, w);
    }
    if (w->outq_off == w->outq_len && ending && !w->shut && w->s.fd >= 0) {
        shutdown (w->s.fd, SHUT_WR);
        w->shut = true;
    }
}

//  Ends the watch for a fault of the owner's (said to it as tell) or ours.
static void
s_refuse (viewer_t *self, s_watch_t *w, const char *tell, const char *why)
{
    video_tell_end (self->video, &w->s, false, tell);
    s_finish (self, w, false, why);
}

static void
s_frame (viewer_t *self, s_watch_t *w, const wire_frame_t *f)
{
    char err [256] = "", why [300];
    if (w->state == VIEWER_ENDING)
        return;                 //  what is still in flight after /stop
    w->s.last_heard = video_now (self->video);
    if (f->type == WIRE_STREAM) {
        if (w->state == VIEWER_PLAYING) {
            s_refuse (self, w, "a second stream header", "the owner sent a second stream header");
            return;
        }
        if (pack_header_decode (f->stream.header, f->stream.header_len, &w->hdr, err, sizeof err) != 0) {
            snprintf (why, sizeof why, "the owner's stream header was refused: %s", err);
            s_refuse (self, w, err, why);
            return;
        }
        for (int i = 0; i < w->hdr.nstreams; i++)
            w->hdr.streams [i].extradata = NULL;       //  borrowed from the frame
        w->state = VIEWER_PLAYING;
        if (s_queue (w, 'H', f->stream.header, f->stream.header_len) != 0) {
            s_refuse (self, w, "the viewer is out of memory", "out of memory for the stream");
            return;
        }
    }
    else if (f->type == WIRE_BATCH) {
        const char *bad = NULL;
        if (w->state != VIEWER_PLAYING)
            bad = "packets before the stream header";
        else if (f->batch.seq != w->seq)
            bad = "packets out of order";
        else if (w->seq >= w->granted)
            bad = "more packets than were granted";
        else if (pack_batch_decode (f->batch.packets, f->batch.packets_len, &w->hdr, NULL, NULL, err, sizeof err) != 0)
            bad = err;
        if (bad) {
            snprintf (why, sizeof why, "the owner sent %s", bad);
            s_refuse (self, w, bad, why);
            return;
        }
        if (s_queue (w, 'B', f->batch.packets, f->batch.packets_len) != 0) {
            s_refuse (self, w, "the viewer is out of memory", "out of memory for the stream");
            return;
        }
        w->seq++;
        w->unreturned++;
        w->s.bytes += f->batch.packets_len;
    }
    else if (f->type == WIRE_SEND) {
        char *text = f->send.reason_len? utf8_sanitize (f->send.reason, f->send.reason_len): NULL;
        if (f->send.ok && w->state == VIEWER_PLAYING)
            s_finish (self, w, true, NULL);
        else {
            char line [400];
            snprintf (line, sizeof line, "%s could not stream '%s': %s",
                      video_peer (self->video, w->s.peer), w->s.name, text? text: "no reason given");
            s_finish (self, w, false, line);
        }
        free (text);
        return;
    }
    s_write (self, w);
}

//  A message from the mux job.
static void
s_message (viewer_t *self, s_watch_t *w, char kind, const uint8_t *body, size_t len)
{
    if (kind == 'S')
        w->written = true;
    else if (kind == 'F' && w->latency < 0) {
        w->latency = video_now (self->video) - w->s.started;
        video_emit (self->video, s_json (self, w, "started"));
    }
    else if (kind == 'D' || kind == 'E') {
        char text [300];
        snprintf (text, sizeof text, "%.*s", (int) len, (const char *) body);
        bool stopped_early = w->state != VIEWER_ENDING;
        if (kind == 'E' && w->to_player && !w->player)
            snprintf (text, sizeof text, "the player was closed");
        if (kind == 'E' && !w->why [0])
            snprintf (w->why, sizeof w->why, "%s", text);
        bool ok = kind == 'D' && w->ended_ok;
        s_end (self, w, ok, w->why, stopped_early);
    }
}

//  Reads what the job wrote; returns false once the watch is gone.
static bool
s_read (viewer_t *self, s_watch_t *w)
{
    video_stream_read (&w->s, false);
    size_t off = 0;
    while (w->state != VIEWER_FREE && w->s.in_len - off >= MEDIAJOB_HEADER) {
        size_t len = (size_t) bytes_get_be (w->s.in + off, MEDIAJOB_HEADER);
        if (len < 1 || len > NOTE_MAX) {
            s_end (self, w, false, "the media helper sent a broken message",
                   w->state != VIEWER_ENDING);
            return false;
        }
        if (w->s.in_len - off < MEDIAJOB_HEADER + len)
            break;
        char kind = (char) w->s.in [off + MEDIAJOB_HEADER];
        s_message (self, w, kind, w->s.in + off + MEDIAJOB_HEADER + 1, len - 1);
        off += MEDIAJOB_HEADER + len;
    }
    if (w->state == VIEWER_FREE)
        return false;
    memmove (w->s.in, w->s.in + off, w->s.in_len - off);
    w->s.in_len -= off;
    if (w->s.eof) {
        //  The job ended without its 'D' or 'E': it crashed or was killed
        s_end (self, w, false, w->why [0]? w->why: VIDEO_JOB_GONE, w->state != VIEWER_ENDING);
        return false;
    }
    return true;
}

void
viewer_on_frame (viewer_t *self, const uint8_t peer [32], const wire_frame_t *f, int64_t now_ms)
{
    video_at (self->video, now_ms);
    if (f->type != WIRE_STREAM && f->type != WIRE_BATCH && f->type != WIRE_SEND)
        return;
    s_watch_t *w = s_find (self, peer, wire_frame_id (f));
    if (w)
        s_frame (self, w, f);   //  else a watch that ended, or never was
}

//  ---------------------------------------------------------------------
//  Polling, commands, timers

int
viewer_poll_items (viewer_t *self, zmq_pollitem_t *items, int max)
{
    self->npolled = 0;
    for (int i = 0; i < VIEWER_MAX && self->npolled < max; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE || w->s.fd < 0)
            continue;
        short events = ZMQ_POLLIN;
        if (!w->shut && w->outq_off < w->outq_len)
            events |= ZMQ_POLLOUT;
        items [self->npolled] = (zmq_pollitem_t) { NULL, w->s.fd, events, 0 };
        self->polled [self->npolled++] = i;
    }
    return self->npolled;
}

void
viewer_on_poll (viewer_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int k = 0; k < count && k < self->npolled; k++) {
        s_watch_t *w = &self->watches [self->polled [k]];
        if (w->state == VIEWER_FREE || w->s.fd != items [k].fd || !items [k].revents)
            continue;
        if (items [k].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            if (!s_read (self, w))
                continue;
        if (w->s.fd >= 0 && (items [k].revents & ZMQ_POLLOUT))
            s_write (self, w);
    }
}

void
viewer_peer_down (viewer_t *self, const uint8_t peer [32], int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE || memcmp (w->s.peer, peer, 32) != 0)
            continue;
        char why [300];
        snprintf (why, sizeof why, "%s left in the middle of the stream; what came is kept",
                  video_peer (self->video, peer));
        s_finish (self, w, false, why);
    }
}

int
viewer_stop (viewer_t *self, const char *prefix, int64_t now_ms)
{
    video_at (self->video, now_ms);
    int n = 0;
    size_t plen = prefix? strlen (prefix): 0;
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE || w->state == VIEWER_ENDING
        ||  strncmp (w->s.idhex, prefix? prefix: "", plen) != 0)
            continue;
        n++;
        video_tell_end (self->video, &w->s, false, "stopped by the viewer");
        s_finish (self, w, true, "stopped");
    }
    return n;
}

void
viewer_list (viewer_t *self, json_t *list, int64_t now_ms)
{
    video_at (self->video, now_ms);
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE)
            continue;
        json_t *e = s_json (self, w, w->state == VIEWER_ENDING? "ending"
                                   : w->latency >= 0? "running": "requested");
        json_object_del (e, "event");
        json_array_append_new (list, e);
    }
}

//  Watches a playing stream for progress.  A viewer that heard nothing for
//  a second repeats its grant (also while its player is paused, so the
//  owner knows it is there); one owed batches that do not come for the
//  stall timeout ends the stream with the reason.
static void
s_check (viewer_t *self, s_watch_t *w, int64_t now)
{
    if (w->state != VIEWER_PLAYING)
        return;
    video_stats_t *stats = video_counters (self->video);
    int64_t idle = now - w->s.last_heard;
    if (w->grant_due || (idle >= REGRANT_MS && now - w->last_grant >= REGRANT_MS)) {
        stats->grants_repeated += !w->grant_due;
        s_send_grant (self, w);
    }
    if (w->granted <= w->seq || idle < video_opts (self->video)->stall_ms)
        return;
    stats->stalls++;
    char why [300];
    snprintf (why, sizeof why, "nothing came from %s for %lld s although the link is up",
              video_peer (self->video, w->s.peer), (long long) (idle / 1000));
    s_refuse (self, w, "stalled", why);
}

void
viewer_tick (viewer_t *self, int64_t now)
{
    video_at (self->video, now);
    for (int i = 0; i < PLAYERS_MAX; i++)
        if (self->players [i] && child_reap (self->players [i], NULL))
            child_destroy (&self->players [i]);
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE)
            continue;
        if (w->player && child_reap (w->player, NULL))
            child_destroy (&w->player);     //  the job notices at its next write
        s_check (self, w, now);
        if (w->state == VIEWER_ASKED && now - w->s.started > HEADER_WAIT_MS) {
            char why [300];
            snprintf (why, sizeof why, "%s did not answer the /watch",
                      video_peer (self->video, w->s.peer));
            s_refuse (self, w, "no answer in time", why);
        }
    }
}

//  ---------------------------------------------------------------------
//  Life cycle

viewer_t *
viewer_new (video_t *video)
{
    viewer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->video = video;
    const char *player = video_opts (video)->player;
    if (player && *player)
        snprintf (self->player, sizeof self->player, "%s", player);
    else
        s_default_player (self->player, sizeof self->player);
    return self;
}

void
viewer_destroy (viewer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    viewer_t *self = *self_p;
    for (int i = 0; i < VIEWER_MAX; i++) {
        s_watch_t *w = &self->watches [i];
        if (w->state == VIEWER_FREE)
            continue;
        video_tell_end (self->video, &w->s, false, "the viewer left");
        child_stop (&w->player, SIGTERM, 0);
        s_free (self, w);
    }
    //  Players of streams that ended play on, as they would without us
    for (int i = 0; i < PLAYERS_MAX; i++)
        child_release (&self->players [i]);
    free (self);
    *self_p = NULL;
}

static bool
s_on_frame (void *arg, const uint8_t peer [32], const wire_frame_t *f, int64_t now_ms)
{
    viewer_on_frame (arg, peer, f, now_ms);
    return true;
}

int
viewer_register (viewer_t *self, wire_handlers_t *handlers)
{
    int rc = wire_handle (handlers, WIRE_STREAM, s_on_frame, self);
    if (rc == 0)
        rc = wire_handle (handlers, WIRE_BATCH, s_on_frame, self);
    if (rc == 0)
        rc = wire_handle (handlers, WIRE_SEND, s_on_frame, self);
    return rc;
}

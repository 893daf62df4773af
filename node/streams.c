#define LOG_MODULE "streams"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../crypto/bytes.h"
#include "../crypto/err.h"
#include "../crypto/identity.h"
#include "../crypto/log.h"
#include "../crypto/utf8.h"
#include "child.h"
#include "ctlq.h"
#include "jobs.h"
#include "mediajob.h"
#include "streams.h"
#include "xfer.h"

#define HEADER_WAIT_MS 10000        //  a WATCH unanswered this long has failed
#define REGRANT_MS 1000             //  a viewer that heard nothing this long repeats its grant
#define STALL_MS_DEFAULT 60000      //  no progress this long on a live link: the stream ends
#define KEEPALIVE_MS 5000           //  an owner whose file is quiet (a paced gap) says so
#define CREDIT_MAX 64               //  a viewer cannot ask for more in flight
#define QUEUE_LOW (256 * 1024)      //  a viewer returns credit below this much queued
#define VIEWER_NOTE_MAX 1024        //  the longest message a mux job sends
#define VIEWER_IN (4 * (MEDIAJOB_HEADER + VIEWER_NOTE_MAX))
//  What a stream says when its job ends without a word (the helper and the
//  other streams' jobs go on: each job is a process of its own)
#define JOB_GONE "the media helper's job for this stream stopped (it crashed or was killed)"

typedef struct {
    bool used;
    bool owner;                 //  we serve; else we watch
    uint8_t sid [WIRE_ID_SIZE];
    char idhex [33];
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
    char out [PATH_MAX];        //  viewer: the file, or the player command
    bool to_player;
    child_t *player;            //  viewer: NULL once it exited (or for a file)
    int fd;                     //  data socket to the media job, -1 once closed
    int file;                   //  owner: the shared file until the job starts with the
                                //  first credit, then -1 (the job has it)
    bool paced;                 //  owner: for a player
    int64_t paused;             //  owner: since when it has sent all it was granted and
                                //  no new grant came (0: it has credit, or got some since)
    uint8_t *in;                //  messages from the job
    size_t in_len, in_cap;      //  a demux job's batches, or a mux job's short notes
    uint8_t *outq;              //  viewer: messages to the job
    size_t outq_len, outq_off;
    //  Credit is cumulative: the viewer grants "up to batch N" (seq < N),
    //  so a lost, late or repeated grant can neither shrink nor inflate
    //  the window.
    uint64_t limit;             //  owner: the highest grant seen (held to CREDIT_MAX ahead)
    uint64_t granted;           //  viewer: the grant given (batches in all)
    uint64_t unreturned;        //  viewer: batches queued, credit not yet returned
    bool grant_due;             //  viewer: the grant could not go out yet
    int64_t last_grant;         //  viewer: when the grant last went out
    int64_t last_heard;         //  monotonic ms of the peer's last frame for this stream
    int64_t last_tx;            //  owner: when the last frame went out
    uint64_t seq;               //  owner: next to send; viewer: next expected
    bool header;                //  viewer: the header came
    bool written;               //  viewer: the job wrote the output's header ('S')
    media_header_t hdr;         //  viewer: for checking batches (no extradata kept)
    bool shut;                  //  viewer: the job was told the input ended
    bool ending;                //  viewer: shut once the queue is written
    bool ended_ok;              //  the stream reached its end
    char why [512];             //  why it ended early
    int64_t offset_ms;
    int64_t started;            //  monotonic ms of /watch or WATCH
    int64_t latency;            //  viewer: ms from /watch to the first packet written
    uint64_t bytes;             //  payload bytes forwarded
    bool retry;                 //  owner: a frame waits for the link
    bool eof;                   //  the job closed its end (all it said is in `in`)
} s_stream_t;

struct _streams_t {
    streams_opts_t opts;
    streams_host_t host;
    char player [PATH_MAX];     //  the command, "" when none
    jobs_t *jobs;               //  the media helper's job client
    child_t *players [16];      //  players that outlived their stream, reaped when they exit
    s_stream_t streams [STREAMS_MAX];
    int polled [STREAMS_MAX];   //  stream of each poll item given out
    int npolled;
    ctlq_t *ctlq;               //  ends and refusals that met a full link
    int64_t stall_ms;
    int served_max;
    int64_t pause_max_ms;
    streams_stats_t stats;
};

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_end (streams_t *self, s_stream_t *s, bool ok, const char *why, bool tell);

//  ---------------------------------------------------------------------
//  Events

static json_t *
s_json (streams_t *self, const s_stream_t *s, const char *state)
{
    char id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (s->peer, id);
    const char *name = self->host.peer_name (self->host.arg, s->peer);
    json_t *ev = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I}", "event", "stream",
                            "stream_id", s->idhex, "role", s->owner? "owner": "viewer",
                            "peer", id, "name", name? name: "?", "video", s->name,
                            "state", state, "offset", s->offset_ms / 1000.0,
                            "bytes", (json_int_t) s->bytes);
    if (ev && !s->owner)
        json_object_set_new (ev, "out", json_string (s->to_player? "player": s->out));
    if (ev && s->to_player)
        json_object_set_new (ev, "player", json_string (s->out));
    if (ev && s->latency >= 0 && !s->owner)
        json_object_set_new (ev, "latency_ms", json_integer (s->latency));
    //  Seconds without progress on a live link (owed batches, or waiting
    //  for a grant), once it is worth saying
    int64_t idle = s_now () - s->last_heard;
    bool stuck = s->owner? s->seq >= s->limit: s->header && s->granted > s->seq;
    if (ev && s->used && !s->ending && s->last_heard && stuck && idle >= 3000)
        json_object_set_new (ev, "stalled", json_integer (idle / 1000));
    return ev;
}

static void
s_emit (streams_t *self, json_t *ev)
{
    if (ev)
        self->host.event (self->host.arg, ev);
}

static void
s_error (streams_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_error (streams_t *self, const char *code, const char *fmt, ...)
{
    char message [512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    s_emit (self, json_pack ("{s:s, s:s, s:s}", "event", "error", "message", message, "code", code));
}

static const char *
s_peer (streams_t *self, const uint8_t peer [32])
{
    const char *name = self->host.peer_name (self->host.arg, peer);
    return name? name: "the peer";
}

//  ---------------------------------------------------------------------
//  Streams table

static s_stream_t *
s_find (streams_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE], bool owner)
{
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (s->used && s->owner == owner && memcmp (s->sid, sid, WIRE_ID_SIZE) == 0
        &&  memcmp (s->peer, peer, 32) == 0)
            return s;
    }
    return NULL;
}

//  How many streams of a role there are, with peer (NULL: with anyone).
static int
s_count (streams_t *self, const uint8_t *peer, bool owner)
{
    int n = 0;
    for (int i = 0; i < STREAMS_MAX; i++) {
        const s_stream_t *s = &self->streams [i];
        n += s->used && s->owner == owner && (!peer || memcmp (s->peer, peer, 32) == 0);
    }
    return n;
}

static s_stream_t *
s_new (streams_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE], bool owner,
       const char *name)
{
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (s->used)
            continue;
        memset (s, 0, sizeof *s);
        s->used = true;
        s->owner = owner;
        memcpy (s->sid, sid, WIRE_ID_SIZE);
        sodium_bin2hex (s->idhex, sizeof s->idhex, sid, WIRE_ID_SIZE);
        memcpy (s->peer, peer, 32);
        snprintf (s->name, sizeof s->name, "%s", name);
        s->fd = -1;
        s->file = -1;
        s->latency = -1;
        s->started = s_now ();
        s->in_cap = owner? MEDIAJOB_HEADER + MEDIAJOB_MAX: VIEWER_IN;
        s->in = malloc (s->in_cap);
        if (!s->in) {
            s->used = false;
            return NULL;
        }
        return s;
    }
    return NULL;
}

static void
s_free (streams_t *self, s_stream_t *s)
{
    //  A player still running plays what it has to its end and is reaped
    //  when it exits
    for (int i = 0; i < 16 && s->player; i++)
        if (!self->players [i]) {
            self->players [i] = s->player;
            s->player = NULL;   //  transferred
        }
    child_release (&s->player);     //  no room: left to run, never reaped
    if (s->fd >= 0)
        close (s->fd);
    if (s->file >= 0)
        close (s->file);
    s->fd = s->file = -1;
    free (s->in);
    free (s->outq);
    s->in = s->outq = NULL;
    s->used = false;
}

static int
s_send (streams_t *self, s_stream_t *s, const wire_frame_t *f)
{
    return self->host.send (self->host.arg, s->peer, f);
}

static void
s_tell_end (streams_t *self, s_stream_t *s, bool ok, const char *why)
{
    wire_frame_t f = { .type = WIRE_SEND, .ok = ok, .text = why, .text_len = strlen (why) };
    memcpy (f.id, s->sid, WIRE_ID_SIZE);
    if (ctlq_send (self->ctlq, s->peer, &f, s_now ()) != 0)
        log_warn ("the end of stream %.8s is lost (out of memory)", s->idhex);
}

//  Ends a stream now: says why (and tells the peer when tell), frees it.
//  A viewer's output is finished by its job first (s_finish_viewer).
static void
s_end (streams_t *self, s_stream_t *s, bool ok, const char *why, bool tell)
{
    if (tell)
        s_tell_end (self, s, ok, ok? "": why);
    //  A file we made that never got a header is empty: it goes (before
    //  the event, which a script may act on at once)
    if (!s->owner && !s->to_player && !s->written)
        unlink (s->out);
    json_t *ev = s_json (self, s, ok? "ended": "failed");
    if (ev && why && *why)
        json_object_set_new (ev, "message", json_string (why));
    s_emit (self, ev);
    s_free (self, s);
}

//  A viewer stream stops taking input; the job finishes the file and says
//  'D' (or 'E'), and then the stream ends with ok and why.
static void s_viewer_write (streams_t *self, s_stream_t *s);

//  The stream may be gone when this returns.
static void
s_finish_viewer (streams_t *self, s_stream_t *s, bool ok, const char *why)
{
    if (s->ending || s->shut)
        return;
    s->ending = true;
    s->ended_ok = ok;
    if (why && !s->why [0])
        snprintf (s->why, sizeof s->why, "%s", why);
    s_viewer_write (self, s);   //  the job gets its end once the queue is out
}

//  ---------------------------------------------------------------------
//  Viewer

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

//  Starts the player with a pipe on its stdin; returns the write end or -1.
static int
s_start_player (streams_t *self, s_stream_t *s)
{
    //  The player must not write over the node's terminal or JSON
    const char *argv [] = { "sh", "-c", self->player, NULL };
    child_opts_t o = { .file = "/bin/sh", .argv = argv, .in = CHILD_PIPE, .out = CHILD_NULL,
                       .err = CHILD_NULL, .group = true };
    s->player = child_new (&o);
    return s->player? child_take_fd (s->player): -1;
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
streams_watch (streams_t *self, const uint8_t peer [32], const char *name, int64_t offset_ms,
               const char *out)
{
    if (!out && !self->player [0]) {
        s_error (self, "no_player", "no player to show the video: install ffplay or mpv, "
                 "give --player CMD, or save it with /watch PEER NAME --out FILE");
        return;
    }
    if (strlen (name) > XFER_NAME_MAX) {
        s_error (self, "too_big", "a shared name is at most %d bytes", XFER_NAME_MAX);
        return;
    }
    char why [200];
    if (offset_ms < 0 || media_offset_check ((uint64_t) offset_ms, why, sizeof why) != 0) {
        s_error (self, "too_big", "%s", offset_ms < 0? "a negative offset": why);
        return;
    }
    int fd = -1;
    if (out) {
        //  A new file: nothing the user has is overwritten
        fd = open (out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            s_error (self, errno == EEXIST? "exists": "io", "cannot write the video to '%s': %s",
                     out, errno == EEXIST? "the file exists; choose a new name": strerror (errno));
            return;
        }
    }
    uint8_t sid [WIRE_ID_SIZE];
    randombytes_buf (sid, sizeof sid);
    //  Our own watches have slots of their own: viewers never take them
    s_stream_t *s = s_count (self, NULL, false) < STREAMS_WATCHED_MAX?
                    s_new (self, peer, sid, false, name): NULL;
    if (!s) {
        s_error (self, "busy", "at most %d /watches at once: /stop one first", STREAMS_WATCHED_MAX);
        goto fail;
    }
    s->offset_ms = offset_ms;
    if (out) {
        if (!realpath (out, s->out))
            snprintf (s->out, sizeof s->out, "%s", out);
    }
    else {
        s->to_player = true;
        snprintf (s->out, sizeof s->out, "%s", self->player);
        fd = s_start_player (self, s);
        if (fd < 0) {
            s_error (self, "io", "cannot start the player '%s'", self->player);
            goto fail;
        }
    }
    char line [64];
    snprintf (line, sizeof line, "mux %s", s_format_for (out));
    int rc = jobs_start (self->jobs, line, fd, &s->fd);
    fd = -1;                    //  transferred
    if (rc != 0) {
        s_error (self, "no_helper", "cannot start the media helper (%s): is securechat-media "
                 "installed beside securechat-node?", self->opts.helper? self->opts.helper: "none");
        goto fail;
    }
    wire_frame_t f = { .type = WIRE_WATCH, .text = name, .text_len = strlen (name),
                       .index = (uint64_t) offset_ms, .ok = out == NULL, .credit = STREAMS_WINDOW };
    memcpy (f.id, sid, WIRE_ID_SIZE);
    if (s_send (self, s, &f) != 0) {
        s_error (self, "again", "%s is not reachable right now", s_peer (self, peer));
        goto fail;
    }
    s->granted = STREAMS_WINDOW;
    s->last_grant = s->last_heard = s_now ();
    s_emit (self, s_json (self, s, "requested"));
    return;
fail:
    if (fd >= 0)
        close (fd);
    if (out && s)
        unlink (s->out);        //  the empty file we made
    else if (out && !s)
        unlink (out);
    if (s) {
        child_stop (&s->player, SIGTERM, 0);
        s_free (self, s);
    }
}

//  Queues one message for the viewer's job.
static int
s_queue (s_stream_t *s, char kind, const uint8_t *body, size_t len)
{
    if (len + 1 > MEDIAJOB_MAX)
        return SC_ETOOBIG;
    //  What the job took goes (once it is at least what waits, so each byte
    //  moves about once), or a queue that never quite empties would grow
    //  for as long as the stream runs
    if (s->outq_off > 0 && s->outq_off >= s->outq_len - s->outq_off) {
        memmove (s->outq, s->outq + s->outq_off, s->outq_len - s->outq_off);
        s->outq_len -= s->outq_off;
        s->outq_off = 0;
    }
    uint8_t *more = realloc (s->outq, s->outq_len + MEDIAJOB_HEADER + 1 + len);
    if (!more)
        return SC_ENOMEM;
    s->outq = more;
    bytes_put_be (s->outq + s->outq_len, len + 1, MEDIAJOB_HEADER);
    s->outq [s->outq_len + MEDIAJOB_HEADER] = (uint8_t) kind;
    memcpy (s->outq + s->outq_len + MEDIAJOB_HEADER + 1, body, len);
    s->outq_len += MEDIAJOB_HEADER + 1 + len;
    return 0;
}

//  Sends the viewer's grant (cumulative: repeating it is harmless); when
//  the link does not take it, the tick tries again.
static void
s_send_grant (streams_t *self, s_stream_t *s)
{
    wire_frame_t f = { .type = WIRE_SCREDIT, .credit = s->granted };
    memcpy (f.id, s->sid, WIRE_ID_SIZE);
    s->grant_due = s_send (self, s, &f) != 0;
    if (!s->grant_due)
        s->last_grant = s_now ();
}

//  Writes what waits for the job; returns credit once it is all taken.
static void
s_viewer_write (streams_t *self, s_stream_t *s)
{
    while (s->fd >= 0 && !s->shut && s->outq_off < s->outq_len) {
        ssize_t n = write (s->fd, s->outq + s->outq_off, s->outq_len - s->outq_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            //  The job stopped reading: it failed (its 'E' says why, on the
            //  read side) or died (then its end of file does)
            shutdown (s->fd, SHUT_WR);
            s->shut = true;
            return;
        }
        s->outq_off += (size_t) n;
    }
    //  Credit goes back once the job has taken all but a little, a quarter
    //  window at a time (one small frame per several batches).  The owner
    //  stops only with a whole window out, so enough always comes back.
    if (s->outq_len - s->outq_off <= QUEUE_LOW && s->unreturned >= STREAMS_WINDOW / 4 && !s->ending) {
        s->granted += s->unreturned;
        s->unreturned = 0;
        s_send_grant (self, s);
    }
    if (s->outq_off == s->outq_len && s->ending && !s->shut && s->fd >= 0) {
        shutdown (s->fd, SHUT_WR);
        s->shut = true;
    }
}

static void
s_viewer_frame (streams_t *self, s_stream_t *s, const wire_frame_t *f)
{
    char err [256] = "";
    if (s->ending)
        return;                 //  what is still in flight after /stop
    s->last_heard = s_now ();
    if (f->type == WIRE_STREAM) {
        if (s->header) {
            s_tell_end (self, s, false, "a second stream header");
            s_finish_viewer (self, s, false, "the owner sent a second stream header");
            return;
        }
        if (wire_header_decode (f->data, f->size, &s->hdr, err, sizeof err) != 0) {
            char why [300];
            snprintf (why, sizeof why, "the owner's stream header was refused: %s", err);
            s_tell_end (self, s, false, err);
            s_finish_viewer (self, s, false, why);
            return;
        }
        for (int i = 0; i < s->hdr.nstreams; i++)
            s->hdr.streams [i].extradata = NULL;       //  borrowed from the frame
        s->header = true;
        if (s_queue (s, 'H', f->data, f->size) != 0) {
            s_tell_end (self, s, false, "the viewer is out of memory");
            s_finish_viewer (self, s, false, "out of memory for the stream");
            return;
        }
    }
    else if (f->type == WIRE_BATCH) {
        const char *bad = NULL;
        if (!s->header)
            bad = "packets before the stream header";
        else if (f->index != s->seq)
            bad = "packets out of order";
        else if (s->seq >= s->granted)
            bad = "more packets than were granted";
        else if (wire_batch_decode (f->data, f->size, &s->hdr, NULL, NULL, err, sizeof err) != 0)
            bad = err;
        if (bad) {
            char why [300];
            snprintf (why, sizeof why, "the owner sent %s", bad);
            s_tell_end (self, s, false, bad);
            s_finish_viewer (self, s, false, why);
            return;
        }
        if (s_queue (s, 'B', f->data, f->size) != 0) {
            s_tell_end (self, s, false, "the viewer is out of memory");
            s_finish_viewer (self, s, false, "out of memory for the stream");
            return;
        }
        s->seq++;
        s->unreturned++;
        s->bytes += f->size;
    }
    else if (f->type == WIRE_SEND) {
        char *why = f->text_len? utf8_sanitize (f->text, f->text_len): NULL;
        char text [400];
        if (f->ok && s->header)
            s_finish_viewer (self, s, true, NULL);
        else {
            snprintf (text, sizeof text, "%s could not stream '%s': %s", s_peer (self, s->peer),
                      s->name, why? why: "no reason given");
            s_finish_viewer (self, s, false, text);
        }
        free (why);
        return;
    }
    s_viewer_write (self, s);
}

//  A message from the viewer's mux job.
static void
s_viewer_message (streams_t *self, s_stream_t *s, char kind, const uint8_t *body, size_t len)
{
    if (kind == 'S')
        s->written = true;
    else if (kind == 'F' && s->latency < 0) {
        s->latency = s_now () - s->started;
        s_emit (self, s_json (self, s, "started"));
    }
    else if (kind == 'D' || kind == 'E') {
        char text [300];
        snprintf (text, sizeof text, "%.*s", (int) len, (const char *) body);
        bool stopped_early = !s->ending;
        if (kind == 'E' && s->to_player && !s->player)
            snprintf (text, sizeof text, "the player was closed");
        if (kind == 'E' && !s->why [0])
            snprintf (s->why, sizeof s->why, "%s", text);
        bool ok = kind == 'D' && s->ended_ok;
        s_end (self, s, ok, s->why, stopped_early);
    }
}

//  ---------------------------------------------------------------------
//  Owner

//  Takes a viewer's grant: the highest counts, none reaches past
//  CREDIT_MAX batches ahead of what was sent, whatever a viewer claims.
//  Any grant, even one repeated, says the viewer is there; only a higher
//  one ends a pause.
static void
s_take_grant (streams_t *self, s_stream_t *s, uint64_t grant)
{
    s->last_heard = s_now ();
    uint64_t cap = s->seq + CREDIT_MAX;
    if (grant > cap) {
        self->stats.credit_clamped++;
        grant = cap;
    }
    if (grant > s->limit) {
        s->limit = grant;
        s->paused = 0;
    }
    else if (grant < s->limit)
        self->stats.credit_stale++;
}

//  Starts the demux job, with the first credit.  Returns 0 or an error (the
//  stream is then the caller's to end).
static int
s_owner_start (streams_t *self, s_stream_t *s)
{
    char line [64];
    snprintf (line, sizeof line, "demux %lld %d", (long long) s->offset_ms, s->paced? 1: 0);
    int rc = jobs_start (self->jobs, line, s->file, &s->fd);
    s->file = -1;               //  transferred
    if (rc == 0)
        s_emit (self, s_json (self, s, "started"));
    return rc;
}

static void
s_owner_watch (streams_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    char name [XFER_NAME_MAX + 1];
    char text [400] = "";
    if (f->text_len > XFER_NAME_MAX || memchr (f->text, 0, f->text_len))
        snprintf (text, sizeof text, "no video has that name");
    else if (s_find (self, peer, f->id, true))
        return;                 //  the same WATCH again
    else if (s_count (self, peer, true) >= STREAMS_SERVED_PER_PEER)
        snprintf (text, sizeof text, "too many streams to you at once (at most %d)",
                  STREAMS_SERVED_PER_PEER);
    else if (s_count (self, NULL, true) >= self->served_max)
        snprintf (text, sizeof text, "too many streams at once (at most %d); try later",
                  self->served_max);
    else
        media_offset_check (f->index, text, sizeof text);
    if (text [0]) {
        //  Refused before anything is opened: said to the viewer only (a
        //  throwaway key may send thousands)
        wire_frame_t no = { .type = WIRE_SEND, .text = text, .text_len = strlen (text) };
        memcpy (no.id, f->id, WIRE_ID_SIZE);
        ctlq_send (self->ctlq, peer, &no, s_now ());
        log_debug ("a WATCH from %s refused: %s", s_peer (self, peer), text);
        return;
    }
    memcpy (name, f->text, f->text_len);
    name [f->text_len] = 0;
    char path [PATH_MAX];
    bool video = false;
    int fd = -1;
    if (self->host.find_share (self->host.arg, name, path, sizeof path, &video) != 0)
        snprintf (text, sizeof text, "nothing called '%s' is shared", name);
    else if (!video)
        snprintf (text, sizeof text, "'%s' is shared, but it is not a video that can be streamed "
                  "(use /get to fetch it)", name);
    else if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
        snprintf (text, sizeof text, "'%s' cannot be read now", name);
    s_stream_t *s = text [0]? NULL: s_new (self, peer, f->id, true, name);
    if (!text [0] && !s)
        snprintf (text, sizeof text, "the owner is out of memory; try later");
    if (s) {
        s->file = fd;
        fd = -1;                //  transferred
        s->paced = f->ok;
        s->offset_ms = (int64_t) f->index;
        s_take_grant (self, s, f->credit);
        //  No job until the viewer grants credit: a WATCH that grants none
        //  costs a descriptor for STREAMS_START_MS, no process
        if (s->limit == 0)
            s_emit (self, s_json (self, s, "requested"));
        else if (s_owner_start (self, s) != 0) {
            snprintf (text, sizeof text, "the owner's media helper is missing");
            s_free (self, s);
            s = NULL;
        }
    }
    if (fd >= 0)
        close (fd);
    if (!s) {
        //  Said to the viewer, and shown here, so the owner knows who asked
        wire_frame_t reply = { .type = WIRE_SEND, .text = text, .text_len = strlen (text) };
        memcpy (reply.id, f->id, WIRE_ID_SIZE);
        ctlq_send (self->ctlq, peer, &reply, s_now ());
        log_info ("%s asked for '%s': %s", s_peer (self, peer), name, text);
    }
}

//  Forwards the job's complete messages while credit lasts.
static void
s_owner_forward (streams_t *self, s_stream_t *s)
{
    size_t off = 0;
    s->retry = false;
    while (s->in_len - off >= MEDIAJOB_HEADER) {
        size_t len = (size_t) bytes_get_be (s->in + off, MEDIAJOB_HEADER);
        if (len < 1 || len > MEDIAJOB_MAX) {
            s_end (self, s, false, "the media helper sent a broken message", true);
            return;
        }
        if (s->in_len - off < MEDIAJOB_HEADER + len)
            break;
        char kind = (char) s->in [off + MEDIAJOB_HEADER];
        const uint8_t *body = s->in + off + MEDIAJOB_HEADER + 1;
        size_t size = len - 1;
        if (kind == 'B' && s->seq >= s->limit)
            break;
        if (kind == 'E') {
            char why [300];
            snprintf (why, sizeof why, "%.*s", (int) size, (const char *) body);
            s_end (self, s, size == 0, why, true);
            return;
        }
        wire_frame_t f = { .type = kind == 'H'? WIRE_STREAM: WIRE_BATCH, .index = s->seq,
                           .data = body, .size = size };
        memcpy (f.id, s->sid, WIRE_ID_SIZE);
        if (s_send (self, s, &f) != 0) {
            s->retry = true;    //  the link is full: again at the next tick
            break;
        }
        s->last_tx = s_now ();
        if (kind == 'B') {
            s->seq++;
            s->bytes += size;
        }
        off += MEDIAJOB_HEADER + len;
    }
    memmove (s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    //  The job ended without its 'E': it crashed or was killed
    if (s->eof && !s->retry && (s->in_len < MEDIAJOB_HEADER
                            ||  s->in_len < MEDIAJOB_HEADER + bytes_get_be (s->in, MEDIAJOB_HEADER)))
        s_end (self, s, false, JOB_GONE, true);
}

//  ---------------------------------------------------------------------
//  Frames and polling

void
streams_on_frame (streams_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    if (f->type == WIRE_WATCH) {
        s_owner_watch (self, peer, f);
        return;
    }
    bool to_owner = f->type == WIRE_SCREDIT
                 || (f->type == WIRE_SEND && s_find (self, peer, f->id, true));
    s_stream_t *s = s_find (self, peer, f->id, to_owner);
    if (!s)
        return;                 //  a stream that ended, or never was
    if (!to_owner) {
        s_viewer_frame (self, s, f);
        return;
    }
    if (f->type == WIRE_SCREDIT) {
        s_take_grant (self, s, f->credit);
        if (s->file >= 0 && s->limit > 0 && s_owner_start (self, s) != 0)
            s_end (self, s, false, "the owner's media helper is missing", true);
        else
            s_owner_forward (self, s);
    }
    else {
        //  The viewer stopped (or failed): the job ends when its socket closes
        char *why = f->text_len? utf8_sanitize (f->text, f->text_len): NULL;
        char text [400];
        snprintf (text, sizeof text, "%s stopped watching%s%s", s_peer (self, peer),
                  why? ": ": "", why? why: "");
        s_end (self, s, true, text, false);
        free (why);
    }
}

int
streams_poll_items (streams_t *self, zmq_pollitem_t *items, int max)
{
    self->npolled = 0;
    for (int i = 0; i < STREAMS_MAX && self->npolled < max; i++) {
        s_stream_t *s = &self->streams [i];
        if (!s->used || s->fd < 0)
            continue;
        short events = 0;
        if (!s->owner) {
            events = ZMQ_POLLIN;
            if (!s->shut && s->outq_off < s->outq_len)
                events |= ZMQ_POLLOUT;
        }
        else if (!s->retry && s->in_len < s->in_cap) {
            //  Read on only while the last message read can go out
            bool blocked = false;
            if (s->in_len >= MEDIAJOB_HEADER + 1) {
                size_t len = (size_t) bytes_get_be (s->in, MEDIAJOB_HEADER);
                blocked = s->in_len >= MEDIAJOB_HEADER + len && s->in [MEDIAJOB_HEADER] == 'B'
                       && s->seq >= s->limit;
            }
            if (!blocked)
                events = ZMQ_POLLIN;
        }
        if (!events)
            continue;
        items [self->npolled] = (zmq_pollitem_t) { NULL, s->fd, events, 0 };
        self->polled [self->npolled++] = i;
    }
    return self->npolled;
}

//  Reads what the job wrote; returns false once the stream is gone.
static bool
s_read_job (streams_t *self, s_stream_t *s)
{
    while (s->in_len < s->in_cap) {
        ssize_t n = read (s->fd, s->in + s->in_len, s->in_cap - s->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            //  All it said is in `in` now; it is handled below
            s->eof = true;
            close (s->fd);
            s->fd = -1;
            break;
        }
        s->in_len += (size_t) n;
        if (s->owner)
            break;              //  forward before reading more
    }
    if (s->owner) {
        s_owner_forward (self, s);
        return s->used;
    }
    size_t off = 0;
    while (s->used && s->in_len - off >= MEDIAJOB_HEADER) {
        size_t len = (size_t) bytes_get_be (s->in + off, MEDIAJOB_HEADER);
        if (len < 1 || len > VIEWER_NOTE_MAX) {
            s_end (self, s, false, "the media helper sent a broken message", !s->ending);
            return false;
        }
        if (s->in_len - off < MEDIAJOB_HEADER + len)
            break;
        char kind = (char) s->in [off + MEDIAJOB_HEADER];
        s_viewer_message (self, s, kind, s->in + off + MEDIAJOB_HEADER + 1, len - 1);
        off += MEDIAJOB_HEADER + len;
    }
    if (!s->used)
        return false;
    memmove (s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    if (s->eof) {
        //  The job ended without its 'D' or 'E': it crashed or was killed
        s_end (self, s, false, s->why [0]? s->why: JOB_GONE, !s->ending);
        return false;
    }
    return true;
}

void
streams_on_poll (streams_t *self, const zmq_pollitem_t *items, int count, int64_t now_ms)
{
    for (int k = 0; k < count && k < self->npolled; k++) {
        s_stream_t *s = &self->streams [self->polled [k]];
        if (!s->used || s->fd != items [k].fd || !items [k].revents)
            continue;
        if (items [k].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            if (!s_read_job (self, s))
                continue;
        if (!s->owner && s->fd >= 0 && (items [k].revents & ZMQ_POLLOUT))
            s_viewer_write (self, s);
    }
}

void
streams_peer_down (streams_t *self, const uint8_t peer [32])
{
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (!s->used || memcmp (s->peer, peer, 32) != 0)
            continue;
        char why [300];
        if (s->owner) {
            snprintf (why, sizeof why, "%s left", s_peer (self, peer));
            s_end (self, s, false, why, false);
        }
        else {
            snprintf (why, sizeof why, "%s left in the middle of the stream; what came is kept",
                      s_peer (self, peer));
            s_finish_viewer (self, s, false, why);
        }
    }
}

void
streams_stop (streams_t *self, const char *prefix)
{
    int n = 0;
    size_t plen = prefix? strlen (prefix): 0;
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (!s->used || strncmp (s->idhex, prefix? prefix: "", plen) != 0 || s->ending)
            continue;
        n++;
        if (s->owner) {
            s_end (self, s, true, "stopped", true);
            continue;
        }
        s_tell_end (self, s, false, "stopped by the viewer");
        s_finish_viewer (self, s, true, "stopped");
    }
    if (n == 0)
        s_error (self, "no_stream", plen? "no stream has an id starting with '%s'"
                                        : "no stream is running%s", plen? prefix: "");
}

streams_stats_t
streams_stats (streams_t *self)
{
    streams_stats_t st = self->stats;
    ctlq_stats_t q = ctlq_stats (self->ctlq);
    st.ctl_queued = q.queued;
    st.ctl_dropped = q.dropped;
    return st;
}

void
streams_list (streams_t *self)
{
    json_t *list = json_array ();
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (s->used) {
            bool running = s->owner? s->file < 0: s->latency >= 0;
            json_t *e = s_json (self, s, s->ending? "ending": running? "running": "requested");
            json_object_del (e, "event");
            json_array_append_new (list, e);
        }
    }
    s_emit (self, json_pack ("{s:s, s:o}", "event", "streams", "streams", list));
}

//  Watches a running stream for progress.  A viewer that heard nothing
//  for a second repeats its grant (also while its player is paused, so
//  the owner knows it is there); a viewer owed batches that come for the
//  stall timeout, or an owner waiting for credit that hears nothing for
//  as long, ends the stream with the reason.  Returns true when it ended.
static bool
s_watch (streams_t *self, s_stream_t *s, int64_t now)
{
    if (s->ending || (!s->owner && !s->header))
        return false;
    char why [300];
    //  A served stream never granted any credit (so no job runs) ends soon;
    //  one that sent all it was granted and got no more (a player paused,
    //  its viewer repeating the grant) may wait much longer
    if (s->owner && s->file >= 0) {
        if (now - s->started < STREAMS_START_MS)
            return false;
        snprintf (why, sizeof why, "no credit came within %d s of the WATCH",
                  STREAMS_START_MS / 1000);
        s_tell_end (self, s, false, why);
        snprintf (why, sizeof why, "%s asked for '%s' but granted no credit within %d s",
                  s_peer (self, s->peer), s->name, STREAMS_START_MS / 1000);
        s_end (self, s, false, why, false);
        return true;
    }
    if (s->owner && s->seq >= s->limit && !s->paused)
        s->paused = now;
    if (s->owner && s->paused && now - s->paused >= self->pause_max_ms) {
        snprintf (why, sizeof why, "the stream was paused for longer than %lld s (--pause-max)",
                  (long long) (self->pause_max_ms / 1000));
        s_tell_end (self, s, false, why);
        snprintf (why, sizeof why, "%s paused '%s' for longer than %lld s (--pause-max)",
                  s_peer (self, s->peer), s->name, (long long) (self->pause_max_ms / 1000));
        s_end (self, s, false, why, false);
        return true;
    }
    int64_t idle = now - s->last_heard;
    if (!s->owner && (s->grant_due || (idle >= REGRANT_MS && now - s->last_grant >= REGRANT_MS))) {
        self->stats.grants_repeated += !s->grant_due;
        s_send_grant (self, s);
    }
    //  A paced stream through a quiet stretch of its file (a still screen,
    //  a gap in the timestamps) has credit and nothing to send: an empty
    //  batch tells the viewer the owner is there
    if (s->owner && s->last_tx && !s->retry && s->seq < s->limit && s->in_len == 0
    &&  now - s->last_tx >= KEEPALIVE_MS) {
        static const uint8_t empty [1] = { 0x90 };      //  msgpack []
        wire_frame_t f = { .type = WIRE_BATCH, .index = s->seq, .data = empty, .size = 1 };
        memcpy (f.id, s->sid, WIRE_ID_SIZE);
        if (s_send (self, s, &f) == 0) {
            s->seq++;
            s->last_tx = now;
        }
    }
    //  Owed: the viewer granted more than came; waiting: the owner has
    //  sent all it was granted
    bool stuck = s->owner? s->seq >= s->limit: s->granted > s->seq;
    if (!stuck || idle < self->stall_ms)
        return false;
    self->stats.stalls++;
    snprintf (why, sizeof why, "nothing came from %s for %lld s although the link is up",
              s_peer (self, s->peer), (long long) (idle / 1000));
    if (s->owner)
        s_end (self, s, false, why, true);
    else {
        s_tell_end (self, s, false, "stalled");
        s_finish_viewer (self, s, false, why);
    }
    return true;
}

void
streams_tick (streams_t *self, int64_t now)
{
    ctlq_flush (self->ctlq, now);
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (!s->used)
            continue;
        if (s->player && child_reap (s->player, NULL))
            child_destroy (&s->player);     //  the job notices at its next write
        if (s->owner && s->retry)
            s_owner_forward (self, s);
        if (!s->used)
            continue;
        if (s_watch (self, s, now))
            continue;
        if (!s->owner && !s->header && !s->ending && now - s->started > HEADER_WAIT_MS) {
            char why [300];
            snprintf (why, sizeof why, "%s did not answer the /watch", s_peer (self, s->peer));
            s_tell_end (self, s, false, "no answer in time");
            s_finish_viewer (self, s, false, why);
        }
    }
    for (int i = 0; i < 16; i++)
        if (self->players [i] && child_reap (self->players [i], NULL))
            child_destroy (&self->players [i]);
    jobs_tick (self->jobs);
}

//  ---------------------------------------------------------------------
//  Life cycle

streams_t *
streams_new (const streams_opts_t *opts, const streams_host_t *host)
{
    streams_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = *opts;
    self->host = *host;
    self->stall_ms = opts->stall_ms > 0? opts->stall_ms: STALL_MS_DEFAULT;
    self->served_max = opts->served_max > 0 && opts->served_max <= STREAMS_SERVED_LIMIT?
                       opts->served_max: STREAMS_SERVED_MAX;
    self->pause_max_ms = opts->pause_max_ms > 0? opts->pause_max_ms: STREAMS_PAUSE_MAX_MS;
    self->ctlq = ctlq_new (host->send, host->arg);
    self->jobs = jobs_new (opts->helper);
    if (!self->ctlq || !self->jobs) {
        ctlq_destroy (&self->ctlq);
        jobs_destroy (&self->jobs);
        free (self);
        return NULL;
    }
    if (opts->player && *opts->player)
        snprintf (self->player, sizeof self->player, "%s", opts->player);
    else
        s_default_player (self->player, sizeof self->player);
    return self;
}

void
streams_destroy (streams_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    streams_t *self = *self_p;
    for (int i = 0; i < STREAMS_MAX; i++) {
        s_stream_t *s = &self->streams [i];
        if (!s->used)
            continue;
        s_tell_end (self, s, false, s->owner? "the owner left": "the viewer left");
        child_stop (&s->player, SIGTERM, 0);
        s_free (self, s);
    }
    //  Players of streams that ended play on, as they would without us
    for (int i = 0; i < 16; i++)
        child_release (&self->players [i]);
    jobs_destroy (&self->jobs);
    //  What the links took at the last moment is all the peers get
    ctlq_flush (self->ctlq, s_now ());
    ctlq_destroy (&self->ctlq);
    free (self);
    *self_p = NULL;
}

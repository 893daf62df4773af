#define LOG_MODULE "files"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "../crypto/chunk.h"
#include "../crypto/err.h"
#include "../crypto/fileio.h"
#include "../crypto/identity.h"
#include "../crypto/log.h"
#include "../crypto/utf8.h"
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include "ctlq.h"
#include "files.h"
#include "xfer.h"

#define HASH_SLICE (8 * 1024 * 1024)    //  bytes hashed per work call
#define SEND_BURST 16                   //  chunks sent per work call, all transfers
#define SHARES_MAX 1024
#define FREE_MARGIN (16 * 1024 * 1024)  //  keep this much free on the disk
#define PROGRESS_MS 1000
#define REGRANT_MS 1000                 //  receiver: repeat the grant when nothing came this long
#define STALLED_MS 3000                 //  no progress this long: said in the events
#define RESYNC_MS 10000                 //  nothing came this long: compare bitmaps again
#define STALL_MS_DEFAULT 60000          //  no progress this long: paused
#define REOFFER_MS 10000                //  an offer with no answer is made again...
#define REOFFER_MAX 30                  //  ...this often at most (then at the peer's return)
#define RESYNC_MAX_MS 60000             //  the longest quiet before bitmaps are compared
#define OUT_PER_PEER 16                 //  transfers sent to one peer at once
#define OUT_MAX 64                      //  and to everyone
//  What a peer can make us keep (a peer costs one key pair)
#define OFFERS_PER_PEER 8               //  offers from one peer waiting for /accept
#define OFFERS_MAX 64                   //  from everyone: past that the oldest goes
#define IN_PER_PEER 16                  //  transfers from one peer accepted and not ended
#define IN_MAX 64                       //  from everyone
#define ENDED_MAX 256                   //  ended transfers kept for /transfers
#define OFFER_TTL_MS_DEFAULT (24LL * 3600 * 1000)   //  an offer not answered this long expires
#define STATE_FILE_MAX (1536 * 1024)    //  saved state larger than this is not ours

typedef enum {
    S_HASHING,      //  sender: hashing before the offer
    S_OFFERED,      //  offer sent / received, waiting for an answer
    S_RUNNING,
    S_VERIFYING,    //  receiver: checking the hash
    S_PAUSED,       //  peer gone, disk full, stalled: resumes later (s_pause_t says why)
    S_DONE,
    S_FAILED,
} s_state_t;

static const char *s_state_names [] = {
    "offered", "offered", "running", "running", "paused", "done", "failed"
};

//  Why a transfer is paused
typedef enum {
    P_NONE,
    P_PEER,         //  the link is gone: resumes when the peer is back
    P_DISK,         //  the disk is full: /accept once there is room
    P_STALL,        //  no progress on a live link: resumes with the link, or /accept
} s_pause_t;

typedef struct {
    uint8_t id [16];
    char idhex [33];
    bool out;                   //  we send
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
    char path [PATH_MAX];       //  out: source; in: final path once saved
    char part [XFER_NAME_MAX + 64];     //  in: temporary name in the download folder
    uint64_t size, chunk_size, count;
    uint8_t hash [32], key [32];
    s_state_t state;
    int fd;
    crypto_generichash_state *hst;      //  while hashing (sodium_malloc)
    uint64_t hashed;
    uint8_t *map;               //  out: chunks the receiver holds or we sent; in: chunks we
                                //  hold (NULL until accepted: an offer holds no bitmap)
    uint64_t have;              //  chunks set in map
    //  Credit is cumulative: the receiver grants "you may have sent me up to
    //  N chunks in all" (counted as the chunks it holds plus those on the
    //  way), so a lost, late or repeated grant can neither shrink nor
    //  inflate the window.
    uint64_t limit;             //  out: the highest grant seen (held to our own window)
    uint64_t granted;           //  in: the grant we gave last
    bool grant_due;             //  in: the grant could not go out yet
    bool accept_due;            //  in: ACCEPT could not go out yet
    bool offer_due;             //  out: OFFER could not go out yet
    uint64_t next;              //  out: where to look for the next chunk to send
    uint64_t sent;              //  out: chunks sent in this run (for tests and stats)
    int64_t last_progress;      //  monotonic ms: a chunk came (in) or went / credit grew (out)
    int64_t last_heard;         //  in: any chunk came, even one held already (the link lives);
                                //  out: the grant last grew
    int64_t ivl;                //  usual ms between those (smoothed): what "quiet" means here
    int offers;                 //  out: OFFERs made while waiting for an answer
    int64_t last_grant;         //  in: when the grant last went out
    int64_t last_resync;        //  when bitmaps were last compared (ACCEPT or OFFER again)
    s_pause_t paused;
    bool dirty;                 //  in: state to save
    bool pull;                  //  in: we asked for it (/get)
    int64_t offered_at;         //  in: wall clock ms when the offer first came (it expires)
    int64_t last_event;
    uint64_t last_bytes;        //  at last_event, for the rate
    uint64_t rate;              //  bytes per second between the last two reports
    char error [512];
} s_xfer_t;

typedef struct {
    char name [XFER_NAME_MAX + 1];
    char path [PATH_MAX];
    uint64_t size;
    bool video;                 //  probed once, when shared
    uint64_t duration_ms;
    char codecs [64];           //  "h264,aac"
    char tracks [256];          //  "video:h264:,audio:aac:eng" (probe.h)
    char skipped [512];         //  what stays home and why
    int64_t mtime;              //  when probed: a file unchanged since is not probed again
    //  The probe runs in a child; the event loop reads its answer
    bool probing;               //  asked for (started, or waiting for a slot)
    bool announce;              //  say "shared" once it is known (a /share, not a start-up)
    pid_t probe_pid;
    int probe_fd;               //  -1 when not running
    char probe_text [1024];
    size_t probe_len;
    int64_t probe_end;          //  monotonic ms after which it is given up
} s_share_t;

typedef struct {
    uint8_t id [16];
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
} s_pending_get_t;

struct _files_t {
    files_opts_t opts;
    files_host_t host;
    uint8_t videos_asked [8][32];       //  peers whose SHARES answer a /videos
    size_t nvideos_asked;
    char home [PATH_MAX];
    char downloads [PATH_MAX];
    char state_dir [PATH_MAX];
    int dir_fd;                 //  the download folder
    s_xfer_t **xfers;
    size_t nxfers;
    s_share_t *shares;
    size_t nshares;
    s_pending_get_t gets [64];
    size_t ngets;
    ctlq_t *ctl;                //  answers and ends that met a full link
    files_stats_t stats;
    int64_t now;                //  monotonic ms, from the last work or tick
    size_t rr;                  //  the transfer the rate budget goes to first
    int64_t stall_ms;
    uint8_t *buf;               //  one chunk, plain
    uint8_t *sealed;            //  one chunk, sealed
    int64_t rate_start;
    uint64_t rate_bytes;
};

static void s_probe_next (files_t *self);
static void s_probe_cancel (s_share_t *share);

//  ---------------------------------------------------------------------
//  Events and small helpers

static const char *
s_peer_name (files_t *self, const uint8_t peer [32])
{
    bool verified;
    const char *name = self->host.peer_name (self->host.arg, peer, &verified);
    return name? name: "?";
}

static void
s_emit (files_t *self, json_t *ev)
{
    self->host.event (self->host.arg, ev);
}

static void
s_error (files_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_error (files_t *self, const char *code, const char *fmt, ...)
{
    char message [512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    s_emit (self, json_pack ("{s:s, s:s, s:s}", "event", "error", "message", message, "code", code));
}

static void
s_info (files_t *self, const char *message)
{
    s_emit (self, json_pack ("{s:s, s:s}", "event", "info", "message", message));
}

static uint64_t
s_bytes (const s_xfer_t *x)
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

static json_t *
s_xfer_json (files_t *self, const s_xfer_t *x)
{
    char peer [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (x->peer, peer);
    json_t *ev = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I}",
                            "event", "transfer", "transfer_id", x->idhex, "peer", peer,
                            "peer_name", s_peer_name (self, x->peer), "name", x->name,
                            "size", (json_int_t) x->size, "bytes", (json_int_t) s_bytes (x),
                            "direction", x->out? "out": "in", "chunks_sent", (json_int_t) x->sent);
    json_object_set_new (ev, "state", json_string (s_state_names [x->state]));
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

static void
s_report (files_t *self, s_xfer_t *x, int64_t now)
{
    uint64_t bytes = s_bytes (x);
    if (x->last_event && now > x->last_event && bytes >= x->last_bytes)
        x->rate = (bytes - x->last_bytes) * 1000 / (uint64_t) (now - x->last_event);
    s_emit (self, s_xfer_json (self, x));
    x->last_event = now;
    x->last_bytes = bytes;
}

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Sends a control frame that must not be lost: when the link is full it
//  waits in the control queue (ctlq.h) and goes when the link takes it.
static void
s_send_ctl (files_t *self, const uint8_t peer [32], wire_type_t type, const uint8_t id [16],
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
        log_warn ("a control frame to %s is lost: %s", s_peer_name (self, peer), sc_strerror (rc));
}

//  Pauses a transfer for why (a sentence kept for the events).
static void
s_pause (files_t *self, s_xfer_t *x, s_pause_t reason, const char *why)
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
static void
s_heard (files_t *self, s_xfer_t *x)
{
    if (x->last_heard) {
        int64_t gap = self->now - x->last_heard;
        x->ivl = x->ivl? (x->ivl * 7 + gap) / 8: gap;
    }
    x->last_heard = self->now;
}

//  How long a transfer may be quiet before bitmaps are compared again:
//  a few of its usual gaps, within RESYNC_MS and RESYNC_MAX_MS
static int64_t
s_resync_ms (const s_xfer_t *x)
{
    int64_t ms = 4 * x->ivl;
    return ms < RESYNC_MS? RESYNC_MS: ms > RESYNC_MAX_MS? RESYNC_MAX_MS: ms;
}

static s_xfer_t *
s_find (files_t *self, const uint8_t id [16])
{
    for (size_t i = 0; i < self->nxfers; i++)
        if (memcmp (self->xfers [i]->id, id, 16) == 0)
            return self->xfers [i];
    return NULL;
}

//  By hex prefix (4+ digits), for commands; reports errors.
static s_xfer_t *
s_find_prefix (files_t *self, const char *prefix)
{
    size_t n = strlen (prefix), matches = 0;
    s_xfer_t *found = NULL;
    for (size_t i = 0; n >= 4 && i < self->nxfers; i++)
        if (strncasecmp (self->xfers [i]->idhex, prefix, n) == 0) {
            found = self->xfers [i];
            matches++;
        }
    if (matches == 1)
        return found;
    s_error (self, matches? "ambiguous": "no_transfer", matches
             ? "'%s' matches several transfers: give more of the id (/transfers lists them)"
             : "no transfer with id '%s' (/transfers lists them)", prefix);
    return NULL;
}

static bool
s_ended (const s_xfer_t *x)
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
        s_xfer_t *x = self->xfers [i];
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
static int64_t
s_wall (files_t *self)
{
    if (self->host.wall_ms)
        return self->host.wall_ms (self->host.arg);
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Incoming transfers from peer (NULL: from everyone) waiting for /accept,
//  and accepted and not ended.
static void
s_count_in (files_t *self, const uint8_t *peer, size_t *offered, size_t *accepted)
{
    *offered = *accepted = 0;
    for (size_t i = 0; i < self->nxfers; i++) {
        s_xfer_t *x = self->xfers [i];
        if (x->out || s_ended (x) || (peer && memcmp (x->peer, peer, 32) != 0))
            continue;
        if (x->state == S_OFFERED)
            ++*offered;
        else
            ++*accepted;
    }
}

static s_xfer_t *
s_new_xfer (files_t *self, const uint8_t id [16], bool out, const uint8_t peer [32])
{
    s_prune (self);
    s_xfer_t **more = realloc (self->xfers, (self->nxfers + 1) * sizeof *more);
    s_xfer_t *x = calloc (1, sizeof *x);
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
s_state_path (files_t *self, const s_xfer_t *x, char *out, size_t size)
{
    snprintf (out, size, "%s/%s-%s.json", self->state_dir, x->out? "out": "in", x->idhex);
}

//  A receiver's bitmap, as bits in a file of its own (trailing zero bytes left out).
static void
s_map_path (files_t *self, const s_xfer_t *x, char *out, size_t size)
{
    snprintf (out, size, "%s/in-%s.map", self->state_dir, x->idhex);
}

//  Closes and forgets a finished transfer's resources (the record stays
//  for /transfers).
static void
s_release (files_t *self, s_xfer_t *x, bool remove_part)
{
    if (x->fd >= 0)
        close (x->fd);
    x->fd = -1;
    if (x->hst) {
        sodium_free (x->hst);
        x->hst = NULL;
    }
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
    sodium_memzero (x->key, sizeof x->key);
}

static void
s_fail (files_t *self, s_xfer_t *x, const char *why, bool tell_peer)
{
    if (x->state == S_DONE || x->state == S_FAILED)
        return;
    if (tell_peer)
        s_send_ctl (self, x->peer, WIRE_CANCEL, x->id, 0, NULL);
    x->state = S_FAILED;
    snprintf (x->error, sizeof x->error, "%s", why);
    s_release (self, x, true);
    s_report (self, x, self->now);
}

//  ---------------------------------------------------------------------
//  Saving state (so a restart resumes)

//  Saves a receiver's bitmap: only as far as its last chunk held, so a
//  transfer that has just begun saves next to nothing.  None: no file.
static int
s_save_map (files_t *self, s_xfer_t *x)
{
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

static void
s_save (files_t *self, s_xfer_t *x)
{
    if (x->state == S_DONE || x->state == S_FAILED || x->state == S_HASHING)
        return;
    char peer [65], hash [65], key [65];
    sodium_bin2hex (peer, sizeof peer, x->peer, 32);
    sodium_bin2hex (hash, sizeof hash, x->hash, 32);
    sodium_bin2hex (key, sizeof key, x->key, 32);
    json_t *j = json_pack ("{s:s, s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:b, s:I}",
                           "id", x->idhex, "out", x->out, "peer", peer, "name", x->name,
                           "path", x->out? x->path: "", "part", x->part, "size", (json_int_t) x->size,
                           "chunk_size", (json_int_t) x->chunk_size, "count", (json_int_t) x->count,
                           "hash", hash, "key", key, "pull", x->pull,
                           "offered_at", (json_int_t) x->offered_at);
    //  An offer still waiting for /accept must not come back accepted
    json_object_set_new (j, "accepted", json_boolean (x->out || x->state != S_OFFERED));
    char *text = json_dumps (j, JSON_COMPACT);
    json_decref (j);
    sodium_memzero (key, sizeof key);
    if (!text)
        return;
    char path [PATH_MAX + 64];
    s_state_path (self, x, path, sizeof path);
    int rc = fileio_write_atomic (path, text, strlen (text));
    if (rc == 0 && !x->out)
        rc = s_save_map (self, x);
    if (rc == 0)
        x->dirty = false;
    sodium_memzero (text, strlen (text));
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
s_load_map (files_t *self, s_xfer_t *x, json_t *j)
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
    if (wrong || s_find (self, id)) {
        log_warn ("ignoring transfer state %s: %s", path, wrong? wrong: "the transfer is there twice");
        json_decref (j);
        return;
    }
    s_xfer_t *x = s_new_xfer (self, id, out, peer);
    if (!x || s_hexfield (j, "hash", x->hash, 32) || s_hexfield (j, "key", x->key, 32)) {
        if (x)
            self->nxfers--, free (x);
        log_warn ("ignoring damaged transfer state %s", path);
        json_decref (j);
        return;
    }
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
    if (x->offered_at > s_wall (self))
        x->offered_at = s_wall (self);      //  a clock set back: the day counts from now
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
    const s_xfer_t *x = *(s_xfer_t * const *) a, *y = *(s_xfer_t * const *) b;
    return x->offered_at < y->offered_at? 1: x->offered_at > y->offered_at? -1: 0;
}

//  Offers waiting for /accept past the caps (state saved before there
//  were caps): the oldest go.  Nothing was accepted, so nothing is lost.
static void
s_load_bound (files_t *self)
{
    s_xfer_t **offers = calloc (self->nxfers + 1, sizeof *offers);
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
        s_xfer_t *x = offers [i];
        log_warn ("forgetting the offer of %s (transfer %.8s): too many offers were waiting",
                  x->name, x->idhex);
        x->state = S_FAILED;
        snprintf (x->error, sizeof x->error, "too many offers were waiting");
        s_release (self, x, false);
    }
    free (offers);
}

static void
s_load (files_t *self)
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

static void
s_save_shares (files_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < self->nshares; i++)
        //  What a probe said is kept (the next start skips it); a share still
        //  being probed is saved without, so it is probed again
        json_array_append_new (list, self->shares [i].probing
            ? json_pack ("{s:s, s:s}", "name", self->shares [i].name, "path", self->shares [i].path)
            : json_pack ("{s:s, s:s, s:I, s:I, s:b, s:I, s:s, s:s, s:s}",
                         "name", self->shares [i].name, "path", self->shares [i].path,
                         "size", (json_int_t) self->shares [i].size,
                         "mtime", (json_int_t) self->shares [i].mtime,
                         "video", self->shares [i].video,
                         "duration_ms", (json_int_t) self->shares [i].duration_ms,
                         "codecs", self->shares [i].codecs, "tracks", self->shares [i].tracks,
                         "skipped", self->shares [i].skipped));
    char *text = json_dumps (list, JSON_INDENT (1));
    json_decref (list);
    char path [PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/shares.json", self->home);
    int rc = text? fileio_write_atomic (path, text, strlen (text)): SC_ENOMEM;
    if (rc != 0)
        log_warn ("could not save the share list to %s (%s): the shares hold for this run "
                  "and saving is tried again at their next change", path, sc_strerror (rc));
    free (text);
}

//  ---------------------------------------------------------------------
//  Life cycle

files_t *
files_new (const files_opts_t *opts, const files_host_t *host, int *err)
{
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
    self->sealed = malloc (XFER_CHUNK_MAX + CHUNK_TAG_SIZE);
    self->ctl = ctlq_new (self->host.send, self->host.arg);
    self->stall_ms = opts->stall_ms > 0? opts->stall_ms: STALL_MS_DEFAULT;
    *err = SC_ENOMEM;
    if (!self->buf || !self->sealed || !self->ctl)
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
    char path [PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/shares.json", self->home);
    json_t *list = json_load_file (path, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        const char *p = json_string_value (json_object_get (e, "path"));
        struct stat st;
        //  Shares whose file went away are dropped quietly
        if (p && stat (p, &st) == 0 && S_ISREG (st.st_mode)) {
            s_share_t *more = realloc (self->shares, (self->nshares + 1) * sizeof *more);
            if (!more)
                break;
            self->shares = more;
            s_share_t *s = &self->shares [self->nshares++];
            memset (s, 0, sizeof *s);   //  no probe, no pid, nothing known yet
            xfer_safe_name (json_string_value (json_object_get (e, "name"))?: "file",
                            strlen (json_string_value (json_object_get (e, "name"))?: "file"), s->name);
            snprintf (s->path, sizeof s->path, "%s", p);
            s->size = (uint64_t) st.st_size;
            s->mtime = (int64_t) st.st_mtime;
            s->probe_fd = -1;
            //  What was probed is kept while the file stays the same: a
            //  node with many shares starts without probing each again
            const char *codecs = json_string_value (json_object_get (e, "codecs"));
            const char *tracks = json_string_value (json_object_get (e, "tracks"));
            const char *skipped = json_string_value (json_object_get (e, "skipped"));
            //  Saved before tracks were probed: probed again
            if (codecs && tracks && skipped && json_integer_value (json_object_get (e, "size")) == (json_int_t) st.st_size
            &&  json_integer_value (json_object_get (e, "mtime")) == (json_int_t) st.st_mtime) {
                s->video = json_is_true (json_object_get (e, "video"));
                s->duration_ms = (uint64_t) json_integer_value (json_object_get (e, "duration_ms"));
                snprintf (s->codecs, sizeof s->codecs, "%s", codecs);
                snprintf (s->tracks, sizeof s->tracks, "%s", tracks);
                snprintf (s->skipped, sizeof s->skipped, "%s", skipped);
            }
            else
                s->probing = true;      //  started below, once all are loaded
        }
    }
    json_decref (list);
    s_probe_next (self);
    s_load (self);
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
        s_xfer_t *x = self->xfers [i];
        if (x->state != S_DONE && x->state != S_FAILED)
            s_save (self, x);
        if (x->fd >= 0)
            close (x->fd);
        if (x->hst)
            sodium_free (x->hst);
        free (x->map);
        sodium_memzero (x->key, sizeof x->key);
        free (x);
    }
    free (self->xfers);
    for (size_t i = 0; i < self->nshares; i++)
        s_probe_cancel (&self->shares [i]);
    free (self->shares);
    free (self->buf);
    free (self->sealed);
    if (self->ctl)
        ctlq_flush (self->ctl, s_now ());   //  what the links take at the last moment
    ctlq_destroy (&self->ctl);
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Shares

//  Asks the securechat-media helper whether a share is a video, and its
//  duration and codecs.  It runs in a child process (only it loads FFmpeg);
//  the event loop reads its one line (files_poll_items), within PROBE_MS.
//  Not a video when the helper is missing, slow or says no.
#define PROBE_MS 3000
#define PROBES_MAX FILES_PROBES_MAX     //  children at once; more wait for a slot

//  Stops a running probe without using its answer.
static void
s_probe_cancel (s_share_t *share)
{
    if (share->probe_fd >= 0)
        close (share->probe_fd);
    share->probe_fd = -1;
    if (share->probe_pid > 0) {
        kill (share->probe_pid, SIGKILL);
        waitpid (share->probe_pid, NULL, 0);
    }
    share->probe_pid = 0;
    share->probing = false;
}

static void
s_probe_done (files_t *self, s_share_t *share)
{
    if (share->probe_fd >= 0)
        close (share->probe_fd);
    share->probe_fd = -1;
    if (share->probe_pid > 0) {
        kill (share->probe_pid, SIGKILL);       //  done or too slow: either way, gone
        waitpid (share->probe_pid, NULL, 0);
    }
    share->probe_pid = 0;
    share->probing = false;
    const char *text = share->probe_text;
    //  "video=1 audio=1 duration=3.000 streams=2 codecs=h264,aac"
    share->video = strncmp (text, "video=1 ", 8) == 0;
    const char *d = strstr (text, " duration=");
    if (d)
        share->duration_ms = (uint64_t) (strtod (d + 10, NULL) * 1000 + 0.5);
    const char *c = strstr (text, " codecs=");
    if (c)
        snprintf (share->codecs, sizeof share->codecs, "%.*s", (int) strcspn (c + 8, " \n"), c + 8);
    const char *t = strstr (text, " tracks=");
    if (t)
        snprintf (share->tracks, sizeof share->tracks, "%.*s", (int) strcspn (t + 8, " \n"), t + 8);
    const char *k = strstr (text, " skipped=");     //  the rest of the line
    if (k)
        snprintf (share->skipped, sizeof share->skipped, "%.*s", (int) strcspn (k + 9, "\n"), k + 9);
    s_save_shares (self);
    if (share->announce)
        s_emit (self, json_pack ("{s:s, s:s, s:s, s:I, s:b, s:f, s:s}", "event", "shared",
                                 "name", share->name, "path", share->path,
                                 "size", (json_int_t) share->size, "video", share->video,
                                 "duration", share->duration_ms / 1000.0, "codecs", share->codecs));
    share->announce = false;
}

//  Starts the probes that wait, while there are slots.
static void
s_probe_next (files_t *self)
{
    int running = 0;
    for (size_t i = 0; i < self->nshares; i++)
        running += self->shares [i].probe_fd >= 0;
    for (size_t i = 0; i < self->nshares && running < PROBES_MAX; i++) {
        s_share_t *share = &self->shares [i];
        if (!share->probing || share->probe_fd >= 0)
            continue;
        const char *helper = self->opts.helper;
        int out [2] = { -1, -1 };
        pid_t pid = -1;
        if (helper && access (helper, X_OK) == 0 && pipe2 (out, O_CLOEXEC | O_NONBLOCK) == 0) {
            pid = fork ();
            if (pid == 0) {
                dup2 (out [1], STDOUT_FILENO);
                int null = open ("/dev/null", O_RDWR);
                dup2 (null, STDIN_FILENO);
                dup2 (null, STDERR_FILENO);
                execl (helper, helper, "probe", share->path, (char *) NULL);
                _exit (127);
            }
            close (out [1]);
        }
        if (pid <= 0) {
            if (out [0] >= 0)
                close (out [0]);
            s_probe_done (self, share);         //  no helper: not a video
            continue;
        }
        share->probe_pid = pid;
        share->probe_fd = out [0];
        share->probe_end = self->now + PROBE_MS;
        running++;
    }
}

static void
s_probe (files_t *self, s_share_t *share, bool announce)
{
    share->video = false;
    share->duration_ms = 0;
    share->codecs [0] = 0;
    share->tracks [0] = 0;
    share->skipped [0] = 0;
    share->probe_text [0] = 0;
    share->probe_len = 0;
    share->probing = true;
    share->announce = announce;
    s_probe_next (self);
}

int
files_poll_items (files_t *self, zmq_pollitem_t *items, int max)
{
    int n = 0;
    for (size_t i = 0; i < self->nshares && n < max; i++)
        if (self->shares [i].probe_fd >= 0)
            items [n++] = (zmq_pollitem_t) { NULL, self->shares [i].probe_fd, ZMQ_POLLIN, 0 };
    return n;
}

void
files_on_poll (files_t *self, const zmq_pollitem_t *items, int count)
{
    bool done = false;
    for (int k = 0; k < count; k++) {
        if (!items [k].revents)
            continue;
        for (size_t i = 0; i < self->nshares; i++) {
            s_share_t *share = &self->shares [i];
            if (share->probe_fd != items [k].fd)
                continue;
            size_t room = sizeof share->probe_text - 1 - share->probe_len;
            ssize_t r = read (share->probe_fd, share->probe_text + share->probe_len, room);
            if (r > 0) {
                share->probe_len += (size_t) r;
                share->probe_text [share->probe_len] = 0;
            }
            if ((r < 0 && errno != EAGAIN && errno != EINTR) || r == 0
            ||  share->probe_len == sizeof share->probe_text - 1 || strchr (share->probe_text, '\n')) {
                s_probe_done (self, share);
                done = true;
            }
        }
    }
    if (done)
        s_probe_next (self);
}

void
files_share (files_t *self, const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
        s_error (self, "not_a_file", "cannot share '%s': %s", path,
                 errno == ENOENT? "no such file": "not a regular file");
        return;
    }
    char real [PATH_MAX];
    if (!realpath (path, real)) {
        s_error (self, "io", "cannot share '%s': %s", path, strerror (errno));
        return;
    }
    const char *base = strrchr (real, '/');
    char name [XFER_NAME_MAX + 1];
    xfer_safe_name (base? base + 1: real, strlen (base? base + 1: real), name);
    for (size_t i = 0; i < self->nshares; i++)
        if (strcmp (self->shares [i].name, name) == 0) {
            s_error (self, "exists", "a file called '%s' is shared already: /unshare it first", name);
            return;
        }
    if (self->nshares == SHARES_MAX) {
        s_error (self, "too_big", "at most %d files can be shared", SHARES_MAX);
        return;
    }
    s_share_t *more = realloc (self->shares, (self->nshares + 1) * sizeof *more);
    if (!more)
        return;
    self->shares = more;
    s_share_t *s = &self->shares [self->nshares++];
    memset (s, 0, sizeof *s);           //  no probe, no pid, nothing known yet
    snprintf (s->name, sizeof s->name, "%s", name);
    snprintf (s->path, sizeof s->path, "%s", real);
    s->size = (uint64_t) st.st_size;
    s->mtime = (int64_t) st.st_mtime;
    s->probe_fd = -1;
    s_probe (self, s, true);    //  "shared" comes once the probe has answered
    s_save_shares (self);       //  (saved as "to probe" until then)
}

void
files_unshare (files_t *self, const char *name)
{
    for (size_t i = 0; i < self->nshares; i++)
        if (strcmp (self->shares [i].name, name) == 0) {
            s_probe_cancel (&self->shares [i]);
            memmove (&self->shares [i], &self->shares [i + 1],
                     (self->nshares - i - 1) * sizeof self->shares [0]);
            self->nshares--;
            s_save_shares (self);
            s_emit (self, json_pack ("{s:s, s:s}", "event", "unshared", "name", name));
            return;
        }
    s_error (self, "no_file", "no shared file is called '%s'", name);
}

static bool
s_videos_asked (files_t *self, const uint8_t peer [32], bool take)
{
    for (size_t i = 0; i < self->nvideos_asked; i++)
        if (memcmp (self->videos_asked [i], peer, 32) == 0) {
            if (take)
                memmove (self->videos_asked [i], self->videos_asked [i + 1],
                         (--self->nvideos_asked - i) * 32);
            return true;
        }
    return false;
}

void
files_list (files_t *self, const uint8_t peer [32], bool videos)
{
    wire_frame_t f = { .type = WIRE_LIST };
    if (self->host.send (self->host.arg, peer, &f) != 0) {
        s_error (self, "again", "%s is not reachable right now", s_peer_name (self, peer));
        return;
    }
    //  The answer is the same SHARES list; it is shown as videos
    if (videos && !s_videos_asked (self, peer, false)
    &&  self->nvideos_asked < sizeof self->videos_asked / sizeof self->videos_asked [0])
        memcpy (self->videos_asked [self->nvideos_asked++], peer, 32);
}

int
files_find_share (files_t *self, const char *name, char *path, size_t path_size, bool *video)
{
    for (size_t i = 0; i < self->nshares; i++)
        if (strcmp (self->shares [i].name, name) == 0) {
            snprintf (path, path_size, "%s", self->shares [i].path);
            *video = self->shares [i].video;
            return 0;
        }
    return SC_ENOENT;
}

static void
s_send_shares (files_t *self, const uint8_t peer [32])
{
    wire_share_t *e = calloc (self->nshares + 1, sizeof *e);
    if (!e)
        return;
    for (size_t i = 0; i < self->nshares; i++) {
        struct stat st;
        e [i].name = self->shares [i].name;
        e [i].name_len = strlen (self->shares [i].name);
        e [i].size = stat (self->shares [i].path, &st) == 0? (uint64_t) st.st_size: self->shares [i].size;
        e [i].video = self->shares [i].video;
        e [i].duration_ms = self->shares [i].duration_ms;
        e [i].codecs = self->shares [i].codecs;
        e [i].codecs_len = strlen (self->shares [i].codecs);
        e [i].tracks = self->shares [i].tracks;
        e [i].tracks_len = strlen (self->shares [i].tracks);
        e [i].skipped = self->shares [i].skipped;
        e [i].skipped_len = strlen (self->shares [i].skipped);
    }
    uint8_t *buf;
    size_t len;
    if (wire_shares_encode (e, self->nshares, &buf, &len) == 0) {
        wire_frame_t f = { .type = WIRE_SHARES, .shares = { .entries = buf, .entries_len = len } };
        //  A list too long to wait in the queue is asked for again by the user
        if (ctlq_send (self->ctl, peer, &f, self->now) != 0)
            log_warn ("the share list for %s met a full link", s_peer_name (self, peer));
        free (buf);
    }
    free (e);
}

//  A share entry's tracks, [{kind, codec, language}], as the peer gave them
//  (made valid UTF-8; fields past the third are ignored).
static json_t *
s_tracks (const wire_share_t *e)
{
    json_t *list = json_array ();
    char *text = e->tracks_len? utf8_sanitize (e->tracks, e->tracks_len): NULL;
    char *save = NULL;
    for (char *t = text? strtok_r (text, ",", &save): NULL; t; t = strtok_r (NULL, ",", &save)) {
        char *kind = t, *codec = strchr (kind, ':'), *lang = codec? strchr (codec + 1, ':'): NULL;
        if (!codec || !lang)
            continue;
        *codec++ = 0;
        *lang++ = 0;
        lang [strcspn (lang, ":")] = 0;
        json_t *track = json_pack ("{s:s, s:s}", "kind", kind, "codec", codec);
        if (track && *lang)
            json_object_set_new (track, "language", json_string (lang));
        if (track)
            json_array_append_new (list, track);
    }
    free (text);
    return list;
}

//  What stays home, one phrase each: "subtitle mov_text: MP4 timed text, ...".
static json_t *
s_skipped (const wire_share_t *e)
{
    json_t *list = json_array ();
    char *text = e->skipped_len? utf8_sanitize (e->skipped, e->skipped_len): NULL;
    for (char *t = text, *end; t && *t; t = end) {
        end = strstr (t, "; ");
        if (end) {
            *end = 0;
            end += 2;
        }
        else
            end = t + strlen (t);
        json_array_append_new (list, json_string (t));
    }
    free (text);
    return list;
}

static void
s_on_shares (files_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    wire_share_t e [SHARES_MAX];
    size_t n;
    bool videos = s_videos_asked (self, peer, true);
    if (wire_shares_decode (f->shares.entries, f->shares.entries_len, e, SHARES_MAX, &n) != 0)
        return;
    json_t *list = json_array ();
    for (size_t i = 0; i < n; i++) {
        if (videos && !e [i].video)
            continue;
        //  Names are shown as the peer gave them, made valid UTF-8
        char *name = utf8_sanitize (e [i].name, e [i].name_len);
        char *codecs = utf8_sanitize (e [i].codecs? e [i].codecs: "", e [i].codecs_len);
        json_t *streams = json_array ();
        char *save = NULL;
        for (char *c = codecs? strtok_r (codecs, ",", &save): NULL; c; c = strtok_r (NULL, ",", &save))
            json_array_append_new (streams, json_string (c));
        if (name && videos)
            json_array_append_new (list, json_pack ("{s:s, s:f, s:o, s:I, s:o, s:o}", "name", name,
                                                    "duration", e [i].duration_ms / 1000.0,
                                                    "streams", streams, "size", (json_int_t) e [i].size,
                                                    "tracks", s_tracks (&e [i]),
                                                    "not_carried", s_skipped (&e [i])));
        else if (name)
            json_array_append_new (list, json_pack ("{s:s, s:I, s:b, s:f, s:o}", "name", name,
                                                    "size", (json_int_t) e [i].size, "video", e [i].video,
                                                    "duration", e [i].duration_ms / 1000.0,
                                                    "streams", streams));
        else
            json_decref (streams);
        free (name);
        free (codecs);
    }
    char id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (peer, id);
    s_emit (self, json_pack ("{s:s, s:s, s:s, s:o}", "event", videos? "videos": "files", "peer", id,
                             "name", s_peer_name (self, peer), videos? "videos": "files", list));
}

//  ---------------------------------------------------------------------
//  Sending

//  Starts an outgoing transfer of path under id (hashing first).
static s_xfer_t *
s_start_out (files_t *self, const uint8_t peer [32], const uint8_t id [16], const char *path,
             const char *name)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        s_error (self, "not_a_file", "cannot send '%s': %s", path,
                 fd < 0? strerror (errno): "not a regular file");
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    if ((uint64_t) st.st_size > XFER_SIZE_MAX) {
        close (fd);
        s_error (self, "too_big", "cannot send '%s': larger than 1 TiB", path);
        return NULL;
    }
    s_xfer_t *x = s_new_xfer (self, id, true, peer);
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
    x->map = calloc (1, xfer_map_size (x->count) + 1);
    x->hst = sodium_malloc (sizeof *x->hst);
    if (!x->map || !x->hst) {
        s_fail (self, x, "out of memory", false);
        return NULL;
    }
    crypto_generichash_init (x->hst, NULL, 0, 32);
    randombytes_buf (x->key, sizeof x->key);
    x->state = S_HASHING;
    return x;
}

void
files_send (files_t *self, const uint8_t peer [32], const char *path)
{
    uint8_t id [16];
    randombytes_buf (id, sizeof id);
    const char *base = strrchr (path, '/');
    s_start_out (self, peer, id, path, base? base + 1: path);
}

static void
s_send_offer (files_t *self, s_xfer_t *x, bool first)
{
    wire_offer_t o = { .name = x->name, .name_len = strlen (x->name), .size = x->size,
                       .chunk_size = x->chunk_size, .chunk_count = x->count };
    memcpy (o.id, x->id, 16);
    memcpy (o.hash, x->hash, 32);
    memcpy (o.key, x->key, 32);
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
    sodium_memzero (&o, sizeof o);
    s_state_t before = x->state;
    //  A running transfer runs on: the receiver's ACCEPT brings its bitmap.
    //  Not taken by the link: tried again every REGRANT_MS (the peer's
    //  leaving pauses it, its return offers again)
    bool gone = rc != 0 && self->host.online && !self->host.online (self->host.arg, x->peer);
    if (gone && x->state != S_RUNNING)
        s_pause (self, x, P_PEER, "the peer is not online: offered when it is back");
    else if (x->state != S_RUNNING) {
        x->state = S_OFFERED;
        x->paused = P_NONE;
        x->error [0] = 0;
    }
    x->offer_due = rc != 0 && !gone;
    x->last_resync = self->now;
    if (first || x->state != before)
        s_report (self, x, self->now);
}

//  Hashes one slice; offers when done.  Returns true if more remains.
static bool
s_hash_slice (files_t *self, s_xfer_t *x)
{
    uint64_t end = x->hashed + HASH_SLICE < x->size? x->hashed + HASH_SLICE: x->size;
    while (x->hashed < end) {
        size_t want = end - x->hashed < XFER_CHUNK_MAX? (size_t) (end - x->hashed): XFER_CHUNK_MAX;
        ssize_t n = pread (x->fd, self->buf, want, (off_t) x->hashed);
        if (n <= 0) {
            s_fail (self, x, n < 0? "the file could not be read": "the file shrank while hashing",
                    false);
            return false;
        }
        crypto_generichash_update (x->hst, self->buf, (size_t) n);
        x->hashed += (uint64_t) n;
    }
    if (x->hashed < x->size)
        return true;
    crypto_generichash_final (x->hst, x->hash, 32);
    sodium_free (x->hst);
    x->hst = NULL;
    x->state = S_PAUSED;        //  saved as not yet accepted: offered again after a restart
    s_save (self, x);
    s_send_offer (self, x, true);
    return false;
}

//  Sends one chunk; returns 0, SC_EAGAIN (link full) or another error.
static int
s_send_chunk (files_t *self, s_xfer_t *x, uint64_t index)
{
    uint64_t len = xfer_chunk_len (x->size, x->chunk_size, index);
    ssize_t n = pread (x->fd, self->buf, (size_t) len, (off_t) (index * x->chunk_size));
    if (n != (ssize_t) len) {
        s_fail (self, x, "the file could not be read (changed or removed?)", true);
        return SC_EIO;
    }
    if (chunk_seal (x->key, x->id, index, x->count, self->buf, (size_t) len, self->sealed) != 0)
        return SC_ECRYPTO;
    wire_frame_t f = { .type = WIRE_CHUNK, .chunk = { .index = index, .data = self->sealed,
                       .data_len = (size_t) len + CHUNK_TAG_SIZE } };
    memcpy (f.chunk.id, x->id, 16);
    int rc = self->host.send (self->host.arg, x->peer, &f);
    if (rc == 0) {
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
s_take_grant (files_t *self, s_xfer_t *x, uint64_t grant)
{
    uint64_t cap = x->have + XFER_WINDOW * 4;
    if (grant > cap) {
        self->stats.credit_clamped++;
        grant = cap;
    }
    if (grant > x->limit) {
        x->limit = grant;
        x->last_progress = self->now;
        s_heard (self, x);
    }
    else if (grant < x->limit)
        self->stats.credit_stale++;
}

//  The next chunk the receiver lacks, from x->next on; count if none.
static uint64_t
s_next_missing (s_xfer_t *x)
{
    while (x->next < x->count && xfer_map_get (x->map, x->next))
        x->next++;
    return x->next;
}

//  ---------------------------------------------------------------------
//  Receiving

//  The grant: what we hold plus a window, never past the end.
static uint64_t
s_grant_value (const s_xfer_t *x)
{
    uint64_t want = x->have + XFER_WINDOW;
    return want < x->count? want: x->count;
}

//  Sends the current grant (cumulative, so it may be repeated at will);
//  when the link does not take it, work() tries again.
static void
s_send_grant (files_t *self, s_xfer_t *x)
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
static int
s_send_accept_frame (files_t *self, s_xfer_t *x)
{
    x->granted = s_grant_value (x);
    wire_frame_t f = { .type = WIRE_ACCEPT, .accept = { .have = x->map,
                       .have_len = xfer_map_size (x->count), .credit = x->granted } };
    memcpy (f.accept.id, x->id, 16);
    x->last_resync = x->last_grant = self->now;
    int rc = self->host.send (self->host.arg, x->peer, &f);
    x->accept_due = rc != 0;    //  work() tries again
    return rc;
}

//  Takes or resumes an incoming transfer: running from now on (or, when
//  everything is there already, checking it).  The bitmap is made here:
//  an offer waiting for an answer holds none.
static void
s_send_accept (files_t *self, s_xfer_t *x)
{
    if (!x->map && !(x->map = calloc (1, xfer_map_size (x->count) + 1))) {
        s_fail (self, x, "out of memory", true);
        return;
    }
    x->paused = P_NONE;
    x->error [0] = 0;
    x->last_progress = x->last_heard = self->now;
    if (x->have == x->count) {
        //  An empty file, or stopped while checking: check (again), DONE follows
        x->state = S_VERIFYING;
        s_report (self, x, self->now);
        return;
    }
    //  A fresh transfer hashes chunks as they come in order, so the check
    //  at the end reads back only what came out of order (after a resume)
    if (!x->hst && x->have == 0) {
        x->hst = sodium_malloc (sizeof *x->hst);
        if (x->hst)
            crypto_generichash_init (x->hst, NULL, 0, 32);
        x->hashed = 0;
    }
    x->state = S_RUNNING;
    s_send_accept_frame (self, x);
    s_report (self, x, self->now);
}

//  Whether the rest of a transfer fits on the disk.  Returns 0 or
//  SC_ETOOBIG with a sentence in x->error.
static int
s_check_space (files_t *self, s_xfer_t *x)
{
    struct statvfs vfs;
    if (fstatvfs (self->dir_fd, &vfs) == 0) {
        uint64_t free_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
        uint64_t need = x->size - s_bytes (x);
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
s_open_part (files_t *self, s_xfer_t *x)
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
static void
s_expire (files_t *self, s_xfer_t *x, const char *why)
{
    self->stats.offers_expired++;
    s_send_ctl (self, x->peer, WIRE_REFUSE, x->id, 0, why);
    s_fail (self, x, why, false);
}

//  Refuses an offer that is over a cap, without keeping anything of it.
static void
s_refuse (files_t *self, const uint8_t peer [32], const uint8_t id [16], const char *why)
{
    self->stats.offers_refused++;
    log_info ("an offer from %s is refused: %s", s_peer_name (self, peer), why);
    s_send_ctl (self, peer, WIRE_REFUSE, id, 0, why);
}

//  Whether a new incoming transfer may be taken now (automatic: accepted at
//  once; else it waits for /accept).  When not, a sentence in why.  An
//  offer that waits may put out the oldest that waits, from anyone.
static bool
s_admit (files_t *self, const uint8_t peer [32], bool automatic, char *why, size_t why_size)
{
    size_t offered, accepted, all_offered, all_accepted;
    s_count_in (self, peer, &offered, &accepted);
    s_count_in (self, NULL, &all_offered, &all_accepted);
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
            s_xfer_t *oldest = NULL;
            for (size_t i = 0; i < self->nxfers; i++) {
                s_xfer_t *x = self->xfers [i];
                if (!x->out && x->state == S_OFFERED && (!oldest || x->offered_at < oldest->offered_at))
                    oldest = x;
            }
            if (oldest) {
                char text [200];
                snprintf (text, sizeof text, "not answered, and %d newer offers wait here: "
                          "offer it again later", OFFERS_MAX);
                s_expire (self, oldest, text);
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
        s_error (self, sc_errname (rc), "%s offered a file with impossible numbers: refused (%s)",
                 s_peer_name (self, peer), why);
        if (decoded)
            s_send_ctl (self, peer, WIRE_REFUSE, o.id, 0, why);
        return;
    }
    s_xfer_t *x = s_find (self, o.id);
    if (x) {
        //  The same transfer offered again (peer back or restarted): resume,
        //  if it is the same file from the same peer
        if (x->out || memcmp (x->peer, peer, 32) != 0)
            return;
        //  Ended here: the sender missed how (its DONE or CANCEL was lost)
        if (x->state == S_DONE || x->state == S_FAILED) {
            s_send_ctl (self, peer, x->state == S_DONE? WIRE_DONE: WIRE_CANCEL, x->id,
                        x->state == S_DONE, NULL);
            return;
        }
        if (x->size != o.size || x->count != o.chunk_count || memcmp (x->hash, o.hash, 32) != 0)
            return;
        memcpy (x->key, o.key, 32);
        //  Waiting for /accept (a new offer, or room on the disk), or
        //  checking what came: DONE follows
        if (x->state == S_OFFERED || x->state == S_VERIFYING
        ||  (x->state == S_PAUSED && x->paused == P_DISK))
            return;
        if (s_check_space (self, x) != 0) {
            s_pause (self, x, P_DISK, x->error);
            s_report (self, x, self->now);
            return;
        }
        //  Running, and chunks came lately: the sender only waits for the
        //  grant (the link is slow, not broken), so resending what is on
        //  its way would only flood it
        if (x->state == S_RUNNING) {
            if (self->now - x->last_heard < s_resync_ms (x))
                s_send_grant (self, x);
            else
                s_send_accept_frame (self, x);
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
            s_error (self, "too_many", "cannot take /get %s now: %s", name, why);
        }
        return;
    }
    x = s_new_xfer (self, o.id, false, peer);
    if (!x)
        return;
    xfer_safe_name (o.name, o.name_len, x->name);
    snprintf (x->part, sizeof x->part, ".securechat-%s.part", x->idhex);
    x->size = o.size;
    x->chunk_size = o.chunk_size;
    x->count = o.chunk_count;
    x->pull = pulled;
    x->offered_at = s_wall (self);
    memcpy (x->hash, o.hash, 32);
    memcpy (x->key, o.key, 32);
    x->state = S_OFFERED;
    if (automatic) {
        if (s_check_space (self, x) != 0) {
            snprintf (why, sizeof why, "%s", x->error);
            s_send_ctl (self, peer, WIRE_REFUSE, x->id, 0, why);
            s_fail (self, x, why, false);
            return;
        }
        s_send_accept (self, x);
        s_save (self, x);
        return;
    }
    //  Waits for /accept: no bitmap, no file, a few hundred bytes saved
    s_save (self, x);
    s_report (self, x, self->now);
    char msg [400];
    snprintf (msg, sizeof msg, "%s offers '%s' (%llu bytes): /accept %.8s or /reject %.8s",
              s_peer_name (self, peer), x->name, (unsigned long long) x->size, x->idhex, x->idhex);
    s_info (self, msg);
}

//  Renames the checked file to its name without overwriting anything.
static int
s_finish_name (files_t *self, s_xfer_t *x)
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

//  Hashes one slice of the received file; finishes when done.
static bool
s_verify_slice (files_t *self, s_xfer_t *x)
{
    if (s_open_part (self, x) != 0) {
        s_pause (self, x, P_DISK, x->error);
        s_report (self, x, self->now);
        return false;
    }
    if (!x->hst) {
        x->hst = sodium_malloc (sizeof *x->hst);
        if (!x->hst)
            return false;
        crypto_generichash_init (x->hst, NULL, 0, 32);
        x->hashed = 0;
    }
    uint64_t end = x->hashed + HASH_SLICE < x->size? x->hashed + HASH_SLICE: x->size;
    while (x->hashed < end) {
        size_t want = end - x->hashed < XFER_CHUNK_MAX? (size_t) (end - x->hashed): XFER_CHUNK_MAX;
        ssize_t n = pread (x->fd, self->buf, want, (off_t) x->hashed);
        if (n <= 0) {
            s_fail (self, x, "the received data could not be read back", true);
            return false;
        }
        crypto_generichash_update (x->hst, self->buf, (size_t) n);
        x->hashed += (uint64_t) n;
    }
    if (x->hashed < x->size)
        return true;
    uint8_t hash [32];
    crypto_generichash_final (x->hst, hash, 32);
    sodium_free (x->hst);
    x->hst = NULL;
    if (sodium_memcmp (hash, x->hash, 32) != 0) {
        s_send_ctl (self, x->peer, WIRE_DONE, x->id, 0, NULL);
        s_fail (self, x, "the file's hash does not match the offer: discarded", false);
        return false;
    }
    if (fsync (x->fd) != 0 || s_finish_name (self, x) != 0) {
        char why [512];
        snprintf (why, sizeof why, "%s", x->error [0]? x->error: strerror (errno));
        if (!x->error [0])
            snprintf (why, sizeof why, "cannot save the file: %s", strerror (errno));
        s_pause (self, x, P_DISK, why);
        s_report (self, x, self->now);
        return false;
    }
    s_send_ctl (self, x->peer, WIRE_DONE, x->id, 1, NULL);
    x->state = S_DONE;
    x->part [0] = 0;            //  renamed: nothing to remove
    s_release (self, x, false);
    s_report (self, x, self->now);
    return false;
}

static void
s_on_chunk (files_t *self, s_xfer_t *x, const wire_frame_t *f)
{
    if (x->state != S_RUNNING)
        return;                 //  paused (disk full) or finished: ignored
    uint64_t len = f->chunk.index < x->count? xfer_chunk_len (x->size, x->chunk_size, f->chunk.index): 0;
    if (f->chunk.index >= x->count || f->chunk.data_len != len + CHUNK_TAG_SIZE) {
        s_fail (self, x, "the sender sent a chunk out of range or of the wrong size", true);
        return;
    }
    s_heard (self, x);          //  the link lives, even when it is a duplicate
    if (xfer_map_get (x->map, f->chunk.index))
        return;                 //  a duplicate: already written
    if (chunk_open (x->key, x->id, f->chunk.index, x->count, f->chunk.data, f->chunk.data_len, self->buf) != 0) {
        s_fail (self, x, "a chunk failed its authentication: the transfer is stopped", true);
        return;
    }
    //  The temporary file is made when data comes, not when accepted
    if (s_open_part (self, x) != 0) {
        s_pause (self, x, P_DISK, x->error);
        s_save (self, x);
        s_report (self, x, self->now);
        return;
    }
    ssize_t n = pwrite (x->fd, self->buf, (size_t) len, (off_t) (f->chunk.index * x->chunk_size));
    if (n != (ssize_t) len) {
        //  A full disk pauses: what is written stays, the rest comes later
        char why [512];
        snprintf (why, sizeof why, "%s: paused with %llu of %llu bytes kept; free some "
                  "space, then /accept %.8s", errno == ENOSPC? "the disk is full": strerror (errno),
                  (unsigned long long) s_bytes (x), (unsigned long long) x->size, x->idhex);
        s_pause (self, x, P_DISK, why);
        s_save (self, x);
        s_report (self, x, self->now);
        return;
    }
    xfer_map_set (x->map, f->chunk.index);
    x->have++;
    x->dirty = true;
    if (x->hst && f->chunk.index * x->chunk_size == x->hashed) {
        crypto_generichash_update (x->hst, self->buf, (size_t) len);
        x->hashed += len;
    }
    x->last_progress = self->now;
    if (x->have == x->count) {
        x->state = S_VERIFYING;
        s_save (self, x);
        return;
    }
    //  Grant more once a quarter of the window is used (one small frame
    //  per few chunks)
    if (s_grant_value (x) >= x->granted + XFER_WINDOW / 4)
        s_send_grant (self, x);
}

void
files_on_frame (files_t *self, const uint8_t peer [32], const wire_frame_t *f)
{
    if (f->type == WIRE_LIST) {
        s_send_shares (self, peer);
        return;
    }
    if (f->type == WIRE_SHARES) {
        s_on_shares (self, peer, f);
        return;
    }
    if (f->type == WIRE_GET) {
        char name [XFER_NAME_MAX + 1];
        char *raw = utf8_sanitize (f->get.name, f->get.name_len);
        snprintf (name, sizeof name, "%s", raw? raw: "");
        free (raw);
        //  Bounded, per peer and in all: each costs a descriptor and a hash
        size_t mine = 0, all = 0;
        for (size_t i = 0; i < self->nxfers; i++)
            if (self->xfers [i]->out && self->xfers [i]->state != S_DONE
            &&  self->xfers [i]->state != S_FAILED) {
                all++;
                mine += memcmp (self->xfers [i]->peer, peer, 32) == 0;
            }
        if (mine >= OUT_PER_PEER || all >= OUT_MAX) {
            s_send_ctl (self, peer, WIRE_REFUSE, f->get.id, 0, "too many transfers at once; try again later");
            return;
        }
        for (size_t i = 0; i < self->nshares; i++)
            if (strcmp (self->shares [i].name, name) == 0 && !s_find (self, f->get.id)) {
                s_start_out (self, peer, f->get.id, self->shares [i].path, self->shares [i].name);
                return;
            }
        char why [300];
        snprintf (why, sizeof why, "no file called '%s' is shared", name);
        s_send_ctl (self, peer, WIRE_REFUSE, f->get.id, 0, why);
        return;
    }
    //  Everything else names a transfer, which must be with this peer
    s_xfer_t *x = s_find (self, wire_frame_id (f));
    if (f->type == WIRE_REFUSE) {
        char *why = utf8_sanitize (f->refuse.reason, f->refuse.reason_len);
        for (size_t i = 0; i < self->ngets; i++)
            if (memcmp (self->gets [i].id, f->refuse.id, 16) == 0 && memcmp (self->gets [i].peer, peer, 32) == 0) {
                s_error (self, "refused", "%s refused /get %s: %s", s_peer_name (self, peer),
                         self->gets [i].name, why? why: "");
                self->gets [i] = self->gets [--self->ngets];
                break;
            }
        if (x && memcmp (x->peer, peer, 32) == 0) {
            char text [400];
            snprintf (text, sizeof text, "refused by %s: %.300s", s_peer_name (self, peer), why? why: "");
            s_fail (self, x, text, false);
        }
        free (why);
        return;
    }
    if (!x || memcmp (x->peer, peer, 32) != 0)
        return;
    switch (f->type) {
        case WIRE_ACCEPT:
            if (!x->out)
                return;
            if (x->state == S_FAILED) {
                s_send_ctl (self, peer, WIRE_CANCEL, x->id, 0, NULL);     //  it missed ours
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
            s_take_grant (self, x, f->accept.credit);
            x->state = S_RUNNING;
            x->paused = P_NONE;
            x->error [0] = 0;
            x->last_progress = x->last_resync = x->last_heard = self->now;
            x->offers = 0;
            s_report (self, x, self->now);
            break;
        case WIRE_CREDIT:
            if (x->out && x->state == S_RUNNING)
                s_take_grant (self, x, f->credit.credit);
            break;
        case WIRE_CHUNK:
            if (!x->out)
                s_on_chunk (self, x, f);
            break;
        case WIRE_DONE:
            if (x->out && x->state != S_DONE && x->state != S_FAILED) {
                if (f->done.ok) {
                    x->state = S_DONE;
                    x->have = x->count;
                    s_release (self, x, false);
                    s_report (self, x, self->now);
                }
                else
                    s_fail (self, x, "the receiver found the hash wrong", false);
            }
            break;
        case WIRE_CANCEL:
            s_fail (self, x, "cancelled by the peer", false);
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------------
//  Commands

void
files_get (files_t *self, const uint8_t peer [32], const char *name)
{
    if (self->ngets == sizeof self->gets / sizeof self->gets [0]) {
        s_error (self, "again", "too many /get requests waiting for an answer");
        return;
    }
    s_pending_get_t *g = &self->gets [self->ngets];
    randombytes_buf (g->id, sizeof g->id);
    memcpy (g->peer, peer, 32);
    snprintf (g->name, sizeof g->name, "%s", name);
    wire_frame_t f = { .type = WIRE_GET, .get = { .name = name, .name_len = strlen (name) } };
    memcpy (f.get.id, g->id, 16);
    if (self->host.send (self->host.arg, peer, &f) != 0) {
        s_error (self, "again", "%s is not reachable right now", s_peer_name (self, peer));
        return;
    }
    self->ngets++;
}

void
files_transfers (files_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < self->nxfers; i++) {
        json_t *x = s_xfer_json (self, self->xfers [i]);
        json_object_del (x, "event");
        json_array_append_new (list, x);
    }
    s_emit (self, json_pack ("{s:s, s:o}", "event", "transfers", "transfers", list));
}

void
files_accept (files_t *self, const char *prefix)
{
    s_xfer_t *x = s_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->out && x->state == S_PAUSED) {
        //  Resume a send: offer again, the receiver answers with its bitmap
        if (x->fd < 0 && (x->fd = open (x->path, O_RDONLY | O_CLOEXEC)) < 0) {
            s_fail (self, x, "the file to send is gone", true);
            return;
        }
        s_send_offer (self, x, false);
        if (x->state == S_PAUSED)
            s_error (self, "offline", "%s is not reachable now: %.8s resumes when it is back",
                     s_peer_name (self, x->peer), x->idhex);
        return;
    }
    if (x->out || (x->state != S_OFFERED && x->state != S_PAUSED)) {
        s_error (self, "invalid", "transfer %.8s is not waiting to be accepted", x->idhex);
        return;
    }
    size_t offered, accepted, all_offered, all_accepted;
    s_count_in (self, x->peer, &offered, &accepted);
    s_count_in (self, NULL, &all_offered, &all_accepted);
    if (x->state == S_OFFERED && (accepted >= IN_PER_PEER || all_accepted >= IN_MAX)) {
        s_error (self, "too_many", "cannot accept %.8s now: %d transfers from %s run already "
                 "(%d from everyone, the most taken at once); /accept it once one has ended",
                 x->idhex, (int) accepted, s_peer_name (self, x->peer), (int) all_accepted);
        return;
    }
    if (self->host.online && !self->host.online (self->host.arg, x->peer)) {
        s_pause (self, x, P_PEER, "the peer is gone: resumes when it is back");
        s_error (self, "offline", "%s is not online now: %.8s resumes when it is back",
                 s_peer_name (self, x->peer), x->idhex);
        return;
    }
    if (s_check_space (self, x) != 0) {
        s_error (self, "no_space", "cannot accept %.8s: %s", x->idhex, x->error);
        return;
    }
    s_send_accept (self, x);
    s_save (self, x);
}

void
files_reject (files_t *self, const char *prefix)
{
    s_xfer_t *x = s_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->out || x->state != S_OFFERED) {
        s_error (self, "invalid", "transfer %.8s is not an offer to us", x->idhex);
        return;
    }
    s_send_ctl (self, x->peer, WIRE_REFUSE, x->id, 0, "declined");
    s_fail (self, x, "rejected", false);
}

void
files_cancel (files_t *self, const char *prefix)
{
    s_xfer_t *x = s_find_prefix (self, prefix);
    if (!x)
        return;
    if (x->state == S_DONE || x->state == S_FAILED) {
        s_error (self, "invalid", "transfer %.8s has ended already", x->idhex);
        return;
    }
    s_fail (self, x, "cancelled", true);
}

//  ---------------------------------------------------------------------
//  Peers, work and time

void
files_peer_up (files_t *self, const uint8_t peer [32])
{
    //  Offer again whatever we were sending: the receiver answers with
    //  what it holds
    for (size_t i = 0; i < self->nxfers; i++) {
        s_xfer_t *x = self->xfers [i];
        if (x->out && memcmp (x->peer, peer, 32) == 0
        &&  (x->state == S_PAUSED || x->state == S_OFFERED || x->state == S_RUNNING)) {
            if (x->fd < 0)
                x->fd = open (x->path, O_RDONLY | O_CLOEXEC);
            if (x->fd < 0) {
                s_fail (self, x, "the file to send is gone", true);
                continue;
            }
            s_send_offer (self, x, false);
        }
    }
}

void
files_peer_down (files_t *self, const uint8_t peer [32])
{
    for (size_t i = 0; i < self->nxfers; i++) {
        s_xfer_t *x = self->xfers [i];
        if (memcmp (x->peer, peer, 32) == 0 && (x->state == S_RUNNING || x->state == S_OFFERED)
        &&  !(x->state == S_OFFERED && !x->out)) {
            s_pause (self, x, P_PEER, "the peer is gone: resumes when it is back");
            if (!x->out)
                s_save (self, x);
            s_report (self, x, self->now);
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
s_watch (files_t *self, s_xfer_t *x, int64_t now)
{
    if (x->out && ((x->state == S_OFFERED && x->offers < REOFFER_MAX)
                   || (x->state == S_RUNNING && x->offer_due))
    &&  now - x->last_resync >= (x->offer_due? REGRANT_MS: REOFFER_MS)) {
        x->offers += !x->offer_due;
        s_send_offer (self, x, false);
        return;
    }
    if (x->state != S_RUNNING || !x->last_progress)
        return;
    int64_t quiet = now - (x->last_heard > x->last_progress? x->last_heard: x->last_progress);
    int64_t resync = s_resync_ms (x);
    bool waiting = false;
    if (!x->out) {
        if (quiet >= resync && now - x->last_resync >= resync) {
            self->stats.resyncs++;
            s_send_accept_frame (self, x);
        }
        else if (quiet >= REGRANT_MS && now - x->last_grant >= REGRANT_MS) {
            self->stats.grants_repeated++;
            s_send_grant (self, x);
        }
    }
    else {
        bool done = s_next_missing (x) >= x->count;
        waiting = !done && x->have >= x->limit;
        if ((waiting || done) && quiet >= 2 * resync && now - x->last_resync >= 2 * resync) {
            self->stats.resyncs++;
            s_send_offer (self, x, false);
        }
    }
    if (now - x->last_progress < self->stall_ms || (x->out && !waiting))
        return;
    self->stats.stalls++;
    char why [512];
    snprintf (why, sizeof why, "%s for %lld s although the link to %s is up: paused; it resumes "
              "when the link is back, or with /accept %.8s",
              x->out? "no credit came": "no data came", (long long) ((now - x->last_progress) / 1000),
              s_peer_name (self, x->peer), x->idhex);
    s_pause (self, x, P_STALL, why);
    if (!x->out)
        s_save (self, x);
    s_report (self, x, now);
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
        s_xfer_t *x = self->xfers [at];
        if (x->state == S_HASHING)
            more |= s_hash_slice (self, x);
        else if (x->state == S_VERIFYING)
            more |= s_verify_slice (self, x);
        else if (x->out && x->state == S_RUNNING) {
            //  A send the link refused is tried again at the next wake-up,
            //  not in a busy loop
            while (budget > 0 && x->have < x->limit && x->state == S_RUNNING
            &&  (!allowed || self->rate_bytes < allowed)) {
                uint64_t index = s_next_missing (x);
                if (index >= x->count)
                    break;      //  all sent: DONE will come
                if (s_send_chunk (self, x, index) != 0)
                    break;
                budget--;
                self->rr = at + 1;
                if (allowed)
                    break;      //  one chunk each while the rate allows
            }
        }
        else if (!x->out && x->state == S_RUNNING && x->accept_due)
            s_send_accept_frame (self, x);
        else if (!x->out && x->state == S_RUNNING && x->grant_due)
            s_send_grant (self, x);
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
    //  A probe that takes too long says "not a video"
    bool gave_up = false;
    for (size_t i = 0; i < self->nshares; i++)
        if (self->shares [i].probe_fd >= 0 && now > self->shares [i].probe_end) {
            s_probe_done (self, &self->shares [i]);
            gave_up = true;
        }
    if (gave_up)
        s_probe_next (self);
    int64_t wall = s_wall (self);
    int64_t ttl = self->opts.offer_ttl_ms > 0? self->opts.offer_ttl_ms: OFFER_TTL_MS_DEFAULT;
    for (size_t i = 0; i < self->nxfers; i++) {
        s_xfer_t *x = self->xfers [i];
        if (!x->out && x->state == S_OFFERED && wall - x->offered_at >= ttl) {
            char why [200];
            snprintf (why, sizeof why, "not answered within %lld %s: the offer expired",
                      (long long) (ttl >= 3600000? ttl / 3600000: ttl / 1000), ttl >= 3600000? "h": "s");
            s_expire (self, x, why);
            continue;
        }
        s_watch (self, x, now);
        if (x->state == S_RUNNING && now - x->last_event >= PROGRESS_MS)
            s_report (self, x, now);
        //  Chunks came: the bitmap is saved (a small file of bits)
        if (!x->out && x->dirty && x->state != S_DONE && x->state != S_FAILED)
            s_save_map (self, x);
    }
}

void
files_link_reset (files_t *self, const uint8_t peer [32])
{
    for (size_t i = 0; i < self->nxfers; i++) {
        s_xfer_t *x = self->xfers [i];
        if (!x->out && x->state == S_RUNNING && memcmp (x->peer, peer, 32) == 0) {
            self->stats.resyncs++;
            s_send_accept_frame (self, x);
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

/*  files_shares: what this node shares.  The share index
    (HOME/shares.json, by base name, never a path), /share and /unshare,
    LIST answered with SHARES and a peer's SHARES reported, and the probe
    children: each /share asks the media helper (securechat-media probe)
    in a child whether the file is a video; the loop polls its pipe.  */
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

//  A probe answers within PROBE_MS, or the file is taken as no video
#define PROBE_MS 3000
#define PROBES_MAX FILES_PROBES_MAX     //  children at once; more wait for a slot

static void s_probe_next (files_t *self);

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

//  Loads HOME/shares.json: shares whose file went away are dropped, what
//  was probed is kept while the file stays the same, the rest is probed.
void
fshares_load (files_t *self)
{
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
            files_share_t *more = realloc (self->shares, (self->nshares + 1) * sizeof *more);
            if (!more)
                break;
            self->shares = more;
            files_share_t *s = &self->shares [self->nshares++];
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
}

//  Stops a running probe without using its answer.
static void
s_probe_cancel (files_share_t *share)
{
    child_destroy (&share->probe);      //  killed, reaped, its pipe closed
    share->probe_fd = -1;
    share->probing = false;
}

static void
s_probe_done (files_t *self, files_share_t *share)
{
    child_destroy (&share->probe);      //  done or too slow: either way, gone
    share->probe_fd = -1;
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
        fstate_emit (self, json_pack ("{s:s, s:s, s:s, s:I, s:b, s:f, s:s}", "event", "shared",
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
        files_share_t *share = &self->shares [i];
        if (!share->probing || share->probe_fd >= 0)
            continue;
        const char *helper = self->opts.helper;
        if (helper && access (helper, X_OK) == 0) {
            const char *argv [] = { helper, "probe", share->path, NULL };
            child_opts_t co = { .file = helper, .argv = argv, .in = CHILD_NULL,
                                .out = CHILD_PIPE, .err = CHILD_NULL, .nonblock = true };
            share->probe = child_new (&co);
        }
        if (!share->probe) {
            s_probe_done (self, share);         //  no helper: not a video
            continue;
        }
        share->probe_fd = child_fd (share->probe);
        share->probe_end = self->now + PROBE_MS;
        running++;
    }
}

//  Stops every probe and forgets the shares (they are saved already).
void
fshares_destroy (files_t *self)
{
    for (size_t i = 0; i < self->nshares; i++)
        s_probe_cancel (&self->shares [i]);
    free (self->shares);
    self->shares = NULL;
    self->nshares = 0;
}

//  A probe that takes too long says "not a video".
void
fshares_tick (files_t *self, int64_t now)
{
    bool gave_up = false;
    for (size_t i = 0; i < self->nshares; i++)
        if (self->shares [i].probe_fd >= 0 && now > self->shares [i].probe_end) {
            s_probe_done (self, &self->shares [i]);
            gave_up = true;
        }
    if (gave_up)
        s_probe_next (self);
}

static void
s_probe (files_t *self, files_share_t *share, bool announce)
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
            files_share_t *share = &self->shares [i];
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
        fstate_error (self, "not_a_file", "cannot share '%s': %s", path,
                 errno == ENOENT? "no such file": "not a regular file");
        return;
    }
    char real [PATH_MAX];
    if (!realpath (path, real)) {
        fstate_error (self, "io", "cannot share '%s': %s", path, strerror (errno));
        return;
    }
    const char *base = strrchr (real, '/');
    char name [XFER_NAME_MAX + 1];
    xfer_safe_name (base? base + 1: real, strlen (base? base + 1: real), name);
    for (size_t i = 0; i < self->nshares; i++)
        if (strcmp (self->shares [i].name, name) == 0) {
            fstate_error (self, "exists", "a file called '%s' is shared already: /unshare it first", name);
            return;
        }
    if (self->nshares == SHARES_MAX) {
        fstate_error (self, "too_big", "at most %d files can be shared", SHARES_MAX);
        return;
    }
    files_share_t *more = realloc (self->shares, (self->nshares + 1) * sizeof *more);
    if (!more)
        return;
    self->shares = more;
    files_share_t *s = &self->shares [self->nshares++];
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
            fstate_emit (self, json_pack ("{s:s, s:s}", "event", "unshared", "name", name));
            return;
        }
    fstate_error (self, "no_file", "no shared file is called '%s'", name);
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
        fstate_error (self, "again", "%s is not reachable right now", fstate_peer_name (self, peer));
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

void
fshares_send (files_t *self, const uint8_t peer [32])
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
            log_warn ("the share list for %s met a full link", fstate_peer_name (self, peer));
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

void
fshares_on_shares (files_t *self, const uint8_t peer [32], const wire_frame_t *f)
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
    fstate_emit (self, json_pack ("{s:s, s:s, s:s, s:o}", "event", videos? "videos": "files", "peer", id,
                             "name", fstate_peer_name (self, peer), videos? "videos": "files", list));
}

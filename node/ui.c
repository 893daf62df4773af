#define LOG_MODULE "ui"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include "../crypto/base/log.h"
#include "complete.h"
#include "term.h"
#include "ui.h"

#define LINE_MAX_BYTES (64 * 1024)
#define LINES_PER_READ 128      //  a pasted burst is taken in slices, so the
                                //  loop keeps turning between them

struct _ui_t {
    bool json;
    bool color;
    bool ended;
    char *prompt;
    ui_line_fn *on_line;
    void *arg;
    char *buf;              //  JSON mode: bytes read but not yet a line
    size_t len;
    bool discarding;        //  skipping an over-long line
    bool more;              //  a complete line waits in buf
    bool in_handler;        //  running a typed line: readline is between lines
    char *out;              //  JSON mode: lines not yet taken by the reader
    size_t out_len, out_cap;
    term_t *term;           //  the terminal's screen (not in JSON mode)
    complete_t *complete;   //  its Tab completion
    ui_host_t host;
    int64_t wall;           //  the time of the event being printed (0: none shown)
};

static ui_t *s_ui;          //  for readline's callback

static void
s_rl_line (char *line)
{
    ui_t *self = s_ui;
    if (!line) {
        self->ended = true;
        rl_callback_handler_remove ();
        return;
    }
    if (*line)
        add_history (line);
    self->in_handler = true;
    term_accepted (self->term, line);
    self->on_line (line, self->arg);
    self->in_handler = false;
    if (!self->ended)
        term_line_done (self->term);
    free (line);
}

//  Whether the locale's characters are UTF-8 (the status line's marks)
static bool
s_utf8 (void)
{
    const char *vars [] = { "LC_ALL", "LC_CTYPE", "LANG" };
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv (vars [i]);
        if (v && *v)
            return strcasestr (v, "utf-8") || strcasestr (v, "utf8");
    }
    return false;
}

ui_t *
ui_new (bool json, const char *prompt, ui_line_fn *on_line, void *arg)
{
    if (s_ui)
        return NULL;
    ui_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->json = json || !isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO);
    //  NO_COLOR as no-color.org says: present and not empty
    const char *term = getenv ("TERM"), *no_color = getenv ("NO_COLOR");
    bool capable = term && *term && strcmp (term, "dumb") != 0;
    self->color = !self->json && !(no_color && *no_color) && capable;
    self->on_line = on_line;
    self->arg = arg;
    self->prompt = strdup (prompt);
    self->buf = malloc (LINE_MAX_BYTES);
    if (!self->json) {
        self->term = term_new (prompt, self->color, capable, s_utf8 ());
        self->complete = complete_new ();
    }
    if (!self->prompt || !self->buf || (!self->json && (!self->term || !self->complete))) {
        term_destroy (&self->term);
        complete_destroy (&self->complete);
        free (self->prompt);
        free (self->buf);
        free (self);
        return NULL;
    }
    s_ui = self;
    if (!self->json) {
        complete_install (self->complete, &self->host);
        rl_callback_handler_install (self->prompt, s_rl_line);
    }
    else if (!isatty (STDOUT_FILENO)) {
        //  A pipe or file: never let a slow reader stop the event loop
        int flags = fcntl (STDOUT_FILENO, F_GETFL);
        if (flags >= 0)
            fcntl (STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK);
    }
    return self;
}

void
ui_destroy (ui_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ui_t *self = *self_p;
    if (!self->json && !self->ended) {
        rl_callback_handler_remove ();
        putchar ('\n');
    }
    if (self->json) {
        //  Hand over everything before leaving, waiting for the reader
        int flags = fcntl (STDOUT_FILENO, F_GETFL);
        if (flags >= 0)
            fcntl (STDOUT_FILENO, F_SETFL, flags & ~O_NONBLOCK);
        ui_flush (self);
    }
    free (self->out);
    term_destroy (&self->term);
    if (self->complete)
        complete_uninstall ();
    complete_destroy (&self->complete);
    fflush (stdout);
    free (self->prompt);
    free (self->buf);
    free (self);
    s_ui = NULL;
    *self_p = NULL;
}

void ui_set_host (ui_t *self, const ui_host_t *host) { self->host = *host; }
int ui_fd (ui_t *self) { (void) self; return STDIN_FILENO; }
int ui_out_fd (ui_t *self) { (void) self; return STDOUT_FILENO; }
bool ui_pending (ui_t *self) { return self->out_len > 0; }
bool ui_more (ui_t *self) { return self->more; }

void
ui_flush (ui_t *self)
{
    size_t done = 0;
    while (done < self->out_len) {
        ssize_t n = write (STDOUT_FILENO, self->out + done, self->out_len - done);
        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && self->out_len - done > UI_OUT_MAX) {
            //  The reader is far behind: wait for it rather than grow or drop
            struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };
            poll (&pfd, 1, 1000);
            continue;
        }
        if (n < 0 && errno != EAGAIN)
            done = self->out_len;       //  reader gone (EPIPE): nothing to keep
        break;
    }
    memmove (self->out, self->out + done, self->out_len - done);
    self->out_len -= done;
}

static void
s_append (ui_t *self, const char *text, size_t len)
{
    if (self->out_len + len > self->out_cap) {
        size_t cap = self->out_cap? self->out_cap: 65536;
        while (cap < self->out_len + len)
            cap *= 2;
        char *more = realloc (self->out, cap);
        if (!more) {
            ui_flush (self);        //  out of memory: at least try to write
            return;
        }
        self->out = more;
        self->out_cap = cap;
    }
    memcpy (self->out + self->out_len, text, len);
    self->out_len += len;
}
bool ui_is_json (ui_t *self) { return self->json; }

int
ui_read (ui_t *self)
{
    if (!self->json) {
        rl_callback_read_char ();
        return self->ended? 1: 0;
    }
    //  Lines left from the last call go first; stdin is read when none is
    if (!self->more) {
        ssize_t n = read (STDIN_FILENO, self->buf + self->len, LINE_MAX_BYTES - self->len);
        if (n < 0)
            return errno == EINTR || errno == EAGAIN? 0: 1;
        if (n == 0) {
            if (self->len && !self->discarding) {
                self->buf [self->len] = 0;      //  a last line without newline
                self->len = 0;
                self->on_line (self->buf, self->arg);
            }
            return 1;
        }
        self->len += (size_t) n;
    }
    size_t start = 0;
    int lines = 0;
    for (size_t i = 0; i < self->len && lines < LINES_PER_READ; i++) {
        if (self->buf [i] != '\n')
            continue;
        self->buf [i] = 0;
        if (i > start && self->buf [i - 1] == '\r')
            self->buf [i - 1] = 0;
        if (!self->discarding) {
            self->on_line (self->buf + start, self->arg);
            lines++;
        }
        self->discarding = false;
        start = i + 1;
    }
    memmove (self->buf, self->buf + start, self->len - start);
    self->len -= start;
    self->more = memchr (self->buf, '\n', self->len) != NULL;
    if (self->len == LINE_MAX_BYTES && !self->more) {
        if (!self->discarding)
            ui_error (self, "line_too_long", "input line longer than %d bytes ignored",
                      LINE_MAX_BYTES - 1);
        self->discarding = true;
        self->len = 0;
    }
    return 0;
}

#define C(code) (self->color? "\033[" code "m": "")

//  Scratch for the renderers: one event is rendered at a time
static char s_line [LINE_MAX_BYTES * 4 + 512];
static char s_text [LINE_MAX_BYTES * 4 + 16];

//  Prints one line above the prompt without disturbing what is typed
//  (text NULL: redraws the status line alone).
static void
s_print (ui_t *self, const char *text)
{
    static char stamped [sizeof s_line + 64];
    bool plain = self->ended || self->in_handler;
    if (text && self->wall > 0) {
        char stamp [32], date [64];
        term_stamp (self->term, self->wall, stamp, sizeof stamp, date, sizeof date);
        if (date [0])
            term_print (self->term, date, plain);
        snprintf (stamped, sizeof stamped, "%s%s%s %s", C ("2"), stamp, C ("0"), text);
        text = stamped;
    }
    term_print (self->term, text, plain);
}

static const char *
s_str (json_t *ev, const char *field)
{
    const char *s = json_string_value (json_object_get (ev, field));
    return s? s: "";
}

//  One line for a stream event.
static void
s_stream_line (ui_t *self, json_t *ev, char *line, size_t size)
{
    char name [256], video [256], out [512], why [512];
    term_safe (name, sizeof name, s_str (ev, "name"));
    term_safe (video, sizeof video, s_str (ev, "video"));
    term_safe (out, sizeof out, s_str (ev, "out"));
    term_safe (why, sizeof why, s_str (ev, "message"));
    const char *state = s_str (ev, "state"), *id = s_str (ev, "stream_id");
    bool running = strcmp (state, "started") == 0 || strcmp (state, "running") == 0;
    bool saved = out [0] && strcmp (out, "player") != 0;
    if (strcmp (s_str (ev, "role"), "owner") == 0)
        snprintf (line, size, "  %s '%s' to %s%s%s (%.8s)", running? "streaming": "stopped streaming",
                  video, name, why [0]? ": ": "", why, id);
    else if (strcmp (state, "requested") == 0)
        snprintf (line, size, "  asking %s for '%s' (/stop %.8s ends it)", name, video, id);
    else if (running)
        snprintf (line, size, "  watching '%s' from %s: %s", video, name, saved? out: "playing");
    else if (strcmp (state, "ended") == 0)
        snprintf (line, size, "  '%s' from %s ended%s%s%s%s", video, name, why [0]? ", ": "", why,
                  saved? ": saved to ": "", saved? out: "");
    else
        snprintf (line, size, "%s! '%s' from %s: %s%s", C ("31"), video, name,
                  why [0]? why: "failed", C ("0"));
}

//  ---------------------------------------------------------------------
//  Event renderers: one per event type, each printing the event's lines
//  for a person (every text from outside through term_safe).  A new event is
//  a function and a row in s_renderers.

static void
s_render_message (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    term_safe (s_text, sizeof s_text, s_str (ev, "text"));
    bool priv = json_is_true (json_object_get (ev, "private"));
    //  The name in its peer's colour; a private line marked "-> you"
    snprintf (s_line, sizeof s_line, "[%s%s%s%s%s%s] %s", term_peer_color (self->term, s_str (ev, "from")),
              name, C ("0"), priv? C ("1;35"): "", priv? " -> you": "", C ("0"), s_text);
    s_print (self, s_line);
}

static void
s_render_peer_joined (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s* %s joined (%.16s, %s, %s)%s", C ("32"), name,
              s_str (ev, "id"), s_str (ev, "addr"),
              json_is_true (json_object_get (ev, "verified"))? "verified": "unverified",
              C ("0"));
    s_print (self, s_line);
}

static void
s_render_peer_left (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s* %s left%s", C ("33"), name, C ("0"));
    s_print (self, s_line);
}

static void
s_render_delivered (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s(delivered to %s)%s", C ("2"), name, C ("0"));
    s_print (self, s_line);
}

//  Only a message that waits for its peer says anything
static void
s_render_sent (ui_t *self, json_t *ev)
{
    json_t *queued = json_object_get (ev, "queued");
    if (!json_is_true (queued) && !json_is_string (queued))
        return;
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s(%s is offline: queued%s)%s", C ("2"), name,
              json_is_string (queued)? ", and left sealed at a tracker": "", C ("0"));
    s_print (self, s_line);
}

//  "error" and "warning"
static void
s_render_problem (ui_t *self, json_t *ev)
{
    term_safe (s_text, sizeof s_text, s_str (ev, "message"));
    snprintf (s_line, sizeof s_line, "%s! %s%s", C ("31"), s_text, C ("0"));
    s_print (self, s_line);
}

//  Our own multi-line text: one line at a time, each made safe
static void
s_render_info (ui_t *self, json_t *ev)
{
    const char *p = s_str (ev, "message");
    while (*p) {
        size_t n = strcspn (p, "\n");
        char part [1024];
        snprintf (part, sizeof part, "%.*s", (int) (n < 1000? n: 1000), p);
        term_safe (s_text, sizeof s_text, part);
        s_print (self, s_text);
        p += n + (p [n] == '\n');
    }
}

//  "ready" and "whoami"
static void
s_render_whoami (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line,
              "%syou are %s%s, fingerprint %.16s, listening on port %d\n"
              "  safety number: %s\n  others can add you with: --peer %s%s",
              C ("1"), name, C ("0"), s_str (ev, "id"),
              (int) json_integer_value (json_object_get (ev, "port")),
              s_str (ev, "safety"), s_str (ev, "address"),
              strcmp (s_str (ev, "event"), "ready") == 0? "\n  type /help for the commands": "");
    s_print (self, s_line);
}

static void
s_render_verify (ui_t *self, json_t *ev)
{
    char name [256], verified [32];
    term_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (verified, sizeof verified, "%s",
              json_is_true (json_object_get (ev, "verified"))? "verified": "not verified yet");
    snprintf (s_line, sizeof s_line, "  %s (%.16s): %s\n  their safety number: %s\n"
              "  yours:              %s", name, s_str (ev, "id"), verified,
              s_str (ev, "safety"), s_str (ev, "own_safety"));
    s_print (self, s_line);
}

static void
s_render_peers (ui_t *self, json_t *ev)
{
    json_t *peers = json_object_get (ev, "peers");
    if (json_array_size (peers) == 0) {
        s_print (self, "no peers yet");
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach (peers, i, p) {
        char name [256];
        term_safe (name, sizeof name, s_str (p, "name"));
        snprintf (s_line, sizeof s_line, "  %-16s %.16s  %-22s %s%s", name, s_str (p, "id"),
                  s_str (p, "addr"),
                  json_is_true (json_object_get (p, "verified"))? "verified": "unverified",
                  json_is_true (json_object_get (p, "online"))? "": "  (offline)");
        s_print (self, s_line);
    }
}

//  A running transfer is on the status line: one line when it starts and
//  one when it ends, never one per progress event
static void
s_render_transfer (ui_t *self, json_t *ev)
{
    term_seen_t seen = term_track (self->term, ev);
    if (seen == TERM_UPDATED) {
        s_print (self, NULL);
        return;
    }
    term_transfer_line (ev, seen == TERM_STARTED, s_line, sizeof s_line);
    s_print (self, s_line);
}

static void
s_render_transfers (ui_t *self, json_t *ev)
{
    size_t i;
    json_t *t;
    if (json_array_size (json_object_get (ev, "transfers")) == 0)
        s_print (self, "no transfers");
    json_array_foreach (json_object_get (ev, "transfers"), i, t) {
        term_transfer_line (t, false, s_line, sizeof s_line);
        s_print (self, s_line);
    }
}

static void
s_render_files (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    size_t i;
    json_t *f;
    json_t *files = json_object_get (ev, "files");
    snprintf (s_line, sizeof s_line, "%s shares %zu file%s%s", name, json_array_size (files),
              json_array_size (files) == 1? "": "s", json_array_size (files)? ":": "");
    s_print (self, s_line);
    json_array_foreach (files, i, f) {
        char size [32];
        term_safe (s_text, sizeof s_text, s_str (f, "name"));
        term_size (json_integer_value (json_object_get (f, "size")), size, sizeof size);
        snprintf (s_line, sizeof s_line, "  %-40s %10s%s", s_text, size,
                  json_is_true (json_object_get (f, "video"))? "  video": "");
        s_print (self, s_line);
    }
}

static void
s_render_videos (ui_t *self, json_t *ev)
{
    char name [256];
    term_safe (name, sizeof name, s_str (ev, "name"));
    size_t i;
    json_t *v;
    json_t *videos = json_object_get (ev, "videos");
    snprintf (s_line, sizeof s_line, "%s shares %zu video%s%s", name, json_array_size (videos),
              json_array_size (videos) == 1? "": "s", json_array_size (videos)? ":": "");
    s_print (self, s_line);
    json_array_foreach (videos, i, v) {
        char when [32], codecs [256] = "";
        term_safe (s_text, sizeof s_text, s_str (v, "name"));
        term_duration (json_real_value (json_object_get (v, "duration")), when, sizeof when);
        size_t k;
        json_t *c;
        //  Each track with its language, when the owner says them
        json_t *tracks = json_object_get (v, "tracks");
        json_array_foreach (json_array_size (tracks)? tracks: json_object_get (v, "streams"), k, c) {
            size_t used = strlen (codecs);
            const char *codec = json_is_string (c)? json_string_value (c): s_str (c, "codec");
            const char *lang = json_is_object (c)? s_str (c, "language"): NULL;
            bool sub = json_is_object (c) && strcmp (s_str (c, "kind"), "subtitle") == 0;
            snprintf (codecs + used, sizeof codecs - used, "%s%s%s%s%s%s", k? ", ": "",
                      codec? codec: "?", sub? " subtitles": "", lang && *lang? " (": "",
                      lang && *lang? lang: "", lang && *lang? ")": "");
        }
        char safe [256];
        term_safe (safe, sizeof safe, codecs);
        snprintf (s_line, sizeof s_line, "  %-40s %9s  %s", s_text, when, safe);
        s_print (self, s_line);
        json_array_foreach (json_object_get (v, "not_carried"), k, c) {
            term_safe (safe, sizeof safe, json_string_value (c)? json_string_value (c): "?");
            snprintf (s_line, sizeof s_line, "  %-40s %9s  not carried: %s", "", "", safe);
            s_print (self, s_line);
        }
    }
}

static void
s_render_stream (ui_t *self, json_t *ev)
{
    if (term_track (self->term, ev) == TERM_UPDATED) {
        s_print (self, NULL);
        return;
    }
    s_stream_line (self, ev, s_line, sizeof s_line);
    s_print (self, s_line);
}

static void
s_render_streams (ui_t *self, json_t *ev)
{
    size_t i;
    json_t *st;
    if (json_array_size (json_object_get (ev, "streams")) == 0)
        s_print (self, "no streams");
    json_array_foreach (json_object_get (ev, "streams"), i, st) {
        s_stream_line (self, st, s_line, sizeof s_line);
        s_print (self, s_line);
    }
}

//  "shared" and "unshared"
static void
s_render_shared (ui_t *self, json_t *ev)
{
    term_safe (s_text, sizeof s_text, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s %s",
              strcmp (s_str (ev, "event"), "shared") == 0? "now sharing": "no longer sharing", s_text);
    s_print (self, s_line);
}

static void
s_render_history (ui_t *self, json_t *ev)
{
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get (ev, "entries"), i, e) {
        char name [256];
        term_safe (name, sizeof name, s_str (e, "name"));
        term_safe (s_text, sizeof s_text, s_str (e, "text"));
        bool out = strcmp (s_str (e, "dir"), "out") == 0;
        snprintf (s_line, sizeof s_line, "  %s %s %s: %s", s_str (e, "time"),
                  out? "to": "from", name, s_text);
        s_print (self, s_line);
    }
}

//  Other events: a sentence each, or the event and its fields on one line
static const struct {
    const char *event, *tmpl;
} s_sentences [] = {
    { "tracker_registered", "registered at the tracker {tracker}, which sees us as {addr}" },
    { "tracker_lost", "lost the tracker {tracker}: registering again when it is back" },
    { "tracker_refused", "the tracker {tracker} refused {request}: {code} (retry in {retry_ms} ms)" },
    { "mail_stored", "a sealed copy of {msg_id} waits at the tracker {tracker}" },
};

static void
s_render_fields (ui_t *self, json_t *ev)
{
    const char *tmpl = NULL;
    for (size_t i = 0; i < sizeof s_sentences / sizeof s_sentences [0]; i++)
        if (strcmp (s_sentences [i].event, s_str (ev, "event")) == 0)
            tmpl = s_sentences [i].tmpl;
    term_sentence (ev, tmpl, s_line, sizeof s_line);
    s_print (self, s_line);
}

//  Shown with --json only: a tracker naming many peers would fill the screen
static void
s_render_none (ui_t *self, json_t *ev)
{
}

//  Stamped: the lines of what happens (not answers to commands) show their
//  time; a message its own ("ts": mail keeps the time it was written)
static const struct {
    const char *event;
    void (*render) (ui_t *self, json_t *ev);
    bool stamped;
} s_renderers [] = {
    { "message", s_render_message, true },
    { "peer_joined", s_render_peer_joined, true },
    { "peer_left", s_render_peer_left, true },
    { "delivered", s_render_delivered, true },
    { "sent", s_render_sent, true },
    { "error", s_render_problem, true },
    { "warning", s_render_problem, true },
    { "info", s_render_info, false },
    { "ready", s_render_whoami, false },
    { "whoami", s_render_whoami, false },
    { "verify", s_render_verify, false },
    { "peers", s_render_peers, false },
    { "transfer", s_render_transfer, true },
    { "transfers", s_render_transfers, false },
    { "files", s_render_files, false },
    { "videos", s_render_videos, false },
    { "stream", s_render_stream, true },
    { "streams", s_render_streams, false },
    { "shared", s_render_shared, false },
    { "unshared", s_render_shared, false },
    { "history", s_render_history, false },
    { "dial_back", s_render_none, false },
};

//  Prints an event for a person: its type's renderer, else its text fields.
static void
s_format (ui_t *self, json_t *ev)
{
    const char *type = s_str (ev, "event");
    for (size_t i = 0; i < sizeof s_renderers / sizeof s_renderers [0]; i++)
        if (strcmp (s_renderers [i].event, type) == 0) {
            //  A message that waited (a mailbox, an outbox) shows when it was
            //  written; one that comes at once our clock (the sender's may run ahead)
            int64_t now = self->host.wall? self->host.wall (self->host.arg): 0;
            int64_t ts = json_integer_value (json_object_get (ev, "ts"));
            bool waited = json_is_true (json_object_get (ev, "mailbox")) || (ts > 0 && ts < now - 60000);
            self->wall = !s_renderers [i].stamped? 0: waited? ts: now;
            s_renderers [i].render (self, ev);
            self->wall = 0;
            return;
        }
    s_render_fields (self, ev);
}

void
ui_emit (ui_t *self, json_t *event)
{
    if (!event)
        return;
    if (self->json) {
        char *text = json_dumps (event, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (text) {
            size_t len = strlen (text);
            text [len] = '\n';         //  replaces the NUL: written by length
            s_append (self, text, len + 1);
            free (text);
            ui_flush (self);
        }
    }
    else {
        complete_observe (self->complete, event);
        s_format (self, event);
    }
    json_decref (event);
}

json_t *
ui_report_json (const char *type, const char *code, const char *fmt, va_list ap)
{
    char message [1024];
    vsnprintf (message, sizeof message, fmt, ap);
    return json_pack ("{s:s, s:s, s:s}", "event", type, "message", message, "code", code);
}

static void
s_report (ui_t *self, const char *type, const char *code, const char *fmt, va_list ap)
{
    ui_emit (self, ui_report_json (type, code, fmt, ap));
}

void
ui_error (ui_t *self, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_report (self, "error", code, fmt, ap);
    va_end (ap);
}

void
ui_warning (ui_t *self, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_report (self, "warning", code, fmt, ap);
    va_end (ap);
}

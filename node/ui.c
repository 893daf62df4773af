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
    self->on_line (line, self->arg);
    self->in_handler = false;
    free (line);
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
    const char *term = getenv ("TERM");
    self->color = !self->json && !getenv ("NO_COLOR") && term && strcmp (term, "dumb") != 0;
    self->on_line = on_line;
    self->arg = arg;
    self->prompt = strdup (prompt);
    self->buf = malloc (LINE_MAX_BYTES);
    if (!self->prompt || !self->buf) {
        free (self->prompt);
        free (self->buf);
        free (self);
        return NULL;
    }
    s_ui = self;
    if (!self->json)
        rl_callback_handler_install (self->prompt, s_rl_line);
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
    fflush (stdout);
    free (self->prompt);
    free (self->buf);
    free (self);
    s_ui = NULL;
    *self_p = NULL;
}

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

//  Prints one line above the prompt without disturbing what is typed.
static void
s_print (ui_t *self, const char *text)
{
    //  While a typed line runs, the cursor is already on a fresh line and
    //  readline's buffer still holds the accepted line: print plainly
    if (self->ended || self->in_handler) {
        printf ("%s\n", text);
        fflush (stdout);
        return;
    }
    char *saved = rl_copy_text (0, rl_end);
    int point = rl_point;
    rl_set_prompt ("");
    rl_replace_line ("", 0);
    rl_redisplay ();
    printf ("%s\n", text);
    rl_set_prompt (self->prompt);
    rl_replace_line (saved, 0);
    rl_point = point;
    rl_redisplay ();
    free (saved);
}

static const char *
s_str (json_t *ev, const char *field)
{
    const char *s = json_string_value (json_object_get (ev, field));
    return s? s: "";
}

//  Writes text with control characters shown as \xNN, so a peer cannot
//  drive the terminal with escape sequences.
static void
s_safe (char *out, size_t size, const char *text)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p && o + 5 < size; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t) snprintf (out + o, size - o, "\\x%02x", *p);
        else
            out [o++] = (char) *p;
    }
    out [o] = 0;
}

#define C(code) (self->color? "\033[" code "m": "")

//  "1.5 MB", "812 KB", "17 B"
static void
s_size (json_int_t bytes, char *out, size_t size)
{
    double v = (double) bytes;
    const char *unit = "B";
    if (v >= 1e9) { v /= 1e9; unit = "GB"; }
    else if (v >= 1e6) { v /= 1e6; unit = "MB"; }
    else if (v >= 1e3) { v /= 1e3; unit = "KB"; }
    snprintf (out, size, unit [0] == 'B'? "%.0f %s": "%.1f %s", v, unit);
}

//  One line for a transfer: direction, name, peer, progress, rate, time left.
//  Seconds as "H:MM:SS" or "M:SS".
static void
s_duration (double seconds, char *out, size_t size)
{
    long t = seconds > 0 && seconds < 1e9? (long) (seconds + 0.5): 0;
    if (t >= 3600)
        snprintf (out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf (out, size, "%ld:%02ld", t / 60, t % 60);
}

//  One line for a stream event.
static void
s_stream_line (ui_t *self, json_t *ev, char *line, size_t size)
{
    char name [256], video [256], out [512], why [512];
    s_safe (name, sizeof name, s_str (ev, "name"));
    s_safe (video, sizeof video, s_str (ev, "video"));
    s_safe (out, sizeof out, s_str (ev, "out"));
    s_safe (why, sizeof why, s_str (ev, "message"));
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

static void
s_transfer_line (ui_t *self, json_t *ev, char *line, size_t size)
{
    char name [256], peer [256], total [32], done [32], rate [32], extra [600] = "";
    s_safe (name, sizeof name, s_str (ev, "name"));
    s_safe (peer, sizeof peer, s_str (ev, "peer_name"));
    json_int_t bytes = json_integer_value (json_object_get (ev, "bytes"));
    json_int_t all = json_integer_value (json_object_get (ev, "size"));
    json_int_t speed = json_integer_value (json_object_get (ev, "rate"));
    s_size (all, total, sizeof total);
    s_size (bytes, done, sizeof done);
    s_size (speed, rate, sizeof rate);
    bool in = strcmp (s_str (ev, "direction"), "in") == 0;
    const char *state = s_str (ev, "state");
    if (strcmp (state, "running") == 0 && speed > 0)
        snprintf (extra, sizeof extra, " at %s/s, %lld s left", rate,
                  (long long) ((all - bytes) / speed));
    else if (strcmp (state, "done") == 0 && in) {
        s_safe (extra, sizeof extra - 8, s_str (ev, "path"));
        memmove (extra + 9, extra, strlen (extra) + 1);
        memcpy (extra, ", saved: ", 9);
    }
    else if (json_is_string (json_object_get (ev, "error"))) {
        char err [400];
        s_safe (err, sizeof err, s_str (ev, "error"));
        snprintf (extra, sizeof extra, ": %s", err);
    }
    snprintf (line, size, "%s %s %s %s: %s, %d%% of %s%s  [%.8s]", in? "<-": "->", name,
              in? "from": "to", peer, state, all? (int) (bytes * 100 / all): 100, total, extra,
              s_str (ev, "transfer_id"));
}

//  ---------------------------------------------------------------------
//  Event renderers: one per event type, each printing the event's lines
//  for a person (every text from outside through s_safe).  A new event is
//  a function and a row in s_renderers.

//  Scratch for the renderers: one event is rendered at a time
static char s_line [LINE_MAX_BYTES * 4 + 512];
static char s_text [LINE_MAX_BYTES * 4 + 16];

static void
s_render_message (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
    s_safe (s_text, sizeof s_text, s_str (ev, "text"));
    bool priv = json_is_true (json_object_get (ev, "private"));
    snprintf (s_line, sizeof s_line, "%s[%s%s]%s %s", priv? C ("35"): C ("36"), name,
              priv? " -> you": "", C ("0"), s_text);
    s_print (self, s_line);
}

static void
s_render_peer_joined (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
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
    s_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s* %s left%s", C ("33"), name, C ("0"));
    s_print (self, s_line);
}

static void
s_render_delivered (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s  (delivered to %s)%s", C ("2"), name, C ("0"));
    s_print (self, s_line);
}

//  Only a message that waits for its peer says anything
static void
s_render_sent (ui_t *self, json_t *ev)
{
    if (!json_is_true (json_object_get (ev, "queued")))
        return;
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
    snprintf (s_line, sizeof s_line, "%s  (%s is offline: queued)%s", C ("2"), name, C ("0"));
    s_print (self, s_line);
}

//  "error" and "warning"
static void
s_render_problem (ui_t *self, json_t *ev)
{
    s_safe (s_text, sizeof s_text, s_str (ev, "message"));
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
        s_safe (s_text, sizeof s_text, part);
        s_print (self, s_text);
        p += n + (p [n] == '\n');
    }
}

//  "ready" and "whoami"
static void
s_render_whoami (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
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
    s_safe (name, sizeof name, s_str (ev, "name"));
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
        s_safe (name, sizeof name, s_str (p, "name"));
        snprintf (s_line, sizeof s_line, "  %-16s %.16s  %-22s %s%s", name, s_str (p, "id"),
                  s_str (p, "addr"),
                  json_is_true (json_object_get (p, "verified"))? "verified": "unverified",
                  json_is_true (json_object_get (p, "online"))? "": "  (offline)");
        s_print (self, s_line);
    }
}

static void
s_render_transfer (ui_t *self, json_t *ev)
{
    s_transfer_line (self, ev, s_line, sizeof s_line);
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
        s_transfer_line (self, t, s_line, sizeof s_line);
        s_print (self, s_line);
    }
}

static void
s_render_files (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
    size_t i;
    json_t *f;
    json_t *files = json_object_get (ev, "files");
    snprintf (s_line, sizeof s_line, "%s shares %zu file%s%s", name, json_array_size (files),
              json_array_size (files) == 1? "": "s", json_array_size (files)? ":": "");
    s_print (self, s_line);
    json_array_foreach (files, i, f) {
        char size [32];
        s_safe (s_text, sizeof s_text, s_str (f, "name"));
        s_size (json_integer_value (json_object_get (f, "size")), size, sizeof size);
        snprintf (s_line, sizeof s_line, "  %-40s %10s%s", s_text, size,
                  json_is_true (json_object_get (f, "video"))? "  video": "");
        s_print (self, s_line);
    }
}

static void
s_render_videos (ui_t *self, json_t *ev)
{
    char name [256];
    s_safe (name, sizeof name, s_str (ev, "name"));
    size_t i;
    json_t *v;
    json_t *videos = json_object_get (ev, "videos");
    snprintf (s_line, sizeof s_line, "%s shares %zu video%s%s", name, json_array_size (videos),
              json_array_size (videos) == 1? "": "s", json_array_size (videos)? ":": "");
    s_print (self, s_line);
    json_array_foreach (videos, i, v) {
        char when [32], codecs [256] = "";
        s_safe (s_text, sizeof s_text, s_str (v, "name"));
        s_duration (json_real_value (json_object_get (v, "duration")), when, sizeof when);
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
        s_safe (safe, sizeof safe, codecs);
        snprintf (s_line, sizeof s_line, "  %-40s %9s  %s", s_text, when, safe);
        s_print (self, s_line);
        json_array_foreach (json_object_get (v, "not_carried"), k, c) {
            s_safe (safe, sizeof safe, json_string_value (c)? json_string_value (c): "?");
            snprintf (s_line, sizeof s_line, "  %-40s %9s  not carried: %s", "", "", safe);
            s_print (self, s_line);
        }
    }
}

static void
s_render_stream (ui_t *self, json_t *ev)
{
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
    s_safe (s_text, sizeof s_text, s_str (ev, "name"));
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
        s_safe (name, sizeof name, s_str (e, "name"));
        s_safe (s_text, sizeof s_text, s_str (e, "text"));
        bool out = strcmp (s_str (e, "dir"), "out") == 0;
        snprintf (s_line, sizeof s_line, "  %s %s %s: %s", s_str (e, "time"),
                  out? "to": "from", name, s_text);
        s_print (self, s_line);
    }
}

//  Any other event: its text fields, one per line
static void
s_render_fields (ui_t *self, json_t *ev)
{
    const char *key;
    json_t *value;
    json_object_foreach (ev, key, value) {
        if (strcmp (key, "event") == 0 || !json_is_string (value))
            continue;
        s_safe (s_text, sizeof s_text, json_string_value (value));
        snprintf (s_line, sizeof s_line, "  %s: %s", key, s_text);
        s_print (self, s_line);
    }
}

static const struct {
    const char *event;
    void (*render) (ui_t *self, json_t *ev);
} s_renderers [] = {
    { "message", s_render_message },
    { "peer_joined", s_render_peer_joined },
    { "peer_left", s_render_peer_left },
    { "delivered", s_render_delivered },
    { "sent", s_render_sent },
    { "error", s_render_problem },
    { "warning", s_render_problem },
    { "info", s_render_info },
    { "ready", s_render_whoami },
    { "whoami", s_render_whoami },
    { "verify", s_render_verify },
    { "peers", s_render_peers },
    { "transfer", s_render_transfer },
    { "transfers", s_render_transfers },
    { "files", s_render_files },
    { "videos", s_render_videos },
    { "stream", s_render_stream },
    { "streams", s_render_streams },
    { "shared", s_render_shared },
    { "unshared", s_render_shared },
    { "history", s_render_history },
};

//  Prints an event for a person: its type's renderer, else its text fields.
static void
s_format (ui_t *self, json_t *ev)
{
    const char *type = s_str (ev, "event");
    for (size_t i = 0; i < sizeof s_renderers / sizeof s_renderers [0]; i++)
        if (strcmp (s_renderers [i].event, type) == 0) {
            s_renderers [i].render (self, ev);
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
    else
        s_format (self, event);
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

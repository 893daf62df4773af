/*  term: the terminal's screen for the ui (see term.h): lines above the
    prompt, the one status line of running transfers and streams, times and
    colours.  The status line is the row right above the prompt; to print
    a line, the prompt is cleared, the cursor goes up onto the status row,
    the line is printed there and the status line and the prompt are drawn
    again under it.  So the scrollback holds the lines, never a status.  */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <readline/readline.h>
#include "term.h"

#define ENTRIES_MAX 16          //  transfers and streams on the status line
#define ID_MAX 40

typedef struct {
    char id [ID_MAX];           //  transfer_id or stream_id
    char name [128];            //  made safe
    bool stream, out;
    int64_t size, bytes, rate;
} s_entry_t;

struct _term_t {
    char *prompt;
    bool color, status, utf8;
    bool shown;                 //  the status row is on the screen above the prompt
    bool stamped;               //  a stamp was given: day holds its day
    int year, yday;
    s_entry_t entries [ENTRIES_MAX];
    int count;
};

term_t *
term_new (const char *prompt, bool color, bool status, bool utf8)
{
    term_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->prompt = strdup (prompt);
    if (!self->prompt) {
        free (self);
        return NULL;
    }
    self->color = color;
    self->status = status;
    self->utf8 = utf8;
    return self;
}

void
term_destroy (term_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->prompt);
    free (*self_p);
    *self_p = NULL;
}

//  The code point at p (UTF-8; a stray byte counts as itself) and its length
static uint32_t
s_decode (const unsigned char *p, int *len)
{
    int n = *p < 0x80? 1: (*p & 0xe0) == 0xc0? 2: (*p & 0xf0) == 0xe0? 3: (*p & 0xf8) == 0xf0? 4: 1;
    uint32_t c = n == 1? *p: *p & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((p [i] & 0xc0) != 0x80) {
            *len = 1;
            return *p;
        }
        c = (c << 6) | (p [i] & 0x3f);
    }
    *len = n;
    return c;
}

//  Columns one code point takes: the C library's wcwidth in C.UTF-8
//  (whatever locale the process runs in); where that locale is missing, a
//  short table: 2 for East Asian wide and most emoji, 0 for combining and
//  zero-width marks, else 1
static int
s_width_of (uint32_t c)
{
    static locale_t utf8;
    static bool tried;
    if (!tried) {
        tried = true;
        utf8 = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
    }
    if (c < 0x80)
        return 1;
    if (utf8) {
        locale_t was = uselocale (utf8);
        int w = wcwidth ((wchar_t) c);
        uselocale (was);
        return w < 0? 1: w;
    }
    if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || c == 0xfeff
    ||  (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0x20d0 && c <= 0x20ff))
        return 0;
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f)
    ||  (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff)
    ||  (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60)
    ||  (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f)
    ||  (c >= 0x1f680 && c <= 0x1f6ff) || (c >= 0x1f900 && c <= 0x1faff)
    ||  (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

//  Columns a UTF-8 text takes on the screen.
static int
s_cols (const char *text)
{
    int n = 0, len;
    for (const unsigned char *p = (const unsigned char *) text; *p; p += len)
        n += s_width_of (s_decode (p, &len));
    return n;
}

//  Cuts text (in place) to at most cols columns, marking the cut with mark.
static void
s_clip (char *text, int cols, const char *mark)
{
    if (s_cols (text) <= cols)
        return;
    int keep = cols - s_cols (mark), n = 0, len;
    unsigned char *p = (unsigned char *) text;
    for (; *p; p += len) {
        int w = s_width_of (s_decode (p, &len));
        if (n + w > keep)
            break;
        n += w;
    }
    if (strlen ((char *) p) < strlen (mark))
        mark = "~";             //  never longer than what it replaces
    strcpy ((char *) p, mark);
}

//  The terminal's width now (it may have been resized since readline
//  looked: its signal handlers only run inside its calls), told to readline.
static int
s_width (void)
{
    struct winsize ws;
    int rows = 0, cols = 0;
    if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        rl_get_screen_size (&rows, &cols);
        if (cols != ws.ws_col || rows != ws.ws_row)
            rl_set_screen_size (ws.ws_row, ws.ws_col);
        return ws.ws_col;
    }
    rl_get_screen_size (&rows, &cols);
    return cols > 0? cols: 80;
}

//  Draws the status line at the cursor (column 0), with its newline.
static void
s_draw_status (term_t *self)
{
    char line [1024];
    term_status (self, s_width (), line, sizeof line);
    self->shown = self->status && line [0];
    if (self->shown)
        printf ("%s%s%s\n", self->color? "\033[7m": "", line, self->color? "\033[0m": "");
}

void
term_print (term_t *self, const char *text, bool plain)
{
    if (plain) {
        if (text)
            printf ("%s\n", text);
        fflush (stdout);
        return;
    }
    char *saved = rl_copy_text (0, rl_end);
    int point = rl_point;
    rl_set_prompt ("");
    rl_replace_line ("", 0);
    rl_redisplay ();
    if (self->shown)
        fputs ("\033[A\r\033[K", stdout);   //  onto the status row, cleared
    if (text)
        printf ("%s\n", text);
    s_draw_status (self);
    rl_set_prompt (self->prompt);
    rl_replace_line (saved? saved: "", 0);
    rl_point = point;
    rl_redisplay ();
    free (saved);
}

void
term_accepted (term_t *self, const char *line)
{
    if (!self->shown)
        return;
    //  The cursor is under the echoed prompt and line, which may wrap
    int cols = s_width ();
    int echoed = (s_cols (self->prompt) + s_cols (line)) / cols + 1;
    printf ("\033[%dA\033[M\033[%dB\r", echoed + 1, echoed);  //  delete the status row
    fflush (stdout);
    self->shown = false;
}

void
term_line_done (term_t *self)
{
    s_draw_status (self);
    fflush (stdout);
}

static s_entry_t *
s_find (term_t *self, const char *id)
{
    for (int i = 0; i < self->count; i++)
        if (strcmp (self->entries [i].id, id) == 0)
            return &self->entries [i];
    return NULL;
}

static const char *
s_str (json_t *ev, const char *field)
{
    const char *s = json_string_value (json_object_get (ev, field));
    return s? s: "";
}

static json_int_t
s_int (json_t *ev, const char *field)
{
    return json_integer_value (json_object_get (ev, field));
}

term_seen_t
term_track (term_t *self, json_t *ev)
{
    const char *type = s_str (ev, "event"), *state = s_str (ev, "state");
    bool stream = strcmp (type, "stream") == 0;
    if (!stream && strcmp (type, "transfer") != 0)
        return TERM_OTHER;
    const char *id = s_str (ev, stream? "stream_id": "transfer_id");
    bool running = strcmp (state, "running") == 0 || (stream && strcmp (state, "started") == 0);
    s_entry_t *e = s_find (self, id);
    if (!running) {
        if (e)
            *e = self->entries [--self->count];
        //  An offer or a stream asked for is news of its own, not an end
        return e || !(strcmp (state, "offered") == 0 || strcmp (state, "requested") == 0)
               ? TERM_ENDED: TERM_OTHER;
    }
    term_seen_t seen = e? TERM_UPDATED: TERM_STARTED;
    if (!e && self->count < ENTRIES_MAX) {
        e = &self->entries [self->count++];
        memset (e, 0, sizeof *e);
        snprintf (e->id, sizeof e->id, "%s", id);
        term_safe (e->name, sizeof e->name, s_str (ev, stream? "video": "name"));
        e->stream = stream;
        e->out = stream? strcmp (s_str (ev, "role"), "owner") == 0
                       : strcmp (s_str (ev, "direction"), "out") == 0;
    }
    if (e && !stream) {
        e->size = s_int (ev, "size");
        e->bytes = s_int (ev, "bytes");
        e->rate = s_int (ev, "rate");
    }
    return seen;
}

void
term_transfer_line (json_t *ev, bool started, char *line, size_t size)
{
    char name [256], peer [256], total [32], done [32], rate [32], extra [600] = "";
    term_safe (name, sizeof name, s_str (ev, "name"));
    term_safe (peer, sizeof peer, s_str (ev, "peer_name"));
    json_int_t bytes = json_integer_value (json_object_get (ev, "bytes"));
    json_int_t all = json_integer_value (json_object_get (ev, "size"));
    json_int_t speed = json_integer_value (json_object_get (ev, "rate"));
    term_size (all, total, sizeof total);
    term_size (bytes, done, sizeof done);
    term_size (speed, rate, sizeof rate);
    bool in = strcmp (s_str (ev, "direction"), "in") == 0;
    const char *state = s_str (ev, "state");
    if (strcmp (state, "running") == 0 && speed > 0)
        snprintf (extra, sizeof extra, " at %s/s, %lld s left", rate,
                  (long long) ((all - bytes) / speed));
    else if (strcmp (state, "done") == 0 && in) {
        term_safe (extra, sizeof extra - 8, s_str (ev, "path"));
        memmove (extra + 9, extra, strlen (extra) + 1);
        memcpy (extra, ", saved: ", 9);
    }
    else if (json_is_string (json_object_get (ev, "error"))) {
        char err [400];
        term_safe (err, sizeof err, s_str (ev, "error"));
        snprintf (extra, sizeof extra, ": %s", err);
    }
    if (started)
        snprintf (line, size, "%s %s %s %s: started, %s  [%.8s]", in? "<-": "->", name,
                  in? "from": "to", peer, total, s_str (ev, "transfer_id"));
    else
        snprintf (line, size, "%s %s %s %s: %s, %d%% of %s%s  [%.8s]", in? "<-": "->", name,
                  in? "from": "to", peer, state, all? (int) (bytes * 100 / all): 100, total,
                  extra, s_str (ev, "transfer_id"));
}

void
term_status (term_t *self, int cols, char *out, size_t size)
{
    out [0] = 0;
    if (self->count == 0 || size < 64)
        return;
    const char *sep = self->utf8? " \xc2\xb7 ": " | ";
    //  Names share what the numbers leave (each entry's numbers: ~26 columns)
    int name_cols = cols / self->count - 28;
    if (name_cols < 8)
        name_cols = 8;
    size_t used = 0;
    for (int i = 0; i < self->count && used + 200 < size; i++) {
        const s_entry_t *e = &self->entries [i];
        char name [sizeof e->name], nums [96] = "";
        snprintf (name, sizeof name, "%s", e->name);
        s_clip (name, name_cols, self->utf8? "\xe2\x80\xa6": "~");
        const char *mark = self->utf8? (e->stream? "\xe2\x96\xb6": e->out? "\xe2\x86\x91": "\xe2\x86\x93")
                                     : (e->stream? ">": e->out? "->": "<-");
        if (!e->stream) {
            char rate [32], left [32];
            term_size (e->rate, rate, sizeof rate);
            term_duration (e->rate > 0? (double) (e->size - e->bytes) / (double) e->rate: 0,
                           left, sizeof left);
            snprintf (nums, sizeof nums, " %d%% %s/s %s",
                      e->size > 0? (int) (e->bytes * 100 / e->size): 100, rate,
                      e->rate > 0? left: "-:--");
        }
        else
            snprintf (nums, sizeof nums, " %s", e->out? "serving": "watching");
        used += (size_t) snprintf (out + used, size - used, "%s%s %s%s", i? sep: "", mark,
                                   name, nums);
    }
    s_clip (out, cols - 1, self->utf8? "\xe2\x80\xa6": "~");
}

void
term_stamp (term_t *self, int64_t wall, char *stamp, size_t stamp_size, char *date,
            size_t date_size)
{
    time_t t = (time_t) (wall / 1000);
    struct tm tm;
    date [0] = 0;
    if (!localtime_r (&t, &tm)) {
        snprintf (stamp, stamp_size, "--:--");
        return;
    }
    strftime (stamp, stamp_size, "%H:%M", &tm);
    if (!self->stamped || tm.tm_year != self->year || tm.tm_yday != self->yday)
        strftime (date, date_size, "-- %a %d %b %Y --", &tm);
    self->stamped = true;
    self->year = tm.tm_year;
    self->yday = tm.tm_yday;
}

const char *
term_peer_color (term_t *self, const char *id_hex)
{
    //  Six that read on dark and light backgrounds; red stays for errors
    static const char *palette [] = {
        "\033[32m", "\033[33m", "\033[34m", "\033[35m", "\033[36m", "\033[92m"
    };
    if (!self->color)
        return "";
    unsigned byte = 0;
    if (sscanf (id_hex, "%2x", &byte) != 1)
        byte = 0;
    return palette [byte % 6];
}

void
term_safe (char *out, size_t size, const char *text)
{
    size_t o = 0;
    int len;
    for (const unsigned char *p = (const unsigned char *) text; *p && o + 7 < size; p += len) {
        uint32_t c = s_decode (p, &len);
        //  C0 and C1 controls (a CSI can come as U+009B), and the bidi
        //  overrides that make a name read backwards
        if (c < 0x20 || c == 0x7f || (len == 1 && c >= 0x80))
            o += (size_t) snprintf (out + o, size - o, "\\x%02x", *p);
        else if ((c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
            o += (size_t) snprintf (out + o, size - o, "\\u%04x", c);
        else {
            memcpy (out + o, p, (size_t) len);
            o += (size_t) len;
        }
    }
    out [o] = 0;
}

void
term_size (int64_t bytes, char *out, size_t size)
{
    double v = (double) bytes;
    const char *unit = "B";
    if (v >= 1e9) { v /= 1e9; unit = "GB"; }
    else if (v >= 1e6) { v /= 1e6; unit = "MB"; }
    else if (v >= 1e3) { v /= 1e3; unit = "KB"; }
    snprintf (out, size, unit [0] == 'B'? "%.0f %s": "%.1f %s", v, unit);
}

void
term_duration (double seconds, char *out, size_t size)
{
    long t = seconds > 0 && seconds < 1e9? (long) (seconds + 0.5): 0;
    if (t >= 3600)
        snprintf (out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf (out, size, "%ld:%02ld", t / 60, t % 60);
}

//  One field of ev as text: a string made safe, or a whole number
static void
s_field_text (json_t *value, char *out, size_t size)
{
    if (json_is_string (value))
        term_safe (out, size, json_string_value (value));
    else if (json_is_integer (value))
        snprintf (out, size, "%lld", (long long) json_integer_value (value));
    else if (json_is_boolean (value))
        snprintf (out, size, "%s", json_is_true (value)? "yes": "no");
    else
        snprintf (out, size, "?");
}

void
term_sentence (json_t *ev, const char *tmpl, char *out, size_t size)
{
    char text [1024];
    size_t len = 0;
    out [0] = 0;
    if (!tmpl) {
        len = (size_t) snprintf (out, size, "%s", json_string_value (json_object_get (ev, "event")));
        const char *key, *sep = " - ";
        json_t *value;
        json_object_foreach (ev, key, value) {
            if (strcmp (key, "event") == 0 || json_is_array (value) || json_is_object (value))
                continue;
            s_field_text (value, text, sizeof text);
            if (len < size)
                len += (size_t) snprintf (out + len, size - len, "%s%s: %s", sep, key, text);
            sep = ", ";
        }
        return;
    }
    for (const char *p = tmpl; *p && len + 1 < size; ) {
        const char *close = *p == '{'? strchr (p, '}'): NULL;
        if (!close) {
            out [len++] = *p++;
            out [len] = 0;
            continue;
        }
        char key [64];
        snprintf (key, sizeof key, "%.*s", (int) (close - p - 1), p + 1);
        s_field_text (json_object_get (ev, key), text, sizeof text);
        len += (size_t) snprintf (out + len, size - len, "%s", text);
        if (len >= size)
            len = size - 1;
        p = close + 1;
    }
}

/*  term: the terminal's screen for the ui, and only that.  Lines go above
    the prompt (readline keeps what is being typed); running transfers and
    streams share ONE status line kept between those lines and the prompt,
    rewritten in place; lines get their time (HH:MM, and a date line when
    the day changed) and colours when the terminal takes them.  Nothing
    here reads a clock: times are passed in.  */
#ifndef SC_TERM_H
#define SC_TERM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _term_t term_t;

//  How term_track saw an event
typedef enum {
    TERM_OTHER,             //  not a transfer or a stream: print it
    TERM_STARTED,           //  it joined the status line: print its start line
    TERM_UPDATED,           //  the status line changed: print nothing
    TERM_ENDED              //  it left the status line (or never ran): print it
} term_seen_t;

//  A screen for prompt (copied).  color: escape codes in colours; status:
//  the status line is drawn (needs cursor movement: not on TERM=dumb);
//  utf8: the status line may use non-ASCII marks.  NULL when out of memory.
term_t *term_new (const char *prompt, bool color, bool status, bool utf8);

//  Accepts NULL, nulls the pointer.
void term_destroy (term_t **self_p);

//  Prints text (one or more lines; NULL: none) above the prompt, then the
//  status line, then the prompt with what is typed.  plain: readline is
//  between lines (a typed line runs, or input ended): just print.
void term_print (term_t *self, const char *text, bool plain);

//  A typed line was accepted (it stands echoed under the status line):
//  the status line is taken out from above it.
void term_accepted (term_t *self, const char *line);

//  The typed line has run: the status line goes back above the new prompt.
void term_line_done (term_t *self);

//  Notes a "transfer" or "stream" event for the status line.
term_seen_t term_track (term_t *self, json_t *ev);

//  One line for a transfer event: direction, name, peer, state, progress,
//  rate and time left; or, started, the line that says it began.
void term_transfer_line (json_t *ev, bool started, char *line, size_t size);

//  The status line for cols columns into out ("" when nothing runs).
void term_status (term_t *self, int cols, char *out, size_t size);

//  "HH:MM" of wall (ms since the epoch, local time) into stamp; into date
//  "-- Sun 29 Nov 2026 --" when the day differs from the last stamp's
//  (and for the first one), else "".
void term_stamp (term_t *self, int64_t wall, char *stamp, size_t stamp_size,
                 char *date, size_t date_size);

//  The colour escape of a peer (stable per key: from its fingerprint's
//  first byte, hex), or "" without colours.  Static.
const char *term_peer_color (term_t *self, const char *id_hex);

//  Text with control characters shown as \xNN, so a peer cannot drive the
//  terminal with escape sequences.
void term_safe (char *out, size_t size, const char *text);

//  tmpl with each {key} replaced by ev's value there (a string made safe
//  with term_safe, or a whole number), into out.  A template of NULL: the
//  event's name, then its string and number fields as "key: value".
void term_sentence (json_t *ev, const char *tmpl, char *out, size_t size);

//  "1.5 MB", "812 KB", "17 B"
void term_size (int64_t bytes, char *out, size_t size);

//  Seconds as "H:MM:SS" or "M:SS".
void term_duration (double seconds, char *out, size_t size);

#endif

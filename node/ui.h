/*  ui: the node's one way in and out for a person or a script.

    Every event the node reports is a JSON object with an "event" field,
    passed to ui_emit.  With --json (or without a terminal) it is written as
    one compact line to stdout and commands are read as lines from stdin.
    On a terminal, readline runs in callback mode: events print above the
    line being typed without breaking it (term.h: with their time, colours
    unless NO_COLOR is set, running transfers on one status line), typed
    lines go to a history and Tab completes (complete.h).  Diagnostics never
    go here: they go to stderr through log.h.  */
#ifndef SC_UI_H
#define SC_UI_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ui_t ui_t;

//  Called for each complete input line (NUL-terminated, borrowed).
typedef void (ui_line_fn) (const char *line, void *arg);

//  Starts the UI; json forces the scripting mode.  Returns NULL on failure.
//  Only one UI may exist at a time (readline has global state).
ui_t *ui_new (bool json, const char *prompt, ui_line_fn *on_line, void *arg);

//  Restores the terminal; accepts NULL, nulls the pointer.
void ui_destroy (ui_t **self_p);

//  The file descriptor to poll for input.
int ui_fd (ui_t *self);

//  JSON mode writes go through a buffer so that a slow reader never stalls
//  the node: ui_pending says output is waiting (poll stdout for writing),
//  ui_flush writes what the pipe takes.  Past UI_OUT_MAX bytes of backlog
//  the node waits for the reader instead: events are never dropped.
#define UI_OUT_MAX (64u * 1024 * 1024)
bool ui_pending (ui_t *self);
void ui_flush (ui_t *self);
int ui_out_fd (ui_t *self);

//  Reads what is available and calls on_line per line, for at most a slice
//  of lines (a pasted burst takes several calls).  Returns 0, or 1 when
//  input has ended (treat as /quit).
int ui_read (ui_t *self);
//  True when complete lines wait for the next ui_read (call it without
//  waiting for stdin).
bool ui_more (ui_t *self);

//  What the ui asks of the node: the wall clock (ms since the epoch, for
//  the time of lines), and the peers for completion (add is called with
//  each one's display name and fingerprint, hex).  Borrowed.
typedef void (ui_peer_fn) (void *ctx, const char *name, const char *id);
typedef struct {
    int64_t (*wall) (void *arg);
    void (*peers) (void *arg, ui_peer_fn *add, void *ctx);
    void *arg;
} ui_host_t;

//  Sets the host (copied).  Without one, lines have no time.
void ui_set_host (ui_t *self, const ui_host_t *host);

//  Reports an event (taken: the caller's reference is consumed).
void ui_emit (ui_t *self, json_t *event);

//  Says whether the UI is in JSON mode.
bool ui_is_json (ui_t *self);

//  The event an error or a warning is (type "error" or "warning", a stable
//  code, a sentence): for modules that emit events through their host.
//  A new JSON object, or NULL when out of memory.
json_t *ui_report_json (const char *type, const char *code, const char *fmt, va_list ap);

//  Builds and emits {"event":"error"|"warning","message":..,"code":..}.
void ui_error (ui_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void ui_warning (ui_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif

/*  complete: Tab completion of the line being typed, and only that.  The
    first word completes to a command; each argument by its kind, read from
    the command's usage in cmd.h (cmd_arg_kind): PEER to a peer's display
    name (or, when no name fits, a fingerprint prefix), a peer's NAME to
    the shares that peer's last /files or /videos answer listed, ID to the
    transfers going on, PATH (and --out FILE) to file names (readline's own
    filename completion); /help's argument to a command.  What peers share
    and which transfers run is learnt from the events the ui shows.  */
#ifndef SC_COMPLETE_H
#define SC_COMPLETE_H

#include <jansson.h>
#include <stdbool.h>
#include "ui.h"

typedef struct _complete_t complete_t;

//  A completer with nothing learnt yet.  NULL when out of memory.
complete_t *complete_new (void);

//  Accepts NULL, nulls the pointer.
void complete_destroy (complete_t **self_p);

//  Learns what an event says: a peer's shares ("files", "videos"), the
//  transfers that run ("transfer").  ev is borrowed.
void complete_observe (complete_t *self, json_t *ev);

//  The words that may stand for text, the word of line that begins at
//  start: a NULL-terminated array of strings (the caller frees each and
//  the array), or NULL when none.  *paths is set when the word is a file
//  name (then NULL is returned: the caller completes file names); *last
//  when the word is the rest of the line (nothing may follow it, not even
//  a space).  host gives the peers (borrowed).
char **complete_words (complete_t *self, const ui_host_t *host, const char *line, int start,
                       const char *text, bool *paths, bool *last);

//  Makes readline complete with self and host (both borrowed until
//  complete_uninstall).  One at a time (readline's state is global).
void complete_install (complete_t *self, const ui_host_t *host);
void complete_uninstall (void);

#endif

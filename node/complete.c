/*  complete: Tab completion of the line being typed (see complete.h).  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include "cmd.h"
#include "complete.h"

#define PEERS_MAX 256           //  peers whose shares are remembered
#define WORDS_MAX 1024          //  candidates offered at once
#define ID_SHOWN 8              //  a transfer id completes to this many hex digits
#define FP_SHOWN 16             //  a fingerprint to this many

struct _complete_t {
    json_t *shares;             //  peer id (hex) -> [share names]
    json_t *transfers;          //  transfer id -> true, while it runs or waits
};

complete_t *
complete_new (void)
{
    complete_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->shares = json_object ();
    self->transfers = json_object ();
    if (!self->shares || !self->transfers)
        complete_destroy (&self);
    return self;
}

void
complete_destroy (complete_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref ((*self_p)->shares);
    json_decref ((*self_p)->transfers);
    free (*self_p);
    *self_p = NULL;
}

static const char *
s_str (json_t *ev, const char *field)
{
    const char *s = json_string_value (json_object_get (ev, field));
    return s? s: "";
}

void
complete_observe (complete_t *self, json_t *ev)
{
    const char *type = s_str (ev, "event");
    if (strcmp (type, "files") == 0 || strcmp (type, "videos") == 0) {
        const char *peer = s_str (ev, "peer");
        json_t *names = json_object_get (self->shares, peer);
        if (!names && json_object_size (self->shares) >= PEERS_MAX)
            json_object_clear (self->shares);
        if (!names || strcmp (type, "files") == 0) {
            //  A /files answer is the whole list; /videos adds what it names
            names = json_array ();
            json_object_set_new (self->shares, peer, names);
        }
        size_t i;
        json_t *f;
        json_array_foreach (json_object_get (ev, type), i, f)
            if (json_is_string (json_object_get (f, "name")) && json_array_size (names) < WORDS_MAX)
                json_array_append (names, json_object_get (f, "name"));
    }
    else if (strcmp (type, "transfer") == 0) {
        const char *id = s_str (ev, "transfer_id"), *state = s_str (ev, "state");
        if (strcmp (state, "done") == 0 || strcmp (state, "failed") == 0)
            json_object_del (self->transfers, id);
        else if (*id && json_object_size (self->transfers) < WORDS_MAX)
            json_object_set_new (self->transfers, id, json_true ());
    }
}

//  Candidates being gathered: those that start with text
typedef struct {
    char **words;
    size_t count;
    const char *text;
    size_t len;
    bool ids;                   //  peers: fingerprints rather than names
    const char *query;          //  peers: the peer sought (its id into found)
    char found [80];
} s_list_t;

static void
s_add (s_list_t *list, const char *word, size_t cut)
{
    if (strncmp (word, list->text, list->len) != 0 || list->count + 1 >= WORDS_MAX)
        return;
    char **more = realloc (list->words, (list->count + 2) * sizeof *more);
    if (!more)
        return;
    list->words = more;
    more [list->count] = strndup (word, cut? cut: strlen (word));
    if (more [list->count])
        list->count++;
    more [list->count] = NULL;
}

static void
s_add_peer (void *ctx, const char *name, const char *id)
{
    s_list_t *list = ctx;
    if (list->query) {
        //  The peer an earlier word names: by name, else by fingerprint prefix
        if (strcmp (name, list->query) == 0
        || (!list->found [0] && strlen (list->query) >= 4
            && strncmp (id, list->query, strlen (list->query)) == 0))
            snprintf (list->found, sizeof list->found, "%s", id);
    }
    else if (list->ids)
        s_add (list, id, FP_SHOWN);
    else
        s_add (list, name, 0);
}

char **
complete_words (complete_t *self, const ui_host_t *host, const char *line, int start,
                const char *text, bool *paths, bool *last)
{
    *paths = *last = false;
    s_list_t list = { .text = text, .len = strlen (text) };
    //  The words before this one
    char before [CMD_LINE_MAX + 1], *words [8];
    snprintf (before, sizeof before, "%.*s", start, line);
    int n = 0;
    for (char *save = NULL, *w = strtok_r (before, " ", &save); w && n < 8;
         w = strtok_r (NULL, " ", &save))
        words [n++] = w;
    if (n == 0) {
        if (text [0] != '/')
            return NULL;        //  a chat line
        char word [64];
        for (size_t i = 0; cmd_name (i); i++) {
            snprintf (word, sizeof word, "/%s", cmd_name (i));
            s_add (&list, word, 0);
        }
        return list.words;
    }
    if (words [0][0] != '/')
        return NULL;
    const char *cmd = words [0] + 1;
    if (strcmp (words [n - 1], "--out") == 0) {
        *paths = true;
        return NULL;
    }
    if (strcmp (cmd, "help") == 0 && n == 1) {
        for (size_t i = 0; cmd_name (i); i++)
            s_add (&list, cmd_name (i), 0);
        return list.words;
    }
    *last = cmd_arg_is_rest (cmd, n - 1);
    switch (cmd_arg_kind (cmd, n - 1)) {
        case CMD_ARG_PATH:
            *paths = true;
            break;
        case CMD_ARG_PEER:
            if (host && host->peers) {
                host->peers (host->arg, s_add_peer, &list);
                if (list.count == 0) {
                    list.ids = true;
                    host->peers (host->arg, s_add_peer, &list);
                }
            }
            break;
        case CMD_ARG_SHARE: {
            list.query = words [1];
            if (host && host->peers)
                host->peers (host->arg, s_add_peer, &list);
            size_t i;
            json_t *name;
            json_array_foreach (json_object_get (self->shares, list.found), i, name)
                s_add (&list, json_string_value (name), 0);
            break;
        }
        case CMD_ARG_ID: {
            const char *id;
            json_t *v;
            json_object_foreach (self->transfers, id, v)
                s_add (&list, id, ID_SHOWN);
            break;
        }
        default:
            break;
    }
    return list.words;
}

//  ---------------------------------------------------------------------
//  readline's side

static complete_t *s_self;
static const ui_host_t *s_host;
static char **s_words;          //  this completion's candidates, handed out in turn
static size_t s_next;

static char *
s_generate (const char *text, int state)
{
    (void) text;                //  the candidates already start with it
    if (!s_words || !s_words [s_next]) {
        free (s_words);
        s_words = NULL;
        return NULL;
    }
    return s_words [s_next++];  //  readline frees each
}

static char **
s_attempt (const char *text, int start, int end)
{
    bool paths, last;
    free (s_words);             //  any left from an earlier completion are gone
    s_words = complete_words (s_self, s_host, rl_line_buffer, start, text, &paths, &last);
    s_next = 0;
    rl_completion_suppress_append = last;  //  "/send bob a.pdf " would send "a.pdf "
    rl_attempted_completion_over = !paths;  //  paths: readline's file names
    if (paths || !s_words)
        return NULL;
    return rl_completion_matches (text, s_generate);
}

void
complete_install (complete_t *self, const ui_host_t *host)
{
    s_self = self;
    s_host = host;
    rl_readline_name = "securechat";
    rl_attempted_completion_function = s_attempt;
}

void
complete_uninstall (void)
{
    rl_attempted_completion_function = NULL;
    s_self = NULL;
    s_host = NULL;
}

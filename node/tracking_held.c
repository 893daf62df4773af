/*  tracking_held: /msg lines to a name or fingerprint prefix met nowhere
    yet, held while the trackers are asked for it (see tracking_hold in
    node_int.h).  A line goes once every tracker asked has answered, to the
    one peer the query means, or is given back in an error.  */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "node_int.h"

#define TRACKING_HOLD_MAX 16        //  lines held for peers the trackers are asked for
#define TRACKING_HOLD_MS 15000      //  how long one is held

//  A /msg to a name or prefix met nowhere yet, waiting for a tracker's answer
typedef struct {
    char query [IDENTITY_FP_HEX_SIZE];  //  a name, or a prefix in lower case
    bool prefix;
    char *text;
    int64_t until;
    struct {
        int tracker;
        uint64_t tag;
    } asked [TCLIENT_TRACKERS_MAX];     //  lookups not answered yet
    size_t nasked;
} s_held_t;

struct _theld_t {
    s_held_t held [TRACKING_HOLD_MAX];
    size_t nheld;
};

void
tracking_held_destroy (node_t *self)
{
    for (size_t k = 0; self->theld && k < self->theld->nheld; k++)
        free (self->theld->held [k].text);
    free (self->theld);
    self->theld = NULL;
}

//  True when query is 8 to 64 hex digits: a fingerprint prefix to ask for
static bool
s_is_prefix (const char *query)
{
    size_t n = strlen (query);
    return n >= 8 && n < IDENTITY_FP_HEX_SIZE && strspn (query, "0123456789abcdefABCDEF") == n;
}

//  Asks every registered tracker for query: a fingerprint prefix, else a
//  name (never both: a peer cannot take a prefix by choosing it as its
//  name).  The lookups sent go to h.
static void
s_lookup (node_t *self, const char *query, s_held_t *h)
{
    bool prefix = s_is_prefix (query);
    if (!prefix && !record_name_ok (query))
        return;
    for (size_t i = 0; i < tclient_size (self->tclient); i++) {
        if (!tclient_registered (self->tclient, (int) i))
            continue;
        wire_frame_t f = { .type = WIRE_T_LOOKUP, .t_lookup = {
            .tag = tclient_tag (self->tclient, TCLIENT_REQ_LOOKUP), .key = NULL, .key_len = 0,
            .prefix = prefix? query: "", .prefix_len = prefix? strlen (query): 0,
            .name = prefix? "": query, .name_len = prefix? 0: strlen (query) } };
        if (tracking_send (self, (int) i, &f) == 0 && h->nasked < TCLIENT_TRACKERS_MAX) {
            h->asked [h->nasked].tracker = (int) i;
            h->asked [h->nasked++].tag = f.t_lookup.tag;
        }
    }
}

int
tracking_hold (node_t *self, const char *query, const char *text)
{
    if (!self->tclient || strlen (query) >= sizeof self->theld->held [0].query)
        return SC_ENOPEER;
    if (!self->theld && !(self->theld = calloc (1, sizeof *self->theld)))
        return SC_ENOMEM;
    struct _theld_t *b = self->theld;
    if (b->nheld == TRACKING_HOLD_MAX)
        return SC_EFULL;
    s_held_t *h = &b->held [b->nheld];
    *h = (s_held_t) { .until = node_mono_ms () + TRACKING_HOLD_MS, .prefix = s_is_prefix (query) };
    for (size_t i = 0; query [i]; i++)
        h->query [i] = h->prefix? (char) tolower ((unsigned char) query [i]): query [i];
    s_lookup (self, h->query, h);
    if (h->nasked == 0)
        return SC_ENOPEER;
    //  A short prefix is asked (the peer is met if it is there), but no
    //  line waits on it: 32 bits can be ground by anyone making keys
    if (h->prefix && strlen (query) < TRACKING_HOLD_PREFIX)
        return SC_EAGAIN;
    h->text = strdup (text);
    if (!h->text)
        return SC_ENOMEM;
    b->nheld++;
    return 0;
}

//  Tracker i answered (or refused) the lookup tag: the held lines that
//  wait for it wait for one answer less (only the tracker asked can
//  answer for it), and may go.
void
tracking_held_answered (node_t *self, int i, uint64_t tag, int64_t now)
{
    struct _theld_t *b = self->theld;
    for (size_t k = 0; b && k < b->nheld; k++) {
        s_held_t *h = &b->held [k];
        for (size_t t = 0; t < h->nasked; t++)
            if (h->asked [t].tag == tag && h->asked [t].tracker == i)
                h->asked [t--] = h->asked [--h->nasked];
    }
    tracking_held_release (self, now);
}

//  The one peer a held query means: by fingerprint prefix (lower case)
//  only, or by exact name only (a hex name must not reach a key ground to
//  start with it), refused by name when it only claims a name another
//  holds.  0, SC_ENOPEER, SC_EAMBIGUOUS or SC_EKEYCHANGED (cands filled).
static int
s_match (node_t *self, const char *query, bool prefix, peer_t **out, char *cands, size_t size)
{
    size_t n = 0, used = 0;
    cands [0] = 0;
    for (size_t k = 0; k < peers_size (self->peers); k++) {
        peer_t *p = peers_at (self->peers, k);
        if (prefix? strncmp (p->id, query, strlen (query)) != 0: strcmp (p->name, query) != 0)
            continue;
        if (n++ == 0)
            *out = p;
        if (used < size)
            used += (size_t) snprintf (cands + used, size - used, "%s%s (%.16s)",
                                       used? ", ": "", p->name, p->id);
    }
    if (n == 1 && !prefix && known_name_conflict (self->known, (*out)->sign_pk, query))
        return SC_EKEYCHANGED;
    return n == 0? SC_ENOPEER: n == 1? 0: SC_EAMBIGUOUS;
}

static void
s_held_drop (struct _theld_t *b, size_t k)
{
    free (b->held [k].text);
    b->held [k] = b->held [--b->nheld];
}

//  Lines held for peers the trackers were asked for, once every tracker
//  asked has answered (so two that disagree are seen before anything
//  goes) or their time is out: sent to the one peer the query means,
//  else refused with the text given back.
void
tracking_held_release (node_t *self, int64_t now)
{
    struct _theld_t *b = self->theld;
    for (size_t k = b? b->nheld: 0; k-- > 0; ) {
        s_held_t *h = &b->held [k];
        if (h->nasked > 0 && now < h->until)
            continue;
        peer_t *peer = NULL;
        char cands [512], err [512];
        int rc = s_match (self, h->query, h->prefix, &peer, cands, sizeof cands);
        if (rc == 0) {
            rc = chat_queue (self->chat, peer, 0, h->text, node_mono_ms (), node_wall_ms (),
                             err, sizeof err);
            if (rc == 0)
                known_set_messaged (self->known, peer->sign_pk);
            else
                ui_error (self->ui, sc_errname (rc), "%s", err);
        }
        else if (rc == SC_EAMBIGUOUS)
            ui_error (self->ui, "ambiguous", "several peers answer to '%s' (%s): the message "
                      "\"%.60s\" was not sent; use a longer fingerprint prefix",
                      h->query, cands, h->text);
        else if (rc == SC_EKEYCHANGED)
            ui_error (self->ui, "key_changed", "'%s' is known with another key (%s): the message "
                      "\"%.60s\" was not sent; check with /verify, or use the fingerprint",
                      h->query, cands, h->text);
        else
            ui_error (self->ui, "no_peer", "no peer called '%s' here or at any tracker%s: "
                      "the message \"%.60s\" was not sent", h->query,
                      h->nasked? " (no answer in time)": "", h->text);
        s_held_drop (b, k);
    }
}


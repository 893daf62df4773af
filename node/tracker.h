/*  tracker: securechat-tracker's socket glue (DESIGN.md section 9).

    One CURVE ROUTER (node/transport.c, shared with the node) and the UDP
    record request (discovery/resolve.c) on the same port number; the rules
    are discovery/tracker/'s registry and mailbox, which this module feeds
    with what came on a link and whose answers it sends on.  The frames are
    node/wire.h's T_* rows, handled through wire_handle/wire_dispatch.

    Every frame is taken as from its link's CURVE key (the ZAP handler sets
    it), never from a field.  A link that registered is remembered (its
    routing id) so that notices, dial-backs and "you have mail" can be
    pushed to it; it is forgotten when its connection closes (its record
    stays until its time to live ends).  One poll loop; the clock is read
    once a pass and passed down.  Over a limit the asker gets T_REFUSED with
    a code and retry_ms; nobody else is held up.  */
#ifndef SC_TRACKER_H
#define SC_TRACKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "../crypto/identity.h"
#include "../discovery/tracker/mailbox.h"
#include "../discovery/tracker/registry.h"

#define TRACKER_PORT 47472
#define TRACKER_SWEEP_MS 1000           //  records swept, notices pushed
#define TRACKER_SAVE_MS 60000           //  records snapshot written
#define TRACKER_MAIL_SWEEP_MS 60000     //  mail past its time deleted
#define TRACKER_PUSHES_PER_S 20000     //  notice pushes a second, over all links
#define TRACKER_EVENTS_PER_S 20         //  "refused" JSON events a second (the rest counted)
#define TRACKER_SNAPSHOT "tracker-records"
#define TRACKER_MAILBOX "mailbox"

typedef struct {
    const char *bind;                   //  "*" for all addresses
    int port;                           //  TCP and UDP
    bool json;                          //  one JSON event per line on stdout
    registry_limits_t registry;
    mailbox_limits_t mailbox;
    int64_t clock_offset_ms;            //  added to the wall clock (tests only)
    int64_t push_rate;                  //  notice pushes a second (TRACKER_PUSHES_PER_S)
} tracker_opts_t;

typedef struct _tracker_t tracker_t;

//  Opens the sockets on opts->bind:opts->port, the mailbox under home and
//  the records snapshot; takes the identity (*id_p is nulled).  Returns the
//  tracker, or NULL and *err (SC_EEXIST: the port is taken).
tracker_t *tracker_new (const tracker_opts_t *opts, const char *home, identity_t **id_p, int *err);

//  Saves the snapshot, closes everything; accepts NULL, nulls the pointer.
void tracker_destroy (tracker_t **self_p);

//  "FP@tcp://HOST:PORT": what nodes give to --tracker (borrowed).
const char *tracker_address (const tracker_t *self);

//  Runs the loop until *stop is set (by a signal).  Returns 0, or 1 when
//  polling failed.
int tracker_run (tracker_t *self, volatile sig_atomic_t *stop);

#endif

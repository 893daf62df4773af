/*  node: one securechat node.  Owns the event loop (zmq_poll over the
    ROUTER, the ZAP handler, the UDP record socket and stdin, plus timers on
    the monotonic clock), the peer table and the commands.  */
#ifndef SC_NODE_H
#define SC_NODE_H

#include "../crypto/identity.h"
#include "cmd.h"
#include "opts.h"

typedef struct _node_t node_t;

//  Creates a node for opts with the given identity (taken) and display name.
//  Binds its sockets and reports "ready".  Returns NULL and *err on failure.
node_t *node_new (const opts_t *opts, const char *home, const char *name,
                  identity_t **identity_p, int *err);

//  Runs until /quit, end of input or SIGINT/SIGTERM.  Returns 0.
int node_run (node_t *self);

//  Says whether the node has a handler for commands of this type (every
//  type has one: a test holds cmd.h's table to that).
bool node_handles (cmd_type_t type);

//  Tells peers we leave, closes everything; accepts NULL, nulls the pointer.
void node_destroy (node_t **self_p);

#endif

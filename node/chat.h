/*  chat: sealed chat lines to peers and what comes back, the node's
    messaging role.

    A line to a peer is sealed (crypto/envelope) at send time, into the
    peer's outbox (node/peers: bounded by bytes, kept while the peer is
    away) and goes out in order within a budget of seals per loop pass,
    with at most the outbox's window in flight; a message whose receipt is
    overdue is sent again (the peer answers a copy with a receipt), and
    messages never take a new link while older ones are in flight on
    another (two links deliver in no order between them).  A MSG is opened
    with the node's opener (replay state, pinned keys), shown, answered
    with a RECEIPT (kept and sent later when the link is full) and written
    to the history.  Time comes in as arguments: `now` (monotonic, for
    resends) and `wall` (ms since the epoch, for seals and timestamps).
    The peers, identity, opener, history and UI are the node's (borrowed);
    frames go out through the host's send, which says SC_EAGAIN when the
    link does not take them now.  */
#ifndef SC_CHAT_H
#define SC_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../crypto/envelope.h"
#include "../crypto/identity.h"
#include "history.h"
#include "peers.h"
#include "ui.h"
#include "wire.h"

#define CHAT_RESEND_MS 5000     //  re-send a message with no receipt after this
#define CHAT_SEND_BUDGET 32     //  messages sealed per loop pass, over every peer

typedef struct _chat_t chat_t;

typedef struct {
    //  Sends a frame on the peer's link: 0, SC_EAGAIN (not now) or an error.
    int (*send) (void *arg, peer_t *peer, const wire_frame_t *frame);
    //  The wall clock (ms since the epoch): for the frames handed over by
    //  wire_dispatch, which carry only the loop's monotonic now.
    int64_t (*wall) (void *arg);
    //  Leaves a sealed envelope for the peer at a tracker's mailbox: 0 when
    //  it went to one (NULL, or an error: no tracker takes it now)
    int (*mail) (void *arg, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE],
                 const uint8_t *env, size_t env_len);
    //  Marks a message shown (by its signed sender and id): true when it
    //  was shown before, maybe in an earlier run (NULL: the opener alone says)
    bool (*seen) (void *arg, const uint8_t from [32], const uint8_t msg_id [ENVELOPE_ID_SIZE],
                  int64_t wall);
    void *arg;
} chat_host_t;

//  All borrowed; they must outlive the chat.  NULL when out of memory.
chat_t *chat_new (const identity_t *id, envelope_opener_t *opener, peers_t *peers,
                  history_t *history, ui_t *ui, const chat_host_t *host);
//  Accepts NULL, nulls the pointer.
void chat_destroy (chat_t **self_p);

//  Starts a loop pass: the budget of seals is full again.
void chat_pass (chat_t *self);
//  Sends what the outboxes hold, within the pass's budget, starting with a
//  different peer each pass so that one long outbox does not starve others.
void chat_pump (chat_t *self, int64_t now, int64_t wall);
//  True when a message waits only for the next pass (the loop must not sleep).
bool chat_more (chat_t *self);

//  Queues text for peer (kind 0 private, 1 to everyone), sends it at once
//  when the peer is online and nothing older waits, reports `sent` and
//  writes the history.  Returns 0, or SC_EFULL (the outbox is full) or
//  another error with a sentence in err.
int chat_queue (chat_t *self, peer_t *peer, unsigned kind, const char *text,
                int64_t now, int64_t wall, char *err, size_t err_size);
//  The peer's link came up: what was sent before it left may be lost, so
//  its outbox goes again, in order.
void chat_peer_up (chat_t *self, peer_t *peer, int64_t now, int64_t wall);

//  An envelope from the peer that waited in a tracker's mailbox: opened
//  with the window past_ms, shown once (its original time), answered with
//  a receipt on the link or, with none, by the mailbox.  Returns 0 (shown,
//  or a receipt by mailbox taken), SC_EREPLAY (shown before), or why it
//  was refused: in each case the tracker may delete it.
int chat_on_mail (chat_t *self, peer_t *peer, const uint8_t *env, size_t env_len,
                  int64_t wall, int64_t past_ms);

//  A MSG or RECEIPT frame from a peer.
void chat_on_msg (chat_t *self, peer_t *peer, const wire_frame_t *f, int64_t wall);
void chat_on_receipt (chat_t *self, peer_t *peer, const wire_frame_t *f);

//  Registers the frames chat owns (MSG, RECEIPT) in handlers.
int chat_register (chat_t *self, wire_handlers_t *handlers);

//  Messages refused (a seal that does not open or check, a malformed body).
uint64_t chat_refused (chat_t *self);

#endif

/*  peers: the table of peers this node has met in this session, and the
    messages waiting for each of them.  Pure data and logic, no sockets:
    node.c owns the links and calls in here.  */
#ifndef SC_PEERS_H
#define SC_PEERS_H

#include <stdbool.h>
#include <stdint.h>
#include "../crypto/envelope.h"
#include "../discovery/record.h"
#include "known.h"

//  The outbox to one peer holds messages until their receipts come back:
//  while the peer is away, and while they are in flight.  It is bounded by
//  bytes, each message counting its text and PEERS_OUT_COST for itself, so
//  a burst a person pastes or a script sends fits, and a flood of tiny
//  messages is bounded too (8 MiB holds 128 Ki empty ones).
#define PEERS_OUTBOX_BYTES (8u * 1024 * 1024)
#define PEERS_OUT_COST 64
//  At most this many messages are on the wire without a receipt: enough to
//  keep a link busy (a receipt comes back within a few ms on a LAN), few
//  enough that the receiver's replay cache holds them all many times over.
#define PEERS_WINDOW 128
#define PEERS_RID_MAX 256       //  a ZeroMQ routing id

typedef struct {
    uint8_t msg_id [ENVELOPE_ID_SIZE];
    unsigned kind;              //  0 private, 1 to everyone
    char *text;                 //  owned
    size_t cost;                //  what it counts against PEERS_OUTBOX_BYTES
    int64_t sent_at;            //  monotonic ms of the last send, 0 = not yet
    int64_t wall;               //  when it was written (ms since the epoch): its time
} peers_out_t;

//  Oldest first.  The first `sent` messages are on the wire (the window);
//  the rest wait their turn, so nothing new overtakes an older message.
typedef struct {
    peers_out_t *items;         //  owned; the live ones are [head, head + len)
    size_t head, len, alloc;
    size_t sent;                //  <= PEERS_WINDOW
    size_t bytes;               //  the sum of the costs
} peers_outbox_t;

typedef struct {
    uint8_t sign_pk [32];
    uint8_t box_pk [32];
    char id [IDENTITY_FP_HEX_SIZE];
    char name [RECORD_NAME_MAX + 1];
    int64_t record_ts;          //  timestamp of the newest record seen
    uint8_t record [RECORD_SIZE];   //  the newest record verified, as it came
    struct _link_t *link;       //  the link's life (node/link.h), owned by node.c
    peers_outbox_t outbox;      //  use the peers_outbox_ functions
    //  The link the messages in flight went on: DEALER number chat_gen, or
    //  (chat_rid_len > 0) the peer's link on our ROUTER with that routing id
    uint32_t chat_gen;
    uint8_t chat_rid [PEERS_RID_MAX];
    size_t chat_rid_len;
    //  Receipts that met a full link, sent when it takes them (owned;
    //  up to PEERS_WINDOW: past that the sender's re-send brings them back)
    uint8_t (*owed) [ENVELOPE_ID_SIZE];
    size_t owed_len;
    //  How the peer was first found (PEERS_VIA_*), and, for one a tracker
    //  named, which tracker and when (monotonic ms; 0 once linked): a
    //  peer not linked soon after is asked to dial us (once); one still
    //  not linked a while after a dial-back either way has no direct path
    int64_t last_wall;          //  the time of the newest message queued to it
    int via;
    int tracker;
    int64_t named_at;
    int64_t dialed_at;          //  we asked it to dial us, or it asked us; 0 when neither
    bool no_path;               //  told the user there is no direct path
} peer_t;

#define PEERS_VIA_LAN 0
#define PEERS_VIA_PEER 1
#define PEERS_VIA_TRACKER 2

typedef struct _peers_t peers_t;

//  Returns an empty table, or NULL when out of memory.
peers_t *peers_new (void);
//  Destroys the table and every outbox; dealers must be closed first.
void peers_destroy (peers_t **self_p);

size_t peers_size (peers_t *self);
//  Returns the peer at index i (borrowed; each peer stays where it is until
//  peers_destroy, so a pointer outlives later peers_add calls).
peer_t *peers_at (peers_t *self, size_t i);
peer_t *peers_find_sign (peers_t *self, const uint8_t sign_pk [32]);
peer_t *peers_find_box (peers_t *self, const uint8_t box_pk [32]);

//  Adds a peer for a verified record; returns it, or NULL when out of memory.
peer_t *peers_add (peers_t *self, const record_t *rec);
//  Removes a peer just added (its link could not be made); frees it.
void peers_drop (peers_t *self, peer_t *peer);

//  Finds the peer a user means by query: a fingerprint prefix (4+ hex digits)
//  or a display name.  Returns 0 and *out, or SC_ENOPEER, SC_EAMBIGUOUS (the
//  candidates are written to cands as "name (short id), ..."), or
//  SC_EKEYCHANGED when the name now belongs to an unverified new identity
//  (unless allow_changed: /verify must still reach it).
int peers_resolve (peers_t *self, known_t *known, const char *query, bool allow_changed,
                   peer_t **out, char *cands, size_t cands_size);

//  Queues a message behind the others, with a fresh msg_id.  Returns 0 and
//  *out (borrowed, valid until the outbox next changes), SC_EAGAIN when it
//  would take the outbox past PEERS_OUTBOX_BYTES, or SC_ENOMEM.
int peers_outbox_add (peer_t *peer, unsigned kind, const char *text, peers_out_t **out);
//  Removes the message with msg_id (a receipt came); returns true if it was
//  there.  Only the first PEERS_WINDOW messages can have been sent, so only
//  those are searched.
bool peers_outbox_remove (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE]);
//  Messages waiting, and what they count against PEERS_OUTBOX_BYTES.
size_t peers_outbox_len (const peer_t *peer);
size_t peers_outbox_bytes (const peer_t *peer);
//  Returns the i-th oldest message (borrowed), or NULL past the end.
peers_out_t *peers_outbox_at (peer_t *peer, size_t i);
//  How many of the oldest are on the wire, awaiting receipts.
size_t peers_outbox_in_flight (const peer_t *peer);
//  Returns the oldest message not sent yet when the window has room for it
//  (borrowed), else NULL.
peers_out_t *peers_outbox_next (peer_t *peer);
//  Marks what peers_outbox_next returned as sent at now (monotonic ms).
void peers_outbox_mark_sent (peer_t *peer, int64_t now);
//  The link was lost: every message is to be sent again, oldest first.
void peers_outbox_rewind (peer_t *peer);

//  Keeps a receipt to send later; returns false when PEERS_WINDOW are
//  owed already (or out of memory): the sender re-sends, and is answered.
bool peers_receipt_owe (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE]);

#endif

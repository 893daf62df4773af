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

#define PEERS_OUTBOX_MAX 256
#define PEERS_TEXT_MAX (16 * 1024)
#define PEERS_RID_MAX 256       //  a ZeroMQ routing id

typedef struct {
    uint8_t msg_id [ENVELOPE_ID_SIZE];
    unsigned kind;              //  0 private, 1 to everyone
    char *text;                 //  owned
    int64_t sent_at;            //  monotonic ms of the last send, 0 = not yet
} peers_out_t;

typedef struct {
    uint8_t sign_pk [32];
    uint8_t box_pk [32];
    char id [IDENTITY_FP_HEX_SIZE];
    char name [RECORD_NAME_MAX + 1];
    char host [64];
    uint16_t port;
    int64_t record_ts;          //  timestamp of the newest record seen
    uint8_t record [RECORD_SIZE];   //  the newest record verified, as it came
    void *dealer;               //  the link we made, owned by node.c
    bool dealer_live;           //  a frame came back on it
    int64_t dup_since;          //  monotonic ms both links were seen, when ours goes
    uint8_t rid [PEERS_RID_MAX];    //  the link the peer made, on our ROUTER
    size_t rid_len;             //  0 = none known
    int64_t connect_at;         //  monotonic ms a deferred connect is due, 0 = none
    bool online;
    bool confirmed;             //  a HELLO came over its link at least once
    uint64_t session;           //  from its last HELLO
    int64_t created;            //  monotonic ms
    int64_t last_rx, last_tx;   //  monotonic ms
    peers_out_t *outbox;
    size_t outbox_len;
} peer_t;

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

//  Finds the peer a user means by query: a fingerprint prefix (4+ hex digits)
//  or a display name.  Returns 0 and *out, or SC_ENOPEER, SC_EAMBIGUOUS (the
//  candidates are written to cands as "name (short id), ..."), or
//  SC_EKEYCHANGED when the name now belongs to an unverified new identity
//  (unless allow_changed: /verify must still reach it).
int peers_resolve (peers_t *self, known_t *known, const char *query, bool allow_changed,
                   peer_t **out, char *cands, size_t cands_size);

//  Queues a message; returns it (borrowed) or NULL when the outbox is full.
peers_out_t *peers_outbox_add (peer_t *peer, unsigned kind, const char *text);
//  Removes the message with msg_id; returns true if it was there.
bool peers_outbox_remove (peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE]);

#endif

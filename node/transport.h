/*  transport: the node's ZeroMQ sockets, all of them CURVE.

    One ROUTER, bound on an (ephemeral by default) TCP port, is a CURVE
    server; an in-process ZAP handler accepts any CURVE client and sets the
    message User-Id to the client's long-term key, which is how every
    received frame is attributed: the sender is the key that completed the
    handshake, never a routing id the peer chose.  A DEALER is a CURVE
    client pinned to one peer's X25519 key.  One link serves a pair of
    peers both ways: the side that connected talks on its DEALER, the other
    answers through the ROUTER to the routing id the link's frames came
    with.  Limits (message size, high-water marks, heartbeats, reconnect
    intervals) are set here, once.  */
#ifndef SC_TRANSPORT_H
#define SC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "../crypto/identity.h"

#define TRANSPORT_ADDR_MAX 64
#define TRANSPORT_RID_MAX 256           //  ZeroMQ routing ids are 1..255 bytes

typedef struct _transport_t transport_t;

typedef struct {
    uint8_t key [32];                   //  sender's CURVE key (authenticated)
    char addr [TRANSPORT_ADDR_MAX];     //  sender's IP address
    uint8_t rid [TRANSPORT_RID_MAX];    //  ROUTER: the link's routing id, to answer on
    size_t rid_len;                     //  0 when the frame came on a DEALER
    int fd;                             //  ROUTER: the link's connection (-1 if unknown)
    zmq_msg_t msg;                      //  the payload frame
} transport_rx_t;

//  Binds the ROUTER on host:port (port 0 = ephemeral) with id's keys.
//  Returns NULL and sets *err to an SC_E* code on failure.
transport_t *transport_new (const identity_t *id, const char *host, int port, int *err);

//  Closes every socket and the context; accepts NULL, nulls the pointer.
void transport_destroy (transport_t **self_p);

//  The TCP port the ROUTER is bound to.
int transport_port (transport_t *self);

//  Sockets to poll for input (borrowed).
void *transport_router (transport_t *self);
void *transport_zap (transport_t *self);

//  Answers one pending ZAP request.  Returns 0 or SC_EAGAIN when none waits.
int transport_zap_handle (transport_t *self);

//  Receives one payload frame from the ROUTER.  Returns 0 (close rx->msg
//  with zmq_msg_close), SC_EAGAIN when none waits, SC_EMALFORMED when a
//  peer sent a multi-part or unattributed message (dropped).
int transport_recv (transport_t *self, transport_rx_t *rx);

//  Receives one payload frame that a server answered on our DEALER; the
//  sender is the key the DEALER is pinned to, at the address it connected
//  to (the caller fills rx->key and rx->addr).  Returns as transport_recv.
int transport_recv_dealer (void *dealer, transport_rx_t *rx);

//  Returns a new DEALER connected to endpoint ("tcp://HOST:PORT"), pinned to
//  server_key; NULL on failure.  Close it with transport_disconnect.
void *transport_connect (transport_t *self, const uint8_t server_key [32], const char *endpoint);

//  Closes a DEALER at once (queued frames are dropped); nulls the pointer.
void transport_disconnect (void **dealer_p);

//  Starts watching the connections of sock (the ROUTER, or a DEALER) so
//  that a link that closes is known at once (the peer was killed or left,
//  or ZeroMQ's heartbeats found it silent).  Returns a socket to poll for
//  input, or NULL; stop with transport_unwatch before sock is closed.
void *transport_watch (transport_t *self, void *sock);
//  Reads one event from a watch: 0 with *closed set when a connection
//  closed and *fd its descriptor (other events leave *closed false),
//  SC_EAGAIN when none waits.
int transport_watch_read (void *watch, bool *closed, int *fd);
//  Stops watching sock and closes the watch; accepts NULLs, nulls *watch_p.
void transport_unwatch (void *sock, void **watch_p);

//  Sends one frame without blocking.  Returns 0, SC_EAGAIN (queue full) or SC_ENET.
int transport_send (void *dealer, const void *data, size_t len);
//  The same for a malloc'd buffer, sent without a copy: taken in every case.
int transport_send_owned (void *dealer, uint8_t **data_p, size_t len);
//  The same through the ROUTER, on the link with routing id rid.  SC_ENET
//  when that link is gone (closed, or the peer reconnected on a new one).
int transport_reply_owned (transport_t *self, const uint8_t *rid, size_t rid_len,
                           uint8_t **data_p, size_t len);

//  zmq_poll, at a cost that does not grow with the number of idle sockets.
//  zmq_poll asks every ZeroMQ socket for its events on every call, two
//  system calls each: with a DEALER and a watch per peer that was most of
//  an idle node's CPU, woken ~40 times a second by beacons and timers.
//  ZeroMQ signals a socket's descriptor when its state changes, not while
//  messages wait, so a socket is asked here only when its descriptor
//  fired, or when any socket was used through this module (every ZeroMQ
//  call of the node is in it) or was found ready by the last poll: then
//  all are asked, as zmq_poll would.  Same items and results as zmq_poll;
//  returns the number of items with events, -1 with errno on failure.
int transport_poll (zmq_pollitem_t *items, int count, long timeout_ms);

#endif

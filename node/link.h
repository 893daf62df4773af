/*  link: the life of the one link between this node and one peer, as a
    state machine with no sockets and the clock passed in.

      IDLE        no link and none planned (a peer met, now away)
      WAITING     heard by a later beacon: the peer has CONNECT_WAIT_MS to
                  connect to us first, then we connect
      CONNECTING  a link exists (our DEALER, or the peer's on our ROUTER)
                  but no HELLO has come over it yet: the key is unproven
      UP          a HELLO came over a link: the peer is online

    One link per pair: the side that connects talks on its DEALER, the
    other answers on its ROUTER to the routing id the frames came with.
    When both connected at once, the link made by the lower key stays and
    the other is closed DUP_LINK_MS later.  A linked peer is never moved by
    a beacon or a record answer (the address rule): a machine with several
    addresses is heard from each, and a copy can come from anywhere; the
    address changes only once the link is lost.  A link that closes (the
    transport's watch) or a BYE takes the peer down, and the link is made
    again to where the peer was.

    Events come in as calls; what to do goes out through the host (open or
    close a DEALER, say HELLO, report up or down).  The host may call back
    into the link only through the queries.  */
#ifndef SC_LINK_H
#define SC_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_CONNECT_WAIT_MS 500    //  a peer heard by a later beacon connects first
#define LINK_DUP_MS 2000            //  a second link to a peer is closed after this
#define LINK_UNPROVEN_MS 30000      //  a DEALER never answered by a HELLO is closed
#define LINK_RID_MAX 256
#define LINK_HOST_MAX 64

typedef enum {
    LINK_IDLE,
    LINK_WAITING,
    LINK_CONNECTING,
    LINK_UP,
} link_state_t;

//  Where a verified record came from
typedef enum {
    LINK_VIA_HELLO,             //  over a link: proven by CURVE, and the link exists
    LINK_VIA_ANSWER,            //  our UDP record request was answered: connect now
    LINK_VIA_BEACON,            //  a beacon (a start beacon: connect now; else wait)
} link_via_t;

//  What a record did
typedef enum {
    LINK_REC_NOTHING,
    LINK_REC_CONNECTED,         //  a DEALER was opened
    LINK_REC_WAITING,           //  a connect is planned
    LINK_REC_ELSEWHERE,         //  from another address while linked: ignored
} link_rec_t;

typedef struct {
    //  Opens a DEALER to host:port pinned to the peer's key, with its watch
    //  (*watch); returns it, or NULL.  Both are closed with close.
    void *(*connect) (void *arg, void *peer, const char *host, uint16_t port, void **watch);
    void (*close) (void *arg, void *peer, void *dealer, void *watch);
    //  Says HELLO to the peer on its link (link_route says which).
    void (*hello) (void *arg, void *peer);
    //  The peer came online; left for why ("quit", "lost", "restarted").
    void (*up) (void *arg, void *peer);
    void (*down) (void *arg, void *peer, const char *why);
    //  One of two links closed while the peer stays up: frames that were
    //  in flight on it are lost (NULL: nobody cares).
    void (*reset) (void *arg, void *peer);
    void *arg;
} link_host_t;

typedef struct _link_t link_t;

//  A link for peer (borrowed, handed back to the host); lead: our key is
//  the lower, so our DEALER stays when both connected.  NULL on no memory.
link_t *link_new (const link_host_t *host, void *peer, bool lead, int64_t now_ms);
//  Closes what is open (no events); accepts NULL, nulls the pointer.
void link_destroy (link_t **self_p);

//  A verified record of the peer from host:port.  start: a start beacon
//  that is news (a newer record than any before: a new run); moved_key:
//  the record brings a new X25519 key.
link_rec_t link_on_record (link_t *self, const char *host, uint16_t port, link_via_t via,
                           bool start, bool moved_key, int64_t now_ms);
//  A frame came over a link: on our DEALER (rid_len 0) or on our ROUTER
//  with that routing id and connection fd.  Brings the peer up once it
//  is confirmed (a HELLO came).
void link_on_frame (link_t *self, const uint8_t *rid, size_t rid_len, int fd, int64_t now_ms);
//  A HELLO came over a link (after link_on_record with LINK_VIA_HELLO):
//  session is the sender's run.  A new run of a peer we thought online
//  left and came back (reported down "restarted", then up).  Returns true
//  when the peer has not heard from our run (seen is not ours): answer it.
bool link_on_hello (link_t *self, const uint8_t *rid, size_t rid_len, int fd, uint64_t session,
                    bool seen_us, int64_t now_ms);
//  We let the peer go (why, e.g. "evicted"): down if it was up, our
//  DEALER closed, no relink.
void link_close (link_t *self, const char *why);
//  The peer said BYE: it left; we link again to where it was.
void link_on_bye (link_t *self, int64_t now_ms);
//  A link closed under us (ours: our DEALER's watch; else the ROUTER
//  connection fd).  Returns true when it was this peer's.
bool link_on_closed (link_t *self, bool ours, int fd, int64_t now_ms);
//  A reply on the ROUTER found the peer's link gone.
void link_on_router_gone (link_t *self);
//  Timers: the planned connect, the second link's closing, the unproven
//  DEALER's closing.
void link_tick (link_t *self, int64_t now_ms);

//  Where a frame to the peer goes: our DEALER (returned), or the ROUTER
//  link (NULL returned, *rid and *rid_len set); NULL with *rid_len 0: no
//  link.  *gen tells DEALERs apart (each new one counts up).
void *link_route (link_t *self, const uint8_t **rid, size_t *rid_len, uint32_t *gen);

link_state_t link_state (const link_t *self);
bool link_up (const link_t *self);
//  A link exists (whatever its state).
bool link_linked (const link_t *self);
//  Counted against the cap on unproven peers: a link or a connect planned,
//  and no HELLO ever.
bool link_unproven (const link_t *self);
bool link_confirmed (const link_t *self);
//  The peer's address as last linked ("" when none yet).
const char *link_host (const link_t *self);
uint16_t link_port (const link_t *self);
//  The peer's run as last heard in a HELLO (0: never).
uint64_t link_session (const link_t *self);
//  Whether frames with this routing id came on the peer's link to our
//  ROUTER: frames are the link's identity's, never a key's first holder's.
bool link_has_rid (const link_t *self, const uint8_t *rid, size_t rid_len);
//  Our DEALER and its watch (NULL when none): for the poll.
void *link_dealer (const link_t *self);
void *link_watch (const link_t *self);

#endif

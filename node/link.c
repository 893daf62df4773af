#define LOG_MODULE "link"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/log.h"
#include "link.h"

struct _link_t {
    link_host_t host;
    void *peer;                 //  the host's, handed back in every call
    bool lead;                  //  our key is the lower: our DEALER stays
    link_state_t state;
    char addr [LINK_HOST_MAX];  //  where the peer is (or was last)
    uint16_t port;
    void *dealer;               //  the link we made, and its watch
    void *watch;
    uint32_t gen;               //  counts our DEALERs
    bool dealer_live;           //  a frame came back on it
    uint8_t rid [LINK_RID_MAX]; //  the link the peer made, on our ROUTER
    size_t rid_len;             //  0: none
    int rid_fd;                 //  its connection
    bool confirmed;             //  a HELLO came over a link at least once
    bool lost_due;              //  its only link went while a host call was running
    uint64_t session;           //  the peer's run, from its last HELLO
    int64_t now;                //  the time of the event being handled
    int64_t created;
    int64_t dealer_since;       //  when our DEALER was opened
    int64_t connect_at;         //  a planned connect, 0 = none
    int64_t dup_since;          //  both links seen: ours goes then
};

link_t *
link_new (const link_host_t *host, void *peer, bool lead, int64_t now)
{
    link_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->host = *host;
    self->peer = peer;
    self->lead = lead;
    self->rid_fd = -1;
    self->created = self->now = now;
    return self;
}

static void
s_close_dealer (link_t *self)
{
    if (self->dealer)
        self->host.close (self->host.arg, self->peer, self->dealer, self->watch);
    self->dealer = self->watch = NULL;
    self->dealer_live = false;
}

void
link_destroy (link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_close_dealer (*self_p);
    free (*self_p);
    *self_p = NULL;
}

bool
link_linked (const link_t *self)
{
    return self->dealer || self->rid_len;
}

//  The state when it is not UP follows from what exists
static void
s_settle (link_t *self)
{
    if (self->state != LINK_UP)
        self->state = link_linked (self)? LINK_CONNECTING
                    : self->connect_at? LINK_WAITING: LINK_IDLE;
}

//  (Re)opens our link to host:port and says HELLO on it.
static void
s_connect (link_t *self, const char *host, uint16_t port)
{
    s_close_dealer (self);
    self->dup_since = 0;
    self->connect_at = 0;
    if (host != self->addr)
        snprintf (self->addr, sizeof self->addr, "%s", host);
    self->port = port;
    self->dealer = self->host.connect (self->host.arg, self->peer, self->addr, port, &self->watch);
    self->dealer_since = self->now;
    self->gen++;
    s_settle (self);
    if (self->dealer)
        self->host.hello (self->host.arg, self->peer);
}

//  A link that may have carried frames went while the peer stays up
static void
s_reset (link_t *self)
{
    if (self->state == LINK_UP && self->host.reset)
        self->host.reset (self->host.arg, self->peer);
}

static void
s_up (link_t *self)
{
    if (self->state == LINK_UP)
        return;
    self->state = LINK_UP;
    self->host.up (self->host.arg, self->peer);
}

//  The peer left: whatever link comes next has to say HELLO again.  With
//  relink, a fresh DEALER goes to where it was (it may come back there;
//  what the old one still queued is dropped).
static void
s_down (link_t *self, const char *why, bool relink)
{
    if (self->state != LINK_UP)
        return;
    self->state = LINK_CONNECTING;
    self->host.down (self->host.arg, self->peer, why);
    self->rid_len = 0;
    self->dealer_live = false;
    if (relink)
        s_connect (self, self->addr, self->port);
    s_settle (self);
}

link_rec_t
link_on_record (link_t *self, const char *host, uint16_t port, link_via_t via, bool start,
                bool moved_key, int64_t now)
{
    self->now = now;
    //  (a peer just met has no address yet)
    bool moved = moved_key || (self->addr [0] && (self->port != port || strcmp (self->addr, host) != 0));
    //  The address rule: a linked peer stays where its link is (a start
    //  beacon that is news is a new run, whose old link is dead)
    if (moved && via != LINK_VIA_HELLO && !moved_key && !start && self->state == LINK_UP
    &&  link_linked (self))
        return LINK_REC_ELSEWHERE;
    if (via == LINK_VIA_HELLO) {
        //  The link the HELLO came on is the one; a DEALER of ours to where
        //  the peer was before is not
        if (moved && self->dealer) {
            s_close_dealer (self);
            s_settle (self);
            s_reset (self);
        }
        snprintf (self->addr, sizeof self->addr, "%s", host);
        self->port = port;
        return LINK_REC_NOTHING;
    }
    //  A start beacon that is news comes from a run that cannot be linked
    //  to us yet: a link made to its last run is dead
    if (start && self->rid_len && !self->dealer)
        self->rid_len = 0;
    link_rec_t rc = LINK_REC_NOTHING;
    if (!self->dealer || moved) {
        if (!start && !moved && self->rid_len)
            return LINK_REC_NOTHING;        //  it connected to us already
        if (via == LINK_VIA_ANSWER || start || moved) {
            s_connect (self, host, port);
            rc = LINK_REC_CONNECTED;
        }
        else if (!self->connect_at) {
            snprintf (self->addr, sizeof self->addr, "%s", host);
            self->port = port;
            self->connect_at = now + LINK_CONNECT_WAIT_MS;
            rc = LINK_REC_WAITING;
        }
    }
    else if (start)
        self->host.hello (self->host.arg, self->peer);     //  the DEALER reaches the new run
    s_settle (self);
    return rc;
}

//  A frame came on this link: answers may go back on it.  Two links to
//  one peer (both connected at once) come down to one: the one the peer
//  made, when its key is lower, once nothing is in flight on ours.
static void
s_note (link_t *self, const uint8_t *rid, size_t rid_len, int fd, int64_t now)
{
    if (rid_len == 0)
        self->dealer_live = true;
    else if (rid_len <= sizeof self->rid) {
        memcpy (self->rid, rid, rid_len);
        self->rid_len = rid_len;
        self->rid_fd = fd;
        self->connect_at = 0;
        if (self->dealer && !self->dup_since && !self->lead)
            self->dup_since = now;
    }
    s_settle (self);
}

void
link_on_frame (link_t *self, const uint8_t *rid, size_t rid_len, int fd, int64_t now)
{
    self->now = now;
    s_note (self, rid, rid_len, fd, now);
    s_up (self);
}

bool
link_on_hello (link_t *self, const uint8_t *rid, size_t rid_len, int fd, uint64_t session,
               bool seen_us, int64_t now)
{
    self->now = now;
    //  A new run of a peer we still thought online: it left and came back
    //  (what was in flight to the old run is sent again)
    bool restarted = self->confirmed && self->state == LINK_UP && self->session != session;
    self->session = session;
    if (restarted)
        s_down (self, "restarted", false);
    s_note (self, rid, rid_len, fd, now);
    self->confirmed = true;
    //  Answer only a peer that has not heard from this run of ours, on the
    //  link it came by
    if (!seen_us)
        self->host.hello (self->host.arg, self->peer);
    s_up (self);
    return !seen_us;
}

void
link_close (link_t *self, const char *why)
{
    s_down (self, why, false);
    s_close_dealer (self);
    self->rid_len = 0;
    self->connect_at = 0;
    s_settle (self);
}

void
link_on_bye (link_t *self, int64_t now)
{
    self->now = now;
    s_down (self, "quit", true);
}

bool
link_on_closed (link_t *self, bool ours, int fd, int64_t now)
{
    self->now = now;
    if (ours)
        s_close_dealer (self);
    else if (self->rid_len && self->rid_fd == fd)
        self->rid_len = 0;
    else
        return false;
    log_debug ("a link closed");
    if (!link_linked (self))
        s_down (self, "lost", true);
    else
        s_reset (self);
    s_settle (self);
    return true;
}

void
link_on_router_gone (link_t *self)
{
    self->rid_len = 0;          //  the next try takes ours, if any
    s_settle (self);
    //  With no other link the peer is gone: said at the next tick, since
    //  this comes from inside a send the host may be making from one of
    //  our own calls
    if (link_linked (self))
        s_reset (self);
    else
        self->lost_due = true;
}

void
link_tick (link_t *self, int64_t now)
{
    self->now = now;
    if (self->lost_due) {
        self->lost_due = false;
        if (!link_linked (self))
            s_down (self, "lost", true);
    }
    //  Heard by a later beacon and it has not connected to us
    if (self->connect_at && now >= self->connect_at) {
        self->connect_at = 0;
        if (!link_linked (self))
            s_connect (self, self->addr, self->port);
    }
    if (self->dup_since && now - self->dup_since >= LINK_DUP_MS) {
        self->dup_since = 0;
        if (self->dealer && self->rid_len) {
            log_debug ("one link is enough");
            s_close_dealer (self);
            s_reset (self);
        }
    }
    //  A later record reopens it: a DEALER of a peer never proven, and one
    //  that went after a peer that left and never came back on it (else
    //  every peer that ever left, a thousand throwaway keys among them,
    //  would keep a socket knocking at its old address)
    if (self->dealer && ((!self->confirmed && now - self->created > LINK_UNPROVEN_MS)
                         || (self->state != LINK_UP && !self->dealer_live
                             && now - self->dealer_since > LINK_UNPROVEN_MS)))
        s_close_dealer (self);
    s_settle (self);
}

void *
link_route (link_t *self, const uint8_t **rid, size_t *rid_len, uint32_t *gen)
{
    *gen = self->gen;
    *rid = self->rid;
    *rid_len = 0;
    //  With both, ours only when it leads and has carried a frame back
    //  (until then the peer's works and ours may not)
    if (self->dealer && (!self->rid_len || (self->dealer_live && self->lead)))
        return self->dealer;
    *rid_len = self->rid_len;
    return NULL;
}

link_state_t link_state (const link_t *self) { return self->state; }
bool link_up (const link_t *self) { return self->state == LINK_UP; }
bool link_confirmed (const link_t *self) { return self->confirmed; }
const char *link_host (const link_t *self) { return self->addr; }
uint16_t link_port (const link_t *self) { return self->port; }
uint64_t link_session (const link_t *self) { return self->session; }
void *link_dealer (const link_t *self) { return self->dealer; }
void *link_watch (const link_t *self) { return self->watch; }

bool
link_has_rid (const link_t *self, const uint8_t *rid, size_t rid_len)
{
    return rid_len && self->rid_len == rid_len && memcmp (self->rid, rid, rid_len) == 0;
}

bool
link_unproven (const link_t *self)
{
    return !self->confirmed && (self->dealer || self->connect_at);
}

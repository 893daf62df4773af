/*  The link state machine with a fake host and a fake clock: no sockets.  */
#include <stdlib.h>
#include <string.h>
#include "../../node/link.h"
#include "unit.h"

typedef struct {
    int connects, closes, hellos, ups, downs;
    char last_host [64];
    uint16_t last_port;
    char why [32];
    int dealer_no;
} s_host_t;

static s_host_t s_h;
static char s_dealers [16];     //  fake sockets: their addresses tell them apart
static char s_watches [16];

static void *
s_connect (void *arg, void *peer, const char *host, uint16_t port, void **watch)
{
    (void) arg; (void) peer;
    s_h.connects++;
    snprintf (s_h.last_host, sizeof s_h.last_host, "%s", host);
    s_h.last_port = port;
    int n = s_h.dealer_no++ % 16;
    *watch = &s_watches [n];
    return &s_dealers [n];
}

static void s_close (void *arg, void *peer, void *dealer, void *watch) { (void) arg; (void) peer; (void) dealer; (void) watch; s_h.closes++; }
static void s_hello (void *arg, void *peer) { (void) arg; (void) peer; s_h.hellos++; }
static void s_up (void *arg, void *peer) { (void) arg; (void) peer; s_h.ups++; }

static void
s_down (void *arg, void *peer, const char *why)
{
    (void) arg; (void) peer;
    s_h.downs++;
    snprintf (s_h.why, sizeof s_h.why, "%s", why);
}

static link_t *
s_new (bool lead)
{
    memset (&s_h, 0, sizeof s_h);
    link_host_t h = { .connect = s_connect, .close = s_close, .hello = s_hello, .up = s_up,
                      .down = s_down };
    return link_new (&h, NULL, lead, 1000);
}

static const uint8_t s_rid [5] = { 0, 1, 2, 3, 4 };

//  A peer heard by a later beacon gets time to connect first; then we do,
//  and its HELLO over our DEALER brings it up
static void
s_beacon_wait_connect_up (void)
{
    link_t *l = s_new (true);
    CHECK (link_state (l) == LINK_IDLE);
    CHECK (link_on_record (l, "10.0.0.2", 4000, LINK_VIA_BEACON, false, false, 1000) == LINK_REC_WAITING);
    CHECK (link_state (l) == LINK_WAITING && link_unproven (l));
    link_tick (l, 1000 + LINK_CONNECT_WAIT_MS - 1);
    CHECK (s_h.connects == 0);
    link_tick (l, 1000 + LINK_CONNECT_WAIT_MS);
    CHECK (s_h.connects == 1 && s_h.hellos == 1 && strcmp (s_h.last_host, "10.0.0.2") == 0);
    CHECK (link_state (l) == LINK_CONNECTING);
    CHECK (link_on_hello (l, NULL, 0, -1, 77, true, 1600) == false);   //  it heard us: no answer
    CHECK (link_state (l) == LINK_UP && s_h.ups == 1 && !link_unproven (l));
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    CHECK (link_route (l, &rid, &rid_len, &gen) == link_dealer (l));
    link_destroy (&l);
    CHECK (s_h.closes == 1 && l == NULL);
}

//  The peer connected to us first: nothing to connect; the start beacon of
//  a new run connects at once
static void
s_peer_first_and_start (void)
{
    link_t *l = s_new (false);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_BEACON, false, false, 1000);
    CHECK (link_on_hello (l, s_rid, 5, 9, 1, false, 1100) == true);     //  answered
    CHECK (s_h.hellos == 1 && link_up (l));
    link_tick (l, 5000);
    CHECK (s_h.connects == 0);          //  its link is the one
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    CHECK (link_route (l, &rid, &rid_len, &gen) == NULL && rid_len == 5);
    link_destroy (&l);
}

//  A second address of a linked peer, and copies from elsewhere, are
//  ignored while the link is up; once it is lost, the next record moves it
static void
s_second_address_and_copies (void)
{
    link_t *l = s_new (true);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    link_on_hello (l, NULL, 0, -1, 1, true, 1010);
    CHECK (link_up (l) && s_h.connects == 1);
    CHECK (link_on_record (l, "127.0.0.1", 4000, LINK_VIA_BEACON, false, false, 2000) == LINK_REC_ELSEWHERE);
    CHECK (link_on_record (l, "10.9.9.9", 4000, LINK_VIA_ANSWER, false, false, 2100) == LINK_REC_ELSEWHERE);
    CHECK (link_on_record (l, "10.0.0.2", 4001, LINK_VIA_BEACON, false, false, 2200) == LINK_REC_ELSEWHERE);
    CHECK (s_h.connects == 1 && s_h.closes == 0 && strcmp (link_host (l), "10.0.0.2") == 0);
    CHECK (link_port (l) == 4000 && link_up (l));
    //  The link closes: the peer is down, and we link again to where it was
    CHECK (link_on_closed (l, true, -1, 3000));
    CHECK (s_h.downs == 1 && strcmp (s_h.why, "lost") == 0);
    CHECK (s_h.connects == 2 && strcmp (s_h.last_host, "10.0.0.2") == 0);
    //  Not up any more: a record from the new address moves it
    CHECK (link_on_record (l, "10.0.0.7", 4000, LINK_VIA_BEACON, false, false, 3100) == LINK_REC_CONNECTED);
    CHECK (strcmp (link_host (l), "10.0.0.7") == 0 && s_h.connects == 3);
    link_destroy (&l);
}

//  Both connected at once: the lower key's link stays, the other goes
static void
s_both_at_once (void)
{
    //  We do not lead: our DEALER goes DUP_MS after the peer's link is seen
    link_t *l = s_new (false);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    link_on_hello (l, s_rid, 5, 9, 1, true, 1050);
    link_on_frame (l, NULL, 0, -1, 1060);
    link_tick (l, 1050 + LINK_DUP_MS - 1);
    CHECK (s_h.closes == 0);
    link_tick (l, 1050 + LINK_DUP_MS);
    CHECK (s_h.closes == 1 && link_dealer (l) == NULL && link_up (l));
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    CHECK (link_route (l, &rid, &rid_len, &gen) == NULL && rid_len == 5);
    link_destroy (&l);
    //  We lead: ours stays, and carries frames once it has carried one back
    l = s_new (true);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    link_on_hello (l, s_rid, 5, 9, 1, true, 1050);
    CHECK (link_route (l, &rid, &rid_len, &gen) == NULL && rid_len == 5);
    link_on_frame (l, NULL, 0, -1, 1060);
    link_tick (l, 1050 + LINK_DUP_MS + 1);
    CHECK (s_h.closes == 0 && link_route (l, &rid, &rid_len, &gen) == link_dealer (l));
    //  The peer's link closes: ours carries on, the peer stays up
    CHECK (link_on_closed (l, false, 9, 5000) && link_up (l) && s_h.downs == 0);
    CHECK (!link_on_closed (l, false, 9, 5001));        //  not its connection any more
    link_destroy (&l);
}

//  A new run (another session in its HELLO) is a restart: down, then up
static void
s_restart_by_session (void)
{
    link_t *l = s_new (true);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    link_on_hello (l, NULL, 0, -1, 1, true, 1010);
    link_on_hello (l, NULL, 0, -1, 1, true, 1020);      //  the same run again: nothing
    CHECK (s_h.ups == 1 && s_h.downs == 0);
    link_on_hello (l, s_rid, 5, 9, 2, false, 1030);
    CHECK (s_h.downs == 1 && strcmp (s_h.why, "restarted") == 0 && s_h.ups == 2);
    CHECK (link_session (l) == 2 && link_up (l));
    link_destroy (&l);
}

//  BYE: down with "quit", and a link again to where the peer was
static void
s_bye (void)
{
    link_t *l = s_new (false);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_BEACON, false, false, 1000);
    link_on_hello (l, s_rid, 5, 9, 1, true, 1010);
    link_on_bye (l, 2000);
    CHECK (s_h.downs == 1 && strcmp (s_h.why, "quit") == 0 && !link_up (l));
    CHECK (s_h.connects == 1 && link_state (l) == LINK_CONNECTING);
    link_on_bye (l, 2001);                              //  once is enough
    CHECK (s_h.downs == 1);
    link_destroy (&l);
}

//  Unproven: a link that never says HELLO is closed after UNPROVEN_MS,
//  and counts against the cap meanwhile
static void
s_unproven (void)
{
    link_t *l = s_new (true);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    CHECK (link_unproven (l) && link_state (l) == LINK_CONNECTING);
    link_tick (l, 1000 + LINK_UNPROVEN_MS);
    CHECK (s_h.closes == 0);
    link_tick (l, 1000 + LINK_UNPROVEN_MS + 1);
    CHECK (s_h.closes == 1 && !link_unproven (l) && link_state (l) == LINK_IDLE);
    link_destroy (&l);
}

//  A peer that left gets a DEALER to where it was; if nothing ever comes
//  back on it, it is closed after LINK_UNPROVEN_MS (a later record reopens)
static void
s_relink_gives_up (void)
{
    link_t *l = s_new (true);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_ANSWER, false, false, 1000);
    link_on_hello (l, NULL, 0, -1, 1, true, 1010);
    CHECK (link_on_closed (l, true, -1, 2000) && s_h.connects == 2 && s_h.closes == 1);
    link_tick (l, 2000 + LINK_UNPROVEN_MS);
    CHECK (s_h.closes == 1 && link_dealer (l));
    link_tick (l, 2000 + LINK_UNPROVEN_MS + 1);
    CHECK (s_h.closes == 2 && !link_dealer (l) && link_state (l) == LINK_IDLE);
    //  Its next beacon links again
    CHECK (link_on_record (l, "10.0.0.2", 4000, LINK_VIA_BEACON, true, false, 40000) == LINK_REC_CONNECTED);
    link_destroy (&l);
}

//  A reply on the ROUTER finds the peer's only link gone (it died while we
//  were sending): the peer is down at the next tick, not up for ever
static void
s_router_gone_is_down (void)
{
    link_t *l = s_new (false);
    link_on_record (l, "10.0.0.2", 4000, LINK_VIA_BEACON, false, false, 1000);
    link_on_hello (l, s_rid, 5, 9, 1, false, 1010);
    CHECK (link_up (l) && !link_dealer (l));
    link_on_router_gone (l);
    CHECK (s_h.downs == 0);             //  not from inside the send
    link_tick (l, 1100);
    CHECK (s_h.downs == 1 && strcmp (s_h.why, "lost") == 0 && !link_up (l));
    CHECK (s_h.connects == 1);          //  and a link again to where it was
    link_destroy (&l);
}

void
link_tests (void)
{
    unit_run ("link: a later beacon waits, connects, HELLO brings it up", s_beacon_wait_connect_up);
    unit_run ("link: the peer connected first; its link is the one", s_peer_first_and_start);
    unit_run ("link: a second address and copied beacons change nothing while up", s_second_address_and_copies);
    unit_run ("link: both connected at once keep one link", s_both_at_once);
    unit_run ("link: a new session is a restart", s_restart_by_session);
    unit_run ("link: BYE takes it down and links again", s_bye);
    unit_run ("link: an unproven link closes after its time", s_unproven);
    unit_run ("link: a relink nobody answers is given up", s_relink_gives_up);
    unit_run ("link: a ROUTER link found gone takes the peer down", s_router_gone_is_down);
}

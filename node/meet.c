/*  meet: how the node meets peers.  Records come from beacons, from the
    answers to --peer requests and in HELLOs; each is checked against the
    peer table's admission rules (a pinned address takes no other key,
    unproven peers and those from one address are capped, no record takes
    a key a handshake proved for another identity, a full table makes room
    with a peer that is away and untrusted), noted in the known peers, and
    handed to the peer's link.  The link module's host (connect, close,
    hello, up, down, reset) is here too, and sending on a peer's link.
    See node_int.h.  */
#define LOG_MODULE "node"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../discovery/udp.h"
#include "link.h"
#include "node_int.h"

static void
s_addr (const peer_t *peer, char *out, size_t size)
{
    snprintf (out, size, "tcp://%s:%u", link_host (peer->link), link_port (peer->link));
}

//  ---------------------------------------------------------------------
//  Sending on a peer's link (node_int.h declares both)

//  Sends an encoded frame on the peer's one link (link_route says which).
int
node_send_buf (node_t *self, peer_t *peer, uint8_t **buf_p, size_t len)
{
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    void *dealer = link_route (peer->link, &rid, &rid_len, &gen);
    if (!dealer && !rid_len) {
        free (*buf_p);
        *buf_p = NULL;
        return SC_EAGAIN;
    }
    uint8_t *buf = *buf_p;
    *buf_p = NULL;              //  transferred
    int rc;
    if (dealer)
        rc = transport_send_owned (dealer, &buf, len);
    else {
        rc = transport_reply_owned (self->transport, rid, rid_len, &buf, len);
        if (rc == SC_ENET) {
            link_on_router_gone (peer->link);   //  the next try takes ours
            rc = SC_EAGAIN;
        }
    }
    return rc;
}

//  Sends on the peer's one link (link_route says which).
int
node_send (node_t *self, peer_t *peer, const wire_frame_t *frame)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (frame, &buf, &len);
    if (rc != 0)
        return rc;
    return node_send_buf (self, peer, &buf, len);
}

//  Signs a fresh record (new timestamp) into self->record.
void
meet_refresh_record (node_t *self, uint8_t flags)
{
    record_make (self->id, self->name, (uint16_t) transport_port (self->transport), flags,
                 node_wall_ms (), self->record);
}

void
meet_send_hello (node_t *self, peer_t *peer)
{
    wire_frame_t f = { .type = WIRE_HELLO, .hello = { .record = self->record, .record_len = RECORD_SIZE,
                       .session = self->session, .seen = link_session (peer->link) } };
    node_send (self, peer, &f);
}

//  The first beacon of a run says so: whoever hears it connects at once.
//  Later ones (periodic, answers) give a hearer's peer time to connect
//  first, so a pair of peers makes one link, not two.
void
meet_send_beacon (node_t *self, int64_t now)
{
    meet_refresh_record (self, self->beaconed? 0: RECORD_FLAG_START);
    self->beaconed = true;
    beacon_send (self->beacon, self->record);
    self->last_beacon = now;
    self->answer_due = false;
}

//  ---------------------------------------------------------------------
//  Peers coming and going

json_t *
meet_peer_json (node_t *self, peer_t *peer)
{
    char addr [128];
    s_addr (peer, addr, sizeof addr);
    static const char *via [] = { "lan", "peer", "tracker" };
    return json_pack ("{s:s, s:s, s:s, s:b, s:b, s:s}", "id", peer->id, "name", peer->name,
                      "addr", addr, "verified", known_verified (self->known, peer->sign_pk),
                      "online", link_up (peer->link), "via", via [peer->via % 3]);
}

//  What the link module asks of the node (link_host_t)

static void *
s_link_connect (void *arg, void *peer_arg, const char *host, uint16_t port, void **watch)
{
    node_t *self = arg;
    peer_t *peer = peer_arg;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", host, port);
    log_debug ("connect to %s at %s", peer->name, endpoint);
    void *dealer = transport_connect (self->transport, peer->box_pk, endpoint);
    //  Its closing (the peer killed, gone, or silent past ZeroMQ's
    //  heartbeat timeout) is heard at once
    *watch = dealer? transport_watch (self->transport, dealer): NULL;
    return dealer;
}

static void
s_link_close (void *arg, void *peer, void *dealer, void *watch)
{
    transport_unwatch (dealer, &watch);
    transport_disconnect (&dealer);
}

static void
s_link_hello (void *arg, void *peer)
{
    meet_send_hello (arg, peer);
}

static void
s_link_up (void *arg, void *peer_arg)
{
    node_t *self = arg;
    peer_t *peer = peer_arg;
    log_debug ("%s joined", peer->name);
    json_t *ev = meet_peer_json (self, peer);
    json_object_set_new (ev, "event", json_string ("peer_joined"));
    ui_emit (self->ui, ev);
    //  What was sent before the peer left may be lost: send it again, in
    //  order (the peer answers what it has seen with a receipt)
    chat_peer_up (self->chat, peer, node_mono_ms (), node_wall_ms ());
    files_peer_up (self->files, peer->sign_pk);
}

static void
s_link_reset (void *arg, void *peer_arg)
{
    node_t *self = arg;
    peer_t *peer = peer_arg;
    files_link_reset (self->files, peer->sign_pk);
}

static void
s_link_down (void *arg, void *peer_arg, const char *why)
{
    node_t *self = arg;
    peer_t *peer = peer_arg;
    ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:b, s:s, s:i}", "event", "peer_left",
                                  "id", peer->id, "name", peer->name,
                                  "verified", known_verified (self->known, peer->sign_pk),
                                  "reason", why, "queued", (int) peers_outbox_len (peer)));
    files_peer_down (self->files, peer->sign_pk);
    viewer_peer_down (self->viewer, peer->sign_pk, node_mono_ms ());
    owner_peer_down (self->owner, peer->sign_pk, node_mono_ms ());
    peer->owed_len = 0;         //  the peer re-sends what it missed receipts for
}

//  Forgets one peer that is away (no link), unverified and never written
//  to, to make room; for a newcomer the user trusts (verified, or written
//  to), one that is online too (its link closed, shown as left).  Returns
//  false when there is none.
static bool
s_evict_one (node_t *self, bool for_trusted)
{
    for (int pass = 0; pass < (for_trusted? 2: 1); pass++)
        for (size_t i = 0; i < peers_size (self->peers); i++) {
            peer_t *p = peers_at (self->peers, i);
            if ((pass == 0 && link_linked (p->link)) || known_verified (self->known, p->sign_pk)
            ||  known_messaged (self->known, p->sign_pk) || peers_outbox_len (p) != 0)
                continue;
            self->forgotten++;
            link_close (p->link, "evicted");
            link_destroy (&p->link);
            peers_drop (self->peers, p);
            return true;
        }
    return false;
}

//  When two peers connected to each other at once, the link made by the
//  lower key stays and the other goes.
static bool
s_we_lead (node_t *self, const peer_t *peer)
{
    return memcmp (identity_sign_pk (self->id), peer->sign_pk, 32) < 0;
}

//  Handles a verified record.  Returns the peer, or NULL when the record
//  is ours or could not be used.  *fresh is set when the peer has started
//  a new session (newer record) or is new; *connected when a link was opened.
peer_t *
meet_on_record (node_t *self, const record_t *rec, const char *host, meet_via_t via,
             bool *fresh, bool *connected)
{
    bool via_link = via == MEET_VIA_LINK;
    *fresh = *connected = false;
    if (memcmp (rec->sign_pk, identity_sign_pk (self->id), 32) == 0)
        return NULL;
    //  An address the user pinned with --peer FP@ takes no other key
    uint8_t fp [32];
    identity_fingerprint (rec->sign_pk, fp);
    if (resolve_pin_conflict (self->resolve, host, rec->port, fp)) {
        self->stats.peers_refused++;
        return NULL;
    }
    peer_t *peer = peers_find_sign (self->peers, rec->sign_pk);
    //  A tracker (perhaps a hostile one) names at most TRACKER_PER_ADDR
    //  unproven newcomers at one address, checked before any eviction
    //  below, so one address cannot push out the others' newcomers
    if (!peer && via == MEET_VIA_TRACKER) {
        size_t here = 0;
        for (size_t i = 0; i < peers_size (self->peers); i++) {
            peer_t *o = peers_at (self->peers, i);
            here += link_unproven (o->link) && strcmp (link_host (o->link), host) == 0;
        }
        if (here >= TRACKER_PER_ADDR) {
            self->stats.peers_refused++;
            return NULL;
        }
    }
    //  Bounds against floods of validly signed records from throwaway keys:
    //  peers heard but never proven are capped, and a newcomer takes the
    //  place of the oldest of them rather than being refused (it proves
    //  itself within milliseconds, a throwaway key never does); so are
    //  the peers a tracker names.  An answer to the user's own --peer is
    //  not counted
    if (!peer && (via == MEET_VIA_BEACON || via == MEET_VIA_TRACKER)) {
        size_t unconfirmed = 0;
        peer_t *oldest = NULL;
        for (size_t i = 0; i < peers_size (self->peers); i++)
            if (link_unproven (peers_at (self->peers, i)->link)) {
                unconfirmed++;
                if (!oldest)
                    oldest = peers_at (self->peers, i);
            }
        if (unconfirmed >= UNCONFIRMED_MAX && oldest) {
            self->stats.peers_refused++;
            self->forgotten++;
            link_destroy (&oldest->link);
            peers_drop (self->peers, oldest);
        }
    }
    //  New identities proven by HELLO are bounded per source address too:
    //  throwaway keys from one place cannot fill the table
    if (!peer && via_link) {
        size_t here = 0;
        for (size_t i = 0; i < peers_size (self->peers); i++) {
            peer_t *o = peers_at (self->peers, i);
            here += link_linked (o->link) && strcmp (link_host (o->link), host) == 0
                 && !known_verified (self->known, o->sign_pk) && !known_messaged (self->known, o->sign_pk);
        }
        if (here >= PEERS_PER_ADDR) {
            self->stats.peers_refused++;
            return NULL;
        }
    }
    //  An unauthenticated answer older than what we know is ignored
    if (peer && !via_link && rec->ts_ms < peer->record_ts)
        return peer;
    //  No record takes over an X25519 key that a handshake proved for
    //  another identity (DESIGN section 4): dropped before anything is kept
    for (size_t i = 0; i < peers_size (self->peers); i++) {
        peer_t *other = peers_at (self->peers, i);
        if (other != peer && link_confirmed (other->link)
        &&  memcmp (other->box_pk, rec->box_pk, 32) == 0) {
            self->stats.key_claims++;
            return NULL;
        }
    }
    //  A full table makes room with a peer that is away, unverified and
    //  was never written to, rather than refuse a newcomer (after every
    //  check that could refuse the newcomer anyway)
    if (!peer && peers_size (self->peers) >= PEERS_MAX
    &&  !s_evict_one (self, known_verified (self->known, rec->sign_pk)
                            || known_messaged (self->known, rec->sign_pk))) {
        self->stats.peers_refused++;
        return NULL;
    }
    char clash [IDENTITY_FP_HEX_SIZE];
    int k = known_observe (self->known, rec->sign_pk, rec->box_pk, rec->name, via_link,
                           node_wall_ms (), clash);
    if (k & KNOWN_FULL) {
        self->stats.peers_refused++;
        return NULL;
    }
    char id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (rec->sign_pk, id);
    if ((k & KNOWN_NAME_CLASH) && (k & (KNOWN_NEW | KNOWN_RENAMED)))
        ui_warning (self->ui, "key_changed",
                    "a new key (%.16s) calls itself '%s', a name known for another key "
                    "(%.16s): '%s' is refused by name until you check it with /verify %.16s; "
                    "its fingerprint prefix works meanwhile",
                    id, rec->name, clash, rec->name, id);
    if (k & KNOWN_BOX_CHANGED)
        ui_warning (self->ui, "box_key_changed",
                    "peer %s (%.16s) now uses a new encryption key, signed by its identity",
                    rec->name, id);
    bool box_changed = false;
    if (!peer) {
        peer = peers_add (self->peers, rec);
        if (!peer)
            return NULL;
        peer->via = via == MEET_VIA_BEACON? PEERS_VIA_LAN
                  : via == MEET_VIA_TRACKER? PEERS_VIA_TRACKER: PEERS_VIA_PEER;
        link_host_t lh = { .connect = s_link_connect, .close = s_link_close, .hello = s_link_hello,
                           .up = s_link_up, .down = s_link_down, .reset = s_link_reset,
                           .arg = self };
        peer->link = link_new (&lh, peer, s_we_lead (self, peer), node_mono_ms ());
        if (!peer->link) {
            peers_drop (self->peers, peer);
            return NULL;
        }
        *fresh = true;
    }
    else {
        if (rec->ts_ms > peer->record_ts) {
            *fresh = true;
            peer->record_ts = rec->ts_ms;
        }
        if (rec->ts_ms >= peer->record_ts)
            memcpy (peer->record, rec->raw, RECORD_SIZE);
        snprintf (peer->name, sizeof peer->name, "%s", rec->name);
        box_changed = memcmp (peer->box_pk, rec->box_pk, 32) != 0;
        memcpy (peer->box_pk, rec->box_pk, 32);
    }
    bool start = via == MEET_VIA_BEACON && (rec->flags & RECORD_FLAG_START) && *fresh;
    link_rec_t r = link_on_record (peer->link, host, rec->port,
                                   via_link? LINK_VIA_HELLO
                                   : via == MEET_VIA_ANSWER || via == MEET_VIA_TRACKER? LINK_VIA_ANSWER
                                   : LINK_VIA_BEACON,
                                   start, box_changed, node_mono_ms ());
    if (r == LINK_REC_ELSEWHERE)
        self->stats.elsewhere++;
    *connected = r == LINK_REC_CONNECTED;
    return peer;
}

//  A peer from the known peers alone (no record in this run, no address):
//  for mail from an identity met in an earlier run.  Its record, when one
//  comes, replaces what is here.  NULL when out of memory or the table is full.
peer_t *
meet_known (node_t *self, const uint8_t sign_pk [32], const uint8_t box_pk [32], const char *name)
{
    if (peers_size (self->peers) >= PEERS_MAX && !s_evict_one (self, true))
        return NULL;
    record_t rec = { 0 };
    memcpy (rec.sign_pk, sign_pk, 32);
    memcpy (rec.box_pk, box_pk, 32);
    snprintf (rec.name, sizeof rec.name, "%s", name);
    peer_t *peer = peers_add (self->peers, &rec);
    if (!peer)
        return NULL;
    peer->via = PEERS_VIA_TRACKER;
    link_host_t lh = { .connect = s_link_connect, .close = s_link_close, .hello = s_link_hello,
                       .up = s_link_up, .down = s_link_down, .reset = s_link_reset, .arg = self };
    peer->link = link_new (&lh, peer, s_we_lead (self, peer), node_mono_ms ());
    if (!peer->link) {
        peers_drop (self->peers, peer);
        return NULL;
    }
    return peer;
}

//  Forgets a peer that claimed an X25519 key another identity has now
//  proven over a link: its claim can never be proven, and frames are the
//  prover's.
void
meet_forget_claim (node_t *self, peer_t *peer)
{
    log_info ("%s (%.16s) claimed the key of another identity: forgotten", peer->name, peer->id);
    self->stats.key_claims++;
    self->forgotten++;
    link_destroy (&peer->link);
    peers_drop (self->peers, peer);
}

//  A HELLO on a link: the record must be the one of the key that made the
//  link; it is met like any record (MEET_VIA_LINK), the key is proven for
//  its identity (others that claimed it are forgotten), and the link hears
//  of it.  peer: who that link belongs to so far (may be NULL); owner: the
//  peer of our DEALER it came on (NULL: our ROUTER).
void
meet_on_hello (node_t *self, transport_rx_t *rx, const wire_frame_t *f, peer_t *peer,
               peer_t *owner, int64_t now)
{
    if (!peer)
        peer = peers_find_box (self->peers, rx->key);     //  its record, to skip a check
    record_t rec;
    //  Mostly the record its beacon brought: then checked already
    int rc = f->hello.record_len == RECORD_SIZE
       ? record_decode_known (f->hello.record, RECORD_SIZE, peer? peer->record: NULL, &rec)
       : SC_EMALFORMED;
    //  The record must be the one of the key that made the link
    if (rc != 0 || memcmp (rec.box_pk, rx->key, 32) != 0 || rec.flags & RECORD_FLAG_LEAVE) {
        self->stats.bad_frames++;
        log_debug ("bad HELLO from %s: %s", rx->addr, rc? sc_strerror (rc): "key mismatch");
        return;
    }
    //  Our DEALER to a peer that claimed this key reached another
    //  identity: that claim was false
    if (owner && memcmp (owner->sign_pk, rec.sign_pk, 32) != 0) {
        meet_forget_claim (self, owner);
        return;
    }
    bool fresh, connected;
    peer = meet_on_record (self, &rec, rx->addr, MEET_VIA_LINK, &fresh, &connected);
    if (!peer)
        return;
    log_debug ("HELLO from %s", peer->name);
    //  Beacons skipped unchecked while linked leave no time behind: the
    //  HELLO's (verified) does, so copies of them are replays
    if (self->beacon)
        beacon_note (self->beacon, rec.sign_pk, rec.ts_ms);
    //  The key is proven for this identity now: others that claimed it
    //  go (a claim nobody proved)
    for (size_t i = peers_size (self->peers); i-- > 0; ) {
        peer_t *other = peers_at (self->peers, i);
        if (other != peer && memcmp (other->box_pk, rec.box_pk, 32) == 0)
            meet_forget_claim (self, other);
    }
    link_on_hello (peer->link, rx->rid, rx->rid_len, rx->fd, f->hello.session,
                   f->hello.seen == self->session, now);
}

//  The peer whose link to our ROUTER has this routing id (NULL: none).
peer_t *
meet_peer_by_rid (node_t *self, const uint8_t *rid, size_t rid_len)
{
    for (size_t i = 0; i < peers_size (self->peers); i++)
        if (link_has_rid (peers_at (self->peers, i)->link, rid, rid_len))
            return peers_at (self->peers, i);
    return NULL;
}

//  ---------------------------------------------------------------------
//  UDP: record requests and answers

void
meet_on_udp (node_t *self, int64_t now)
{
    resolve_answer_t a;
    while (resolve_recv (self->resolve, now, self->record, &a) == 0) {
        if (a.mismatch) {
            char got [IDENTITY_FP_HEX_SIZE];
            identity_fingerprint_hex (a.rec.sign_pk, got);
            ui_error (self->ui, "pin_mismatch",
                      "%s answered with key %.16s, not the pinned one: not connecting", a.target, got);
            continue;
        }
        //  A tracker's record: its link, not a peer
        int t = self->tclient? tclient_find_text (self->tclient, a.target): -1;
        if (t >= 0) {
            tracking_on_resolved (self, t, &a);
            continue;
        }
        bool fresh, connected;
        peer_t *peer = meet_on_record (self, &a.rec, a.host, MEET_VIA_ANSWER, &fresh, &connected);
        if (!peer)
            continue;
        if (a.pinned && !known_verified (self->known, a.rec.sign_pk))
            known_set_verified (self->known, a.rec.sign_pk, true);
        if (fresh && !connected)
            meet_send_hello (self, peer);
    }
}

//  ---------------------------------------------------------------------
//  Beacons

//  A beacon from a peer we already have a link to at that address changes
//  nothing: it is dropped before its signature is checked.  (A forged one
//  naming that key could not change anything either.)  Start and leave
//  beacons do change something, as does one while a connect waits.
static bool
s_beacon_skip (const uint8_t sign_pk [32], const struct sockaddr_in *from, uint16_t port,
               uint8_t flags, void *arg)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, sign_pk);
    if (!peer || !link_linked (peer->link) || (flags & (RECORD_FLAG_LEAVE | RECORD_FLAG_START)))
        return false;
    char host [64];
    udp_ntoa (from, host, sizeof host);
    bool here = link_port (peer->link) == port && strcmp (link_host (peer->link), host) == 0;
    bool up = link_up (peer->link);
    //  From another of its addresses, or a copy from elsewhere: while the
    //  link is up it changes nothing either (the address rule)
    if (!here && up)
        self->stats.elsewhere++;
    return here || up;
}

void
meet_on_beacon (node_t *self, int64_t now)
{
    for (int burst = 0; burst < 1024; burst++) {
        record_t rec;
        struct sockaddr_in from;
        int rc = beacon_recv (self->beacon, node_wall_ms (), now, s_beacon_skip, self, &rec, &from);
        if (rc == SC_EAGAIN)
            return;
        if (rc != 0)
            continue;
        peer_t *peer = peers_find_sign (self->peers, rec.sign_pk);
        if (rec.flags & RECORD_FLAG_LEAVE) {
            //  Only a leave newer than what the peer's run said before
            //  (a replayed one from an earlier run changes nothing)
            if (peer && rec.ts_ms >= peer->record_ts)
                link_on_bye (peer->link, now);
            continue;
        }
        char host [64];
        udp_ntoa (&from, host, sizeof host);
        log_debug ("beacon from %s at %s", rec.name, host);
        bool known_before = peer != NULL, fresh, connected;
        peer = meet_on_record (self, &rec, host, MEET_VIA_BEACON, &fresh, &connected);
        //  A newcomer hears from us at once instead of in up to a second:
        //  on the link we opened to it, or else by an early beacon (which
        //  would only wake every node on the LAN when a link says it all)
        if (peer && !known_before && !connected)
            self->answer_due = true;
    }
}


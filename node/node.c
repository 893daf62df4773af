#define LOG_MODULE "node"
#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "../crypto/envelope.h"
#include "../crypto/err.h"
#include "../crypto/log.h"
#include "../crypto/utf8.h"
#include "../discovery/beacon.h"
#include "../discovery/record.h"
#include "../discovery/udp.h"
#include "cmd.h"
#include "files.h"
#include "history.h"
#include "known.h"
#include "link.h"
#include "node.h"
#include "peers.h"
#include "streams.h"
#include "transport.h"
#include "ui.h"
#include "wire.h"

#define TICK_MS 100
#define FIXED 7                 //  poll items before the jobs' and the links'
#define RESEND_MS 5000          //  re-send a message with no receipt after this
#define SEND_BUDGET 32          //  messages sealed per loop pass, over every peer
                                //  (each seal and signature costs ~0.1-0.3 ms)
#define REQUEST_MS 1000         //  re-ask a --peer address for its record
#define UDP_ANSWERS_PER_S 200   //  bound on record answers (each costs no more than it came with)
#define UDP_PER_SOURCE_PER_S 4  //  ...and per source address, so one cannot use it all
#define UDP_SOURCES 256         //  source addresses tracked (a hash table)
#define HISTORY_SHOW 50
#define BEACON_MS 1000          //  beacon interval
#define ANSWER_MS 250           //  at most one early beacon per this, for newcomers
                                //  (they also learn us from our HELLO at once)
#define PEERS_MAX 1024          //  identities kept in one session
#define UNCONFIRMED_MAX 64      //  links open to peers that never said HELLO
#define PEERS_PER_ADDR 64       //  linked, unverified, never written to, from one address

typedef struct {
    char text [160];            //  as given, for messages
    char host [64];
    int port;
    struct sockaddr_in addr;
    bool pinned;
    uint8_t fp [32];
    uint8_t sign_pk [32];       //  who answered, once resolved
    bool resolved;
    int64_t next_ms;
} s_pending_t;

struct _node_t {
    opts_t opts;
    char *home;
    char name [RECORD_NAME_MAX + 1];
    identity_t *id;
    char my_id [IDENTITY_FP_HEX_SIZE];
    transport_t *transport;
    int udp_fd;
    ui_t *ui;
    peers_t *peers;
    known_t *known;
    history_t *history;
    envelope_opener_t *opener;
    beacon_t *beacon;
    files_t *files;
    streams_t *streams;
    char helper [PATH_MAX];     //  securechat-media, beside our binary
    uint64_t session;
    uint8_t record [RECORD_SIZE];
    int64_t next_beacon;        //  monotonic ms
    int64_t next_save;
    int64_t last_beacon;
    bool beaconed;              //  the start beacon went out
    bool answer_due;
    void *router_watch;         //  links to our ROUTER that close
    uint64_t forgotten;         //  peers dropped (a pointer held across a call may be gone)
    bool trim_due;              //  links closed: memory to give back
    int64_t next_trim;
    zmq_pollitem_t *items;      //  for the loop: fixed ones, then jobs, then DEALERs
    size_t items_cap;
    s_pending_t pending [OPTS_PEERS_MAX];
    int npending;
    bool quit;
    int64_t next_tick;
    int send_budget;            //  seals left in this loop pass
    bool send_more;             //  a message waits only for the next pass
    size_t pump_next;           //  the peer the next pass starts with
    int64_t udp_window_start;
    int udp_answers;
    struct {
        uint32_t ip;
        int64_t start;
        int count;
    } udp_src [UDP_SOURCES];
    struct {
        uint64_t bad_frames, unknown_sender, refused_msgs, udp_dropped, peers_refused;
        uint64_t elsewhere;     //  records of linked peers from another address, ignored
        uint64_t key_claims;    //  records claiming a key another identity proved
    } stats;
};

static volatile sig_atomic_t s_signalled;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_signalled = 1;
}

static int64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
s_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_hex_id (const uint8_t id [ENVELOPE_ID_SIZE], char out [2 * ENVELOPE_ID_SIZE + 1])
{
    sodium_bin2hex (out, 2 * ENVELOPE_ID_SIZE + 1, id, ENVELOPE_ID_SIZE);
}

static void
s_addr (const peer_t *peer, char *out, size_t size)
{
    snprintf (out, size, "tcp://%s:%u", link_host (peer->link), link_port (peer->link));
}

//  ---------------------------------------------------------------------
//  Sending

//  True when a frame sent to the peer has a link to go on.
static bool
s_linked (const peer_t *peer)
{
    return link_linked (peer->link);
}

//  Sends on the peer's one link (link_route says which).
static int
s_send_buf (node_t *self, peer_t *peer, uint8_t **buf_p, size_t len)
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

static int
s_send (node_t *self, peer_t *peer, const wire_frame_t *frame)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (frame, &buf, &len);
    if (rc != 0)
        return rc;
    return s_send_buf (self, peer, &buf, len);
}

//  Signs a fresh record (new timestamp) into self->record.
static void
s_refresh_record (node_t *self, uint8_t flags)
{
    record_make (self->id, self->name, (uint16_t) transport_port (self->transport), flags,
                 s_wall_ms (), self->record);
}

static void
s_send_hello (node_t *self, peer_t *peer)
{
    wire_frame_t f = { .type = WIRE_HELLO, .data = self->record, .size = RECORD_SIZE,
                       .seq = self->session, .seen = link_session (peer->link) };
    s_send (self, peer, &f);
}

//  The first beacon of a run says so: whoever hears it connects at once.
//  Later ones (periodic, answers) give a hearer's peer time to connect
//  first, so a pair of peers makes one link, not two.
static void
s_send_beacon (node_t *self, int64_t now)
{
    s_refresh_record (self, self->beaconed? 0: RECORD_FLAG_START);
    self->beaconed = true;
    beacon_send (self->beacon, self->record);
    self->last_beacon = now;
    self->answer_due = false;
}

static int
s_send_message (node_t *self, peer_t *peer, peers_out_t *m)
{
    wire_chat_t chat = { .kind = m->kind, .text = m->text, .text_len = strlen (m->text) };
    uint8_t *body = NULL, *env = NULL;
    size_t body_len, env_len;
    int rc = wire_chat_encode (&chat, &body, &body_len);
    if (rc == 0)
        rc = envelope_seal (self->id, peer->sign_pk, peer->box_pk, s_wall_ms (),
                            body, body_len, m->msg_id, &env, &env_len);
    if (rc == 0) {
        wire_frame_t f = { .type = WIRE_MSG, .data = env, .size = env_len };
        rc = s_send (self, peer, &f);
    }
    free (body);
    free (env);
    return rc;
}

//  True when the next frame to the peer takes the link its messages in
//  flight took.  Two links deliver in no order between them: a new message
//  waits until the old link's are acknowledged before it takes a new one.
static bool
s_chat_link_same (node_t *self, const peer_t *peer)
{
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    if (link_route (peer->link, &rid, &rid_len, &gen))
        return peer->chat_rid_len == 0 && peer->chat_gen == gen;
    return peer->chat_rid_len == rid_len && memcmp (peer->chat_rid, rid, rid_len) == 0;
}

static void
s_chat_link_note (node_t *self, peer_t *peer)
{
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    if (link_route (peer->link, &rid, &rid_len, &gen)) {
        peer->chat_gen = gen;
        peer->chat_rid_len = 0;
    }
    else {
        memcpy (peer->chat_rid, rid, rid_len);
        peer->chat_rid_len = rid_len;
    }
}

//  Takes one seal from this loop pass's budget; false when it is spent
//  (the loop then comes back at once instead of waiting).
static bool
s_spend (node_t *self)
{
    if (self->send_budget <= 0) {
        self->send_more = true;
        return false;
    }
    self->send_budget--;
    return true;
}

//  Sends what waits for a peer that is online, oldest first: receipts owed,
//  messages whose receipt is overdue, then new messages while the window
//  has room and the pass's budget lasts.  A send the link refuses (full, or
//  gone) ends the turn: that message and all after it stay where they are
//  and go on a later pass, so nothing overtakes an older message.
static void
s_flush (node_t *self, peer_t *peer, int64_t now)
{
    if (!link_up (peer->link))
        return;
    while (peer->owed_len) {
        wire_frame_t f = { .type = WIRE_RECEIPT };
        memcpy (f.msg_id, peer->owed [peer->owed_len - 1], ENVELOPE_ID_SIZE);
        if (s_send (self, peer, &f) != 0)
            return;
        peer->owed_len--;
    }
    //  Their receipts may have met a full link: the peer answers a copy it
    //  has seen with a receipt again
    for (size_t i = 0; i < peers_outbox_in_flight (peer); i++) {
        peers_out_t *m = peers_outbox_at (peer, i);
        if (now - m->sent_at < RESEND_MS)
            continue;
        if (!s_spend (self) || s_send_message (self, peer, m) != 0)
            return;
        m->sent_at = now;
    }
    while (peers_outbox_next (peer)) {
        if (peers_outbox_in_flight (peer) && !s_chat_link_same (self, peer))
            return;             //  the receipts bring it back here
        if (!s_spend (self) || s_send_message (self, peer, peers_outbox_next (peer)) != 0)
            return;
        s_chat_link_note (self, peer);
        peers_outbox_mark_sent (peer, now);
    }
}

//  Sends what the outboxes hold within this pass's budget, starting with a
//  different peer each pass so that one long outbox does not starve others.
static void
s_pump (node_t *self, int64_t now)
{
    size_t n = peers_size (self->peers);
    for (size_t k = 0; k < n && self->send_budget > 0; k++) {
        peer_t *peer = peers_at (self->peers, (self->pump_next + k) % n);
        if (peers_outbox_len (peer) || peer->owed_len)
            s_flush (self, peer, now);
    }
    self->pump_next = n? (self->pump_next + 1) % n: 0;
}

//  ---------------------------------------------------------------------
//  Peers coming and going

static json_t *
s_peer_json (node_t *self, peer_t *peer)
{
    char addr [128];
    s_addr (peer, addr, sizeof addr);
    return json_pack ("{s:s, s:s, s:s, s:b, s:b}", "id", peer->id, "name", peer->name,
                      "addr", addr, "verified", known_verified (self->known, peer->sign_pk),
                      "online", link_up (peer->link));
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
    s_send_hello (arg, peer);
}

static void
s_link_up (void *arg, void *peer_arg)
{
    node_t *self = arg;
    peer_t *peer = peer_arg;
    log_debug ("%s joined", peer->name);
    json_t *ev = s_peer_json (self, peer);
    json_object_set_new (ev, "event", json_string ("peer_joined"));
    ui_emit (self->ui, ev);
    //  What was sent before the peer left may be lost: send it again, in
    //  order (the peer answers what it has seen with a receipt)
    peers_outbox_rewind (peer);
    s_flush (self, peer, s_mono_ms ());
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
    streams_peer_down (self->streams, peer->sign_pk);
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

//  Where a verified record came from
typedef enum {
    S_VIA_LINK,         //  a HELLO: proven by CURVE, and the link exists
    S_VIA_ANSWER,       //  the answer to our UDP request: connect now
    S_VIA_BEACON        //  a beacon: connect now if it is a start beacon, else
                        //  after LINK_CONNECT_WAIT_MS unless the peer connects first
} s_via_t;

//  Handles a verified record.  Returns the peer, or NULL when the record
//  is ours or could not be used.  *fresh is set when the peer has started
//  a new session (newer record) or is new; *connected when a link was opened.
static peer_t *
s_on_record (node_t *self, const record_t *rec, const char *host, s_via_t via,
             bool *fresh, bool *connected)
{
    bool via_link = via == S_VIA_LINK;
    *fresh = *connected = false;
    if (memcmp (rec->sign_pk, identity_sign_pk (self->id), 32) == 0)
        return NULL;
    //  An address the user pinned with --peer FP@ takes no other key
    struct sockaddr_in where;
    uint8_t fp [32];
    identity_fingerprint (rec->sign_pk, fp);
    if (udp_resolve (host, rec->port, &where) == 0)
        for (int i = 0; i < self->npending; i++) {
            s_pending_t *p = &self->pending [i];
            if (p->pinned && p->addr.sin_addr.s_addr == where.sin_addr.s_addr
            &&  p->addr.sin_port == where.sin_port && sodium_memcmp (fp, p->fp, 32) != 0) {
                self->stats.peers_refused++;
                return NULL;
            }
        }
    peer_t *peer = peers_find_sign (self->peers, rec->sign_pk);
    //  Bounds against floods of validly signed records from throwaway keys:
    //  peers heard but never proven are capped, and a newcomer takes the
    //  place of the oldest of them rather than being refused (it proves
    //  itself within milliseconds, a throwaway key never does); an answer
    //  to the user's own --peer is not counted
    if (!peer && via == S_VIA_BEACON) {
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
    int k = known_observe (self->known, rec->sign_pk, rec->box_pk, rec->name, s_wall_ms (), clash);
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
        link_host_t lh = { .connect = s_link_connect, .close = s_link_close, .hello = s_link_hello,
                           .up = s_link_up, .down = s_link_down, .reset = s_link_reset,
                           .arg = self };
        peer->link = link_new (&lh, peer, s_we_lead (self, peer), s_mono_ms ());
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
    bool start = via == S_VIA_BEACON && (rec->flags & RECORD_FLAG_START) && *fresh;
    link_rec_t r = link_on_record (peer->link, host, rec->port,
                                   via_link? LINK_VIA_HELLO: via == S_VIA_ANSWER? LINK_VIA_ANSWER
                                                                               : LINK_VIA_BEACON,
                                   start, box_changed, s_mono_ms ());
    if (r == LINK_REC_ELSEWHERE)
        self->stats.elsewhere++;
    *connected = r == LINK_REC_CONNECTED;
    return peer;
}

//  ---------------------------------------------------------------------
//  Frames from peers

//  A receipt the link does not take now is kept and sent when it does
//  (receipts need no order; if too many are owed, the peer's re-send of
//  the message asks again).
static void
s_send_receipt (node_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    wire_frame_t f = { .type = WIRE_RECEIPT };
    memcpy (f.msg_id, msg_id, ENVELOPE_ID_SIZE);
    if (s_send (self, peer, &f) != 0)
        peers_receipt_owe (peer, msg_id);
}

static void
s_history (node_t *self, peer_t *peer, const char *dir, const char *text, bool priv,
           const char *msg_id)
{
    time_t t = time (NULL);
    struct tm tm;
    char when [32];
    localtime_r (&t, &tm);
    strftime (when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    json_t *e = json_pack ("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
                           "ts", (json_int_t) s_wall_ms (), "time", when, "dir", dir,
                           "peer", peer->id, "name", peer->name, "text", text,
                           "private", priv, "msg_id", msg_id);
    if (e)
        history_append (self->history, e);
    json_decref (e);
}

static void
s_on_msg (node_t *self, peer_t *peer, const wire_frame_t *f)
{
    envelope_msg_t msg;
    int rc = envelope_open (self->opener, f->data, f->size, peer->sign_pk, s_wall_ms (), &msg);
    if (rc == SC_EREPLAY) {
        s_send_receipt (self, peer, msg.msg_id);        //  ours may have been lost
        return;
    }
    if (rc != 0) {
        self->stats.refused_msgs++;
        ui_warning (self->ui, sc_errname (rc), "a message from %s (%.16s) was refused: %s",
                    peer->name, peer->id, sc_strerror (rc));
        return;
    }
    wire_chat_t chat;
    rc = wire_chat_decode (msg.body, msg.body_len, &chat);
    if (rc == 0) {
        char *text = utf8_sanitize (chat.text, chat.text_len);
        char msg_id [33];
        s_hex_id (msg.msg_id, msg_id);
        if (text) {
            s_send_receipt (self, peer, msg.msg_id);
            ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s, s:I}",
                                          "event", "message", "from", peer->id, "name", peer->name,
                                          "text", text, "private", chat.kind == 0,
                                          "msg_id", msg_id, "ts", (json_int_t) msg.ts_ms));
            s_history (self, peer, "in", text, chat.kind == 0, msg_id);
        }
        free (text);
    }
    else {
        self->stats.refused_msgs++;
        ui_warning (self->ui, "malformed", "a message from %s (%.16s) has a malformed body",
                    peer->name, peer->id);
    }
    envelope_msg_clear (&msg);
}

//  Forgets a peer that claimed an X25519 key another identity has now
//  proven over a link: its claim can never be proven, and frames are the
//  prover's.
static void
s_forget_claim (node_t *self, peer_t *peer)
{
    log_info ("%s (%.16s) claimed the key of another identity: forgotten", peer->name, peer->id);
    self->stats.key_claims++;
    self->forgotten++;
    link_destroy (&peer->link);
    peers_drop (self->peers, peer);
}

//  The peer whose link to our ROUTER has this routing id (NULL: none).
static peer_t *
s_peer_by_rid (node_t *self, const uint8_t *rid, size_t rid_len)
{
    for (size_t i = 0; i < peers_size (self->peers); i++)
        if (link_has_rid (peers_at (self->peers, i)->link, rid, rid_len))
            return peers_at (self->peers, i);
    return NULL;
}

//  A frame from a link: on our ROUTER, or on the DEALER we opened to owner.
//  A frame is the identity's that proved its key on that link (by the
//  HELLO over it), never whichever peer claimed that key first.
static void
s_on_frame (node_t *self, transport_rx_t *rx, peer_t *owner, int64_t now)
{
    wire_frame_t f;
    int rc = wire_decode (zmq_msg_data (&rx->msg), zmq_msg_size (&rx->msg), &f);
    if (rc != 0) {
        self->stats.bad_frames++;
        log_debug ("bad frame from %s: %s", rx->addr, sc_strerror (rc));
        return;
    }
    peer_t *peer = owner? owner: s_peer_by_rid (self, rx->rid, rx->rid_len);
    if (f.type == WIRE_HELLO) {
        if (!peer)
            peer = peers_find_box (self->peers, rx->key);     //  its record, to skip a check
        record_t rec;
        //  Mostly the record its beacon brought: then checked already
        rc = f.size == RECORD_SIZE? record_decode_known (f.data, f.size, peer? peer->record: NULL,
                                                         &rec)
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
            s_forget_claim (self, owner);
            return;
        }
        bool fresh, connected;
        peer = s_on_record (self, &rec, rx->addr, S_VIA_LINK, &fresh, &connected);
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
                s_forget_claim (self, other);
        }
        link_on_hello (peer->link, rx->rid, rx->rid_len, rx->fd, f.seq, f.seen == self->session, now);
        return;
    }
    if (!peer) {
        //  Anything but HELLO on a link that has not said HELLO is dropped
        self->stats.unknown_sender++;
        return;
    }
    link_on_frame (peer->link, rx->rid, rx->rid_len, rx->fd, now);
    switch (f.type) {
        case WIRE_PING:
            break;
        case WIRE_MSG:
            s_on_msg (self, peer, &f);
            break;
        case WIRE_RECEIPT:
            if (peers_outbox_remove (peer, f.msg_id)) {
                char msg_id [33];
                s_hex_id (f.msg_id, msg_id);
                ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s}", "event", "delivered",
                                              "to", peer->id, "name", peer->name, "msg_id", msg_id));
            }
            break;
        case WIRE_BYE:
            link_on_bye (peer->link, now);
            break;
        case WIRE_OFFER: {
            //  An offer is a signed, sealed envelope like a message
            envelope_msg_t msg;
            int orc = envelope_open (self->opener, f.data, f.size, peer->sign_pk, s_wall_ms (), &msg);
            if (orc == 0) {
                files_on_offer (self->files, peer->sign_pk, msg.body, msg.body_len);
                envelope_msg_clear (&msg);
            }
            else if (orc != SC_EREPLAY) {
                self->stats.refused_msgs++;
                ui_warning (self->ui, sc_errname (orc), "a file offer from %s (%.16s) was refused: %s",
                            peer->name, peer->id, sc_strerror (orc));
            }
            break;
        }
        case WIRE_WATCH:
        case WIRE_STREAM:
        case WIRE_BATCH:
        case WIRE_SCREDIT:
        case WIRE_SEND:
            streams_on_frame (self->streams, peer->sign_pk, &f);
            break;
        default:
            files_on_frame (self->files, peer->sign_pk, &f);
            break;
    }
}

//  ---------------------------------------------------------------------
//  UDP: record requests and answers

static void
s_on_udp (node_t *self, int64_t now)
{
    for (int burst = 0; burst < 64; burst++) {
        uint8_t buf [512];
        struct sockaddr_in from;
        int n = udp_recv (self->udp_fd, buf, sizeof buf, &from);
        if (n < 0)
            return;
        if (record_is_request (buf, (size_t) n)) {
            //  Answer with fewer bytes than came in, within a rate bound per
            //  source and in all; a source that floods (or many spoofed
            //  ones) cannot starve the others' --peer
            if (now - self->udp_window_start >= 1000) {
                self->udp_window_start = now;
                self->udp_answers = 0;
            }
            uint32_t ip = from.sin_addr.s_addr;
            uint32_t h = (ip * 2654435761u) >> 24;
            if (self->udp_src [h].ip != ip || now - self->udp_src [h].start >= 1000) {
                self->udp_src [h].ip = ip;
                self->udp_src [h].start = now;
                self->udp_src [h].count = 0;
            }
            if (self->udp_src [h].count++ < UDP_PER_SOURCE_PER_S
            &&  self->udp_answers++ < UDP_ANSWERS_PER_S)
                udp_send (self->udp_fd, &from, self->record, RECORD_SIZE);
            else
                self->stats.udp_dropped++;
            continue;
        }
        //  An answer counts only from an address we asked
        s_pending_t *p = NULL;
        for (int i = 0; i < self->npending; i++)
            if (self->pending [i].addr.sin_addr.s_addr == from.sin_addr.s_addr
            &&  self->pending [i].addr.sin_port == from.sin_port)
                p = &self->pending [i];
        record_t rec;
        if (!p || record_decode (buf, (size_t) n, &rec) != 0) {
            self->stats.udp_dropped++;
            continue;
        }
        uint8_t fp [32];
        identity_fingerprint (rec.sign_pk, fp);
        if (p->pinned && sodium_memcmp (fp, p->fp, 32) != 0) {
            char got [IDENTITY_FP_HEX_SIZE];
            identity_fingerprint_hex (rec.sign_pk, got);
            ui_error (self->ui, "pin_mismatch",
                      "%s answered with key %.16s, not the pinned one: not connecting", p->text, got);
            p->next_ms = now + 10 * REQUEST_MS;
            continue;
        }
        char host [64];
        udp_ntoa (&from, host, sizeof host);
        bool fresh, connected;
        peer_t *peer = s_on_record (self, &rec, host, S_VIA_ANSWER, &fresh, &connected);
        if (!peer)
            continue;
        if (p->pinned && !known_verified (self->known, rec.sign_pk))
            known_set_verified (self->known, rec.sign_pk, true);
        if (fresh && !connected)
            s_send_hello (self, peer);
        memcpy (p->sign_pk, rec.sign_pk, 32);
        p->resolved = true;
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
    if (!peer || !s_linked (peer) || (flags & (RECORD_FLAG_LEAVE | RECORD_FLAG_START)))
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

static void
s_on_beacon (node_t *self, int64_t now)
{
    for (int burst = 0; burst < 1024; burst++) {
        record_t rec;
        struct sockaddr_in from;
        int rc = beacon_recv (self->beacon, s_wall_ms (), now, s_beacon_skip, self, &rec, &from);
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
        peer = s_on_record (self, &rec, host, S_VIA_BEACON, &fresh, &connected);
        //  A newcomer hears from us at once instead of in up to a second:
        //  on the link we opened to it, or else by an early beacon (which
        //  would only wake every node on the LAN when a link says it all)
        if (peer && !known_before && !connected)
            self->answer_due = true;
    }
}

//  ---------------------------------------------------------------------
//  Timers

static void
s_tick (node_t *self, int64_t now)
{
    files_tick (self->files, now);
    streams_tick (self->streams, now);
    //  Trust changes go to disk once a second at most (and at exit)
    if (now >= self->next_save) {
        known_flush (self->known);
        self->next_save = now + 1000;
    }
    if (self->beacon && (now >= self->next_beacon
                         || (self->answer_due && now - self->last_beacon >= ANSWER_MS))) {
        s_send_beacon (self, now);
        if (now >= self->next_beacon)
            self->next_beacon = now + BEACON_MS;
    }
    for (size_t i = 0; i < peers_size (self->peers); i++)
        link_tick (peers_at (self->peers, i)->link, now);
    //  Links that closed leave their buffers in the allocator (a flood of
    //  handshakes took tens of MB): give them back, at most every 5 s
    if (self->trim_due && now >= self->next_trim) {
        malloc_trim (0);
        self->trim_due = false;
        self->next_trim = now + 5000;
    }
    for (int i = 0; i < self->npending; i++) {
        s_pending_t *p = &self->pending [i];
        peer_t *peer = p->resolved? peers_find_sign (self->peers, p->sign_pk): NULL;
        if ((peer && link_up (peer->link)) || now < p->next_ms)
            continue;
        uint8_t req [RECORD_REQ_SIZE];
        record_request (req);
        udp_send (self->udp_fd, &p->addr, req, sizeof req);
        p->next_ms = now + REQUEST_MS;
    }
}

//  ---------------------------------------------------------------------
//  What the files module may ask of the node

static int
s_files_send (void *arg, const uint8_t peer_pk [32], const wire_frame_t *frame)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer || !link_up (peer->link))
        return SC_EAGAIN;
    return s_send (self, peer, frame);
}

//  A frame the files module built itself (a chunk read into its buffer)
static int
s_files_send_owned (void *arg, const uint8_t peer_pk [32], uint8_t **buf, size_t len)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer || !link_up (peer->link)) {
        free (*buf);
        *buf = NULL;
        return SC_EAGAIN;
    }
    return s_send_buf (self, peer, buf, len);
}

static bool
s_files_online (void *arg, const uint8_t peer_pk [32])
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    return peer && link_up (peer->link);
}

static int
s_files_seal (void *arg, const uint8_t peer_pk [32], const uint8_t *body, size_t len,
              uint8_t **env, size_t *env_len)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer)
        return SC_ENOPEER;
    uint8_t msg_id [ENVELOPE_ID_SIZE];
    randombytes_buf (msg_id, sizeof msg_id);
    return envelope_seal (self->id, peer->sign_pk, peer->box_pk, s_wall_ms (), body, len,
                          msg_id, env, env_len);
}

static void
s_files_event (void *arg, json_t *event)
{
    node_t *self = arg;
    ui_emit (self->ui, event);
}

static const char *
s_files_peer_name (void *arg, const uint8_t peer_pk [32], bool *verified)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    *verified = known_verified (self->known, peer_pk);
    return peer? peer->name: NULL;
}

//  What the streams module may ask of the node

static const char *
s_streams_peer_name (void *arg, const uint8_t peer_pk [32])
{
    bool verified;
    return s_files_peer_name (arg, peer_pk, &verified);
}

static int
s_streams_find_share (void *arg, const char *name, char *path, size_t path_size, bool *video)
{
    node_t *self = arg;
    return files_find_share (self->files, name, path, path_size, video);
}

//  ---------------------------------------------------------------------
//  Commands

static peer_t *
s_resolve (node_t *self, const char *query, bool allow_changed)
{
    peer_t *peer;
    char cands [512];
    int rc = peers_resolve (self->peers, self->known, query, allow_changed, &peer,
                            cands, sizeof cands);
    if (rc == SC_ENOPEER)
        ui_error (self->ui, "no_peer", "no peer called '%s': /peers lists them", query);
    else if (rc == SC_EAMBIGUOUS)
        ui_error (self->ui, "ambiguous", "'%s' matches several peers: %s; use a fingerprint prefix",
                  query, cands);
    else if (rc == SC_EKEYCHANGED)
        ui_error (self->ui, "key_changed",
                  "'%s' now comes with a different key: %s. It is refused by name until you "
                  "compare safety numbers with /verify and confirm; its fingerprint prefix works",
                  query, cands);
    return rc == 0? peer: NULL;
}

//  Queues text for peer and sends it at once if the peer is online and
//  nothing older waits (else it follows those, as receipts come back).
static void
s_queue (node_t *self, peer_t *peer, unsigned kind, const char *text)
{
    peers_out_t *m;
    int rc = peers_outbox_add (peer, kind, text, &m);
    if (rc == SC_EAGAIN) {
        double mib = (double) peers_outbox_bytes (peer) / (1024 * 1024);
        if (link_up (peer->link))
            ui_error (self->ui, "queue_full",
                      "the outbox to %s is full (%zu messages, %.1f MiB, waiting for receipts): "
                      "not queued; %s is online and they are going out, so try again in a moment",
                      peer->name, peers_outbox_len (peer), mib, peer->name);
        else
            ui_error (self->ui, "queue_full",
                      "the outbox to %s is full (%zu messages, %.1f MiB, kept while %s is away): "
                      "not queued; try again when %s is back",
                      peer->name, peers_outbox_len (peer), mib, peer->name, peer->name);
        return;
    }
    if (rc != 0) {
        ui_error (self->ui, sc_errname (rc), "the message to %s was not queued: %s",
                  peer->name, sc_strerror (rc));
        return;
    }
    char msg_id [33];
    s_hex_id (m->msg_id, msg_id);
    //  On the wire first; reporting and the history are off the critical path
    bool online = link_up (peer->link);
    s_flush (self, peer, s_mono_ms ());
    ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:b, s:b}", "event", "sent",
                                  "to", peer->id, "name", peer->name, "msg_id", msg_id,
                                  "private", kind == 0, "queued", !online));
    s_history (self, peer, "out", text, kind == 0, msg_id);
}

static void
s_cmd_say (node_t *self, const char *text)
{
    int sent = 0;
    for (size_t i = 0; i < peers_size (self->peers); i++) {
        peer_t *peer = peers_at (self->peers, i);
        if (link_up (peer->link)) {
            s_queue (self, peer, 1, text);
            sent++;
        }
    }
    if (sent == 0)
        ui_warning (self->ui, "no_peers", "nobody is online: the line was not sent");
}

static void
s_cmd_peers (node_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < peers_size (self->peers); i++)
        json_array_append_new (list, s_peer_json (self, peers_at (self->peers, i)));
    ui_emit (self->ui, json_pack ("{s:s, s:o}", "event", "peers", "peers", list));
}

//  The first IPv4 address of an interface that is up and not loopback, or
//  127.0.0.1: what another machine would use to reach us.
static void
s_my_host (char *out, size_t size)
{
    snprintf (out, size, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs (&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET
        &&  (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK)) {
            inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, out, (socklen_t) size);
            break;
        }
    freeifaddrs (ifs);
}

static json_t *
s_whoami_json (node_t *self, const char *event)
{
    char safety [IDENTITY_SAFETY_SIZE], host [64], address [256];
    identity_safety_number (identity_sign_pk (self->id), safety);
    if (strcmp (self->opts.bind, "*") == 0 || strcmp (self->opts.bind, "0.0.0.0") == 0)
        s_my_host (host, sizeof host);
    else
        snprintf (host, sizeof host, "%s", self->opts.bind);
    snprintf (address, sizeof address, "%s@tcp://%s:%d", self->my_id, host,
              transport_port (self->transport));
    return json_pack ("{s:s, s:s, s:s, s:i, s:s, s:s}", "event", event, "id", self->my_id,
                      "name", self->name, "port", transport_port (self->transport),
                      "safety", safety, "address", address);
}

static void
s_cmd_verify (node_t *self, const cmd_t *cmd)
{
    peer_t *peer = s_resolve (self, cmd->argv [0], true);
    if (!peer)
        return;
    if (cmd->argc == 2 && strcmp (cmd->argv [1], "yes") != 0) {
        ui_error (self->ui, "invalid", "usage: /verify PEER [yes]");
        return;
    }
    if (cmd->argc == 2 && known_set_verified (self->known, peer->sign_pk, true) != 0) {
        ui_error (self->ui, "io", "could not save the verified mark for %s", peer->name);
        return;
    }
    char theirs [IDENTITY_SAFETY_SIZE], mine [IDENTITY_SAFETY_SIZE];
    identity_safety_number (peer->sign_pk, theirs);
    identity_safety_number (identity_sign_pk (self->id), mine);
    bool verified = known_verified (self->known, peer->sign_pk);
    ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b}", "event", "verify",
                                  "id", peer->id, "name", peer->name, "safety", theirs,
                                  "own_safety", mine, "verified", verified));
    if (!verified)
        ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message",
            "Compare the peer's safety number with the one it sees for itself (its /whoami), "
            "by voice or in person; if they match, type /verify PEER yes"));
}

static void
s_cmd_history (node_t *self, const cmd_t *cmd)
{
    const char *peer_id = NULL;
    if (cmd->argc == 1) {
        peer_t *peer = s_resolve (self, cmd->argv [0], true);
        if (!peer)
            return;
        peer_id = peer->id;
    }
    json_t *entries = history_read (self->history, peer_id, HISTORY_SHOW);
    ui_emit (self->ui, json_pack ("{s:s, s:o}", "event", "history", "entries",
                                  entries? entries: json_array ()));
}

static void
s_cmd_stats (node_t *self)
{
    beacon_stats_t b = { 0 };
    if (self->beacon)
        b = beacon_stats (self->beacon);
    files_stats_t fs = files_stats (self->files);
    streams_stats_t ss = streams_stats (self->streams);
    json_t *ev = json_pack (
        "{s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I,"
        " s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
        "event", "stats", "discovery", self->beacon != NULL,
        "beacons", "received", (json_int_t) b.received, "wrong_size", (json_int_t) b.wrong_size,
        "malformed", (json_int_t) b.malformed, "bad_signature", (json_int_t) b.bad_signature,
        "own", (json_int_t) b.own, "stale", (json_int_t) b.stale,
        "replayed", (json_int_t) b.replayed, "over_budget", (json_int_t) b.over_budget,
        "linked", (json_int_t) b.linked, "checked", (json_int_t) b.checked,
        "elsewhere", (json_int_t) self->stats.elsewhere,
        "bad_frames", (json_int_t) self->stats.bad_frames,
        "unknown_sender", (json_int_t) self->stats.unknown_sender,
        "refused_messages", (json_int_t) self->stats.refused_msgs,
        "udp_dropped", (json_int_t) self->stats.udp_dropped,
        "peers_refused", (json_int_t) self->stats.peers_refused,
        "peers", (int) peers_size (self->peers),
        "files", "credit_clamped", (json_int_t) fs.credit_clamped,
        "credit_stale", (json_int_t) fs.credit_stale,
        "grants_repeated", (json_int_t) fs.grants_repeated, "resyncs", (json_int_t) fs.resyncs,
        "stalls", (json_int_t) fs.stalls, "control_queued", (json_int_t) fs.ctl_queued,
        "control_dropped", (json_int_t) fs.ctl_dropped,
        "offers_refused", (json_int_t) fs.offers_refused, "offers_expired", (json_int_t) fs.offers_expired,
        "bad_chunks", (json_int_t) fs.bad_chunks, "sums_wrong", (json_int_t) fs.sums_wrong,
        "streams", "credit_clamped", (json_int_t) ss.credit_clamped,
        "credit_stale", (json_int_t) ss.credit_stale,
        "grants_repeated", (json_int_t) ss.grants_repeated, "stalls", (json_int_t) ss.stalls,
        "control_queued", (json_int_t) ss.ctl_queued,
        "control_dropped", (json_int_t) ss.ctl_dropped);
    if (ev)
        json_object_set_new (ev, "key_claims", json_integer ((json_int_t) self->stats.key_claims));
    ui_emit (self->ui, ev);
}

static void
s_on_line (const char *line, void *arg)
{
    node_t *self = arg;
    cmd_t *cmd = malloc (sizeof *cmd);
    if (!cmd)
        return;
    char err [256];
    int rc = cmd_parse (line, cmd, err, sizeof err);
    if (rc != 0) {
        ui_error (self->ui, sc_errname (rc), "%s", err);
        free (cmd);
        return;
    }
    //  Only valid UTF-8 goes on the wire
    char *text = NULL;
    if (cmd->type == CMD_SAY || cmd->type == CMD_MSG) {
        const char *raw = cmd->argv [cmd->argc - 1];
        text = utf8_sanitize (raw, strlen (raw));
    }
    switch (cmd->type) {
        case CMD_EMPTY:
            break;
        case CMD_SAY:
            if (text)
                s_cmd_say (self, text);
            break;
        case CMD_MSG: {
            peer_t *peer = s_resolve (self, cmd->argv [0], false);
            if (peer && text)
                s_queue (self, peer, 0, text);
            if (peer)
                known_set_messaged (self->known, peer->sign_pk);
            break;
        }
        case CMD_PEERS:
            s_cmd_peers (self);
            break;
        case CMD_WHOAMI:
            ui_emit (self->ui, s_whoami_json (self, "whoami"));
            break;
        case CMD_VERIFY:
            s_cmd_verify (self, cmd);
            break;
        case CMD_HISTORY:
            s_cmd_history (self, cmd);
            break;
        case CMD_SEND:
        case CMD_FILES:
        case CMD_GET:
        case CMD_VIDEOS:
        case CMD_WATCH: {
            peer_t *peer = s_resolve (self, cmd->argv [0], false);
            if (!peer)
                break;
            if (!link_up (peer->link)) {
                ui_error (self->ui, "offline", "%s is not online now", peer->name);
                break;
            }
            if (cmd->type == CMD_SEND)
                files_send (self->files, peer->sign_pk, cmd->argv [1]);
            else if (cmd->type == CMD_FILES || cmd->type == CMD_VIDEOS)
                files_list (self->files, peer->sign_pk, cmd->type == CMD_VIDEOS);
            else if (cmd->type == CMD_GET)
                files_get (self->files, peer->sign_pk, cmd->argv [1]);
            else {
                int64_t offset = 0;
                if (cmd->offset)
                    cmd_parse_offset (cmd->offset, &offset);
                streams_watch (self->streams, peer->sign_pk, cmd->argv [1], offset, cmd->out);
            }
            break;
        }
        case CMD_STOP:
            streams_stop (self->streams, cmd->argc? cmd->argv [0]: NULL);
            break;
        case CMD_STREAMS:
            streams_list (self->streams);
            break;
        case CMD_SHARE:
            files_share (self->files, cmd->argv [0]);
            break;
        case CMD_UNSHARE:
            files_unshare (self->files, cmd->argv [0]);
            break;
        case CMD_TRANSFERS:
            files_transfers (self->files);
            break;
        case CMD_ACCEPT:
            files_accept (self->files, cmd->argv [0]);
            break;
        case CMD_REJECT:
            files_reject (self->files, cmd->argv [0]);
            break;
        case CMD_CANCEL:
            files_cancel (self->files, cmd->argv [0]);
            break;
        case CMD_STATS:
            s_cmd_stats (self);
            break;
        case CMD_HELP:
            ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message", cmd_help ()));
            break;
        case CMD_QUIT:
            self->quit = true;
            break;
    }
    free (text);
    free (cmd);
}

//  ---------------------------------------------------------------------
//  Life cycle

static bool
s_pinned (const uint8_t sign_pk [32], void *arg)
{
    node_t *self = arg;
    return peers_find_sign (self->peers, sign_pk) != NULL;
}

//  Whether a key belongs to a peer online now (known_peers keeps it).
static bool
s_online_key (const uint8_t sign_pk [32], void *arg)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, sign_pk);
    return peer && link_up (peer->link);
}

node_t *
node_new (const opts_t *opts, const char *home, const char *name,
          identity_t **identity_p, int *err)
{
    node_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    self->opts = *opts;
    self->udp_fd = -1;
    self->id = *identity_p;
    *identity_p = NULL;         //  transferred
    snprintf (self->name, sizeof self->name, "%s", name);
    identity_fingerprint_hex (identity_sign_pk (self->id), self->my_id);
    char path [PATH_MAX];
    uint8_t key [32];
    self->home = strdup (home);
    self->peers = peers_new ();
    self->opener = envelope_opener_new (self->id, NULL, s_pinned, self);
    if (!self->home || !self->peers || !self->opener) {
        *err = SC_ENOMEM;
        goto fail;
    }
    snprintf (path, sizeof path, "%s/known_peers.json", home);
    self->known = known_new (path, err);
    if (!self->known) {
        log_error ("%s: %s", path, sc_strerror (*err));
        goto fail;
    }
    known_set_in_use (self->known, s_online_key, self);
    snprintf (path, sizeof path, "%s/history", home);
    *err = identity_derive_key (self->id, "history_", key);
    if (*err == 0)
        self->history = history_new (path, key, NULL);
    sodium_memzero (key, sizeof key);
    if (!self->history) {
        *err = SC_ENOMEM;
        goto fail;
    }
    //  Peer addresses are checked before anything is bound
    for (int i = 0; i < opts->npeers; i++) {
        s_pending_t *p = &self->pending [self->npending];
        char msg [256];
        *err = opts_parse_peer (opts->peers [i], p->host, sizeof p->host, &p->port, p->fp,
                                &p->pinned, msg, sizeof msg);
        if (*err == 0 && udp_resolve (p->host, p->port, &p->addr) != 0) {
            snprintf (msg, sizeof msg, "cannot resolve the host in %s", opts->peers [i]);
            *err = SC_ENOENT;
        }
        if (*err != 0) {
            log_error ("--peer %s", msg);
            goto fail;
        }
        snprintf (p->text, sizeof p->text, "%s", opts->peers [i]);
        self->npending++;
    }
    self->transport = transport_new (self->id, opts->bind, opts->port, err);
    if (!self->transport)
        goto fail;
    self->router_watch = transport_watch (self->transport, transport_router (self->transport));
    if (!self->router_watch) {
        *err = SC_ENET;
        goto fail;
    }
    int port = transport_port (self->transport);
    self->udp_fd = udp_open (opts->bind, port, false);
    if (self->udp_fd < 0) {
        *err = self->udp_fd;
        log_error ("cannot open UDP port %d for record requests: %s", port, sc_strerror (*err));
        goto fail;
    }
    *err = record_make (self->id, self->name, (uint16_t) port, 0, s_wall_ms (), self->record);
    if (*err != 0)
        goto fail;
    randombytes_buf (&self->session, sizeof self->session);
    if (!opts->no_discovery) {
        beacon_opts_t bo = {
            .bind = opts->bind, .port = opts->beacon_port,
            .addrs = opts->beacon_addrs, .naddrs = opts->nbeacon_addrs,
            .ifaces = opts->beacon_ifaces, .nifaces = opts->nbeacon_ifaces,
        };
        self->beacon = beacon_new (&bo, identity_sign_pk (self->id), err);
        if (!self->beacon) {
            log_error ("cannot start LAN discovery on UDP port %d: %s (use --no-discovery "
                       "or another --beacon-port)", opts->beacon_port? opts->beacon_port: BEACON_PORT,
                       sc_strerror (*err));
            goto fail;
        }
    }
    char downloads [PATH_MAX];
    if (opts->downloads)
        snprintf (downloads, sizeof downloads, "%s", opts->downloads);
    else if (getenv ("XDG_DOWNLOAD_DIR") && *getenv ("XDG_DOWNLOAD_DIR"))
        snprintf (downloads, sizeof downloads, "%s/securechat", getenv ("XDG_DOWNLOAD_DIR"));
    else
        snprintf (downloads, sizeof downloads, "%s/Downloads/securechat",
                  getenv ("HOME")? getenv ("HOME"): home);
    //  The media helper is installed beside the node
    char exe [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0? (exe [n] = 0, strrchr (exe, '/')): NULL;
    if (slash) {
        *slash = 0;
        snprintf (self->helper, sizeof self->helper, "%.4000s/securechat-media", exe);
    }
    files_opts_t fo = { .home = home, .downloads = downloads, .policy = (files_policy_t) opts->accept_policy,
                        .accept_max = opts->accept_max, .max_rate = opts->max_rate,
                        .helper = self->helper [0]? self->helper: NULL,
                        .stall_ms = (int64_t) opts->stall_s * 1000 };
    files_host_t fh = { .send = s_files_send, .send_owned = s_files_send_owned, .seal = s_files_seal, .event = s_files_event,
                        .peer_name = s_files_peer_name, .online = s_files_online, .arg = self };
    self->files = files_new (&fo, &fh, err);
    if (!self->files)
        goto fail;
    streams_opts_t so = { .helper = fo.helper, .player = opts->player, .stall_ms = fo.stall_ms,
                          .served_max = opts->serve_max,
                          .pause_max_ms = (int64_t) opts->pause_max_s * 1000 };
    streams_host_t sh = { .send = s_files_send, .event = s_files_event,
                          .peer_name = s_streams_peer_name, .find_share = s_streams_find_share,
                          .arg = self };
    self->streams = streams_new (&so, &sh);
    if (!self->streams) {
        *err = SC_ENOMEM;
        goto fail;
    }
    char prompt [64];
    snprintf (prompt, sizeof prompt, "%s> ", self->name);
    self->ui = ui_new (opts->json, prompt, s_on_line, self);
    if (!self->ui) {
        *err = SC_ENOMEM;
        goto fail;
    }
    ui_emit (self->ui, s_whoami_json (self, "ready"));
    return self;
fail:
    node_destroy (&self);
    return NULL;
}

static int
s_items_reserve (node_t *self, size_t count)
{
    if (count <= self->items_cap)
        return 0;
    zmq_pollitem_t *more = realloc (self->items, count * sizeof *more);
    if (!more)
        return SC_ENOMEM;
    self->items = more;
    self->items_cap = count;
    return 0;
}

//  Reads what came on one of our DEALERs: frames from the peer it is
//  pinned to, at the address we connected to (a bounded batch, as for the
//  ROUTER).  A frame may close the DEALER (the peer left and we relink).
static void
s_on_dealer (node_t *self, void *dealer, int64_t now)
{
    peer_t *peer = NULL;
    for (size_t k = 0; !peer && k < peers_size (self->peers); k++)
        if (link_dealer (peers_at (self->peers, k)->link) == dealer)
            peer = peers_at (self->peers, k);
    uint64_t forgotten = self->forgotten;
    for (int i = 0; peer && forgotten == self->forgotten && link_dealer (peer->link) == dealer
                    && i < 64; i++) {
        transport_rx_t rx;
        int rc = transport_recv_dealer (dealer, &rx);
        if (rc == SC_EAGAIN)
            return;
        if (rc != 0) {
            self->stats.bad_frames++;
            continue;
        }
        memcpy (rx.key, peer->box_pk, 32);
        snprintf (rx.addr, sizeof rx.addr, "%s", link_host (peer->link));
        s_on_frame (self, &rx, peer, now);
        zmq_msg_close (&rx.msg);
    }
}

//  Reads what a watch says: the ROUTER's (a link the peer made closed:
//  known by its connection) or a DEALER's (the peer killed or gone, or
//  silent past ZeroMQ's heartbeat timeout).  A watch closed earlier in
//  this pass (its peer relinked) belongs to nobody and is not touched.
static void
s_on_watch (node_t *self, void *watch, int64_t now)
{
    peer_t *owner = NULL;
    for (size_t k = 0; !owner && watch != self->router_watch && k < peers_size (self->peers); k++)
        if (link_watch (peers_at (self->peers, k)->link) == watch)
            owner = peers_at (self->peers, k);
    if (!owner && watch != self->router_watch)
        return;
    bool closed;
    int fd;
    while (transport_watch_read (watch, &closed, &fd) == 0) {
        if (!closed)
            continue;
        self->trim_due = true;
        if (owner) {
            link_on_closed (owner->link, true, -1, now);    //  closes this watch
            return;
        }
        for (size_t k = 0; k < peers_size (self->peers); k++)
            if (link_on_closed (peers_at (self->peers, k)->link, false, fd, now))
                break;
    }
}

int
node_run (node_t *self)
{
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    bool input = true;
    self->next_tick = s_mono_ms ();
    while (!self->quit && !s_signalled) {
        int64_t now = s_mono_ms ();
        self->send_budget = SEND_BUDGET;
        self->send_more = false;
        if (now >= self->next_tick) {
            s_tick (self, now);
            self->next_tick = now + TICK_MS;
        }
        s_pump (self, now);
        size_t npeers = peers_size (self->peers);
        if (s_items_reserve (self, FIXED + STREAMS_MAX + FILES_PROBES_MAX + 2 * npeers) != 0) {
            log_error ("out of memory");
            break;
        }
        zmq_pollitem_t *items = self->items;
        items [0] = (zmq_pollitem_t) { transport_zap (self->transport), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t) { transport_router (self->transport), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t) { NULL, self->udp_fd, ZMQ_POLLIN, 0 };
        items [3] = (zmq_pollitem_t) { NULL, self->beacon? beacon_fd (self->beacon): -1,
                                       ZMQ_POLLIN, 0 };
        //  stdout only while output waits; stdin only while it is open
        items [4] = (zmq_pollitem_t) { NULL, ui_pending (self->ui)? ui_out_fd (self->ui): -1,
                                       ZMQ_POLLOUT, 0 };
        items [5] = (zmq_pollitem_t) { NULL, input? ui_fd (self->ui): -1, ZMQ_POLLIN, 0 };
        items [6] = (zmq_pollitem_t) { self->router_watch, 0, ZMQ_POLLIN, 0 };
        int nstreams = streams_poll_items (self->streams, items + FIXED, STREAMS_MAX);
        int nprobes = files_poll_items (self->files, items + FIXED + nstreams, FILES_PROBES_MAX);
        int first_dealer = FIXED + nstreams + nprobes, count = first_dealer;
        //  Peers we connected to answer on our DEALER, and its watch says
        //  when it closed (frames first, so a BYE is read before the close)
        for (size_t i = 0; i < npeers; i++)
            if (link_dealer (peers_at (self->peers, i)->link))
                items [count++] = (zmq_pollitem_t) { link_dealer (peers_at (self->peers, i)->link),
                                                     0, ZMQ_POLLIN, 0 };
        int first_watch = count;
        for (size_t i = 0; i < npeers; i++)
            if (link_watch (peers_at (self->peers, i)->link))
                items [count++] = (zmq_pollitem_t) { link_watch (peers_at (self->peers, i)->link),
                                                     0, ZMQ_POLLIN, 0 };
        long timeout = (long) (self->next_tick - now);
        if (files_work (self->files, now) || self->send_more || (input && ui_more (self->ui)))
            timeout = 0;        //  more to send, hash or read: do not wait
        if (self->answer_due && self->last_beacon + ANSWER_MS - now < timeout)
            timeout = (long) (self->last_beacon + ANSWER_MS - now);
        if (zmq_poll (items, count, timeout < 0? 0: timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error ("poll failed: %s", zmq_strerror (errno));
            break;
        }
        now = s_mono_ms ();
        if (items [1].revents & ZMQ_POLLIN) {
            //  A bounded batch, so input and timers keep their turn
            for (int i = 0; i < 512; i++) {
                transport_rx_t rx;
                int rc = transport_recv (self->transport, &rx);
                if (rc == SC_EAGAIN)
                    break;
                if (rc != 0) {
                    self->stats.bad_frames++;
                    continue;
                }
                s_on_frame (self, &rx, NULL, now);
                zmq_msg_close (&rx.msg);
            }
        }
        for (int i = first_dealer; i < first_watch; i++)
            if (items [i].revents & ZMQ_POLLIN)
                s_on_dealer (self, items [i].socket, now);
        //  Links that closed, after what came on them.  A new link's
        //  frames can come only after its ZAP answer, below: so a closed
        //  connection's descriptor, which a new one may take, is heard of
        //  before any frame of the new one
        if (items [6].revents & ZMQ_POLLIN)
            s_on_watch (self, self->router_watch, now);
        for (int i = first_watch; i < count; i++)
            if (items [i].revents & ZMQ_POLLIN)
                s_on_watch (self, items [i].socket, now);
        if (items [0].revents & ZMQ_POLLIN)
            while (transport_zap_handle (self->transport) == 0)
                ;
        if (items [2].revents & ZMQ_POLLIN)
            s_on_udp (self, now);
        if (items [3].revents & ZMQ_POLLIN)
            s_on_beacon (self, now);
        if (self->answer_due && s_mono_ms () - self->last_beacon >= ANSWER_MS)
            s_send_beacon (self, s_mono_ms ());
        if (items [4].revents & (ZMQ_POLLOUT | ZMQ_POLLERR))
            ui_flush (self->ui);
        streams_on_poll (self->streams, items + FIXED, nstreams, now);
        files_on_poll (self->files, items + FIXED + nstreams, nprobes);
        if (input && ((items [5].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) || ui_more (self->ui))) {
            if (ui_read (self->ui) == 1) {
                input = false;
                self->quit = true;      //  end of input means /quit
            }
        }
    }
    return 0;
}

void
node_destroy (node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_t *self = *self_p;
    //  Streams say goodbye while the links are still there
    streams_destroy (&self->streams);
    int linger = 200;               //  let the BYEs go out
    for (size_t i = 0; self->peers && i < peers_size (self->peers); i++) {
        peer_t *peer = peers_at (self->peers, i);
        //  Every peer with a link hears it, also one still saying HELLO
        if (s_linked (peer)) {
            wire_frame_t f = { .type = WIRE_BYE };
            s_send (self, peer, &f);
            if (link_dealer (peer->link))
                zmq_setsockopt (link_dealer (peer->link), ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt (transport_router (self->transport), ZMQ_LINGER, &linger, sizeof linger);
        }
        link_destroy (&peer->link);
    }
    transport_unwatch (self->transport? transport_router (self->transport): NULL, &self->router_watch);
    if (self->beacon && self->transport) {
        s_refresh_record (self, RECORD_FLAG_LEAVE);
        beacon_send (self->beacon, self->record);
    }
    beacon_destroy (&self->beacon);
    files_destroy (&self->files);
    ui_destroy (&self->ui);
    transport_destroy (&self->transport);
    if (self->udp_fd >= 0)
        close (self->udp_fd);
    peers_destroy (&self->peers);
    known_destroy (&self->known);
    history_destroy (&self->history);
    envelope_opener_destroy (&self->opener);
    identity_destroy (&self->id);
    free (self->items);
    free (self->home);
    free (self);
    *self_p = NULL;
}

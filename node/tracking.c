/*  tracking: the node's links to its trackers (--tracker FP@tcp://HOST:PORT,
    DESIGN.md section 9).  The rules (states, refresh, backoff, dedupe,
    disagreement) are discovery/tclient's; here is the I/O: the record
    request through the resolver, one CURVE DEALER per tracker pinned to
    the key its record gave, the T_* frames both ways.  Peers a tracker
    names go to meet.c like a --peer answer, after the known keys had their
    say; mail is opened by chat.c with the mailbox's window.  See node_int.h.  */
#define LOG_MODULE "tracking"
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "link.h"
#include "node_int.h"

#define TRACKING_DIAL_MS 3000       //  a named peer not linked by then: ask it to dial us
#define TRACKING_NOPATH_MS 10000    //  still not linked this long after a dial-back: no path
#define TRACKING_NOPATH_TOLD 3      //  peers told of as such that the user never wrote to
#define TRACKING_SEEN_SAVE_MS 1000  //  shown messages saved at most this often
#define TRACKING_BATCH_MAX 64       //  mail items held to be put in order

//  One item of a fetch, kept until the batch ends so that the batch is
//  shown in the order the sender wrote it (the tracker's order is by the
//  time it stored each, which ties within a millisecond)
typedef struct {
    uint8_t sender [32];
    uint8_t msg_id [WIRE_ID_SIZE];
    int64_t ts;
    size_t seq;
    uint8_t *env;
    size_t env_len;
} s_mail_t;

struct _tbatch_t {
    s_mail_t items [TRACKING_BATCH_MAX];
    size_t len;
    int tracker;
};


static void
s_seen_path (node_t *self, char *out, size_t size)
{
    snprintf (out, size, "%s/mail_seen", self->home);
}

int
tracking_init (node_t *self)
{
    if (self->opts.ntrackers == 0)
        return 0;
    self->tclient = tclient_new ();
    self->tbatch = calloc (1, sizeof *self->tbatch);
    if (!self->tclient || !self->tbatch)
        return SC_ENOMEM;
    for (int i = 0; i < self->opts.ntrackers; i++) {
        const char *text = self->opts.trackers [i];
        char msg [256];
        uint8_t fp [32];
        bool pinned;
        int rc = opts_parse_peer (text, self->tlinks [i].host, sizeof self->tlinks [i].host,
                                  &self->tlinks [i].port, fp, &pinned, msg, sizeof msg);
        if (rc == 0)
            rc = resolve_add (self->resolve, text, self->tlinks [i].host, self->tlinks [i].port,
                              true, fp);
        if (rc == 0)
            rc = tclient_add (self->tclient, text, fp) < 0? SC_ETOOBIG: 0;
        if (rc != 0) {
            log_error ("--tracker %s: %s", text, sc_strerror (rc));
            return rc;
        }
    }
    char path [PATH_MAX];
    s_seen_path (self, path, sizeof path);
    int rc = tclient_seen_load (self->tclient, path, node_wall_ms ());
    if (rc != 0)
        log_warn ("%s: %s: starting with no messages marked shown", path, sc_strerror (rc));
    return 0;
}

int
tracking_send (node_t *self, int i, const wire_frame_t *f)
{
    if (!self->tlinks [i].dealer)
        return SC_EAGAIN;
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (f, &buf, &len);
    if (rc == 0)
        rc = transport_send_owned (self->tlinks [i].dealer, &buf, len);
    return rc;
}

void
tracking_destroy (node_t *self)
{
    for (size_t k = 0; self->tbatch && k < self->tbatch->len; k++)
        free (self->tbatch->items [k].env);
    tracking_held_destroy (self);
    free (self->tbatch);
    self->tbatch = NULL;
    if (!self->tclient)
        return;
    int linger = 200;
    for (size_t i = 0; i < tclient_size (self->tclient); i++) {
        if (!self->tlinks [i].dealer)
            continue;
        if (tclient_registered (self->tclient, (int) i)) {
            wire_frame_t f = { .type = WIRE_T_LEAVE, .t_leave = { .tag = 0 } };
            memcpy (f.t_leave.key, identity_sign_pk (self->id), 32);
            tracking_send (self, (int) i, &f);
            zmq_setsockopt (self->tlinks [i].dealer, ZMQ_LINGER, &linger, sizeof linger);
        }
        transport_unwatch (self->tlinks [i].dealer, &self->tlinks [i].watch);
        transport_disconnect (&self->tlinks [i].dealer);
    }
    char path [PATH_MAX];
    s_seen_path (self, path, sizeof path);
    if (tclient_seen_dirty (self->tclient))
        tclient_seen_save (self->tclient, path, node_wall_ms ());
    tclient_destroy (&self->tclient);
}

//  Registers at tracker i when that is due (first, refresh, after a refusal).
static void
s_register_if_due (node_t *self, int i, int64_t now)
{
    uint64_t tag;
    if (self->tlinks [i].dealer && tclient_register_due (self->tclient, i, now, &tag)) {
        //  Our record as it is now (the port and name it advertises)
        meet_refresh_record (self, 0);
        wire_frame_t f = { .type = WIRE_T_REGISTER, .t_register = {
            .tag = tag, .record = self->record, .record_len = RECORD_SIZE } };
        tracking_send (self, i, &f);
    }
}

void
tracking_on_resolved (node_t *self, int i, const resolve_answer_t *a)
{
    if (!tclient_on_resolved (self->tclient, i, a->rec.sign_pk, node_mono_ms ()))
        return;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", self->tlinks [i].host, self->tlinks [i].port);
    memcpy (self->tlinks [i].box_pk, a->rec.box_pk, 32);
    self->tlinks [i].dealer = transport_connect (self->transport, a->rec.box_pk, endpoint);
    self->tlinks [i].watch = self->tlinks [i].dealer
                           ? transport_watch (self->transport, self->tlinks [i].dealer): NULL;
    log_info ("tracker %s found; linking", a->target);
    if (!self->tlinks [i].dealer)
        ui_warning (self->ui, "tracker_failed", "cannot link to the tracker %s", a->target);
    //  At once, not at the next tick: the DEALER holds it until the link is made
    s_register_if_due (self, i, node_mono_ms ());
}

//  Asks tracker i for the mail waiting for us.
static void
s_fetch (node_t *self, int i)
{
    wire_frame_t f = { .type = WIRE_T_FETCH, .t_fetch = {
        .tag = tclient_tag (self->tclient, TCLIENT_REQ_FETCH), .max = WIRE_TFETCH_MAX } };
    tracking_send (self, i, &f);
}

void
tracking_tick (node_t *self, int64_t now)
{
    if (!self->tclient)
        return;
    for (size_t i = 0; i < tclient_size (self->tclient); i++)
        s_register_if_due (self, (int) i, now);
    //  Dial-back: a peer a tracker named that we could not reach is asked
    //  to connect to us; when that fails too, the user is told once
    for (size_t k = 0; k < peers_size (self->peers); k++) {
        peer_t *p = peers_at (self->peers, k);
        if (!p->named_at)
            continue;
        if (link_up (p->link)) {
            p->named_at = p->dialed_at = 0;
            p->no_path = false;
            continue;
        }
        if (p->dialed_at) {
            if (!p->no_path && now - p->dialed_at >= TRACKING_NOPATH_MS) {
                p->no_path = true;
                //  Told for peers the user wrote to or verified, and the
                //  first few others; past those only counted (/trackers),
                //  so a tracker naming many cannot flood the screen
                bool cares = known_messaged (self->known, p->sign_pk)
                          || known_verified (self->known, p->sign_pk);
                if (!cares && self->tstats.no_path++ >= TRACKING_NOPATH_TOLD)
                    continue;
                if (cares)
                    self->tstats.no_path++;
                ui_warning (self->ui, "no_direct_path",
                            "no direct path to %s (%.16s): neither side can connect to the other "
                            "(both behind NAT?); messages go by the tracker's mailbox, "
                            "files and video need a direct link", p->name, p->id);
            }
            continue;
        }
        if (now - p->named_at < TRACKING_DIAL_MS || !tclient_registered (self->tclient, p->tracker))
            continue;
        p->dialed_at = now;
        self->tstats.dial_backs++;
        wire_frame_t f = { .type = WIRE_T_DIAL, .t_dial = {
            .tag = tclient_tag (self->tclient, TCLIENT_REQ_DIAL) } };
        memcpy (f.t_dial.key, p->sign_pk, 32);
        tracking_send (self, p->tracker, &f);
        ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s}", "event", "dial_back", "id", p->id,
                                      "name", p->name, "reason",
                                      "no direct link yet: the tracker asks the peer to connect to us"));
    }
    tracking_held_release (self, now);
    if (tclient_seen_dirty (self->tclient) && now >= self->next_seen_save) {
        char path [PATH_MAX];
        s_seen_path (self, path, sizeof path);
        int rc = tclient_seen_save (self->tclient, path, node_wall_ms ());
        if (rc != 0)
            log_warn ("%s: %s", path, sc_strerror (rc));
        self->next_seen_save = now + TRACKING_SEEN_SAVE_MS;
    }
}

int
tracking_poll_items (node_t *self, zmq_pollitem_t *items)
{
    int n = 0;
    for (size_t i = 0; self->tclient && i < tclient_size (self->tclient); i++) {
        items [n++] = (zmq_pollitem_t) { self->tlinks [i].dealer, 0, ZMQ_POLLIN, 0 };
        items [n++] = (zmq_pollitem_t) { self->tlinks [i].watch, 0, ZMQ_POLLIN, 0 };
        if (!self->tlinks [i].dealer)
            items [n - 2].events = items [n - 1].events = 0;
    }
    return n;
}

//  ---------------------------------------------------------------------
//  Peers a tracker names

//  An address tracker i gives may be dialled: numeric (a name would be
//  looked up in DNS by ZeroMQ, on the word of a tracker), one host
//  (not unspecified, multicast or broadcast), and loopback only from a
//  tracker we reach on loopback.
static bool
s_addr_ok (node_t *self, int i, const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    bool loop;
    if (inet_pton (AF_INET, addr, &v4) == 1) {
        uint32_t a = ntohl (v4.s_addr);
        if (a == 0 || a == 0xffffffffu || (a >> 28) == 0xe)
            return false;
        loop = (a >> 24) == 127;
    }
    else if (inet_pton (AF_INET6, addr, &v6) == 1) {
        //  An IPv4 address written as IPv6 (::ffff:127.0.0.1) is refused:
        //  ZeroMQ would reach the IPv4 host, past the checks above
        if (IN6_IS_ADDR_UNSPECIFIED (&v6) || IN6_IS_ADDR_MULTICAST (&v6)
        ||  IN6_IS_ADDR_V4MAPPED (&v6) || IN6_IS_ADDR_V4COMPAT (&v6))
            return false;
        loop = IN6_IS_ADDR_LOOPBACK (&v6);
    }
    else
        return false;
    if (!loop)
        return true;
    struct in_addr t4;
    struct in6_addr t6;
    const char *host = self->tlinks [i].host;
    return (inet_pton (AF_INET, host, &t4) == 1 && (ntohl (t4.s_addr) >> 24) == 127)
        || (inet_pton (AF_INET6, host, &t6) == 1 && IN6_IS_ADDR_LOOPBACK (&t6))
        || strcmp (host, "localhost") == 0;
}

//  One entry (signed record and the address the tracker saw) from tracker
//  i: checked again here, then met like a --peer answer.
static void
s_on_entry (node_t *self, int i, const uint8_t *entries, size_t len, size_t k, bool dial)
{
    const uint8_t *raw;
    char addr [WIRE_TADDR_SIZE];
    record_t rec;
    if (wire_tentry_at (entries, len, k, &raw, addr) != 0 || !s_addr_ok (self, i, addr)
    ||  record_decode (raw, RECORD_SIZE, &rec) != 0 || (rec.flags & RECORD_FLAG_LEAVE)) {
        self->stats.bad_frames++;
        return;
    }
    if (memcmp (rec.sign_pk, identity_sign_pk (self->id), 32) == 0
    ||  tclient_find_sign (self->tclient, rec.sign_pk) >= 0)
        return;
    char id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (rec.sign_pk, id);
    int other = tclient_on_name (self->tclient, i, rec.name, rec.sign_pk);
    if (other >= 0) {
        self->tstats.disagree++;
        ui_warning (self->ui, "trackers_disagree",
                    "the trackers %s and %s give different keys for '%s' (now %.16s): "
                    "neither is taken over a key you know; check with /verify",
                    tclient_info (self->tclient, other, 0).text,
                    tclient_info (self->tclient, i, 0).text, rec.name, id);
    }
    //  A tracker never overrides a known key: a name known for another
    //  identity is refused here (the user may still pick it by fingerprint
    //  once it reaches us another way)
    if (!peers_find_sign (self->peers, rec.sign_pk)
    &&  known_name_conflict (self->known, rec.sign_pk, rec.name)) {
        self->tstats.key_changed++;
        ui_warning (self->ui, "key_changed",
                    "the tracker %s says '%s' is key %.16s, but '%s' is known with another key: "
                    "refused (a tracker never overrides a key you know)",
                    tclient_info (self->tclient, i, 0).text, rec.name, id, rec.name);
        return;
    }
    bool fresh, connected;
    peer_t *known_before = peers_find_sign (self->peers, rec.sign_pk);
    peer_t *peer = meet_on_record (self, &rec, addr, MEET_VIA_TRACKER, &fresh, &connected);
    if (!peer)
        return;
    if (!known_before)
        peer->via = PEERS_VIA_TRACKER;
    if (!link_up (peer->link)) {
        peer->tracker = i;
        int64_t now = node_mono_ms ();
        if (!peer->named_at || dial)
            peer->named_at = now;
        if (dial)
            peer->dialed_at = now;  //  asked to dial us itself: no need to ask back
    }
    if (fresh && !connected)
        meet_send_hello (self, peer);
}

static void
s_on_entries (node_t *self, int i, const uint8_t *entries, size_t len, bool dial)
{
    //  Not a whole number of entries: counted, not left unseen (one
    //  shorter than an entry would make no iteration below)
    if (len % WIRE_TENTRY_SIZE != 0) {
        self->stats.bad_frames++;
        return;
    }
    for (size_t k = 0; k < len / WIRE_TENTRY_SIZE; k++)
        s_on_entry (self, i, entries, len, k, dial);
}

static void
s_lookup_key (node_t *self, int i, const uint8_t sign_pk [32])
{
    wire_frame_t f = { .type = WIRE_T_LOOKUP, .t_lookup = {
        .tag = tclient_tag (self->tclient, TCLIENT_REQ_LOOKUP), .key = sign_pk, .key_len = 32,
        .prefix = "", .name = "" } };
    tracking_send (self, i, &f);
}

//  ---------------------------------------------------------------------
//  Mail

int
tracking_mail (void *arg, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE],
               const uint8_t *env, size_t env_len)
{
    node_t *self = arg;
    if (!self->tclient)
        return SC_ENOENT;
    //  One tracker holds it: the first registered
    int i = tclient_any_registered (self->tclient);
    if (i < 0)
        return SC_EOFFLINE;
    wire_frame_t f = { .type = WIRE_T_PUT, .t_put = {
        .tag = tclient_tag (self->tclient, TCLIENT_REQ_PUT), .ttl_days = 0,
        .envelope = env, .envelope_len = env_len } };
    memcpy (f.t_put.recipient, peer->box_pk, 32);
    memcpy (f.t_put.msg_id, msg_id, ENVELOPE_ID_SIZE);
    return tracking_send (self, i, &f);
}

bool
tracking_seen (void *arg, const uint8_t from [32], const uint8_t msg_id [ENVELOPE_ID_SIZE],
               int64_t wall)
{
    node_t *self = arg;
    return self->tclient && tclient_seen_mark (self->tclient, from, msg_id, wall);
}

static void
s_ack (node_t *self, int i, const uint8_t sender [32], const uint8_t msg_id [WIRE_ID_SIZE])
{
    wire_frame_t f = { .type = WIRE_T_ACK };
    memcpy (f.t_ack.sender, sender, 32);
    memcpy (f.t_ack.msg_id, msg_id, WIRE_ID_SIZE);
    tracking_send (self, i, &f);
}

static int
s_mail_cmp (const void *a, const void *b)
{
    const s_mail_t *x = a, *y = b;
    int c = memcmp (x->sender, y->sender, 32);
    if (c == 0)
        c = x->ts < y->ts? -1: x->ts > y->ts;
    return c? c: x->seq < y->seq? -1: x->seq > y->seq;
}

static void
s_open_mail (node_t *self, int i, const s_mail_t *m)
{
    self->tstats.mail_in++;
    peer_t *peer = peers_find_box (self->peers, m->sender);
    if (!peer) {
        //  From someone not met in this run but known from an earlier one:
        //  opened with the keys we know (and looked up, to link if it is
        //  there).  A stranger's cannot be checked (its signing key is not
        //  known): it is refused, deleted at the tracker like any other,
        //  so that junk from throwaway keys cannot stand before real mail
        //  and keep every fetch coming back full
        uint8_t sign_pk [32];
        char name [RECORD_NAME_MAX + 1];
        if (!known_find_box (self->known, m->sender, sign_pk, name)
        ||  !(peer = meet_known (self, sign_pk, m->sender, name))) {
            self->tstats.mail_dropped++;
            s_ack (self, i, m->sender, m->msg_id);
            return;
        }
        s_lookup_key (self, i, sign_pk);
    }
    //  A copy fetched twice, or shown already by the direct link
    if (tclient_seen (self->tclient, peer->sign_pk, m->msg_id, node_wall_ms ())) {
        s_ack (self, i, m->sender, m->msg_id);
        return;
    }
    int rc = chat_on_mail (self->chat, peer, m->env, m->env_len, node_wall_ms (), TCLIENT_SEEN_TTL_MS);
    (void) rc;                  //  shown, shown before, or refused: deleted in every case
    s_ack (self, i, m->sender, m->msg_id);
}

//  The batch ends: its items in order, each shown once and acknowledged.
static void
s_batch_end (node_t *self)
{
    qsort (self->tbatch->items, self->tbatch->len, sizeof self->tbatch->items [0], s_mail_cmp);
    for (size_t k = 0; k < self->tbatch->len; k++) {
        s_open_mail (self, self->tbatch->tracker, &self->tbatch->items [k]);
        free (self->tbatch->items [k].env);
    }
    self->tbatch->len = 0;
}

static void
s_on_mail (node_t *self, int i, const wire_frame_t *f)
{
    if (self->tbatch->len && self->tbatch->tracker != i)
        s_batch_end (self);
    s_mail_t *m = &self->tbatch->items [self->tbatch->len];
    memcpy (m->sender, f->t_mail.sender, 32);
    memcpy (m->msg_id, f->t_mail.msg_id, WIRE_ID_SIZE);
    m->seq = self->tbatch->len;
    m->ts = 0;
    envelope_peek_ts (self->opener, f->t_mail.envelope, f->t_mail.envelope_len, &m->ts);
    m->env = malloc (f->t_mail.envelope_len ? f->t_mail.envelope_len: 1);
    if (!m->env)
        return;
    memcpy (m->env, f->t_mail.envelope, f->t_mail.envelope_len);
    m->env_len = f->t_mail.envelope_len;
    self->tbatch->tracker = i;
    if (++self->tbatch->len == TRACKING_BATCH_MAX)
        s_batch_end (self);
}

//  ---------------------------------------------------------------------
//  Frames from a tracker

static void
s_on_frame (node_t *self, int i, const wire_frame_t *f, int64_t now)
{
    tclient_on_frame (self->tclient, i);
    const char *text = tclient_info (self->tclient, i, now).text;
    switch (f->type) {
        case WIRE_T_REGISTERED: {
            char addr [WIRE_TADDR_SIZE];
            snprintf (addr, sizeof addr, "%.*s", (int) f->t_registered.addr_len, f->t_registered.addr);
            double jitter = (double) randombytes_uniform (1000001) / 1000000.0;
            if (tclient_on_registered (self->tclient, i, f->t_registered.tag, f->t_registered.ttl_ms,
                                       addr, jitter, now)) {
                ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:I}", "event", "tracker_registered",
                                              "tracker", text, "addr", addr,
                                              "ttl_ms", (json_int_t) f->t_registered.ttl_ms));
                s_fetch (self, i);
            }
            break;
        }
        case WIRE_T_REFUSED: {
            char code [WIRE_TCODE_MAX + 1];
            snprintf (code, sizeof code, "%.*s", (int) f->t_refused.code_len, f->t_refused.code);
            tclient_on_refused (self->tclient, i, f->t_refused.tag, code, f->t_refused.retry_ms, now);
            if (f->t_refused.type == WIRE_T_LOOKUP)
                tracking_held_answered (self, i, f->t_refused.tag, now);
            const wire_spec_t *spec = wire_spec ((int) f->t_refused.type);
            ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:I}", "event", "tracker_refused",
                                          "tracker", text, "request", spec && spec->name? spec->name: "?",
                                          "code", code, "retry_ms", (json_int_t) f->t_refused.retry_ms));
            if (f->t_refused.type == WIRE_T_PUT)
                ui_warning (self->ui, "mail_refused", "the tracker %s did not take a message (%s): "
                            "it stays in the outbox until the peer is back", text, code);
            break;
        }
        case WIRE_T_NOTICE:
            if (f->t_notice.joined)
                s_on_entries (self, i, f->t_notice.entry, f->t_notice.entry_len, false);
            break;
        case WIRE_T_DIALED:
            s_on_entries (self, i, f->t_dialed.entry, f->t_dialed.entry_len, true);
            break;
        case WIRE_T_FOUND:
            if (tclient_tag_req (f->t_found.tag) == TCLIENT_REQ_LOOKUP) {
                s_on_entries (self, i, f->t_found.entries, f->t_found.entries_len, false);
                tracking_held_answered (self, i, f->t_found.tag, now);
            }
            else if (tclient_tag_req (f->t_found.tag) == TCLIENT_REQ_FETCH) {
                //  The end of a fetch: a full one means more may wait
                bool full = self->tbatch->len >= WIRE_TFETCH_MAX;
                s_batch_end (self);
                if (full)
                    s_fetch (self, i);
            }
            break;
        case WIRE_T_MAILNOTE:
            s_fetch (self, i);
            break;
        case WIRE_T_MAIL:
            s_on_mail (self, i, f);
            break;
        case WIRE_T_STORED: {
            char hex [33], to [IDENTITY_FP_HEX_SIZE] = "";
            sodium_bin2hex (hex, sizeof hex, f->t_stored.msg_id, WIRE_ID_SIZE);
            peer_t *peer = peers_find_box (self->peers, f->t_stored.recipient);
            if (peer)
                snprintf (to, sizeof to, "%s", peer->id);
            ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s}", "event", "mail_stored",
                                          "tracker", text, "to", to, "msg_id", hex));
            break;
        }
        default:
            break;              //  T_PAGE, T_STATS: not asked for
    }
}

void
tracking_on_poll (node_t *self, zmq_pollitem_t *items, int count, int64_t now)
{
    for (int n = 0; self->tclient && n + 1 < count; n += 2) {
        int i = n / 2;
        if (items [n].revents & ZMQ_POLLIN)
            for (int k = 0; k < 64 && self->tlinks [i].dealer; k++) {
                transport_rx_t rx;
                int rc = transport_recv_dealer (self->tlinks [i].dealer, &rx);
                if (rc == SC_EAGAIN)
                    break;
                if (rc != 0) {
                    self->stats.bad_frames++;
                    continue;
                }
                wire_frame_t f;
                if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0
                &&  f.type >= WIRE_T_REGISTER)
                    s_on_frame (self, i, &f, now);
                else
                    self->stats.bad_frames++;
                zmq_msg_close (&rx.msg);
            }
        if (items [n + 1].revents & ZMQ_POLLIN) {
            bool closed;
            int fd;
            while (transport_watch_read (self->tlinks [i].watch, &closed, &fd) == 0)
                if (closed) {
                    tclient_on_closed (self->tclient, i, now);
                    ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "tracker_lost",
                                                  "tracker", tclient_info (self->tclient, i, now).text));
                }
        }
    }
}

json_t *
tracking_json (node_t *self)
{
    static const char *states [] = { "resolving", "registering", "registered", "refused" };
    json_t *list = json_array ();
    int64_t now = node_mono_ms ();
    for (size_t i = 0; self->tclient && i < tclient_size (self->tclient); i++) {
        tclient_info_t t = tclient_info (self->tclient, (int) i, now);
        json_array_append_new (list, json_pack ("{s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:I, s:s}",
            "tracker", t.text, "state", states [t.state], "linked", t.linked,
            "registered", t.state == TCLIENT_REGISTERED && t.linked, "seen_as", t.seen_addr,
            "ttl_left_ms", (json_int_t) t.ttl_left_ms, "registrations", (json_int_t) t.registrations,
            "refusals", (json_int_t) t.refusals, "last_refusal", t.last_refusal));
    }
    return list;
}

/*  sc-evil-tracker: a hostile tracker, for the tests of the node's tracker
    client (node/tracking.c).  It has an identity of its own (fresh, or
    under --home), binds a CURVE ROUTER on 127.0.0.1 (or --bind) like
    securechat-tracker, answers the record request on the same UDP port,
    and prints {"event":"ready","address":"FP@tcp://HOST:PORT",...} for
    nodes to take with --tracker.  It answers T_REGISTER with T_REGISTERED,
    keeps what nodes T_PUT (answered T_STORED) and hands it over like the
    real one (T_MAILNOTE, then T_MAIL items and the end of the fetch), and
    answers lookups with what registered.  It prints one JSON line for
    every frame a node sends it (register, put with a count per sender,
    fetch, ack, lookup, dial, leave) and for every command:
      introduce            an honest T_NOTICE of every registered node to
                           each node that registered before it
      notice NAME ADDR [PORT]  a T_NOTICE of a fresh throwaway identity
                           NAME at ADDR (any text: "evil.example" too)
      noticeflood N        N throwaway notices at N addresses 127.0.X.Y
      claim NAME           a throwaway key named NAME, as a notice and as
                           an answer to a lookup nobody asked
      replay N             the last envelope handed over, queued again N
                           times under N fresh item ids, then T_MAILNOTE
      garbage              malformed frames and entries to every node;
                           prints how many a node must count as bad
      quit
    Exits at quit or when stdin closes.  */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../crypto/base/err.h"
#include "../../discovery/record.h"
#include "../../discovery/resolve.h"
#include "../../discovery/tclient.h"
#include "../../node/transport.h"
#include "../../node/wire.h"
#include "tool.h"

#define LINKS_MAX 64
#define MAIL_MAX 1024

typedef struct {
    uint8_t key [32];                   //  the link's X25519 key
    uint8_t sign_pk [32];
    char name [RECORD_NAME_MAX + 1];
    uint8_t entry [WIRE_TENTRY_SIZE];   //  its record and the address we saw
    uint8_t rid [TRANSPORT_RID_MAX];
    size_t rid_len;
    int puts, fetches, acks;
    bool left;                          //  T_LEAVE: kept for its name only
} s_link_t;

typedef struct {
    uint8_t recipient [32], sender [32], msg_id [WIRE_ID_SIZE];
    uint8_t *env;
    size_t env_len;
    int64_t stored_ms;
} s_item_t;

typedef struct {
    identity_t *id;
    transport_t *t;
    resolve_t *resolve;
    uint8_t record [RECORD_SIZE];
    int64_t record_at;
    char host [64];
    s_link_t links [LINKS_MAX];
    size_t nlinks;
    s_item_t mail [MAIL_MAX];
    size_t nmail;
    s_item_t last;                      //  the last item handed over (env owned)
    uint64_t seq;
} s_evil_t;

static s_link_t *
s_link (s_evil_t *e, const uint8_t key [32])
{
    for (size_t i = 0; i < e->nlinks; i++)
        if (memcmp (e->links [i].key, key, 32) == 0)
            return &e->links [i];
    return NULL;
}

//  The name of the node with X25519 key `key`, or its key in hex.
static json_t *
s_who (s_evil_t *e, const uint8_t key [32])
{
    s_link_t *l = s_link (e, key);
    return l? json_string (l->name): tool_hexj (key, 32);
}

//  Sends raw bytes (taken) to a link; 0 or an SC_E* code.
static int
s_send_raw (s_evil_t *e, s_link_t *l, uint8_t *buf, size_t len)
{
    return transport_reply_owned (e->t, l->rid, l->rid_len, &buf, len);
}

static int
s_send (s_evil_t *e, s_link_t *l, const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (f, &buf, &len);
    return rc? rc: s_send_raw (e, l, buf, len);
}

//  A copy of bytes as a malloc'd buffer (for s_send_raw).
static uint8_t *
s_dup (const void *bytes, size_t len)
{
    uint8_t *p = malloc (len? len: 1);
    if (p)
        memcpy (p, bytes, len);
    return p;
}

//  An entry for a fresh throwaway identity named name at addr.
static int
s_throwaway_entry (const char *name, const char *addr, int port, uint8_t entry [WIRE_TENTRY_SIZE],
                   char fp [IDENTITY_FP_HEX_SIZE])
{
    identity_t *id = identity_generate ();
    uint8_t rec [RECORD_SIZE];
    int rc = id? record_make (id, name, (uint16_t) port, 0, tool_now_ms (), rec): SC_ENOMEM;
    if (rc == 0) {
        wire_tentry_put (entry, rec, addr);
        identity_fingerprint_hex (identity_sign_pk (id), fp);
    }
    identity_destroy (&id);
    return rc;
}

//  Pushes one joined notice of entry to every link but skip; returns how many took it.
static int
s_notice_all (s_evil_t *e, const uint8_t *entry, size_t entry_len, const s_link_t *skip)
{
    wire_frame_t f = { .type = WIRE_T_NOTICE, .t_notice = {
        .joined = 1, .reason = "new", .reason_len = 3, .entry = entry, .entry_len = entry_len } };
    int sent = 0;
    for (size_t i = 0; i < e->nlinks; i++)
        if (&e->links [i] != skip && !e->links [i].left)
            sent += s_send (e, &e->links [i], &f) == 0;
    return sent;
}

static void
s_mailnote (s_evil_t *e, const uint8_t recipient [32])
{
    s_link_t *l = s_link (e, recipient);
    size_t count = 0;
    for (size_t i = 0; i < e->nmail; i++)
        count += memcmp (e->mail [i].recipient, recipient, 32) == 0;
    if (l && !l->left && count) {
        wire_frame_t f = { .type = WIRE_T_MAILNOTE, .t_mailnote = { .count = count } };
        s_send (e, l, &f);
    }
}

static int
s_mail_add (s_evil_t *e, const uint8_t recipient [32], const uint8_t sender [32],
            const uint8_t msg_id [WIRE_ID_SIZE], const uint8_t *env, size_t env_len)
{
    if (e->nmail == MAIL_MAX)
        return SC_EFULL;
    s_item_t *m = &e->mail [e->nmail];
    m->env = s_dup (env, env_len);
    if (!m->env)
        return SC_ENOMEM;
    memcpy (m->recipient, recipient, 32);
    memcpy (m->sender, sender, 32);
    memcpy (m->msg_id, msg_id, WIRE_ID_SIZE);
    m->env_len = env_len;
    m->stored_ms = tool_now_ms ();
    e->nmail++;
    return 0;
}

//  ---------------------------------------------------------------------
//  Frames from the nodes

static void
s_on_register (s_evil_t *e, const transport_rx_t *rx, const wire_frame_t *f)
{
    record_t rec;
    const char *code = NULL;
    if (f->t_register.record_len != RECORD_SIZE
    ||  record_decode (f->t_register.record, RECORD_SIZE, &rec) != 0)
        code = "bad_record";
    else if (memcmp (rec.box_pk, rx->key, 32) != 0)
        code = "foreign_key";
    s_link_t *l = s_link (e, rx->key);
    if (!code && !l && e->nlinks == LINKS_MAX)
        code = "records";
    if (code) {
        wire_frame_t r = { .type = WIRE_T_REFUSED, .t_refused = {
            .type = WIRE_T_REGISTER, .tag = f->t_register.tag, .code = code,
            .code_len = strlen (code), .retry_ms = 1000 } };
        uint8_t *buf;
        size_t len;
        if (wire_encode (&r, &buf, &len) == 0)
            transport_reply_owned (e->t, rx->rid, rx->rid_len, &buf, len);
        tool_print (json_pack ("{s:s, s:s}", "event", "refused", "code", code));
        return;
    }
    bool fresh = !l || l->left;
    if (!l) {
        l = &e->links [e->nlinks++];
        memset (l, 0, sizeof *l);
        memcpy (l->key, rx->key, 32);
    }
    l->left = false;
    memcpy (l->sign_pk, rec.sign_pk, 32);
    snprintf (l->name, sizeof l->name, "%s", rec.name);
    wire_tentry_put (l->entry, f->t_register.record, rx->addr);
    memcpy (l->rid, rx->rid, rx->rid_len);
    l->rid_len = rx->rid_len;
    wire_frame_t r = { .type = WIRE_T_REGISTERED, .t_registered = {
        .tag = f->t_register.tag, .ttl_ms = 600000, .addr = rx->addr, .addr_len = strlen (rx->addr) } };
    s_send (e, l, &r);
    char fp [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (rec.sign_pk, fp);
    tool_print (json_pack ("{s:s, s:s, s:s, s:s, s:i, s:b}", "event", "registered", "id", fp,
                        "name", rec.name, "addr", rx->addr, "port", rec.port, "new", fresh));
    if (fresh)
        s_mailnote (e, l->key);
}

static void
s_on_put (s_evil_t *e, s_link_t *l, const transport_rx_t *rx, const wire_frame_t *f)
{
    const __typeof__ (f->t_put) *p = &f->t_put;
    if (l)
        l->puts++;
    int rc = s_mail_add (e, p->recipient, rx->key, p->msg_id, p->envelope, p->envelope_len);
    tool_print (json_pack ("{s:s, s:o, s:o, s:o, s:I, s:i, s:b}", "event", "put",
                        "from", s_who (e, rx->key), "to", s_who (e, p->recipient),
                        "msg_id", tool_hexj (p->msg_id, WIRE_ID_SIZE),
                        "bytes", (json_int_t) p->envelope_len, "puts", l? l->puts: 0,
                        "stored", rc == 0));
    if (rc != 0 || !l)
        return;
    wire_frame_t r = { .type = WIRE_T_STORED, .t_stored = { .tag = p->tag } };
    memcpy (r.t_stored.recipient, p->recipient, 32);
    memcpy (r.t_stored.msg_id, p->msg_id, WIRE_ID_SIZE);
    s_send (e, l, &r);
    s_mailnote (e, p->recipient);
}

//  Hands over what waits for the link (not acknowledged yet), at most
//  WIRE_TFETCH_MAX, then the end of the fetch.
static void
s_on_fetch (s_evil_t *e, s_link_t *l, const wire_frame_t *f)
{
    int n = 0;
    l->fetches++;
    for (size_t i = 0; i < e->nmail && n < WIRE_TFETCH_MAX; i++) {
        s_item_t *m = &e->mail [i];
        if (memcmp (m->recipient, l->key, 32) != 0)
            continue;
        wire_frame_t r = { .type = WIRE_T_MAIL, .t_mail = {
            .stored_ms = (uint64_t) m->stored_ms, .envelope = m->env, .envelope_len = m->env_len } };
        memcpy (r.t_mail.sender, m->sender, 32);
        memcpy (r.t_mail.msg_id, m->msg_id, WIRE_ID_SIZE);
        if (s_send (e, l, &r) != 0)
            continue;
        n++;
        free (e->last.env);
        e->last = *m;
        e->last.env = s_dup (m->env, m->env_len);
    }
    wire_frame_t end = { .type = WIRE_T_FOUND, .t_found = { .tag = f->t_fetch.tag } };
    s_send (e, l, &end);
    tool_print (json_pack ("{s:s, s:s, s:i, s:i}", "event", "fetch", "from", l->name, "items", n,
                        "fetches", l->fetches));
}

static void
s_on_ack (s_evil_t *e, s_link_t *l, const wire_frame_t *f)
{
    bool found = false;
    for (size_t i = 0; i < e->nmail && !found; i++) {
        s_item_t *m = &e->mail [i];
        if (memcmp (m->recipient, l->key, 32) == 0 && memcmp (m->sender, f->t_ack.sender, 32) == 0
        &&  memcmp (m->msg_id, f->t_ack.msg_id, WIRE_ID_SIZE) == 0) {
            free (m->env);
            memmove (m, m + 1, (e->nmail - i - 1) * sizeof *m);
            e->nmail--;
            found = true;
        }
    }
    l->acks++;
    tool_print (json_pack ("{s:s, s:s, s:o, s:o, s:b, s:i}", "event", "ack", "from", l->name,
                        "sender", s_who (e, f->t_ack.sender),
                        "msg_id", tool_hexj (f->t_ack.msg_id, WIRE_ID_SIZE), "held", found,
                        "acks", l->acks));
}

//  Answers with what registered: by key or by name.
static void
s_on_lookup (s_evil_t *e, s_link_t *l, const wire_frame_t *f)
{
    const __typeof__ (f->t_lookup) *q = &f->t_lookup;
    uint8_t buf [WIRE_TFOUND_MAX * WIRE_TENTRY_SIZE];
    size_t n = 0;
    for (size_t i = 0; i < e->nlinks && n < WIRE_TFOUND_MAX; i++) {
        s_link_t *o = &e->links [i];
        if (o->left)
            continue;
        if ((q->key_len == 32 && memcmp (q->key, o->sign_pk, 32) == 0)
        ||  (q->name_len && q->name_len == strlen (o->name) && memcmp (q->name, o->name, q->name_len) == 0))
            memcpy (buf + WIRE_TENTRY_SIZE * n++, o->entry, WIRE_TENTRY_SIZE);
    }
    wire_frame_t r = { .type = WIRE_T_FOUND, .t_found = {
        .tag = q->tag, .entries = buf, .entries_len = n * WIRE_TENTRY_SIZE } };
    s_send (e, l, &r);
    tool_print (json_pack ("{s:s, s:s, s:s%, s:i}", "event", "lookup", "from", l->name,
                        "name", q->name_len? q->name: "", q->name_len, "found", (int) n));
}

static void
s_on_frame (s_evil_t *e, const transport_rx_t *rx, const wire_frame_t *f)
{
    s_link_t *l = s_link (e, rx->key);
    if (l && (l->rid_len != rx->rid_len || memcmp (l->rid, rx->rid, rx->rid_len) != 0)) {
        memcpy (l->rid, rx->rid, rx->rid_len);          //  it reconnected
        l->rid_len = rx->rid_len;
    }
    if (f->type == WIRE_T_REGISTER)
        s_on_register (e, rx, f);
    else if (f->type == WIRE_T_PUT)
        s_on_put (e, l, rx, f);
    else if (!l)
        tool_print (json_pack ("{s:s, s:s}", "event", "unregistered", "type", wire_spec (f->type)->name));
    else if (f->type == WIRE_T_FETCH)
        s_on_fetch (e, l, f);
    else if (f->type == WIRE_T_ACK)
        s_on_ack (e, l, f);
    else if (f->type == WIRE_T_LOOKUP)
        s_on_lookup (e, l, f);
    else if (f->type == WIRE_T_LEAVE) {
        tool_print (json_pack ("{s:s, s:s}", "event", "leave", "from", l->name));
        l->left = true;
    }
    else
        tool_print (json_pack ("{s:s, s:s, s:s}", "event", "frame", "from", l->name,
                            "type", wire_spec (f->type)->name));
}

static void
s_read_router (s_evil_t *e)
{
    for (int k = 0; k < 256; k++) {
        transport_rx_t rx;
        int rc = transport_recv (e->t, &rx);
        if (rc == SC_EAGAIN)
            break;
        if (rc != 0)
            continue;
        wire_frame_t f;
        if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0)
            s_on_frame (e, &rx, &f);
        else
            tool_print (json_pack ("{s:s}", "event", "undecodable"));
        zmq_msg_close (&rx.msg);
    }
}

//  ---------------------------------------------------------------------
//  Commands

static void
s_cmd_introduce (s_evil_t *e)
{
    //  As the real tracker does: a node hears of those registered after
    //  it, so that one side of each pair dials
    wire_frame_t f = { .type = WIRE_T_NOTICE, .t_notice = {
        .joined = 1, .reason = "new", .reason_len = 3, .entry_len = WIRE_TENTRY_SIZE } };
    int sent = 0;
    for (size_t j = 0; j < e->nlinks; j++)
        for (size_t i = 0; i < j; i++)
            if (!e->links [i].left && !e->links [j].left) {
                f.t_notice.entry = e->links [j].entry;
                sent += s_send (e, &e->links [i], &f) == 0;
            }
    tool_print (json_pack ("{s:s, s:i}", "event", "introduced", "sent", sent));
}

static void
s_cmd_notice (s_evil_t *e, const char *name, const char *addr, int port)
{
    uint8_t entry [WIRE_TENTRY_SIZE];
    char fp [IDENTITY_FP_HEX_SIZE];
    if (s_throwaway_entry (name, addr, port, entry, fp) != 0)
        return;
    int sent = s_notice_all (e, entry, sizeof entry, NULL);
    tool_print (json_pack ("{s:s, s:s, s:s, s:s, s:i}", "event", "notice", "name", name, "addr", addr,
                        "id", fp, "sent", sent));
}

static void
s_cmd_noticeflood (s_evil_t *e, int n)
{
    int sent = 0;
    for (int k = 0; k < n; k++) {
        uint8_t entry [WIRE_TENTRY_SIZE];
        char fp [IDENTITY_FP_HEX_SIZE], name [24], addr [32];
        snprintf (name, sizeof name, "flood%d", k);
        //  127.0.X.Y from 127.0.2.1 on: nothing listens there
        snprintf (addr, sizeof addr, "127.0.%d.%d", 2 + (k + 1) / 250, 1 + (k + 1) % 250);
        if (s_throwaway_entry (name, addr, 9, entry, fp) == 0)
            sent += s_notice_all (e, entry, sizeof entry, NULL);
    }
    tool_print (json_pack ("{s:s, s:i, s:i}", "event", "noticeflood", "count", n, "sent", sent));
}

//  A throwaway key named name: a notice, and an answer to a lookup
//  (a tag of a lookup that the node never asked).
static void
s_cmd_claim (s_evil_t *e, const char *name)
{
    uint8_t entry [WIRE_TENTRY_SIZE];
    char fp [IDENTITY_FP_HEX_SIZE];
    if (s_throwaway_entry (name, "127.0.0.1", 9, entry, fp) != 0)
        return;
    int sent = s_notice_all (e, entry, sizeof entry, NULL);
    wire_frame_t f = { .type = WIRE_T_FOUND, .t_found = {
        .tag = (++e->seq << 4) | TCLIENT_REQ_LOOKUP, .entries = entry, .entries_len = sizeof entry } };
    for (size_t i = 0; i < e->nlinks; i++)
        if (!e->links [i].left)
            sent += s_send (e, &e->links [i], &f) == 0;
    tool_print (json_pack ("{s:s, s:s, s:s, s:i}", "event", "claim", "name", name, "id", fp,
                        "sent", sent));
}

static void
s_cmd_replay (s_evil_t *e, int n)
{
    if (!e->last.env) {
        tool_print (json_pack ("{s:s, s:s}", "event", "error", "error", "nothing handed over yet"));
        return;
    }
    int queued = 0;
    json_t *ids = json_array ();
    for (int k = 0; k < n; k++) {
        uint8_t id [WIRE_ID_SIZE];
        randombytes_buf (id, sizeof id);
        if (s_mail_add (e, e->last.recipient, e->last.sender, id, e->last.env, e->last.env_len) == 0) {
            json_array_append_new (ids, tool_hexj (id, sizeof id));
            queued++;
        }
    }
    s_mailnote (e, e->last.recipient);
    tool_print (json_pack ("{s:s, s:o, s:o, s:i, s:o}", "event", "replay",
                        "to", s_who (e, e->last.recipient), "from", s_who (e, e->last.sender),
                        "count", queued, "ids", ids));
}

//  Malformed frames and entries to every link: each one that the node
//  must count in /stats bad_frames is counted in expect_bad.
static void
s_cmd_garbage (s_evil_t *e)
{
    uint8_t good [WIRE_TENTRY_SIZE], noaddr [WIRE_TENTRY_SIZE], badsig [WIRE_TENTRY_SIZE],
            named [WIRE_TENTRY_SIZE], half [WIRE_TENTRY_SIZE + WIRE_TENTRY_SIZE / 2];
    char fp [IDENTITY_FP_HEX_SIZE];
    if (s_throwaway_entry ("junk", "127.0.0.1", 9, good, fp) != 0)
        return;
    memcpy (noaddr, good, sizeof good);
    memset (noaddr + RECORD_SIZE, 'A', WIRE_TADDR_SIZE);          //  no NUL: not text
    memcpy (badsig, good, sizeof good);
    badsig [RECORD_SIZE - 1] ^= 1;                                //  signature broken
    s_throwaway_entry ("junk", "evil.example", 9, named, fp);     //  not numeric
    memcpy (half, good, sizeof good);
    memcpy (half + sizeof good, good, sizeof half - sizeof good); //  1.5 entries
    static const uint8_t random_bytes [] = { 0xc1, 0xff, 0x00, 0x13, 0x37 };
    static const uint8_t unknown_type [] = { 0x92, 0x01, 0x63 };  //  [1, 99]
    static const uint8_t not_tracker [] = { 0x93, 0x01, 0x02, 0x07 }; //  PING on a tracker link
    static const uint8_t not_array [] = { 0xa3, 'a', 'b', 'c' };
    struct { const uint8_t *raw; size_t raw_len; wire_frame_t f; } bad [] = {
        { random_bytes, sizeof random_bytes, { 0 } },
        { unknown_type, sizeof unknown_type, { 0 } },
        { not_tracker, sizeof not_tracker, { 0 } },
        { not_array, sizeof not_array, { 0 } },
        { NULL, 0, { .type = WIRE_T_NOTICE, .t_notice = { .joined = 1, .reason = "new", .reason_len = 3,
                     .entry = good, .entry_len = sizeof good - 1 } } },
        { NULL, 0, { .type = WIRE_T_NOTICE, .t_notice = { .joined = 1, .reason = "new", .reason_len = 3,
                     .entry = noaddr, .entry_len = sizeof noaddr } } },
        { NULL, 0, { .type = WIRE_T_NOTICE, .t_notice = { .joined = 1, .reason = "new", .reason_len = 3,
                     .entry = badsig, .entry_len = sizeof badsig } } },
        { NULL, 0, { .type = WIRE_T_DIALED, .t_dialed = { .entry = named, .entry_len = sizeof named } } },
        { NULL, 0, { .type = WIRE_T_FOUND, .t_found = { .tag = (++e->seq << 4) | TCLIENT_REQ_LOOKUP,
                     .entries = half, .entries_len = sizeof half } } },
    };
    int frames = 0, expect = 0, links = 0;
    for (size_t i = 0; i < e->nlinks; i++)
        for (size_t k = 0; !e->links [i].left && k < sizeof bad / sizeof bad [0]; k++) {
            int rc = bad [k].raw? s_send_raw (e, &e->links [i], s_dup (bad [k].raw, bad [k].raw_len),
                                              bad [k].raw_len)
                                : s_send (e, &e->links [i], &bad [k].f);
            frames++;
            expect += rc == 0;
        }
    //  Junk mail from a key nobody knows: deleted unread (acked), not shown
    uint8_t stranger [32], id [WIRE_ID_SIZE], junk [64];
    randombytes_buf (stranger, sizeof stranger);
    randombytes_buf (junk, sizeof junk);
    for (size_t i = 0; i < e->nlinks; i++) {
        if (e->links [i].left)
            continue;
        links++;
        randombytes_buf (id, sizeof id);
        s_mail_add (e, e->links [i].key, stranger, id, junk, sizeof junk);
        s_mailnote (e, e->links [i].key);
    }
    tool_print (json_pack ("{s:s, s:i, s:i, s:i}", "event", "garbage", "frames", frames,
                        "expect_bad", expect, "links", links));
}

//  Runs one command line; false at quit.
static bool
s_command (s_evil_t *e, char *line)
{
    char *save, *cmd = strtok_r (line, " ", &save);
    char *a1 = strtok_r (NULL, " ", &save), *a2 = strtok_r (NULL, " ", &save);
    char *a3 = strtok_r (NULL, " ", &save);
    if (!cmd)
        return true;
    if (strcmp (cmd, "quit") == 0)
        return false;
    if (strcmp (cmd, "introduce") == 0)
        s_cmd_introduce (e);
    else if (strcmp (cmd, "notice") == 0 && a1 && a2)
        s_cmd_notice (e, a1, a2, a3? atoi (a3): 9);
    else if (strcmp (cmd, "noticeflood") == 0 && a1)
        s_cmd_noticeflood (e, atoi (a1));
    else if (strcmp (cmd, "claim") == 0 && a1)
        s_cmd_claim (e, a1);
    else if (strcmp (cmd, "replay") == 0 && a1)
        s_cmd_replay (e, atoi (a1));
    else if (strcmp (cmd, "garbage") == 0)
        s_cmd_garbage (e);
    else
        tool_print (json_pack ("{s:s, s:s}", "event", "error", "error", "unknown command"));
    return true;
}

static bool
s_command_line (void *arg, char *line)
{
    return s_command (arg, line);
}

//  Reads the UDP socket: answers record requests with our record, kept fresh.
static void
s_read_udp (s_evil_t *e)
{
    int64_t now = tool_now_ms ();
    if (now - e->record_at > 10000) {
        record_make (e->id, "evil-tracker", (uint16_t) transport_port (e->t), 0, now, e->record);
        e->record_at = now;
    }
    resolve_answer_t answer;
    while (resolve_recv (e->resolve, now, e->record, &answer) == 0)
        ;
}

int
main (int argc, char **argv)
{
    static const struct option longopts [] = {
        { "home", required_argument, NULL, 'H' }, { "bind", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 } };
    const char *home = NULL;
    static s_evil_t e;
    snprintf (e.host, sizeof e.host, "127.0.0.1");
    int o;
    while ((o = getopt_long (argc, argv, "", longopts, NULL)) != -1)
        switch (o) {
            case 'H': home = optarg; break;
            case 'b': snprintf (e.host, sizeof e.host, "%s", optarg); break;
            default: goto usage;
        }
    if (optind != argc || sodium_init () < 0)
        goto usage;
    bool created;
    if (home? identity_open_home (home, NULL, &e.id, &created) != 0: !(e.id = identity_generate ())) {
        fprintf (stderr, "sc-evil-tracker: no identity\n");
        return 1;
    }
    int err;
    e.t = transport_new (e.id, e.host, 0, &err);
    e.resolve = e.t? resolve_new (e.host, transport_port (e.t), &err): NULL;
    if (!e.resolve) {
        fprintf (stderr, "sc-evil-tracker: cannot bind %s (%s)\n", e.host, sc_strerror (err));
        return 1;
    }
    int port = transport_port (e.t);
    e.record_at = tool_now_ms ();
    record_make (e.id, "evil-tracker", (uint16_t) port, 0, e.record_at, e.record);
    char fp [IDENTITY_FP_HEX_SIZE], address [160];
    identity_fingerprint_hex (identity_sign_pk (e.id), fp);
    snprintf (address, sizeof address, "%s@tcp://%s:%d", fp, e.host, port);
    tool_print (json_pack ("{s:s, s:s, s:s, s:i}", "event", "ready", "address", address, "id", fp,
                        "port", port));
    tool_input_t in = { .have = 0 };
    bool running = true;
    while (running) {
        zmq_pollitem_t items [4] = { { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 },
                                     { transport_router (e.t), 0, ZMQ_POLLIN, 0 },
                                     { transport_zap (e.t), 0, ZMQ_POLLIN, 0 },
                                     { NULL, resolve_fd (e.resolve), ZMQ_POLLIN, 0 } };
        if (transport_poll (items, 4, 500) < 0)
            break;
        if (items [2].revents)
            while (transport_zap_handle (e.t) == 0)
                ;
        if (items [1].revents)
            s_read_router (&e);
        if (items [3].revents)
            s_read_udp (&e);
        if (items [0].revents && !tool_read_lines (&in, s_command_line, &e))
            running = false;
    }
    for (size_t i = 0; i < e.nmail; i++)
        free (e.mail [i].env);
    free (e.last.env);
    resolve_destroy (&e.resolve);
    transport_destroy (&e.t);
    identity_destroy (&e.id);
    return 0;
usage:
    fprintf (stderr, "usage: sc-evil-tracker [--home DIR] [--bind HOST]\n");
    return 2;
}

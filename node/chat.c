/*  chat: sealed chat lines and their receipts.  See chat.h.  */
#define LOG_MODULE "chat"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../crypto/base/utf8.h"
#include "chat.h"
#include "link.h"

struct _chat_t {
    const identity_t *id;
    envelope_opener_t *opener;
    peers_t *peers;
    history_t *history;
    ui_t *ui;
    chat_host_t host;
    int budget;                 //  seals left in this loop pass
    bool more;                  //  a message waits only for the next pass
    size_t pump_next;           //  the peer the next pass starts with
    bool history_failing;       //  told once
    uint64_t refused;
};

chat_t *
chat_new (const identity_t *id, envelope_opener_t *opener, peers_t *peers,
          history_t *history, ui_t *ui, const chat_host_t *host)
{
    chat_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    *self = (chat_t) { .id = id, .opener = opener, .peers = peers, .history = history,
                       .ui = ui, .host = *host, .budget = CHAT_SEND_BUDGET };
    return self;
}

void
chat_destroy (chat_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t chat_refused (chat_t *self) { return self->refused; }
bool chat_more (chat_t *self) { return self->more; }

void
chat_pass (chat_t *self)
{
    self->budget = CHAT_SEND_BUDGET;
    self->more = false;
}

static void
s_hex_id (const uint8_t id [ENVELOPE_ID_SIZE], char out [2 * ENVELOPE_ID_SIZE + 1])
{
    sodium_bin2hex (out, 2 * ENVELOPE_ID_SIZE + 1, id, ENVELOPE_ID_SIZE);
}

//  Seals a chat body (kind, text) for peer under id at time ts.
static int
s_seal (chat_t *self, peer_t *peer, unsigned kind, const char *text, size_t text_len,
        const uint8_t id [ENVELOPE_ID_SIZE], int64_t ts, uint8_t **env, size_t *env_len)
{
    wire_chat_t chat = { .kind = kind, .text = text, .text_len = text_len };
    uint8_t *body = NULL;
    size_t body_len;
    int rc = wire_chat_encode (&chat, &body, &body_len);
    if (rc == 0)
        rc = envelope_seal (self->id, peer->sign_pk, peer->box_pk, ts, body, body_len, id,
                            env, env_len);
    free (body);
    return rc;
}

static int
s_send_message (chat_t *self, peer_t *peer, peers_out_t *m, int64_t wall)
{
    wire_chat_t chat = { .kind = m->kind, .text = m->text, .text_len = strlen (m->text) };
    uint8_t *body = NULL, *env = NULL;
    size_t body_len, env_len;
    int rc = wire_chat_encode (&chat, &body, &body_len);
    //  A message keeps the time it was written while the recipient's
    //  window surely takes it (a copy may be in a mailbox with that time)
    int64_t ts = m->wall && wall - m->wall < ENVELOPE_PAST_MS / 2? m->wall: wall;
    if (rc == 0)
        rc = envelope_seal (self->id, peer->sign_pk, peer->box_pk, ts,
                            body, body_len, m->msg_id, &env, &env_len);
    if (rc == 0) {
        wire_frame_t f = { .type = WIRE_MSG, .msg = { .envelope = env, .envelope_len = env_len } };
        rc = self->host.send (self->host.arg, peer, &f);
    }
    free (body);
    free (env);
    return rc;
}

//  True when the next frame to the peer takes the link its messages in
//  flight took.  Two links deliver in no order between them: a new message
//  waits until the old link's are acknowledged before it takes a new one.
static bool
s_link_same (const peer_t *peer)
{
    const uint8_t *rid;
    size_t rid_len;
    uint32_t gen;
    if (link_route (peer->link, &rid, &rid_len, &gen))
        return peer->chat_rid_len == 0 && peer->chat_gen == gen;
    return peer->chat_rid_len == rid_len && memcmp (peer->chat_rid, rid, rid_len) == 0;
}

static void
s_link_note (peer_t *peer)
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
s_spend (chat_t *self)
{
    if (self->budget <= 0) {
        self->more = true;
        return false;
    }
    self->budget--;
    return true;
}

//  Sends what waits for a peer that is online, oldest first: receipts owed,
//  messages whose receipt is overdue, then new messages while the window
//  has room and the pass's budget lasts.  A send the link refuses (full, or
//  gone) ends the turn: that message and all after it stay where they are
//  and go on a later pass, so nothing overtakes an older message.
static void
s_flush (chat_t *self, peer_t *peer, int64_t now, int64_t wall)
{
    if (!link_up (peer->link))
        return;
    while (peer->owed_len) {
        wire_frame_t f = { .type = WIRE_RECEIPT };
        memcpy (f.receipt.msg_id, peer->owed [peer->owed_len - 1], ENVELOPE_ID_SIZE);
        if (self->host.send (self->host.arg, peer, &f) != 0)
            return;
        peer->owed_len--;
    }
    //  Their receipts may have met a full link: the peer answers a copy it
    //  has seen with a receipt again
    for (size_t i = 0; i < peers_outbox_in_flight (peer); i++) {
        peers_out_t *m = peers_outbox_at (peer, i);
        if (now - m->sent_at < CHAT_RESEND_MS)
            continue;
        if (!s_spend (self) || s_send_message (self, peer, m, wall) != 0)
            return;
        m->sent_at = now;
    }
    while (peers_outbox_next (peer)) {
        if (peers_outbox_in_flight (peer) && !s_link_same (peer))
            return;             //  the receipts bring it back here
        if (!s_spend (self) || s_send_message (self, peer, peers_outbox_next (peer), wall) != 0)
            return;
        s_link_note (peer);
        peers_outbox_mark_sent (peer, now);
    }
}

void
chat_pump (chat_t *self, int64_t now, int64_t wall)
{
    size_t n = peers_size (self->peers);
    for (size_t k = 0; k < n && self->budget > 0; k++) {
        peer_t *peer = peers_at (self->peers, (self->pump_next + k) % n);
        if (peers_outbox_len (peer) || peer->owed_len)
            s_flush (self, peer, now, wall);
    }
    self->pump_next = n? (self->pump_next + 1) % n: 0;
}

void
chat_peer_up (chat_t *self, peer_t *peer, int64_t now, int64_t wall)
{
    peers_outbox_rewind (peer);
    s_flush (self, peer, now, wall);
}

static void
s_history (chat_t *self, peer_t *peer, const char *dir, const char *text, bool priv,
           const char *msg_id, int64_t wall)
{
    time_t t = (time_t) (wall / 1000);
    struct tm tm;
    char when [32];
    localtime_r (&t, &tm);
    strftime (when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    json_t *e = json_pack ("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
                           "ts", (json_int_t) wall, "time", when, "dir", dir,
                           "peer", peer->id, "name", peer->name, "text", text,
                           "private", priv, "msg_id", msg_id);
    int rc = e? history_append (self->history, e): SC_ENOMEM;
    json_decref (e);
    //  Told once, and again after it worked in between: a full disk must
    //  not print a line per message
    if (rc != 0 && !self->history_failing)
        ui_warning (self->ui, "save_failed", "the chat history could not be saved: %s",
                    sc_strerror (rc));
    self->history_failing = rc != 0;
}

int
chat_queue (chat_t *self, peer_t *peer, unsigned kind, const char *text,
            int64_t now, int64_t wall, char *err, size_t err_size)
{
    peers_out_t *m;
    int rc = peers_outbox_add (peer, kind, text, &m);
    if (rc == SC_EAGAIN) {
        double mib = (double) peers_outbox_bytes (peer) / (1024 * 1024);
        if (link_up (peer->link))
            snprintf (err, err_size,
                      "the outbox to %s is full (%zu messages, %.1f MiB, waiting for receipts): "
                      "not queued; %s is online and they are going out, so try again in a moment",
                      peer->name, peers_outbox_len (peer), mib, peer->name);
        else
            snprintf (err, err_size,
                      "the outbox to %s is full (%zu messages, %.1f MiB, kept while %s is away): "
                      "not queued; try again when %s is back",
                      peer->name, peers_outbox_len (peer), mib, peer->name, peer->name);
        return SC_EFULL;
    }
    if (rc != 0) {
        snprintf (err, err_size, "the message to %s was not queued: %s", peer->name, sc_strerror (rc));
        return rc;
    }
    char msg_id [33];
    s_hex_id (m->msg_id, msg_id);
    //  Times strictly increase per peer: the recipient orders mail by them
    m->wall = wall > peer->last_wall? wall: peer->last_wall + 1;
    peer->last_wall = m->wall;
    //  On the wire first; reporting and the history are off the critical path
    bool online = link_up (peer->link);
    s_flush (self, peer, now, wall);
    //  A private line to a peer away is also left at a tracker, sealed,
    //  with the same id: whichever copy comes first is shown, once
    bool mailed = false;
    if (!online && kind == 0 && self->host.mail) {
        uint8_t id [ENVELOPE_ID_SIZE];
        memcpy (id, m->msg_id, sizeof id);
        uint8_t *env = NULL;
        size_t env_len;
        if (s_seal (self, peer, kind, text, strlen (text), id, m->wall, &env, &env_len) == 0)
            mailed = self->host.mail (self->host.arg, peer, id, env, env_len) == 0;
        free (env);
    }
    ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:b, s:o}", "event", "sent",
                                  "to", peer->id, "name", peer->name, "msg_id", msg_id,
                                  "private", kind == 0,
                                  "queued", mailed? json_string ("tracker"): json_boolean (!online)));
    s_history (self, peer, "out", text, kind == 0, msg_id, wall);
    return 0;
}

//  A receipt the link does not take now is kept and sent when it does
//  (receipts need no order; if too many are owed, the peer's re-send of
//  the message asks again).
static void
s_send_receipt (chat_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    wire_frame_t f = { .type = WIRE_RECEIPT };
    memcpy (f.receipt.msg_id, msg_id, ENVELOPE_ID_SIZE);
    if (self->host.send (self->host.arg, peer, &f) != 0)
        peers_receipt_owe (peer, msg_id);
}

//  A receipt for a message that came by mailbox, with no link to answer
//  on: it goes back the same way, sealed (kind 2, the id as text).
static void
s_mail_receipt (chat_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE], int64_t wall)
{
    if (link_up (peer->link) || !self->host.mail) {
        s_send_receipt (self, peer, msg_id);
        return;
    }
    char hex [33];
    s_hex_id (msg_id, hex);
    uint8_t id [ENVELOPE_ID_SIZE], *env = NULL;
    size_t env_len;
    randombytes_buf (id, sizeof id);
    if (s_seal (self, peer, 2, hex, 32, id, wall, &env, &env_len) == 0)
        self->host.mail (self->host.arg, peer, id, env, env_len);
    free (env);
}

static void
s_receipt_for (chat_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE], bool by_mail,
               int64_t wall)
{
    if (by_mail)
        s_mail_receipt (self, peer, msg_id, wall);
    else
        s_send_receipt (self, peer, msg_id);
}

static void s_settle (chat_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE]);

//  Opens an envelope from peer (on its link, or from a mailbox with a
//  longer window), shows it once and answers it.  Returns 0, SC_EREPLAY
//  or why it was refused.
static int
s_open (chat_t *self, peer_t *peer, const uint8_t *sealed, size_t len, int64_t wall,
        int64_t past_ms, bool by_mail)
{
    envelope_msg_t msg;
    int rc = envelope_open_window (self->opener, sealed, len, peer->sign_pk, wall, past_ms, &msg);
    if (rc == SC_EREPLAY) {
        //  Ours may have been lost: answered again on a link.  A mailbox
        //  copy already shown was caught by its id before this; one that
        //  comes here under another item id only a tracker can have made,
        //  and must not make us leave new mail at each replay
        if (!by_mail || link_up (peer->link))
            s_send_receipt (self, peer, msg.msg_id);
        return rc;
    }
    if (rc != 0) {
        self->refused++;
        ui_warning (self->ui, sc_errname (rc), "a message from %s (%.16s)%s was refused: %s",
                    peer->name, peer->id, by_mail? " left at a tracker": "", sc_strerror (rc));
        return rc;
    }
    wire_chat_t chat;
    rc = wire_chat_decode (msg.body, msg.body_len, &chat);
    uint8_t settles [ENVELOPE_ID_SIZE];
    if (rc == 0 && chat.kind == 2) {
        //  A receipt that came by mailbox
        char hex [33];
        size_t n;
        if (chat.text_len == 32 && (memcpy (hex, chat.text, 32), hex [32] = 0,
            sodium_hex2bin (settles, sizeof settles, hex, 32, NULL, &n, NULL) == 0) && n == 16)
            s_settle (self, peer, settles);
    }
    else if (rc == 0) {
        char *text = utf8_sanitize (chat.text, chat.text_len);
        char msg_id [33];
        s_hex_id (msg.msg_id, msg_id);
        if (text) {
            //  Shown in an earlier run (a copy from a mailbox, or a re-send)
            bool seen = self->host.seen && self->host.seen (self->host.arg, msg.from, msg.msg_id, wall);
            //  As for a replay above: a mailbox copy shown before comes here
            //  only under another item id (the same one was caught by its
            //  id), which only a tracker can have made; answered on a link
            //  only, or each restart would leave new mail for each replay
            if (!seen || !by_mail || link_up (peer->link))
                s_receipt_for (self, peer, msg.msg_id, by_mail, wall);
            if (seen)
                rc = SC_EREPLAY;
            else {
                json_t *ev = json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s, s:I}",
                                        "event", "message", "from", peer->id, "name", peer->name,
                                        "text", text, "private", chat.kind == 0,
                                        "msg_id", msg_id, "ts", (json_int_t) msg.ts_ms);
                if (ev && by_mail)
                    json_object_set_new (ev, "mailbox", json_true ());
                ui_emit (self->ui, ev);
                s_history (self, peer, "in", text, chat.kind == 0, msg_id, wall);
            }
        }
        free (text);
    }
    else {
        self->refused++;
        ui_warning (self->ui, "malformed", "a message from %s (%.16s) has a malformed body",
                    peer->name, peer->id);
    }
    envelope_msg_clear (&msg);
    return rc;
}

void
chat_on_msg (chat_t *self, peer_t *peer, const wire_frame_t *f, int64_t wall)
{
    s_open (self, peer, f->msg.envelope, f->msg.envelope_len, wall, ENVELOPE_PAST_MS, false);
}

int
chat_on_mail (chat_t *self, peer_t *peer, const uint8_t *env, size_t env_len, int64_t wall,
              int64_t past_ms)
{
    return s_open (self, peer, env, env_len, wall, past_ms, true);
}

static void
s_settle (chat_t *self, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE])
{
    if (peers_outbox_remove (peer, msg_id)) {
        char hex [33];
        s_hex_id (msg_id, hex);
        ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s}", "event", "delivered",
                                      "to", peer->id, "name", peer->name, "msg_id", hex));
    }
}

void
chat_on_receipt (chat_t *self, peer_t *peer, const wire_frame_t *f)
{
    s_settle (self, peer, f->receipt.msg_id);
}

static bool
s_on_frame (void *arg, const uint8_t peer_pk [32], const wire_frame_t *f, int64_t now_ms)
{
    chat_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer)
        return false;
    if (f->type == WIRE_MSG)
        chat_on_msg (self, peer, f, self->host.wall (self->host.arg));
    else
        chat_on_receipt (self, peer, f);
    return true;
}

int
chat_register (chat_t *self, wire_handlers_t *handlers)
{
    int rc = wire_handle (handlers, WIRE_MSG, s_on_frame, self);
    if (rc == 0)
        rc = wire_handle (handlers, WIRE_RECEIPT, s_on_frame, self);
    return rc;
}

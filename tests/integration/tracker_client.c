/*  sc-tracker-client: speaks securechat-tracker's frames (node/wire.h, T_*)
    with a fresh identity or one under --home, honest or hostile, for the
    tests of the tracker.
      sc-tracker-client [--home DIR] [--name NAME] [--source ADDR] FP@tcp://HOST:PORT
    Asks HOST:PORT for the tracker's record over UDP (its fingerprint must
    be FP), links to it with CURVE (from ADDR when given: the tracker then
    sees that source address), prints {"answer":"ready",...}, then reads
    one command a line on stdin and prints one JSON line per answer (and
    one per pushed notice, dial-back or mail note):
      register [NAME]           T_REGISTER of our record
      leave                     T_LEAVE of our key
      foreign                   registers a record whose X25519 key is not
                                this link's (another identity's)
      lookup key HEX64 | lookup prefix HEX | lookup name NAME
      list [CURSOR]
      put FP-PREFIX TEXT        seals TEXT to a record seen in an answer
                                (lookup, list, notice) and leaves it
      fetch                     T_FETCH; each T_MAIL is opened and shown
      ack                       T_ACK of every item fetched and not acked
      dial KEY-PREFIX           T_DIAL of a record seen in an answer
      status                    T_STATUS: every counter
      flood N                   N registrations, each from a throwaway key
                                on a link of its own (32 at a time); one
                                line with the answers counted by code
      fetchstorm N              N fetches, pipelined; one line as for storm
      storm N                   N lookups of random keys, pipelined; one
                                line with the answers counted
      quit
    Exits at quit or when stdin closes.  */
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../crypto/envelope.h"
#include "../../crypto/base/err.h"
#include "../../discovery/record.h"
#include "../../discovery/udp.h"
#include "../../node/transport.h"
#include "../../node/wire.h"
#include "tool.h"

#define SEEN_MAX 256
#define HELD_MAX 256
#define FLOOD_WINDOW 32

typedef struct {
    identity_t *id;
    transport_t *t;
    void *dealer;
    void *ctx;                          //  for the throwaway links of flood
    char endpoint [160];
    record_t tracker;
    char name [RECORD_NAME_MAX + 1];
    uint64_t tag;
    record_t seen [SEEN_MAX];           //  records from answers, for put and dial
    size_t nseen;
    struct { uint8_t sender [32], msg_id [WIRE_ID_SIZE]; } held [HELD_MAX];
    size_t nheld;
    envelope_opener_t *opener;
} s_client_t;

static int
s_send_on (void *dealer, const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (f, &buf, &len);
    return rc? rc: transport_send_owned (dealer, &buf, len);
}

//  Entries as a JSON array; each record verified and remembered.
static json_t *
s_entries (s_client_t *c, const uint8_t *entries, size_t len)
{
    json_t *list = json_array ();
    const uint8_t *raw;
    char addr [WIRE_TADDR_SIZE];
    for (size_t i = 0; wire_tentry_at (entries, len, i, &raw, addr) == 0; i++) {
        record_t rec;
        if (record_decode (raw, RECORD_SIZE, &rec) != 0) {
            json_array_append_new (list, json_pack ("{s:s}", "error", "bad record"));
            continue;
        }
        char fp [IDENTITY_FP_HEX_SIZE];
        identity_fingerprint_hex (rec.sign_pk, fp);
        json_array_append_new (list, json_pack ("{s:s, s:s, s:o, s:o, s:s, s:i}", "id", fp, "name",
                                                rec.name, "key", tool_hexj (rec.box_pk, 32),
                                                "sign", tool_hexj (rec.sign_pk, 32),
                                                "addr", addr, "port", rec.port));
        size_t k = 0;
        while (k < c->nseen && memcmp (c->seen [k].sign_pk, rec.sign_pk, 32) != 0)
            k++;
        if (k < SEEN_MAX) {
            c->seen [k] = rec;
            c->nseen += k == c->nseen;
        }
    }
    return list;
}

//  A record seen whose fingerprint starts with prefix.
static const record_t *
s_seen (s_client_t *c, const char *prefix)
{
    for (size_t i = 0; i < c->nseen; i++) {
        char fp [IDENTITY_FP_HEX_SIZE];
        identity_fingerprint_hex (c->seen [i].sign_pk, fp);
        if (*prefix && strncasecmp (fp, prefix, strlen (prefix)) == 0)
            return &c->seen [i];
    }
    return NULL;
}

static json_t *
s_refused_json (const wire_frame_t *f)
{
    const wire_spec_t *spec = wire_spec ((int) f->t_refused.type);
    return json_pack ("{s:s, s:s, s:I, s:s%, s:I}", "answer", "refused", "request",
                      spec? spec->name: "?", "tag", (json_int_t) f->t_refused.tag, "code",
                      f->t_refused.code, f->t_refused.code_len,
                      "retry_ms", (json_int_t) f->t_refused.retry_ms);
}

//  Prints what the tracker sent on our link.
static void
s_on_frame (s_client_t *c, const wire_frame_t *f)
{
    switch (f->type) {
        case WIRE_T_REGISTERED:
            tool_print (json_pack ("{s:s, s:I, s:I, s:s%}", "answer", "registered",
                                "tag", (json_int_t) f->t_registered.tag,
                                "ttl_ms", (json_int_t) f->t_registered.ttl_ms,
                                "addr", f->t_registered.addr, f->t_registered.addr_len));
            break;
        case WIRE_T_FOUND:
            tool_print (json_pack ("{s:s, s:I, s:o}", "answer", "found",
                                "tag", (json_int_t) f->t_found.tag,
                                "entries", s_entries (c, f->t_found.entries, f->t_found.entries_len)));
            break;
        case WIRE_T_PAGE:
            tool_print (json_pack ("{s:s, s:I, s:o, s:I}", "answer", "page",
                                "tag", (json_int_t) f->t_page.tag,
                                "entries", s_entries (c, f->t_page.entries, f->t_page.entries_len),
                                "next", (json_int_t) f->t_page.next));
            break;
        case WIRE_T_NOTICE:
            tool_print (json_pack ("{s:s, s:b, s:s%, s:o}", "answer", "notice",
                                "joined", f->t_notice.joined, "reason", f->t_notice.reason,
                                f->t_notice.reason_len,
                                "entries", s_entries (c, f->t_notice.entry, f->t_notice.entry_len)));
            break;
        case WIRE_T_DIALED:
            tool_print (json_pack ("{s:s, s:o}", "answer", "dialed",
                                "entries", s_entries (c, f->t_dialed.entry, f->t_dialed.entry_len)));
            break;
        case WIRE_T_STORED:
            tool_print (json_pack ("{s:s, s:I, s:o}", "answer", "stored",
                                "tag", (json_int_t) f->t_stored.tag,
                                "msg_id", tool_hexj (f->t_stored.msg_id, WIRE_ID_SIZE)));
            break;
        case WIRE_T_MAILNOTE:
            tool_print (json_pack ("{s:s, s:I}", "answer", "mailnote",
                                "count", (json_int_t) f->t_mailnote.count));
            break;
        case WIRE_T_MAIL: {
            envelope_msg_t msg;
            int rc = envelope_open (c->opener, f->t_mail.envelope, f->t_mail.envelope_len, NULL,
                                    tool_now_ms (), &msg);
            wire_chat_t chat = { 0 };
            bool text = rc == 0 && wire_chat_decode (msg.body, msg.body_len, &chat) == 0;
            tool_print (json_pack ("{s:s, s:o, s:o, s:I, s:s, s:s%, s:I}", "answer", "mail",
                                "sender", tool_hexj (f->t_mail.sender, 32),
                                "msg_id", tool_hexj (f->t_mail.msg_id, WIRE_ID_SIZE),
                                "stored_ms", (json_int_t) f->t_mail.stored_ms,
                                "open", rc == 0? "ok": sc_errname (rc),
                                "text", text? chat.text: "", text? chat.text_len: 0,
                                "ts_ms", (json_int_t) (rc == 0? msg.ts_ms: 0)));
            if (rc == 0)
                envelope_msg_clear (&msg);
            if (c->nheld < HELD_MAX) {
                memcpy (c->held [c->nheld].sender, f->t_mail.sender, 32);
                memcpy (c->held [c->nheld].msg_id, f->t_mail.msg_id, WIRE_ID_SIZE);
                c->nheld++;
            }
            break;
        }
        case WIRE_T_STATS: {
            wire_counter_t counters [WIRE_COUNTERS_MAX];
            size_t n;
            json_t *j = json_pack ("{s:s, s:I}", "answer", "stats", "tag",
                                   (json_int_t) f->t_stats.tag);
            if (wire_counters_decode (f->t_stats.counters, f->t_stats.counters_len, counters,
                                      WIRE_COUNTERS_MAX, &n) == 0)
                for (size_t i = 0; i < n; i++) {
                    char name [64];
                    snprintf (name, sizeof name, "%.*s", (int) counters [i].name_len, counters [i].name);
                    json_object_set_new (j, name, json_integer ((json_int_t) counters [i].value));
                }
            tool_print (j);
            break;
        }
        case WIRE_T_REFUSED:
            tool_print (s_refused_json (f));
            break;
        default:
            tool_print (json_pack ("{s:s, s:s}", "answer", "other", "type", wire_spec (f->type)->name));
    }
}

//  Reads what waits on our link.
static void
s_read (s_client_t *c)
{
    transport_rx_t rx;
    while (transport_recv_dealer (c->dealer, &rx) == 0) {
        wire_frame_t f;
        if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0)
            s_on_frame (c, &f);
        else
            tool_print (json_pack ("{s:s}", "answer", "undecodable"));
        zmq_msg_close (&rx.msg);
    }
}

//  A DEALER of its own for identity id, on the client's context.
static void *
s_throwaway_link (s_client_t *c, const identity_t *id)
{
    void *d = zmq_socket (c->ctx, ZMQ_DEALER);
    int linger = 0;
    if (!d || zmq_setsockopt (d, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (d, ZMQ_CURVE_SERVERKEY, c->tracker.box_pk, 32)
    ||  zmq_setsockopt (d, ZMQ_CURVE_PUBLICKEY, identity_box_pk (id), 32)
    ||  zmq_setsockopt (d, ZMQ_CURVE_SECRETKEY, identity_box_sk (id), 32)
    ||  zmq_connect (d, c->endpoint) != 0) {
        if (d)
            zmq_close (d);
        return NULL;
    }
    return d;
}

//  Adds one answer's code to counts.
static void
s_count (json_t *counts, const char *code)
{
    json_t *v = json_object_get (counts, code);
    json_object_set_new (counts, code, json_integer (v? json_integer_value (v) + 1: 1));
}

static void
s_flood (s_client_t *c, int n)
{
    struct { identity_t *id; void *d; int64_t end; } w [FLOOD_WINDOW] = { { 0 } };
    json_t *counts = json_object ();
    int started = 0, done = 0, registered = 0;
    int64_t t0 = tool_now_ms ();
    while (done < n) {
        for (int i = 0; i < FLOOD_WINDOW && started < n; i++)
            if (!w [i].d) {
                uint8_t rec [RECORD_SIZE];
                char name [24];
                snprintf (name, sizeof name, "flood%d", started);
                w [i].id = identity_generate ();
                w [i].d = w [i].id? s_throwaway_link (c, w [i].id): NULL;
                started++;
                if (!w [i].d || record_make (w [i].id, name, 1, 0, tool_now_ms (), rec) != 0) {
                    s_count (counts, "local_error");
                    done++;
                    identity_destroy (&w [i].id);
                    continue;
                }
                wire_frame_t f = { .type = WIRE_T_REGISTER, .t_register = {
                    .tag = (uint64_t) started, .record = rec, .record_len = RECORD_SIZE } };
                s_send_on (w [i].d, &f);
                w [i].end = tool_now_ms () + 10000;
            }
        zmq_pollitem_t items [FLOOD_WINDOW];
        int map [FLOOD_WINDOW], k = 0;
        for (int i = 0; i < FLOOD_WINDOW; i++)
            if (w [i].d) {
                items [k] = (zmq_pollitem_t) { w [i].d, 0, ZMQ_POLLIN, 0 };
                map [k++] = i;
            }
        if (k == 0)
            continue;
        zmq_poll (items, k, 100);
        int64_t now = tool_now_ms ();
        for (int j = 0; j < k; j++) {
            int i = map [j];
            const char *code = NULL;
            char refused [WIRE_TCODE_MAX + 1];
            if (items [j].revents) {
                transport_rx_t rx;
                if (transport_recv_dealer (w [i].d, &rx) == 0) {
                    wire_frame_t f;
                    if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) != 0)
                        code = "undecodable";
                    else if (f.type == WIRE_T_REGISTERED) {
                        code = "registered";
                        registered++;
                    }
                    else if (f.type == WIRE_T_REFUSED) {
                        snprintf (refused, sizeof refused, "%.*s", (int) f.t_refused.code_len,
                                  f.t_refused.code);
                        code = refused;
                    }
                    zmq_msg_close (&rx.msg);
                }
            }
            else if (now > w [i].end)
                code = "no_answer";
            if (code) {
                s_count (counts, code);
                zmq_close (w [i].d);
                w [i].d = NULL;
                identity_destroy (&w [i].id);
                done++;
            }
        }
    }
    tool_print (json_pack ("{s:s, s:i, s:i, s:o, s:I}", "answer", "flood", "sent", n,
                        "registered", registered, "codes", counts,
                        "ms", (json_int_t) (tool_now_ms () - t0)));
}

//  n requests pipelined (lookups of random keys, or fetches), answers
//  counted by kind.
static void
s_storm (s_client_t *c, int n, bool fetch)
{
    json_t *counts = json_object ();
    int sent = 0, answered = 0;
    int64_t t0 = tool_now_ms (), end = t0 + 30000;
    while (answered < n && tool_now_ms () < end) {
        while (sent < n && sent - answered < 64) {
            uint8_t key [32];
            randombytes_buf (key, sizeof key);
            wire_frame_t f = { .type = WIRE_T_LOOKUP, .t_lookup = {
                .tag = (uint64_t) ++sent, .key = key, .key_len = 32 } };
            if (fetch)
                f = (wire_frame_t) { .type = WIRE_T_FETCH, .t_fetch = { .tag = (uint64_t) sent } };
            s_send_on (c->dealer, &f);
        }
        zmq_pollitem_t item = { c->dealer, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        transport_rx_t rx;
        while (transport_recv_dealer (c->dealer, &rx) == 0) {
            wire_frame_t f;
            if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0) {
                if (f.type == WIRE_T_FOUND) {
                    s_count (counts, f.t_found.entries_len? "found": "not_found");
                    answered++;
                }
                else if (f.type == WIRE_T_REFUSED) {
                    char code [WIRE_TCODE_MAX + 1];
                    snprintf (code, sizeof code, "%.*s", (int) f.t_refused.code_len, f.t_refused.code);
                    s_count (counts, code);
                    answered++;
                }
            }
            zmq_msg_close (&rx.msg);
        }
    }
    tool_print (json_pack ("{s:s, s:i, s:i, s:o, s:I}", "answer", "storm", "sent", sent,
                        "answered", answered, "codes", counts, "ms", (json_int_t) (tool_now_ms () - t0)));
}

//  Runs one command line; false at quit.
static bool
s_command (s_client_t *c, char *line)
{
    char *save, *cmd = strtok_r (line, " ", &save);
    char *arg = strtok_r (NULL, " ", &save);
    char *rest = arg && save && *save? save: NULL;     //  the rest of the line
    wire_frame_t f = { 0 };
    uint64_t tag = ++c->tag;
    uint8_t rec [RECORD_SIZE];
    if (!cmd)
        return true;
    if (strcmp (cmd, "quit") == 0)
        return false;
    if (strcmp (cmd, "register") == 0 || strcmp (cmd, "foreign") == 0) {
        identity_t *other = strcmp (cmd, "foreign") == 0? identity_generate (): NULL;
        record_make (other? other: c->id, arg? arg: c->name,
                     (uint16_t) transport_port (c->t), 0, tool_now_ms (), rec);
        identity_destroy (&other);
        f = (wire_frame_t) { .type = WIRE_T_REGISTER, .t_register = {
            .tag = tag, .record = rec, .record_len = RECORD_SIZE } };
    }
    else if (strcmp (cmd, "leave") == 0) {
        f = (wire_frame_t) { .type = WIRE_T_LEAVE, .t_leave = { .tag = tag } };
        memcpy (f.t_leave.key, identity_sign_pk (c->id), 32);
    }
    else if (strcmp (cmd, "lookup") == 0 && arg && rest) {
        uint8_t key [32];
        f = (wire_frame_t) { .type = WIRE_T_LOOKUP, .t_lookup = { .tag = tag } };
        if (strcmp (arg, "key") == 0) {
            if (sodium_hex2bin (key, 32, rest, strlen (rest), NULL, NULL, NULL) != 0)
                goto usage;
            f.t_lookup.key = key, f.t_lookup.key_len = 32;
        }
        else if (strcmp (arg, "prefix") == 0)
            f.t_lookup.prefix = rest, f.t_lookup.prefix_len = strlen (rest);
        else if (strcmp (arg, "name") == 0)
            f.t_lookup.name = rest, f.t_lookup.name_len = strlen (rest);
        else
            goto usage;
        s_send_on (c->dealer, &f);
        return true;
    }
    else if (strcmp (cmd, "list") == 0)
        f = (wire_frame_t) { .type = WIRE_T_LIST, .t_list = {
            .tag = tag, .cursor = arg? strtoull (arg, NULL, 10): 0 } };
    else if (strcmp (cmd, "put") == 0 && arg && rest) {
        const record_t *to = s_seen (c, arg);
        if (!to) {
            tool_print (json_pack ("{s:s, s:s}", "answer", "error", "error", "no such record seen"));
            return true;
        }
        wire_chat_t chat = { .kind = 0, .text = rest, .text_len = strlen (rest) };
        uint8_t *body, *env;
        size_t body_len, env_len;
        f = (wire_frame_t) { .type = WIRE_T_PUT, .t_put = { .tag = tag } };
        randombytes_buf (f.t_put.msg_id, WIRE_ID_SIZE);
        memcpy (f.t_put.recipient, to->box_pk, 32);
        if (wire_chat_encode (&chat, &body, &body_len) != 0)
            return true;
        int rc = envelope_seal (c->id, to->sign_pk, to->box_pk, tool_now_ms (), body, body_len,
                                f.t_put.msg_id, &env, &env_len);
        free (body);
        if (rc != 0)
            return true;
        f.t_put.envelope = env, f.t_put.envelope_len = env_len;
        s_send_on (c->dealer, &f);
        tool_print (json_pack ("{s:s, s:I, s:o}", "answer", "put_sent", "tag", (json_int_t) tag,
                            "msg_id", tool_hexj (f.t_put.msg_id, WIRE_ID_SIZE)));
        free (env);
        return true;
    }
    else if (strcmp (cmd, "fetch") == 0)
        f = (wire_frame_t) { .type = WIRE_T_FETCH, .t_fetch = { .tag = tag } };
    else if (strcmp (cmd, "ack") == 0) {
        for (size_t i = 0; i < c->nheld; i++) {
            wire_frame_t a = { .type = WIRE_T_ACK };
            memcpy (a.t_ack.sender, c->held [i].sender, 32);
            memcpy (a.t_ack.msg_id, c->held [i].msg_id, WIRE_ID_SIZE);
            s_send_on (c->dealer, &a);
        }
        tool_print (json_pack ("{s:s, s:i}", "answer", "acked", "count", (int) c->nheld));
        c->nheld = 0;
        return true;
    }
    else if (strcmp (cmd, "dial") == 0 && arg) {
        const record_t *to = s_seen (c, arg);
        if (!to) {
            tool_print (json_pack ("{s:s, s:s}", "answer", "error", "error", "no such record seen"));
            return true;
        }
        f = (wire_frame_t) { .type = WIRE_T_DIAL, .t_dial = { .tag = tag } };
        memcpy (f.t_dial.key, to->sign_pk, 32);
    }
    else if (strcmp (cmd, "status") == 0)
        f = (wire_frame_t) { .type = WIRE_T_STATUS, .t_status = { .tag = tag } };
    else if (strcmp (cmd, "flood") == 0 && arg) {
        s_flood (c, atoi (arg));
        return true;
    }
    else if (strcmp (cmd, "fetchstorm") == 0 && arg) {
        s_storm (c, atoi (arg), true);
        return true;
    }
    else if (strcmp (cmd, "storm") == 0 && arg) {
        s_storm (c, atoi (arg), false);
        return true;
    }
    else
        goto usage;
    int rc = s_send_on (c->dealer, &f);
    if (rc != 0)
        tool_print (json_pack ("{s:s, s:s}", "answer", "error", "error", sc_strerror (rc)));
    return true;
usage:
    tool_print (json_pack ("{s:s, s:s}", "answer", "error", "error", "unknown command"));
    return true;
}

static bool
s_command_line (void *arg, char *line)
{
    return s_command (arg, line);
}

static bool
s_trust (const uint8_t sign_pk [IDENTITY_PK_SIZE], void *arg)
{
    return true;
}

//  Asks host:port for the tracker's record (UDP); 0 when one with
//  fingerprint fp answered.
static int
s_tracker_record (s_client_t *c, const char *host, int port, const char *fp)
{
    int udp = udp_open ("0.0.0.0", 0, false);
    struct sockaddr_in to;
    if (udp < 0 || udp_resolve (host, port, &to) != 0)
        return SC_ENOENT;
    uint8_t req [RECORD_REQ_SIZE], buf [512];
    record_request (req);
    int rc = SC_EOFFLINE;
    for (int64_t end = tool_now_ms () + 10000; rc != 0 && tool_now_ms () < end; ) {
        udp_send (udp, &to, req, sizeof req);
        struct pollfd p = { .fd = udp, .events = POLLIN };
        if (poll (&p, 1, 200) == 1) {
            struct sockaddr_in from;
            int n = udp_recv (udp, buf, sizeof buf, &from);
            if (n > 0 && record_decode (buf, (size_t) n, &c->tracker) == 0) {
                char got [IDENTITY_FP_HEX_SIZE];
                identity_fingerprint_hex (c->tracker.sign_pk, got);
                rc = strcasecmp (got, fp) == 0? 0: SC_EKEYCHANGED;
            }
        }
    }
    close (udp);
    return rc;
}

int
main (int argc, char **argv)
{
    static const struct option longopts [] = {
        { "home", required_argument, NULL, 'H' }, { "name", required_argument, NULL, 'n' },
        { "source", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 } };
    const char *home = NULL, *source = NULL;
    static s_client_t c;
    snprintf (c.name, sizeof c.name, "client");
    int o;
    while ((o = getopt_long (argc, argv, "", longopts, NULL)) != -1)
        switch (o) {
            case 'H': home = optarg; break;
            case 'n': snprintf (c.name, sizeof c.name, "%s", optarg); break;
            case 's': source = optarg; break;
            default: goto usage;
        }
    char fp [IDENTITY_FP_HEX_SIZE], host [64];
    int port;
    if (optind + 1 != argc || sodium_init () < 0
    ||  sscanf (argv [optind], "%64[0-9a-fA-F]@tcp://%63[^:]:%d", fp, host, &port) != 3)
        goto usage;
    bool created;
    if (home? identity_open_home (home, NULL, &c.id, &created) != 0: !(c.id = identity_generate ())) {
        fprintf (stderr, "sc-tracker-client: no identity\n");
        return 1;
    }
    int rc = s_tracker_record (&c, host, port, fp);
    if (rc != 0) {
        fprintf (stderr, "sc-tracker-client: no record with that fingerprint from %s:%d (%s)\n",
                 host, port, sc_strerror (rc));
        return 1;
    }
    //  "tcp://SOURCE:0;HOST:PORT" connects from SOURCE
    snprintf (c.endpoint, sizeof c.endpoint, "tcp://%s%s%s:%d", source? source: "",
              source? ":0;": "", host, port);
    envelope_limits_t limits = ENVELOPE_LIMITS_DEFAULT;
    limits.past_ms = 30LL * 86400 * 1000;
    int err;
    c.t = transport_new (c.id, source? source: "127.0.0.1", 0, &err);
    c.dealer = c.t? transport_connect (c.t, c.tracker.box_pk, c.endpoint): NULL;
    c.ctx = zmq_ctx_new ();
    c.opener = envelope_opener_new (c.id, &limits, s_trust, NULL);
    if (!c.dealer || !c.ctx || !c.opener) {
        fprintf (stderr, "sc-tracker-client: cannot connect to %s\n", c.endpoint);
        return 1;
    }
    char myfp [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (identity_sign_pk (c.id), myfp);
    tool_print (json_pack ("{s:s, s:s, s:o, s:o, s:s}", "answer", "ready", "id", myfp,
                        "key", tool_hexj (identity_box_pk (c.id), 32),
                        "sign", tool_hexj (identity_sign_pk (c.id), 32), "endpoint", c.endpoint));
    tool_input_t in = { .have = 0 };
    bool running = true;
    while (running) {
        zmq_pollitem_t items [2] = { { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 },
                                     { c.dealer, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, 500) < 0)
            break;
        if (items [1].revents)
            s_read (&c);
        if (items [0].revents && !tool_read_lines (&in, s_command_line, &c))
            running = false;
    }
    envelope_opener_destroy (&c.opener);
    transport_disconnect (&c.dealer);
    zmq_ctx_term (c.ctx);
    transport_destroy (&c.t);
    identity_destroy (&c.id);
    return 0;
usage:
    fprintf (stderr, "usage: sc-tracker-client [--home DIR] [--name NAME] [--source ADDR] "
             "FP@tcp://HOST:PORT\n");
    return 2;
}

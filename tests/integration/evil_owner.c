/*  sc-evil-owner: a peer that shares a "video" and answers every WATCH with
    what an honest owner never sends, for the tests of the viewer's checks.
    It speaks the real protocol (CURVE, signed record, HELLO) through the
    project's own modules, so the viewer accepts it as a peer.
      sc-evil-owner MODE [BEACON_PORT]
                             prints "PORT\n", then serves until killed
    MODE: codec (a header with a codec outside the allowlist), garbage (a
    header that is not msgpack), stream (a batch naming a stream the header
    lacks), order (batches out of order), backwards (decode timestamps that go
    back, which the viewer's muxer refuses).  With BEACON_PORT it also sends a
    plain beacon (never a start one) to 127.255.255.255 once a second, and
    still never connects to anyone: a peer that hears it must connect.

    And the other way round, a hostile viewer:
      sc-evil-owner viewer PORT KEYS WATCHES NAME CREDIT [OFFSET_MS]
    asks the node on 127.0.0.1:PORT for its record, then, with each of KEYS
    throwaway identities, links to it (CURVE, HELLO) and sends WATCHES
    WATCHes of the shared video NAME from OFFSET_MS (a number up to 2^64-1),
    each granting CREDIT batches.  With CREDIT > 0 it repeats that grant
    every second, as a viewer whose player is paused does; it never grants
    more.  It prints one line per event, until killed:
      "linked K"                key K (0-based) got the node's HELLO
      "header K SID"            a stream header came
      "batch K SID SEQ"         a batch came
      "end K SID ok|failed TEXT"  the owner ended the stream  */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../crypto/base/err.h"
#include "../../discovery/beacon.h"
#include "../../discovery/record.h"
#include "../../discovery/udp.h"
#include "../../media/pack.h"
#include "../../node/transport.h"
#include "../../node/wire.h"

//  The viewer's link: it connects to us, we answer on its link
static transport_t *s_transport;
static uint8_t s_rid [TRANSPORT_RID_MAX];
static size_t s_rid_len;

static void
s_send (const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    if (wire_encode (f, &buf, &len) == 0)
        transport_reply_owned (s_transport, s_rid, s_rid_len, &buf, len);
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_answer_watch (const char *mode, const uint8_t sid [16])
{
    static const uint8_t avcc [] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f,
                                     1, 0, 2, 0x68, 0xee };
    media_header_t h = { .duration_ms = 10000, .nstreams = 1 };
    media_stream_t *v = &h.streams [0];
    v->kind = MEDIA_VIDEO;
    strcpy (v->codec, strcmp (mode, "codec") == 0? "rawvideo": "h264");
    v->tb_num = 1;
    v->tb_den = 1000;
    v->width = 320;
    v->height = 240;
    v->extradata = avcc;
    v->extradata_size = sizeof avcc;
    uint8_t *body;
    size_t len;
    wire_frame_t f = { .type = WIRE_STREAM };
    memcpy (f.stream.sid, sid, 16);
    if (strcmp (mode, "garbage") == 0) {
        f.stream.header = (const uint8_t *) "\xdd\xff\xff\xff\xff";
        f.stream.header_len = 5;
        s_send (&f);
        return;
    }
    if (pack_header_encode (&h, &body, &len) != 0)
        return;
    f.stream.header = body;
    f.stream.header_len = len;
    s_send (&f);
    free (body);
    for (int i = 0; i < 3; i++) {
        pack_batch_t b;
        pack_batch_init (&b);
        media_packet_t p = { .stream = strcmp (mode, "stream") == 0 && i == 1? 5: 0,
                             .pts = i * 40, .duration = 40, .key = true,
                             .data = (const uint8_t *) "\0\0\0\1junk", .size = 8 };
        p.dts = strcmp (mode, "backwards") == 0 && i == 2? 0: p.pts;
        pack_batch_add (&b, &p);
        pack_batch_finish (&b, &body, &len);
        wire_frame_t bf = { .type = WIRE_BATCH, .batch = { .packets = body, .packets_len = len,
                            .seq = strcmp (mode, "order") == 0 && i == 1? 7: (uint64_t) i } };
        memcpy (bf.batch.sid, sid, 16);
        s_send (&bf);
        free (body);
    }
}

//  ---------------------------------------------------------------------
//  The hostile viewer

#define KEYS_MAX 32
#define WATCHES_MAX 32

typedef struct {
    identity_t *id;
    transport_t *t;
    void *dealer;
    bool linked;
    uint8_t sid [WATCHES_MAX][16];
    bool open [WATCHES_MAX];
} s_key_t;

static void
s_dealer_send (void *dealer, const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    if (wire_encode (f, &buf, &len) == 0)
        transport_send_owned (dealer, &buf, len);
}

//  The node's record, by a UDP record request; 0 or -1.
static int
s_node_record (int port, record_t *rec)
{
    int fd = udp_open ("127.0.0.1", 0, false);
    struct sockaddr_in to;
    if (fd < 0 || udp_resolve ("127.0.0.1", port, &to) != 0)
        return -1;
    uint8_t req [RECORD_REQ_SIZE];
    record_request (req);
    for (int tries = 0; tries < 10; tries++) {
        udp_send (fd, &to, req, sizeof req);
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll (&p, 1, 1000) <= 0)
            continue;
        uint8_t buf [512];
        struct sockaddr_in from;
        int n = udp_recv (fd, buf, sizeof buf, &from);
        if (n > 0 && record_decode (buf, (size_t) n, rec) == 0) {
            close (fd);
            return 0;
        }
    }
    close (fd);
    return -1;
}

static int
s_viewer (int argc, char **argv)
{
    if (argc < 7 || argc > 8) {
        fprintf (stderr, "usage: sc-evil-owner viewer PORT KEYS WATCHES NAME CREDIT [OFFSET_MS]\n");
        return 2;
    }
    int port = atoi (argv [2]), nkeys = atoi (argv [3]), nwatches = atoi (argv [4]);
    const char *name = argv [5];
    uint64_t credit = strtoull (argv [6], NULL, 10);
    uint64_t offset = argc == 8? strtoull (argv [7], NULL, 10): 0;
    if (nkeys < 1 || nkeys > KEYS_MAX || nwatches < 1 || nwatches > WATCHES_MAX)
        return 2;
    record_t node;
    if (s_node_record (port, &node) != 0) {
        fprintf (stderr, "sc-evil-owner: no record from port %d\n", port);
        return 1;
    }
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    static s_key_t keys [KEYS_MAX];
    for (int k = 0; k < nkeys; k++) {
        s_key_t *key = &keys [k];
        int err;
        char nick [16];
        uint8_t rec [RECORD_SIZE];
        snprintf (nick, sizeof nick, "evil%d", k);
        key->id = identity_generate ();
        key->t = key->id? transport_new (key->id, "127.0.0.1", 0, &err): NULL;
        key->dealer = key->t? transport_connect (key->t, node.box_pk, endpoint): NULL;
        if (!key->dealer
        ||  record_make (key->id, nick, (uint16_t) transport_port (key->t), 0, s_now_ms (), rec) != 0)
            return 1;
        wire_frame_t hello = { .type = WIRE_HELLO, .hello = { .record = rec, .record_len = RECORD_SIZE,
                               .session = (uint64_t) k + 1 } };
        s_dealer_send (key->dealer, &hello);
    }
    int64_t last_ping = 0, last_grant = 0;
    for (;;) {
        zmq_pollitem_t items [2 * KEYS_MAX];
        for (int k = 0; k < nkeys; k++) {
            items [2 * k] = (zmq_pollitem_t) { keys [k].dealer, 0, ZMQ_POLLIN, 0 };
            items [2 * k + 1] = (zmq_pollitem_t) { transport_zap (keys [k].t), 0, ZMQ_POLLIN, 0 };
        }
        if (zmq_poll (items, 2 * nkeys, 100) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < nkeys; k++) {
            s_key_t *key = &keys [k];
            if (items [2 * k + 1].revents)
                while (transport_zap_handle (key->t) == 0)
                    ;
            transport_rx_t rx;
            while (items [2 * k].revents && transport_recv_dealer (key->dealer, &rx) == 0) {
                wire_frame_t f;
                char sid [33];
                if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) != 0) {
                    zmq_msg_close (&rx.msg);
                    continue;
                }
                const uint8_t *fid = wire_frame_id (&f);
                sodium_bin2hex (sid, sizeof sid, fid? fid: (const uint8_t *) "", fid? 16: 0);
                if (f.type == WIRE_HELLO && !key->linked) {
                    key->linked = true;
                    printf ("linked %d\n", k);
                    for (int w = 0; w < nwatches; w++) {
                        randombytes_buf (key->sid [w], 16);
                        key->open [w] = true;
                        wire_frame_t watch = { .type = WIRE_WATCH, .watch = { .name = name,
                                               .name_len = strlen (name), .offset_ms = offset,
                                               .paced = 1, .credit = credit } };
                        memcpy (watch.watch.sid, key->sid [w], 16);
                        s_dealer_send (key->dealer, &watch);
                    }
                }
                else if (f.type == WIRE_STREAM)
                    printf ("header %d %s\n", k, sid);
                else if (f.type == WIRE_BATCH)
                    printf ("batch %d %s %" PRIu64 "\n", k, sid, f.batch.seq);
                else if (f.type == WIRE_SEND) {
                    for (int w = 0; w < nwatches; w++)
                        if (memcmp (key->sid [w], f.send.sid, 16) == 0)
                            key->open [w] = false;
                    printf ("end %d %s %s %.*s\n", k, sid, f.send.ok? "ok": "failed",
                            (int) f.send.reason_len, f.send.reason? f.send.reason: "");
                }
                zmq_msg_close (&rx.msg);
            }
        }
        fflush (stdout);
        //  The link stays up on pings; a paused player's grant is repeated
        int64_t now = s_now_ms ();
        for (int k = 0; k < nkeys && now - last_ping >= 500; k++) {
            wire_frame_t ping = { .type = WIRE_PING, .ping = { .seq = 1 } };
            s_dealer_send (keys [k].dealer, &ping);
        }
        if (now - last_ping >= 500)
            last_ping = now;
        for (int k = 0; k < nkeys && credit && now - last_grant >= 1000; k++)
            for (int w = 0; w < nwatches; w++)
                if (keys [k].linked && keys [k].open [w]) {
                    wire_frame_t grant = { .type = WIRE_SCREDIT, .scredit = { .credit = credit } };
                    memcpy (grant.scredit.sid, keys [k].sid [w], 16);
                    s_dealer_send (keys [k].dealer, &grant);
                }
        if (now - last_grant >= 1000)
            last_grant = now;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc > 1 && strcmp (argv [1], "viewer") == 0)
        return sodium_init () < 0? 1: s_viewer (argc, argv);
    if (argc < 2 || argc > 3 || sodium_init () < 0) {
        fprintf (stderr, "usage: sc-evil-owner codec|garbage|stream|order|backwards [BEACON_PORT]\n");
        return 2;
    }
    const char *mode = argv [1];
    identity_t *id = identity_generate ();
    int err;
    transport_t *t = id? transport_new (id, "127.0.0.1", 0, &err): NULL;
    if (!t)
        return 1;
    s_transport = t;
    int port = transport_port (t);
    int udp = udp_open ("127.0.0.1", port, false);
    uint8_t rec [RECORD_SIZE];
    if (udp < 0 || record_make (id, "evil", (uint16_t) port, 0, s_now_ms (), rec) != 0)
        return 1;
    beacon_t *beacon = NULL;
    if (argc == 3) {
        const char *addrs [] = { "127.255.255.255" };
        beacon_opts_t bo = { .port = atoi (argv [2]), .addrs = addrs, .naddrs = 1 };
        if (!(beacon = beacon_new (&bo, identity_sign_pk (id), &err)))
            return 1;
    }
    printf ("%d\n", port);
    fflush (stdout);
    int64_t last_beacon = 0;
    uint64_t session = 1;
    for (;;) {
        zmq_pollitem_t items [] = {
            { transport_zap (t), 0, ZMQ_POLLIN, 0 },
            { transport_router (t), 0, ZMQ_POLLIN, 0 },
            { NULL, udp, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 3, 1000) < 0)
            break;
        if (items [0].revents)
            while (transport_zap_handle (t) == 0)
                ;
        if (items [2].revents) {
            uint8_t buf [512];
            struct sockaddr_in from;
            int n = udp_recv (udp, buf, sizeof buf, &from);
            if (n > 0 && record_is_request (buf, (size_t) n))
                udp_send (udp, &from, rec, sizeof rec);
        }
        transport_rx_t rx;
        while (items [1].revents && transport_recv (t, &rx) == 0) {
            wire_frame_t f;
            if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0) {
                record_t them;
                if (f.type == WIRE_HELLO && !s_rid_len && record_decode (f.hello.record, f.hello.record_len, &them) == 0) {
                    //  Say HELLO back on the same link: now we are a peer
                    memcpy (s_rid, rx.rid, rx.rid_len);
                    s_rid_len = rx.rid_len;
                    wire_frame_t hello = { .type = WIRE_HELLO, .hello = { .record = rec,
                                           .record_len = RECORD_SIZE, .session = session,
                                           .seen = f.hello.session } };
                    s_send (&hello);
                }
                else if (f.type == WIRE_WATCH && s_rid_len)
                    s_answer_watch (mode, f.watch.sid);
                else if (f.type == WIRE_PING && s_rid_len) {
                    wire_frame_t ping = { .type = WIRE_PING, .ping = { .seq = f.ping.seq } };
                    s_send (&ping);
                }
            }
            zmq_msg_close (&rx.msg);
        }
        //  A fresh signature each time: a repeated record is a replay
        if (beacon && s_now_ms () - last_beacon >= 1000) {
            last_beacon = s_now_ms ();
            if (record_make (id, "evil", (uint16_t) port, 0, last_beacon, rec) == 0)
                beacon_send (beacon, rec);
        }
        //  Keep the link alive: the viewer expects a frame every second
        static int64_t last;
        if (s_rid_len && s_now_ms () - last > 500) {
            wire_frame_t ping = { .type = WIRE_PING, .ping = { .seq = 1 } };
            s_send (&ping);
            last = s_now_ms ();
        }
    }
    return 0;
}

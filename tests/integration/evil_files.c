/*  sc-evil-files: throwaway keys that link to a node and offer it files, as
    anyone who can reach its port can, for the tests of the receiver's caps.
    It speaks the real protocol (CURVE, signed record, HELLO, sealed offers)
    through the project's own modules, so the node takes each key as a peer.
      sc-evil-files PORT KEYS OFFERS SIZE CHUNK [MODE]
    Asks the node on 127.0.0.1:PORT for its record (UDP), then links KEYS
    fresh identities to it; each offers OFFERS files of SIZE bytes in CHUNK
    byte chunks (no data ever follows), then sends the private message
    "evil-done": the node has handled every offer of that key once it shows
    the message.  Prints "linked K" once all are linked, then one line
    "answers accept A refuse R" at each answer; exits when stdin closes.
    With MODE, a hostile sender: at each ACCEPT it sends the file's chunks
    (bytes i * 7) and then
      sum     DONE with a checksum that is not the file's
      range   a chunk past the end (index = count) instead of the last
      size    the last chunk one byte too long
      after   DONE with the right checksum, then chunk 0 again
    and prints "sent MODE".  */
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
#include <xxhash.h>

#define KEYS_MAX 128

typedef struct {
    identity_t *id;
    transport_t *t;
    void *dealer;
    bool linked;
} s_key_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_send (s_key_t *k, const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (f, &buf, &len);
    return rc? rc: transport_send_owned (k->dealer, &buf, len);
}

//  Seals body to the node as an envelope and sends it as a frame of type.
static int
s_send_sealed (s_key_t *k, const record_t *node, wire_type_t type, const uint8_t *body, size_t len)
{
    uint8_t msg_id [ENVELOPE_ID_SIZE], *env;
    size_t env_len;
    randombytes_buf (msg_id, sizeof msg_id);
    int rc = envelope_seal (k->id, node->sign_pk, node->box_pk, s_now_ms (), body, len, msg_id,
                            &env, &env_len);
    if (rc != 0)
        return rc;
    wire_frame_t f = { .type = type };
    if (type == WIRE_OFFER)
        f.offer.envelope = env, f.offer.envelope_len = env_len;
    else
        f.msg.envelope = env, f.msg.envelope_len = env_len;
    rc = s_send (k, &f);
    free (env);
    return rc;
}

static void
s_offer_all (s_key_t *k, const record_t *node, int offers, uint64_t size, uint64_t chunk)
{
    for (int i = 0; i < offers; i++) {
        char name [32];
        snprintf (name, sizeof name, "evil-%d.bin", i);
        wire_offer_t o = { .name = name, .name_len = strlen (name), .size = size,
                           .chunk_size = chunk, .chunk_count = size / chunk + (size % chunk != 0) };
        randombytes_buf (o.id, sizeof o.id);
        uint8_t *body;
        size_t len;
        if (wire_offer_encode (&o, &body, &len) == 0) {
            s_send_sealed (k, node, WIRE_OFFER, body, len);
            free (body);
        }
    }
    wire_chat_t chat = { .kind = 0, .text = "evil-done", .text_len = 9 };
    uint8_t *body;
    size_t len;
    if (wire_chat_encode (&chat, &body, &len) == 0) {
        s_send_sealed (k, node, WIRE_MSG, body, len);
        free (body);
    }
}

//  The hostile sender: the chunks of a file of size bytes, then what mode says.
static void
s_send_file (s_key_t *k, const uint8_t id [16], uint64_t size, uint64_t chunk, const char *mode)
{
    uint8_t *data = malloc (size + 1);
    if (!data)
        return;
    for (uint64_t i = 0; i <= size; i++)
        data [i] = (uint8_t) (i * 7);
    uint64_t count = size / chunk + (size % chunk != 0);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t len = i + 1 < count? chunk: size - i * chunk;
        wire_frame_t f = { .type = WIRE_CHUNK, .chunk = { .index = i, .data = data + i * chunk,
                           .data_len = len } };
        memcpy (f.chunk.id, id, 16);
        if (i + 1 == count && strcmp (mode, "range") == 0)
            f.chunk.index = count;
        if (i + 1 == count && strcmp (mode, "size") == 0)
            f.chunk.data_len++;
        s_send (k, &f);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash (&c, XXH3_128bits (data, size));
    if (strcmp (mode, "sum") == 0)
        c.digest [5] ^= 0x40;
    wire_frame_t done = { .type = WIRE_DONE, .done = { .ok = 1, .sum_len = WIRE_SUM_SIZE } };
    memcpy (done.done.sum, c.digest, WIRE_SUM_SIZE);
    memcpy (done.done.id, id, 16);
    s_send (k, &done);
    if (strcmp (mode, "after") == 0) {
        wire_frame_t f = { .type = WIRE_CHUNK, .chunk = { .index = 0, .data = data,
                           .data_len = chunk < size? chunk: size } };
        memcpy (f.chunk.id, id, 16);
        s_send (k, &f);
    }
    free (data);
    printf ("sent %s\n", mode);
    fflush (stdout);
}

int
main (int argc, char **argv)
{
    if ((argc != 6 && argc != 7) || sodium_init () < 0) {
        fprintf (stderr, "usage: sc-evil-files PORT KEYS OFFERS SIZE CHUNK [MODE]\n");
        return 2;
    }
    const char *mode = argc == 7? argv [6]: NULL;
    int port = atoi (argv [1]), nkeys = atoi (argv [2]), offers = atoi (argv [3]);
    uint64_t size = strtoull (argv [4], NULL, 10), chunk = strtoull (argv [5], NULL, 10);
    if (port <= 0 || nkeys < 1 || nkeys > KEYS_MAX || offers < 0 || chunk == 0) {
        fprintf (stderr, "sc-evil-files: bad arguments\n");
        return 2;
    }
    //  The node's record: its keys
    int udp = udp_open ("127.0.0.1", 0, false);
    struct sockaddr_in to;
    uint8_t req [RECORD_REQ_SIZE], buf [512];
    record_t node;
    if (udp < 0 || udp_resolve ("127.0.0.1", port, &to) != 0)
        return 1;
    record_request (req);
    bool have = false;
    for (int64_t end = s_now_ms () + 10000; !have && s_now_ms () < end; ) {
        udp_send (udp, &to, req, sizeof req);
        struct pollfd p = { .fd = udp, .events = POLLIN };
        if (poll (&p, 1, 200) == 1) {
            struct sockaddr_in from;
            int n = udp_recv (udp, buf, sizeof buf, &from);
            have = n > 0 && record_decode (buf, (size_t) n, &node) == 0;
        }
    }
    if (!have) {
        fprintf (stderr, "sc-evil-files: no record from port %d\n", port);
        return 1;
    }
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    static s_key_t keys [KEYS_MAX];
    uint64_t session = 1;
    for (int i = 0; i < nkeys; i++) {
        int err;
        s_key_t *k = &keys [i];
        k->id = identity_generate ();
        k->t = k->id? transport_new (k->id, "127.0.0.1", 0, &err): NULL;
        k->dealer = k->t? transport_connect (k->t, node.box_pk, endpoint): NULL;
        uint8_t rec [RECORD_SIZE];
        char name [16];
        snprintf (name, sizeof name, "evil%d", i);
        if (!k->dealer || record_make (k->id, name, (uint16_t) transport_port (k->t), 0,
                                       s_now_ms (), rec) != 0)
            return 1;
        wire_frame_t hello = { .type = WIRE_HELLO, .hello = { .record = rec, .record_len = RECORD_SIZE,
                                                              .session = session } };
        s_send (k, &hello);
    }
    int linked = 0, accepts = 0, refuses = 0;
    for (;;) {
        zmq_pollitem_t items [1 + 2 * KEYS_MAX];
        items [0] = (zmq_pollitem_t) { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 };
        for (int i = 0; i < nkeys; i++) {
            items [1 + 2 * i] = (zmq_pollitem_t) { keys [i].dealer, 0, ZMQ_POLLIN, 0 };
            items [2 + 2 * i] = (zmq_pollitem_t) { transport_zap (keys [i].t), 0, ZMQ_POLLIN, 0 };
        }
        if (zmq_poll (items, 1 + 2 * nkeys, 200) < 0)
            break;
        if (items [0].revents && read (STDIN_FILENO, buf, sizeof buf) <= 0)
            break;
        for (int i = 0; i < nkeys; i++) {
            s_key_t *k = &keys [i];
            if (items [2 + 2 * i].revents)
                while (transport_zap_handle (k->t) == 0)
                    ;
            transport_rx_t rx;
            while (items [1 + 2 * i].revents && transport_recv_dealer (k->dealer, &rx) == 0) {
                wire_frame_t f;
                if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) == 0) {
                    if (f.type == WIRE_HELLO && !k->linked) {
                        k->linked = true;
                        if (++linked == nkeys) {
                            printf ("linked %d\n", linked);
                            fflush (stdout);
                            for (int j = 0; j < nkeys; j++)
                                s_offer_all (&keys [j], &node, offers, size, chunk);
                        }
                    }
                    else if (f.type == WIRE_ACCEPT || f.type == WIRE_REFUSE) {
                        if (f.type == WIRE_ACCEPT && mode && accepts == 0)
                            s_send_file (k, f.accept.id, size, chunk, mode);
                        accepts += f.type == WIRE_ACCEPT;
                        refuses += f.type == WIRE_REFUSE;
                        printf ("answers accept %d refuse %d\n", accepts, refuses);
                        fflush (stdout);
                    }
                }
                zmq_msg_close (&rx.msg);
            }
        }
    }
    for (int i = 0; i < nkeys; i++) {
        transport_disconnect (&keys [i].dealer);
        transport_destroy (&keys [i].t);
        identity_destroy (&keys [i].id);
    }
    close (udp);
    return 0;
}

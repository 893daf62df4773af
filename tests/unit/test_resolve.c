/*  The resolver on loopback: two of them, one asking, one answering, and
    answers that must not count (from an address not asked, a pinned
    target answering with another key), and the answer bounds.  */
#include <poll.h>
#include <unistd.h>
#include <string.h>
#include "../../crypto/base/err.h"
#include "../../crypto/identity.h"
#include "../../discovery/resolve.h"
#include "../../discovery/udp.h"
#include "unit.h"

static bool s_never_linked (const uint8_t k [32], void *arg) { (void) k; (void) arg; return false; }
static bool s_linked (const uint8_t k [32], void *arg) { (void) k; (void) arg; return true; }

//  Waits (up to 5 s) for input on r's socket, then reads: as resolve_recv.
static int
s_recv (resolve_t *r, int64_t now, const uint8_t rec [RECORD_SIZE], resolve_answer_t *a)
{
    struct pollfd p = { resolve_fd (r), POLLIN, 0 };
    if (poll (&p, 1, 5000) != 1)
        return SC_EAGAIN;
    return resolve_recv (r, now, rec, a);
}

//  Port of a resolver bound to 127.0.0.1:0: asked of the kernel.
static int
s_port (resolve_t *r)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname (resolve_fd (r), (struct sockaddr *) &sa, &len);
    return ntohs (sa.sin_port);
}

static void
test_resolve_asks_and_gets_the_record (void)
{
    int err;
    identity_t *bob = identity_generate ();
    uint8_t rec_a [RECORD_SIZE] = { 0 }, rec_b [RECORD_SIZE];
    CHECK_RC (record_make (bob, "bob", 4242, 0, 1234567, rec_b), 0);
    resolve_t *a = resolve_new ("127.0.0.1", 0, &err);
    resolve_t *b = resolve_new ("127.0.0.1", 0, &err);
    CHECK (a && b);
    uint8_t fp [32];
    identity_fingerprint (identity_sign_pk (bob), fp);
    CHECK_RC (resolve_add (a, "bob's text", "127.0.0.1", s_port (b), true, fp), 0);
    CHECK_RC (resolve_add (a, "x", "no.such.host.invalid", 1, false, NULL), SC_ENOENT);
    resolve_tick (a, 0, s_never_linked, NULL);
    resolve_answer_t ans;
    //  b answers the request with its record; a takes it as bob's
    CHECK_RC (s_recv (b, 0, rec_b, &ans), SC_EAGAIN);
    CHECK_RC (s_recv (a, 0, rec_a, &ans), 0);
    CHECK (strcmp (ans.target, "bob's text") == 0 && ans.pinned && !ans.mismatch);
    CHECK (memcmp (ans.rec.sign_pk, identity_sign_pk (bob), 32) == 0);
    CHECK (strcmp (ans.host, "127.0.0.1") == 0);
    //  Another key at that address: refused by the pin
    uint8_t other [32];
    memcpy (other, fp, 32);
    other [0] ^= 1;
    CHECK (resolve_pin_conflict (a, "127.0.0.1", s_port (b), other));
    CHECK (!resolve_pin_conflict (a, "127.0.0.1", s_port (b), fp));
    //  Not asked again within a second, nor once linked
    resolve_tick (a, 500, s_never_linked, NULL);
    CHECK_RC (resolve_recv (b, 500, rec_b, &ans), SC_EAGAIN);
    resolve_tick (a, 5000, s_linked, NULL);
    struct pollfd p = { resolve_fd (b), POLLIN, 0 };
    CHECK (poll (&p, 1, 50) == 0);
    resolve_destroy (&a);
    resolve_destroy (&b);
    identity_destroy (&bob);
    CHECK (a == NULL);
}

static void
test_resolve_refuses_what_it_did_not_ask (void)
{
    int err;
    identity_t *bob = identity_generate (), *eve = identity_generate ();
    uint8_t rec_b [RECORD_SIZE], rec_e [RECORD_SIZE], none [RECORD_SIZE] = { 0 };
    CHECK_RC (record_make (bob, "bob", 4242, 0, 1234567, rec_b), 0);
    CHECK_RC (record_make (eve, "eve", 4243, 0, 1234567, rec_e), 0);
    resolve_t *a = resolve_new ("127.0.0.1", 0, &err);
    resolve_t *b = resolve_new ("127.0.0.1", 0, &err);
    CHECK (a && b);
    uint8_t fp [32];
    identity_fingerprint (identity_sign_pk (bob), fp);
    CHECK_RC (resolve_add (a, "bob", "127.0.0.1", s_port (b), true, fp), 0);
    //  A record sent unasked from elsewhere: dropped and counted
    int fd = udp_open ("127.0.0.1", 0, false);
    struct sockaddr_in to;
    CHECK (udp_resolve ("127.0.0.1", s_port (a), &to) == 0);
    CHECK (udp_send (fd, &to, rec_e, RECORD_SIZE) == 0);
    resolve_answer_t ans;
    CHECK_RC (s_recv (a, 0, none, &ans), SC_EAGAIN);
    CHECK (resolve_dropped (a) == 1);
    //  The asked address answers with eve's key: a mismatch, not a record to use
    resolve_tick (a, 0, s_never_linked, NULL);
    CHECK_RC (s_recv (b, 0, rec_e, &ans), SC_EAGAIN);
    CHECK_RC (s_recv (a, 0, none, &ans), 0);
    CHECK (ans.mismatch);
    //  ...and that address is asked again only after RESOLVE_MISMATCH_MS
    resolve_tick (a, RESOLVE_ASK_MS * 2, s_never_linked, NULL);
    struct pollfd p = { resolve_fd (b), POLLIN, 0 };
    CHECK (poll (&p, 1, 50) == 0);
    //  Requests over the per-source bound are not answered
    uint8_t req [RECORD_REQ_SIZE];
    record_request (req);
    CHECK (udp_resolve ("127.0.0.1", s_port (b), &to) == 0);
    for (int i = 0; i < RESOLVE_PER_SOURCE_PER_S + 3; i++)
        CHECK (udp_send (fd, &to, req, sizeof req) == 0);
    while (s_recv (b, 20000, rec_b, &ans) == 0)
        ;
    CHECK (resolve_dropped (b) == 3);
    close (fd);
    resolve_destroy (&a);
    resolve_destroy (&b);
    identity_destroy (&bob);
    identity_destroy (&eve);
}

void
resolve_tests (void)
{
    unit_run ("resolve: a --peer address is asked for its record and pinned", test_resolve_asks_and_gets_the_record);
    unit_run ("resolve: records not asked for, or of another key, do not count", test_resolve_refuses_what_it_did_not_ask);
}

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/envelope.h"
#include "../../crypto/err.h"
#include "unit.h"

#define NOW 1700000000000LL

static identity_t *s_alice, *s_bob, *s_eve;

static bool
s_pinned (const uint8_t pk [32], void *arg)
{
    (void) arg;
    return memcmp (pk, identity_sign_pk (s_alice), 32) == 0
        || memcmp (pk, identity_sign_pk (s_bob), 32) == 0;
}

static int
s_seal (identity_t *from, identity_t *to, int64_t ts, const char *text,
        uint8_t id [16], uint8_t **out, size_t *len)
{
    randombytes_buf (id, 16);
    return envelope_seal (from, identity_sign_pk (to), identity_box_pk (to), ts,
                          (const uint8_t *) text, strlen (text), id, out, len);
}

static void
s_round_trip (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    uint8_t id [16], *env;
    size_t len;
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "hello bob", id, &env, &len), 0);
    CHECK (len == strlen ("hello bob") + ENVELOPE_OVERHEAD);
    CHECK (memmem (env, len, "hello bob", 9) == NULL);
    envelope_msg_t msg;
    CHECK_RC (envelope_open (bob, env, len, identity_sign_pk (s_alice), NOW + 5, &msg), 0);
    CHECK (msg.body_len == 9 && memcmp (msg.body, "hello bob", 9) == 0 && msg.body [9] == 0);
    CHECK (memcmp (msg.from, identity_sign_pk (s_alice), 32) == 0);
    CHECK (memcmp (msg.msg_id, id, 16) == 0);
    CHECK (msg.ts_ms == NOW);
    envelope_msg_clear (&msg);
    //  Empty body works too
    free (env);
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), 0);
    CHECK (msg.body_len == 0);
    envelope_msg_clear (&msg);
    free (env);
    envelope_opener_destroy (&bob);
    CHECK (bob == NULL);
}

static void
s_tampered (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    uint8_t id [16], *env;
    size_t len;
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "pay 10", id, &env, &len), 0);
    envelope_msg_t msg;
    for (size_t i = 0; i < len; i++) {
        env [i] ^= 0x20;
        CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), SC_EBOX);
        env [i] ^= 0x20;
    }
    CHECK_RC (envelope_open (bob, env, len - 1, NULL, NOW, &msg), SC_EBOX);
    CHECK_RC (envelope_open (bob, env, 10, NULL, NOW, &msg), SC_ETRUNC);
    //  After all the failures the genuine one still opens: no state changed
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), 0);
    envelope_msg_clear (&msg);
    free (env);
    envelope_opener_destroy (&bob);
}

static void
s_wrong_recipient (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    envelope_opener_t *eve = envelope_opener_new (s_eve, ENVELOPE_WINDOW_MS, 64, NULL, NULL);
    uint8_t id [16], *env;
    size_t len;
    envelope_msg_t msg;
    //  Sealed to bob: eve cannot open it
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "for bob", id, &env, &len), 0);
    CHECK_RC (envelope_open (eve, env, len, NULL, NOW, &msg), SC_EBOX);
    free (env);
    //  Signed for eve but sealed to bob's box key: bob refuses it
    randombytes_buf (id, 16);
    CHECK_RC (envelope_seal (s_alice, identity_sign_pk (s_eve), identity_box_pk (s_bob), NOW,
                             (const uint8_t *) "x", 1, id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), SC_ENOTFORME);
    free (env);
    envelope_opener_destroy (&bob);
    envelope_opener_destroy (&eve);
}

//  Builds an envelope by hand, as a forger would: inner claims from=alice but
//  is signed by eve.
static void
s_forged_sender (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    uint8_t plain [64 + 93 + 1] = { 0 }, sealed [sizeof plain + crypto_box_SEALBYTES];
    uint8_t *inner = plain + 64;
    inner [0] = 1;
    memcpy (inner + 1, identity_sign_pk (s_alice), 32);
    memcpy (inner + 33, identity_sign_pk (s_bob), 32);
    randombytes_buf (inner + 65, 16);
    int64_t ts = NOW;
    for (int i = 7; i >= 0; i--, ts >>= 8)
        inner [81 + i] = (uint8_t) ts;
    inner [92] = 1;
    inner [93] = 'x';
    CHECK_RC (identity_sign (s_eve, "securechat envelope v1", inner, 94, plain), 0);
    CHECK (crypto_box_seal (sealed, plain, sizeof plain, identity_box_pk (s_bob)) == 0);
    envelope_msg_t msg;
    CHECK_RC (envelope_open (bob, sealed, sizeof sealed, NULL, NOW, &msg), SC_ESIG);
    //  Honestly signed by eve: eve is not pinned
    uint8_t id [16], *env;
    size_t len;
    CHECK_RC (s_seal (s_eve, s_bob, NOW, "hi", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), SC_EUNKNOWN);
    free (env);
    //  Honestly from alice but on bob's link (link key mismatch)
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "hi", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, identity_sign_pk (s_eve), NOW, &msg), SC_ESENDER);
    free (env);
    envelope_opener_destroy (&bob);
}

static void
s_replay (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    uint8_t id [16], *env;
    size_t len;
    envelope_msg_t msg;
    CHECK_RC (s_seal (s_alice, s_bob, NOW, "once", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), 0);
    envelope_msg_clear (&msg);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW + 1000, &msg), SC_EREPLAY);
    CHECK (memcmp (msg.msg_id, id, 16) == 0 && msg.body == NULL);
    free (env);
    //  A re-send of the same message (same id, new seal and time) is a replay
    CHECK_RC (envelope_seal (s_alice, identity_sign_pk (s_bob), identity_box_pk (s_bob), NOW + 2000,
                             (const uint8_t *) "once", 4, id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW + 2000, &msg), SC_EREPLAY);
    free (env);
    //  Fill the cache well past its capacity; the first id must stay refused
    uint8_t *first;
    size_t first_len;
    CHECK_RC (s_seal (s_alice, s_bob, NOW + 10, "first", id, &first, &first_len), 0);
    CHECK_RC (envelope_open (bob, first, first_len, NULL, NOW + 10, &msg), 0);
    envelope_msg_clear (&msg);
    for (int i = 0; i < 200; i++) {
        CHECK_RC (s_seal (s_alice, s_bob, NOW + 20 + i, "more", id, &env, &len), 0);
        CHECK_RC (envelope_open (bob, env, len, NULL, NOW + 20 + i, &msg), 0);
        envelope_msg_clear (&msg);
        free (env);
    }
    int rc = envelope_open (bob, first, first_len, NULL, NOW + 300, &msg);
    CHECK (rc == SC_EREPLAY || rc == SC_ESTALE);
    free (first);
    envelope_opener_destroy (&bob);
}

static void
s_expired (void)
{
    envelope_opener_t *bob = envelope_opener_new (s_bob, 60000, 64, s_pinned, NULL);
    uint8_t id [16], *env;
    size_t len;
    envelope_msg_t msg;
    CHECK_RC (s_seal (s_alice, s_bob, NOW - 60001, "old", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), SC_ESTALE);
    free (env);
    CHECK_RC (s_seal (s_alice, s_bob, NOW + 60001, "future", id, &env, &len), 0);
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW, &msg), SC_ESTALE);
    //  Refused as stale does not poison the cache: inside the window it opens
    CHECK_RC (envelope_open (bob, env, len, NULL, NOW + 1, &msg), 0);
    envelope_msg_clear (&msg);
    free (env);
    envelope_opener_destroy (&bob);
}

static void
s_too_big (void)
{
    uint8_t id [16], *env = NULL;
    size_t len;
    static uint8_t big [ENVELOPE_MAX_BODY + 1];
    randombytes_buf (id, 16);
    CHECK_RC (envelope_seal (s_alice, identity_sign_pk (s_bob), identity_box_pk (s_bob), NOW,
                             big, sizeof big, id, &env, &len), SC_ETOOBIG);
    CHECK (env == NULL);
    envelope_opener_t *bob = envelope_opener_new (s_bob, ENVELOPE_WINDOW_MS, 64, s_pinned, NULL);
    envelope_msg_t msg;
    CHECK_RC (envelope_open (bob, big, sizeof big + ENVELOPE_OVERHEAD, NULL, NOW, &msg), SC_ETOOBIG);
    envelope_opener_destroy (&bob);
}

void
envelope_tests (void)
{
    s_alice = identity_generate ();
    s_bob = identity_generate ();
    s_eve = identity_generate ();
    unit_run ("envelope: seal and open", s_round_trip);
    unit_run ("envelope: every flipped byte is refused", s_tampered);
    unit_run ("envelope: wrong recipient", s_wrong_recipient);
    unit_run ("envelope: forged or unpinned sender", s_forged_sender);
    unit_run ("envelope: replay, also after cache turnover", s_replay);
    unit_run ("envelope: expired and future timestamps", s_expired);
    unit_run ("envelope: oversized body", s_too_big);
    identity_destroy (&s_alice);
    identity_destroy (&s_bob);
    identity_destroy (&s_eve);
}

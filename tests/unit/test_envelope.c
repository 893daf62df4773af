#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/envelope.h"
#include "../../crypto/base/err.h"
#include "unit.h"

#define NOW 1700000000000LL

static identity_t *s_alice, *s_bob, *s_carol, *s_eve;

static bool
s_pinned (const uint8_t pk [32], void *arg)
{
    (void) arg;
    return memcmp (pk, identity_sign_pk (s_alice), 32) == 0
        || memcmp (pk, identity_sign_pk (s_bob), 32) == 0
        || memcmp (pk, identity_sign_pk (s_carol), 32) == 0;
}

//  An opener for self with the default limits but `ids` ids per sender
//  generation; past and ahead 0 mean the defaults.
static envelope_opener_t *
s_opener (identity_t *self, int64_t past_ms, int64_t ahead_ms, size_t sender_ids,
          envelope_pinned_fn *pinned)
{
    envelope_limits_t limits = ENVELOPE_LIMITS_DEFAULT;
    if (past_ms)
        limits.past_ms = past_ms;
    if (ahead_ms)
        limits.ahead_ms = ahead_ms;
    limits.sender_ids = sender_ids;
    return envelope_opener_new (self, &limits, pinned, NULL);
}

static int
s_seal (identity_t *from, identity_t *to, int64_t ts, const char *text,
        uint8_t id [16], uint8_t **out, size_t *len)
{
    randombytes_buf (id, 16);
    return envelope_seal (from, identity_sign_pk (to), identity_box_pk (to), ts,
                          (const uint8_t *) text, strlen (text), id, out, len);
}

//  Seals a fresh message from `from` at ts and opens it at now; returns what
//  envelope_open said.  With keep, the envelope is handed back for a replay.
static int
s_deliver (envelope_opener_t *o, identity_t *from, int64_t ts, int64_t now,
           uint8_t **keep, size_t *keep_len)
{
    uint8_t id [16], *env;
    size_t len;
    int rc = s_seal (from, s_bob, ts, "x", id, &env, &len);
    if (rc != 0)
        return rc;
    envelope_msg_t msg;
    rc = envelope_open (o, env, len, NULL, now, &msg);
    if (rc == 0)
        envelope_msg_clear (&msg);
    if (keep) {
        *keep = env;
        *keep_len = len;
    }
    else
        free (env);
    return rc;
}

static void
s_round_trip (void)
{
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
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
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
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
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
    envelope_opener_t *eve = s_opener (s_eve, 0, 0, 64, NULL);
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
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
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
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
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
    envelope_opener_t *bob = s_opener (s_bob, 60000, 60000, 64, s_pinned);
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

//  The shared floor of old: one sender's timestamps, a minute ahead (inside
//  the window), turned the cache over and made everyone else's messages
//  stale.  Now each sender has its own floor.
static void
s_floor_per_sender (void)
{
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 8, s_pinned);
    uint8_t id [16], *late;
    size_t late_len;
    envelope_msg_t msg;
    //  Carol's message sealed now is on its way while alice floods
    CHECK_RC (s_seal (s_carol, s_bob, NOW, "late", id, &late, &late_len), 0);
    for (int i = 0; i < 100; i++)
        CHECK_RC (s_deliver (bob, s_alice, NOW + 60 * 1000 + i, NOW, NULL, NULL), 0);
    CHECK_RC (envelope_open (bob, late, late_len, NULL, NOW + 1, &msg), 0);
    envelope_msg_clear (&msg);
    CHECK_RC (envelope_open (bob, late, late_len, NULL, NOW + 2, &msg), SC_EREPLAY);
    free (late);
    for (int i = 0; i < 20; i++)
        CHECK_RC (s_deliver (bob, s_carol, NOW + 10 + i, NOW + 10 + i, NULL, NULL), 0);
    //  Alice's own floor did rise: her own message from before it is stale
    CHECK_RC (s_deliver (bob, s_alice, NOW + 100, NOW + 100, NULL, NULL), SC_ESTALE);
    envelope_opener_destroy (&bob);
}

//  At most a minute or two ahead of our clock (DESIGN section 6), ten
//  minutes behind it.
static void
s_window (void)
{
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
    int64_t ahead = 2 * 60 * 1000, past = 10 * 60 * 1000;
    CHECK_RC (s_deliver (bob, s_alice, NOW + ahead + 1, NOW, NULL, NULL), SC_ESTALE);
    CHECK_RC (s_deliver (bob, s_alice, NOW + 5 * 60 * 1000, NOW, NULL, NULL), SC_ESTALE);
    CHECK_RC (s_deliver (bob, s_alice, NOW + ahead, NOW, NULL, NULL), 0);
    CHECK_RC (s_deliver (bob, s_alice, NOW - past - 1, NOW, NULL, NULL), SC_ESTALE);
    CHECK_RC (s_deliver (bob, s_alice, NOW - past, NOW, NULL, NULL), 0);
    envelope_opener_destroy (&bob);
}

//  Replay state is bounded in senders and in ids; past either, the sender
//  accepted least recently loses its state (and its ids open once more).
static void
s_bounded (void)
{
    enum { N = 6 };
    envelope_limits_t limits = ENVELOPE_LIMITS_DEFAULT;
    limits.senders = 4;
    limits.sender_ids = 32;
    limits.ids = 64;
    envelope_opener_t *bob = envelope_opener_new (s_bob, &limits, NULL, NULL);
    identity_t *ids [N] = { NULL };
    uint8_t *env [N] = { NULL };
    size_t len [N];
    envelope_msg_t msg;
    for (int i = 0; i < N; i++)
        CHECK ((ids [i] = identity_generate ()));
    for (int i = 0; i < 4; i++)
        CHECK_RC (s_deliver (bob, ids [i], NOW + i, NOW + i, &env [i], &len [i]), 0);
    //  ids [0] speaks again: now ids [1] is the least recent
    CHECK_RC (s_deliver (bob, ids [0], NOW + 5, NOW + 5, NULL, NULL), 0);
    CHECK_RC (s_deliver (bob, ids [4], NOW + 6, NOW + 6, &env [4], &len [4]), 0);
    envelope_stats_t st = envelope_opener_stats (bob);
    CHECK (st.senders == 4 && st.evicted == 1 && st.ids == 5);
    CHECK_RC (envelope_open (bob, env [0], len [0], NULL, NOW + 7, &msg), SC_EREPLAY);
    CHECK_RC (envelope_open (bob, env [4], len [4], NULL, NOW + 7, &msg), SC_EREPLAY);
    //  What eviction means: ids [1]'s message opens once more, then is known
    CHECK_RC (envelope_open (bob, env [1], len [1], NULL, NOW + 7, &msg), 0);
    envelope_msg_clear (&msg);
    CHECK_RC (envelope_open (bob, env [1], len [1], NULL, NOW + 7, &msg), SC_EREPLAY);
    //  One sender's flood stays inside the id budget, evicting the others
    for (int i = 0; i < 300; i++)
        CHECK_RC (s_deliver (bob, ids [5], NOW + 10 + i, NOW + 10 + i, NULL, NULL), 0);
    st = envelope_opener_stats (bob);
    CHECK (st.ids <= limits.ids && st.ids >= 32 && st.senders <= limits.senders);
    //  ... and its own replay protection holds throughout
    CHECK_RC (s_deliver (bob, ids [5], NOW + 10, NOW + 400, NULL, NULL), SC_ESTALE);
    for (int i = 0; i < N; i++) {
        identity_destroy (&ids [i]);
        free (env [i]);
    }
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
    envelope_opener_t *bob = s_opener (s_bob, 0, 0, 64, s_pinned);
    envelope_msg_t msg;
    CHECK_RC (envelope_open (bob, big, sizeof big + ENVELOPE_OVERHEAD, NULL, NOW, &msg), SC_ETOOBIG);
    envelope_opener_destroy (&bob);
}

//  An envelope that waited in a mailbox past the ordinary window opens
//  with the mailbox's window, once: the ids are the same set as the link's
static void
s_mailbox_window (void)
{
    envelope_opener_t *o = s_opener (s_bob, 0, 0, ENVELOPE_SENDER_IDS, s_pinned);
    CHECK (o);
    uint8_t id [16], *env;
    size_t len;
    int64_t written = NOW - 3LL * 24 * 3600 * 1000;     //  three days in a mailbox
    CHECK_RC (s_seal (s_alice, s_bob, written, "held", id, &env, &len), 0);
    int64_t ts = 0;
    CHECK_RC (envelope_peek_ts (o, env, len, &ts), 0);
    CHECK (ts == written);
    envelope_msg_t msg;
    CHECK_RC (envelope_open (o, env, len, NULL, NOW, &msg), SC_ESTALE);
    CHECK_RC (envelope_open_window (o, env, len, NULL, NOW, 7LL * 24 * 3600 * 1000, &msg), 0);
    CHECK (msg.ts_ms == written && memcmp (msg.msg_id, id, 16) == 0);
    envelope_msg_clear (&msg);
    CHECK_RC (envelope_open_window (o, env, len, NULL, NOW, 7LL * 24 * 3600 * 1000, &msg), SC_EREPLAY);
    CHECK_RC (envelope_open_window (o, env, len, NULL, NOW, 24LL * 3600 * 1000, &msg), SC_ESTALE);
    free (env);
    envelope_opener_destroy (&o);
}

void
envelope_tests (void)
{
    s_alice = identity_generate ();
    s_bob = identity_generate ();
    s_carol = identity_generate ();
    s_eve = identity_generate ();
    unit_run ("envelope: seal and open", s_round_trip);
    unit_run ("envelope: every flipped byte is refused", s_tampered);
    unit_run ("envelope: wrong recipient", s_wrong_recipient);
    unit_run ("envelope: forged or unpinned sender", s_forged_sender);
    unit_run ("envelope: replay, also after cache turnover", s_replay);
    unit_run ("envelope: expired and future timestamps", s_expired);
    unit_run ("envelope: oversized body", s_too_big);
    unit_run ("envelope: one sender's times never make another's stale", s_floor_per_sender);
    unit_run ("envelope: at most 2 min ahead, 10 min behind", s_window);
    unit_run ("envelope: replay state bounded, least recent sender evicted", s_bounded);
    unit_run ("envelope: the mailbox's window opens what waited, once", s_mailbox_window);
    identity_destroy (&s_alice);
    identity_destroy (&s_bob);
    identity_destroy (&s_carol);
    identity_destroy (&s_eve);
}

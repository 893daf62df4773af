//  libFuzzer harness: envelope_open on raw bytes, on bytes sealed to the
//  recipient (so the inner layout checks after the box are reached too), and
//  on genuine envelopes from a few senders with fuzzed ids and times, opened
//  with small limits (so the per-sender replay state turns over, grows and
//  evicts).
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/bytes.h"
#include "../../crypto/envelope.h"

#define NOW 1700000000000LL
#define SENDERS 5

static identity_t *s_me, *s_from [SENDERS];
static envelope_opener_t *s_opener, *s_small;

static bool
s_any (const uint8_t pk [32], void *arg)
{
    (void) pk; (void) arg;
    return true;
}

//  data: sender (1) | msg_id (16) | ts offset in ms from NOW (signed, 4) |
//  clock offset (signed, 2, in seconds) | body, repeated while bytes last
static void
s_genuine (const uint8_t *data, size_t size)
{
    while (size >= 23) {
        identity_t *from = s_from [data [0] % SENDERS];
        int64_t ts = NOW + (int32_t) bytes_get_be (data + 17, 4);
        int64_t now = NOW + (int64_t) (int16_t) bytes_get_be (data + 21, 2) * 1000;
        size_t body = data [0] >> 4;
        if (body > size - 23)
            body = size - 23;
        uint8_t *env;
        size_t len;
        envelope_msg_t msg;
        if (envelope_seal (from, identity_sign_pk (s_me), identity_box_pk (s_me), ts,
                           data + 23, body, data + 1, &env, &len) == 0) {
            if (envelope_open (s_small, env, len, identity_sign_pk (from), now, &msg) == 0)
                envelope_msg_clear (&msg);
            free (env);
        }
        envelope_stats_t st = envelope_opener_stats (s_small);
        if (st.ids > 64 || st.senders > 3)
            abort ();       //  the bounds must hold whatever comes
        data += 23 + body;
        size -= 23 + body;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_me) {
        envelope_limits_t small = ENVELOPE_LIMITS_DEFAULT;
        small.senders = 3;
        small.sender_ids = 16;
        small.ids = 64;
        s_me = identity_generate ();
        for (int i = 0; i < SENDERS; i++)
            s_from [i] = identity_generate ();
        s_opener = envelope_opener_new (s_me, NULL, s_any, NULL);
        s_small = envelope_opener_new (s_me, &small, s_any, NULL);
    }
    envelope_msg_t msg;
    if (envelope_open (s_opener, data, size, NULL, NOW, &msg) == 0)
        envelope_msg_clear (&msg);
    s_genuine (data, size);
    if (size > 2 * ENVELOPE_MAX_BODY)
        return 0;
    uint8_t *sealed = malloc (size + crypto_box_SEALBYTES);
    if (sealed && crypto_box_seal (sealed, data, size, identity_box_pk (s_me)) == 0
    &&  envelope_open (s_opener, sealed, size + crypto_box_SEALBYTES, NULL, NOW, &msg) == 0)
        envelope_msg_clear (&msg);
    free (sealed);
    return 0;
}

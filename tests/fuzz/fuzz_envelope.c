//  libFuzzer harness: envelope_open on raw bytes, and on bytes sealed to the
//  recipient (so the inner layout checks after the box are reached too).
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/envelope.h"

static identity_t *s_me;
static envelope_opener_t *s_opener;

static bool
s_any (const uint8_t pk [32], void *arg)
{
    (void) pk; (void) arg;
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_me) {
        s_me = identity_generate ();
        s_opener = envelope_opener_new (s_me, ENVELOPE_WINDOW_MS, 1024, s_any, NULL);
    }
    envelope_msg_t msg;
    if (envelope_open (s_opener, data, size, NULL, 1700000000000LL, &msg) == 0)
        envelope_msg_clear (&msg);
    if (size > 2 * ENVELOPE_MAX_BODY)
        return 0;
    uint8_t *sealed = malloc (size + crypto_box_SEALBYTES);
    if (sealed && crypto_box_seal (sealed, data, size, identity_box_pk (s_me)) == 0
    &&  envelope_open (s_opener, sealed, size + crypto_box_SEALBYTES, NULL,
                       1700000000000LL, &msg) == 0)
        envelope_msg_clear (&msg);
    free (sealed);
    return 0;
}

//  libFuzzer harness: wire frames, chat bodies and tracker bodies.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../node/wire.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    wire_frame_t f;
    if (wire_decode (data, size, &f) == 0) {
        //  What decodes must encode again and decode to the same frame
        uint8_t *buf;
        size_t len;
        if (wire_encode (&f, &buf, &len) == 0) {
            wire_frame_t g;
            if (wire_decode (buf, len, &g) != 0 || !wire_same (&f, &g))
                abort ();
            free (buf);
        }
    }
    //  Tracker bodies: entries and the status map
    const uint8_t *rec;
    char addr [WIRE_TADDR_SIZE];
    for (size_t i = 0; wire_tentry_at (data, size, i, &rec, addr) == 0; i++)
        if (strlen (addr) >= WIRE_TADDR_SIZE)
            abort ();
    wire_counter_t counters [WIRE_COUNTERS_MAX];
    size_t n;
    if (wire_counters_decode (data, size, counters, WIRE_COUNTERS_MAX, &n) == 0 && n > WIRE_COUNTERS_MAX)
        abort ();
    wire_chat_t chat;
    if (wire_chat_decode (data, size, &chat) == 0 && chat.text_len && !chat.text)
        abort ();
    return 0;
}

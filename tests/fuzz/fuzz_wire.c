//  libFuzzer harness: wire frames and chat bodies.
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
    wire_chat_t chat;
    if (wire_chat_decode (data, size, &chat) == 0 && chat.text_len && !chat.text)
        abort ();
    return 0;
}

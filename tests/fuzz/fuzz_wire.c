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
            if (wire_decode (buf, len, &g) != 0 || g.type != f.type || g.size != f.size
            ||  g.seq != f.seq || g.seen != f.seen
            ||  (f.size && memcmp (g.data, f.data, f.size) != 0))
                abort ();
            //  A CHUNK built as its head and the data is that same frame
            //  (the sender reads data straight behind the head)
            uint8_t head [WIRE_CHUNK_HEAD_MAX];
            size_t hlen;
            if (f.type == WIRE_CHUNK
            &&  (wire_chunk_head (f.id, f.index, f.size, head, &hlen) != 0
                 || hlen + f.size != len || memcmp (head, buf, hlen) != 0))
                abort ();
            //  DONE: the sender's carries its sum, the receiver's none
            if (f.type == WIRE_DONE && f.size != 0 && f.size != WIRE_SUM_SIZE)
                abort ();
            free (buf);
        }
    }
    wire_chat_t chat;
    if (wire_chat_decode (data, size, &chat) == 0 && chat.text_len && !chat.text)
        abort ();
    return 0;
}

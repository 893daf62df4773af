//  libFuzzer harness: the bounded walk (crypto/base/walk.c), wire frames, chat
//  bodies and tracker bodies.  The stream header and batches (media/pack.c):
//  fuzz_stream.c.
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/walk.h"
#include "../../node/wire.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  What the walk passes, msgpack-c unpacks whole (so no decoder meets
    //  bytes the walk let through and msgpack-c then reads differently)
    if (walk_check (data, size) == 0) {
        msgpack_zone zone;
        size_t off = 0;
        msgpack_object obj;
        if (!msgpack_zone_init (&zone, 256))
            abort ();
        if (msgpack_unpack ((const char *) data, size, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
        ||  off != size)
            abort ();
        msgpack_zone_destroy (&zone);
    }
    wire_frame_t f;
    if (wire_decode (data, size, &f) == 0) {
        //  What decodes must encode again and decode to the same frame
        uint8_t *buf;
        size_t len;
        if (wire_encode (&f, &buf, &len) == 0) {
            wire_frame_t g;
            if (wire_decode (buf, len, &g) != 0 || !wire_same (&f, &g))
                abort ();
            //  A CHUNK built as its head and the data is that same frame
            //  (the sender reads data straight behind the head)
            uint8_t head [WIRE_CHUNK_HEAD_MAX];
            size_t hlen;
            if (f.type == WIRE_CHUNK
            &&  (wire_chunk_head (f.chunk.id, f.chunk.index, f.chunk.data_len, head, &hlen) != 0
                 || hlen + f.chunk.data_len != len || memcmp (head, buf, hlen) != 0))
                abort ();
            //  DONE: the sender's carries its sum, the receiver's none
            if (f.type == WIRE_DONE && f.done.sum_len != 0 && f.done.sum_len != WIRE_SUM_SIZE)
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

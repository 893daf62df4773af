#include <stdlib.h>
#include <string.h>
#include "../../crypto/err.h"
#include "../../crypto/walk.h"
#include "../../node/wire.h"
#include "alloc.h"
#include "unit.h"

static void
s_round_trips (void)
{
    uint8_t blob [300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob [i] = (uint8_t) i;
    wire_frame_t in [5] = {
        { .type = WIRE_HELLO, .data = blob, .size = 177, .seq = 77, .seen = 99 },
        { .type = WIRE_PING, .seq = 0x1234567890ULL },
        { .type = WIRE_MSG, .data = blob, .size = sizeof blob },
        { .type = WIRE_RECEIPT, .msg_id = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } },
        { .type = WIRE_BYE },
    };
    for (int i = 0; i < 5; i++) {
        uint8_t *buf;
        size_t len;
        CHECK_RC (wire_encode (&in [i], &buf, &len), 0);
        CHECK_RC (wire_check (buf, len), 0);
        wire_frame_t out;
        CHECK_RC (wire_decode (buf, len, &out), 0);
        CHECK (out.type == in [i].type);
        CHECK (out.size == in [i].size);
        CHECK (out.seq == in [i].seq && out.seen == in [i].seen);
        CHECK (memcmp (out.msg_id, in [i].msg_id, 16) == 0);
        if (in [i].size)
            CHECK (memcmp (out.data, in [i].data, in [i].size) == 0);
        //  Every strict prefix is refused
        for (size_t cut = 0; cut < len; cut++)
            CHECK (wire_decode (buf, cut, &out) != 0);
        free (buf);
    }
    wire_chat_t chat = { .kind = 1, .text = "héllo", .text_len = 6 }, back;
    uint8_t *buf;
    size_t len;
    CHECK_RC (wire_chat_encode (&chat, &buf, &len), 0);
    CHECK_RC (wire_chat_decode (buf, len, &back), 0);
    CHECK (back.kind == 1 && back.text_len == 6 && memcmp (back.text, "héllo", 6) == 0);
    free (buf);
}

static void
s_lying_frame (void)
{
    //  array32 declaring 4 billion items in 5 bytes
    const uint8_t lie [5] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    wire_frame_t f;
    CHECK_RC (walk_check (lie, sizeof lie), SC_ETOOBIG);
    if (alloc_counting ()) {
        alloc_track_begin ();
        int rc = wire_decode (lie, sizeof lie, &f);
        size_t allocated = alloc_track_end ();
        CHECK (rc == SC_ETOOBIG);
        CHECK (allocated <= sizeof lie);
    }
    else
        CHECK_RC (wire_decode (lie, sizeof lie, &f), SC_ETOOBIG);
    //  map32 and bin32 / str32 that lie about their size
    const uint8_t map [5] = { 0xdf, 0x80, 0, 0, 0 };
    const uint8_t bin [8] = { 0x93, 1, 3, 0xc6, 0x7f, 0xff, 0xff, 0xff };
    const uint8_t str [8] = { 0x93, 1, 3, 0xdb, 0, 0, 0, 9 };
    CHECK_RC (walk_check (map, sizeof map), SC_ETOOBIG);
    CHECK_RC (walk_check (bin, sizeof bin), SC_ETOOBIG);
    CHECK_RC (walk_check (str, sizeof str), SC_ETRUNC);
}

static void
s_deep_and_odd (void)
{
    uint8_t deep [64];
    memset (deep, 0x91, sizeof deep);       //  [[[[...
    deep [sizeof deep - 1] = 0x01;
    CHECK_RC (walk_check (deep, sizeof deep), SC_EDEPTH);
    //  Sixteen levels are fine
    uint8_t ok [17];
    memset (ok, 0x91, 16);
    ok [16] = 0x01;
    CHECK_RC (walk_check (ok, sizeof ok), 0);
    //  Trailing bytes, ext types, the never-used byte
    const uint8_t trail [3] = { 0x92, 0x01, 0x02 };
    uint8_t trail2 [4];
    memcpy (trail2, trail, 3);
    trail2 [3] = 0x00;
    CHECK_RC (walk_check (trail, 3), 0);
    CHECK_RC (walk_check (trail2, 4), SC_EMALFORMED);
    const uint8_t ext [3] = { 0xd4, 0x01, 0x02 };
    CHECK_RC (walk_check (ext, sizeof ext), SC_EMALFORMED);
    const uint8_t c1 [1] = { 0xc1 };
    CHECK_RC (walk_check (c1, 1), SC_EMALFORMED);
    CHECK_RC (walk_check (c1, 0), SC_ETRUNC);
    //  Well-formed msgpack that is not a valid frame
    wire_frame_t f;
    const uint8_t not_array [1] = { 0x05 };
    const uint8_t bad_version [3] = { 0x92, 0x07, 0x01 };
    const uint8_t bad_type [3] = { 0x92, 0x01, 0x63 };
    const uint8_t ping_str [4] = { 0x93, 0x01, 0x02, 0xa0 };
    const uint8_t short_receipt [5] = { 0x93, 0x01, 0x04, 0xc4, 0x00 };
    CHECK_RC (wire_decode (not_array, 1, &f), SC_EMALFORMED);
    CHECK_RC (wire_decode (bad_version, 3, &f), SC_EVERSION);
    CHECK_RC (wire_decode (bad_type, 3, &f), SC_ETYPE);
    CHECK_RC (wire_decode (ping_str, 4, &f), SC_EMALFORMED);
    CHECK_RC (wire_decode (short_receipt, 5, &f), SC_EMALFORMED);
    //  Oversized payloads are refused when encoding and decoding
    static uint8_t big [WIRE_MAX_ENVELOPE + 1];
    wire_frame_t huge = { .type = WIRE_MSG, .data = big, .size = sizeof big };
    uint8_t *buf = NULL;
    size_t len;
    CHECK_RC (wire_encode (&huge, &buf, &len), SC_ETOOBIG);
    CHECK (buf == NULL);
    wire_chat_t chat;
    CHECK_RC (wire_chat_decode (bad_type, 3, &chat), SC_EMALFORMED);
}

void
wire_tests (void)
{
    unit_run ("wire: every frame type round trips; prefixes refused", s_round_trips);
    unit_run ("wire: lying lengths refused without allocating", s_lying_frame);
    unit_run ("wire: deep, trailing, ext and invalid frames", s_deep_and_odd);
}

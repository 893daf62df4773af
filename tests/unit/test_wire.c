#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/err.h"
#include "../../crypto/base/walk.h"
#include "../../node/ctlq.h"
#include "../../node/wire.h"
#include "alloc.h"
#include "unit.h"

//  A frame of the given type with every field set, from the codec's table:
//  numbers and booleans from seed, fixed fields and bytes from blob.
static void
s_fill (wire_frame_t *f, int type, const uint8_t *blob, size_t blob_len, uint64_t seed)
{
    memset (f, 0, sizeof *f);
    f->type = (wire_type_t) type;
    const wire_spec_t *spec = wire_spec (type);
    for (int i = 0; i < spec->nfields; i++) {
        const wire_field_t *d = &spec->fields [i];
        char *at = (char *) f + d->at;
        size_t n = blob_len < d->max? blob_len: d->max;
        switch (d->kind) {
            case WIRE_F_UINT: *(uint64_t *) at = seed * 1000003 + (uint64_t) i; break;
            case WIRE_F_BOOL: *(int *) at = (int) ((seed + (uint64_t) i) & 1); break;
            case WIRE_F_FIXED:
                memcpy (at, blob + i, d->max);
                if (d->len_at)      //  an optional one: set on seed 1, missing on seed 2
                    *(size_t *) ((char *) f + d->len_at) = seed == 1? d->max: 0;
                break;
            case WIRE_F_BIN:
            case WIRE_F_STR:
                *(const void **) at = blob + i;
                *(size_t *) ((char *) f + d->len_at) = n - (size_t) i;
                break;
        }
    }
}

//  One round trip per frame type in the table, generated from it: every
//  field comes back; every strict prefix is refused; a field of the wrong
//  kind is refused.
static void
s_round_trips (void)
{
    uint8_t blob [300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob [i] = (uint8_t) (i * 7 + 1);
    int types = 0;
    for (int type = 0; type <= WIRE_TYPE_MAX + 1; type++) {
        const wire_spec_t *spec = wire_spec (type);
        if (!spec) {
            wire_frame_t f = { .type = (wire_type_t) type };
            uint8_t *buf = NULL;
            size_t len;
            CHECK_RC (wire_encode (&f, &buf, &len), SC_ETYPE);
            continue;
        }
        types++;
        CHECK (spec->name && spec->nfields <= WIRE_FIELDS_MAX);
        for (uint64_t seed = 1; seed <= 2; seed++) {
            wire_frame_t in, out;
            s_fill (&in, type, blob, sizeof blob, seed);
            uint8_t *buf;
            size_t len;
            CHECK_RC (wire_encode (&in, &buf, &len), 0);
            CHECK_RC (wire_check (buf, len), 0);
            CHECK_RC (wire_decode (buf, len, &out), 0);
            CHECK (wire_same (&in, &out));
            //  Every strict prefix is refused
            for (size_t cut = 0; cut < len; cut++)
                CHECK (wire_decode (buf, cut, &out) != 0);
            free (buf);
        }
        //  Each field in turn given as the wrong kind (a str for a
        //  number, a number for anything else) is refused
        for (int k = 0; k < spec->nfields; k++) {
            uint8_t bad [512];
            size_t at = 0;
            bad [at++] = (uint8_t) (0x90 | (2 + spec->nfields));
            bad [at++] = 0x01;
            bad [at++] = (uint8_t) type;
            for (int i = 0; i < spec->nfields; i++) {
                const wire_field_t *d = &spec->fields [i];
                bool wrong = i == k;
                if (d->kind == WIRE_F_UINT)
                    bad [at++] = wrong? 0xa0: 0x05;
                else if (d->kind == WIRE_F_BOOL)
                    bad [at++] = wrong? 0x05: 0xc3;
                else if (d->kind == WIRE_F_STR) {
                    bad [at++] = wrong? 0x05: 0xa0;
                }
                else {
                    size_t n = d->kind == WIRE_F_FIXED? d->max: 0;
                    if (wrong)
                        bad [at++] = 0x05;
                    else {
                        bad [at++] = 0xc4;
                        bad [at++] = (uint8_t) n;
                        memset (bad + at, 0, n);
                        at += n;
                    }
                }
            }
            wire_frame_t f;
            CHECK (wire_decode (bad, at, &f) != 0);
        }
    }
    CHECK (types == WIRE_TYPE_MAX);
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
    wire_frame_t huge = { .type = WIRE_MSG, .msg = { .envelope = big, .envelope_len = sizeof big } };
    uint8_t *buf = NULL;
    size_t len;
    CHECK_RC (wire_encode (&huge, &buf, &len), SC_ETOOBIG);
    CHECK (buf == NULL);
    wire_chat_t chat;
    CHECK_RC (wire_chat_decode (bad_type, 3, &chat), SC_EMALFORMED);
}

//  Tracker bodies: entries (a record and an address) and the status map
static void
s_tracker_bodies (void)
{
    uint8_t rec [WIRE_TRECORD_SIZE], entries [2 * WIRE_TENTRY_SIZE];
    for (size_t i = 0; i < sizeof rec; i++)
        rec [i] = (uint8_t) i;
    wire_tentry_put (entries, rec, "10.0.0.1");
    wire_tentry_put (entries + WIRE_TENTRY_SIZE, rec, "2001:db8::1");
    const uint8_t *r;
    char addr [WIRE_TADDR_SIZE];
    CHECK_RC (wire_tentry_at (entries, sizeof entries, 1, &r, addr), 0);
    CHECK (r == entries + WIRE_TENTRY_SIZE && strcmp (addr, "2001:db8::1") == 0);
    CHECK_RC (wire_tentry_at (entries, sizeof entries, 2, &r, addr), SC_EMALFORMED);
    CHECK_RC (wire_tentry_at (entries, sizeof entries - 1, 0, &r, addr), SC_EMALFORMED);
    //  An address that is not NUL-padded text is refused
    entries [WIRE_TRECORD_SIZE + 40] = 'x';
    CHECK_RC (wire_tentry_at (entries, sizeof entries, 0, &r, addr), SC_EMALFORMED);
    memset (entries + WIRE_TRECORD_SIZE, 'a', WIRE_TADDR_SIZE);
    CHECK_RC (wire_tentry_at (entries, sizeof entries, 0, &r, addr), SC_EMALFORMED);

    wire_counter_t in [2] = { { "records", 0, 7 }, { "refused_register_rate", 0, 1ull << 40 } };
    wire_counter_t out [2];
    uint8_t *buf;
    size_t len, n;
    CHECK_RC (wire_counters_encode (in, 2, &buf, &len), 0);
    CHECK_RC (wire_counters_decode (buf, len, out, 2, &n), 0);
    CHECK (n == 2 && out [1].value == (1ull << 40) && out [1].name_len == 21
           && memcmp (out [1].name, "refused_register_rate", 21) == 0);
    CHECK_RC (wire_counters_decode (buf, len, out, 1, &n), SC_ETOOBIG);
    free (buf);
    const uint8_t not_map [3] = { 0x92, 1, 2 };
    CHECK_RC (wire_counters_decode (not_map, 3, out, 2, &n), SC_EMALFORMED);
}

void
wire_tests (void)
{
    unit_run ("wire: every frame type round trips; prefixes refused", s_round_trips);
    unit_run ("wire: lying lengths refused without allocating", s_lying_frame);
    unit_run ("wire: deep, trailing, ext and invalid frames", s_deep_and_odd);
    unit_run ("wire: tracker entries and status counters", s_tracker_bodies);
}

//  The control queue copies a frame's byte fields by the table: a DONE
//  with its checksum (an optional fixed field held in the frame) is kept
//  whole while the link is full, and goes out as it was given.
static int s_refuse_sends = 1;
static wire_frame_t s_went;
static uint8_t *s_went_buf;

static int
s_ctl_send (void *arg, const uint8_t peer [32], const wire_frame_t *f)
{
    (void) arg; (void) peer;
    if (s_refuse_sends)
        return SC_EAGAIN;
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (f, &buf, &len);
    if (rc == 0) {
        free (s_went_buf);
        s_went_buf = buf;
        rc = wire_decode (buf, len, &s_went);
    }
    return rc;
}

static void
s_ctlq_keeps_every_field (void)
{
    ctlq_t *q = ctlq_new (s_ctl_send, NULL);
    CHECK (q);
    uint8_t peer [32] = { 7 };
    wire_frame_t done = { .type = WIRE_DONE, .done = { .ok = 1, .sum_len = WIRE_SUM_SIZE } };
    memset (done.done.id, 0x11, WIRE_ID_SIZE);
    memset (done.done.sum, 0xa5, WIRE_SUM_SIZE);
    wire_frame_t refuse = { .type = WIRE_REFUSE, .refuse = { .reason = "no room", .reason_len = 7 } };
    memset (refuse.refuse.id, 0x22, WIRE_ID_SIZE);
    s_refuse_sends = 1;
    CHECK_RC (ctlq_send (q, peer, &done, 0), 0);
    CHECK_RC (ctlq_send (q, peer, &refuse, 0), 0);
    //  The caller's frames are gone before the link takes them
    memset (&done, 0, sizeof done);
    char reason [8] = "no room";
    refuse.refuse.reason = reason;
    s_refuse_sends = 0;
    ctlq_flush (q, 1);
    CHECK (s_went.type == WIRE_REFUSE && s_went.refuse.reason_len == 7
           && memcmp (s_went.refuse.reason, "no room", 7) == 0);
    ctlq_destroy (&q);
    //  Flushed in order: the DONE went first; check it alone
    q = ctlq_new (s_ctl_send, NULL);
    wire_frame_t d2 = { .type = WIRE_DONE, .done = { .ok = 1, .sum_len = WIRE_SUM_SIZE } };
    memset (d2.done.id, 0x33, WIRE_ID_SIZE);
    memset (d2.done.sum, 0x5a, WIRE_SUM_SIZE);
    s_refuse_sends = 1;
    CHECK_RC (ctlq_send (q, peer, &d2, 0), 0);
    memset (&d2, 0, sizeof d2);
    s_refuse_sends = 0;
    ctlq_flush (q, 1);
    uint8_t want [WIRE_SUM_SIZE];
    memset (want, 0x5a, sizeof want);
    CHECK (s_went.type == WIRE_DONE && s_went.done.ok && s_went.done.sum_len == WIRE_SUM_SIZE
           && memcmp (s_went.done.sum, want, WIRE_SUM_SIZE) == 0 && s_went.done.id [0] == 0x33);
    ctlq_destroy (&q);
    free (s_went_buf);
    s_went_buf = NULL;
}

void
wire_ctlq_tests (void)
{
    unit_run ("wire: the control queue keeps every field of a frame, a DONE's checksum too",
              s_ctlq_keeps_every_field);
}

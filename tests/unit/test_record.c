#include <string.h>
#include "../../crypto/base/err.h"
#include "../../discovery/record.h"
#include "unit.h"

static void
s_round_trip (void)
{
    identity_t *a = identity_generate ();
    uint8_t buf [RECORD_SIZE];
    CHECK_RC (record_make (a, "alice", 4242, 0, 1234567, buf), 0);
    record_t r;
    CHECK_RC (record_decode (buf, sizeof buf, &r), 0);
    CHECK (strcmp (r.name, "alice") == 0);
    CHECK (r.port == 4242 && r.ts_ms == 1234567 && r.flags == 0);
    CHECK (memcmp (r.sign_pk, identity_sign_pk (a), 32) == 0);
    CHECK (memcmp (r.box_pk, identity_box_pk (a), 32) == 0);
    //  Every flipped bit is refused
    for (size_t i = 0; i < RECORD_SIZE; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf [i] ^= (uint8_t) (1 << bit);
            CHECK (record_decode (buf, sizeof buf, &r) != 0);
            buf [i] ^= (uint8_t) (1 << bit);
        }
    }
    CHECK_RC (record_decode (buf, sizeof buf - 1, &r), SC_ETRUNC);
    CHECK_RC (record_decode (buf, sizeof buf + 1, &r), SC_ETOOBIG);
    //  A record re-signed by another identity with a's keys in it is refused
    identity_t *b = identity_generate ();
    uint8_t forged [RECORD_SIZE];
    CHECK_RC (record_make (b, "alice", 4242, 0, 1234567, forged), 0);
    memcpy (forged + 8, identity_sign_pk (a), 32);
    CHECK_RC (record_decode (forged, sizeof forged, &r), SC_ESIG);
    //  A record known to be good is taken as it is; any other is verified
    uint8_t known [RECORD_SIZE];
    CHECK_RC (record_make (a, "alice", 4242, RECORD_FLAG_START, 1234568, known), 0);
    CHECK_RC (record_decode_known (known, sizeof known, known, &r), 0);
    CHECK (r.flags == RECORD_FLAG_START && r.ts_ms == 1234568 && memcmp (r.raw, known, RECORD_SIZE) == 0);
    CHECK_RC (record_decode_known (buf, sizeof buf, known, &r), 0);
    CHECK (r.ts_ms == 1234567);
    CHECK_RC (record_decode_known (forged, sizeof forged, known, &r), SC_ESIG);
    CHECK_RC (record_decode_known (forged, sizeof forged, NULL, &r), SC_ESIG);
    identity_destroy (&a);
    identity_destroy (&b);
}

static void
s_names (void)
{
    CHECK (record_name_ok ("alice"));
    CHECK (record_name_ok ("Zoë the 2nd"));
    CHECK (!record_name_ok (""));
    CHECK (!record_name_ok ("   "));
    CHECK (!record_name_ok ("a\nb"));
    CHECK (!record_name_ok ("\x1b[2J"));
    CHECK (!record_name_ok ("evil\xe2\x80\xae" "gnp"));    //  U+202E
    CHECK (!record_name_ok ("\xc0\xaf"));                  //  overlong
    CHECK (!record_name_ok ("\xed\xa0\x80"));              //  surrogate
    CHECK (!record_name_ok ("/msg"));
    CHECK (!record_name_ok ("a@b"));
    CHECK (!record_name_ok ("123456789012345678901234567890123"));
    CHECK (record_name_ok ("12345678901234567890123456789012"));
    identity_t *a = identity_generate ();
    uint8_t buf [RECORD_SIZE];
    CHECK_RC (record_make (a, "bad\x01name", 1, 0, 0, buf), SC_EINVAL);
    identity_destroy (&a);
}

static void
s_request (void)
{
    uint8_t req [RECORD_REQ_SIZE];
    record_request (req);
    CHECK (record_is_request (req, sizeof req));
    CHECK (!record_is_request (req, sizeof req - 1));
    CHECK (RECORD_REQ_SIZE >= RECORD_SIZE);     //  never amplifies
    req [0] = 'X';
    CHECK (!record_is_request (req, sizeof req));
}

void
record_tests (void)
{
    unit_run ("record: sign, decode, every bit flip refused", s_round_trip);
    unit_run ("record: display names", s_names);
    unit_run ("record: request is padded to the answer", s_request);
}

/*  record: the signed peer record, one fixed binary layout carried by
    beacons, record requests, HELLO and the tracker alike.

    Layout (integers big-endian), RECORD_SIZE bytes:
      0   4  magic "SCPR"        4  1  version (1)       5  1  flags
      6   2  TCP port            8 32  Ed25519 key      40 32  X25519 key
     72   8  timestamp (ms, Unix)                       80  1  name length
     81  32  name (UTF-8, zero padded)                 113 64  Ed25519 signature
    The signature covers "securechat record v1\0" and bytes 0..112, so it also
    binds the X25519 key to the identity.

    A record request is RECORD_REQ_SIZE bytes: "SCRQ", version, then zeros;
    it is never smaller than the answer, so answering cannot amplify.  */
#ifndef SC_RECORD_H
#define SC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../crypto/identity.h"

#define RECORD_SIZE 177
#define RECORD_REQ_SIZE 180
#define RECORD_NAME_MAX 32
#define RECORD_FLAG_LEAVE 1     //  the node is leaving
#define RECORD_FLAG_START 2     //  the first beacon of a run: hearers connect at once

typedef struct {
    uint8_t flags;
    uint16_t port;
    uint8_t sign_pk [IDENTITY_PK_SIZE];
    uint8_t box_pk [IDENTITY_PK_SIZE];
    int64_t ts_ms;
    char name [RECORD_NAME_MAX + 1];     //  NUL-terminated
    uint8_t raw [RECORD_SIZE];          //  the bytes it came as
} record_t;

//  Fills and signs a record for self.  Returns 0 or SC_EINVAL (bad name).
int record_make (const identity_t *self, const char *name, uint16_t port,
                 uint8_t flags, int64_t ts_ms, uint8_t out [RECORD_SIZE]);

//  Decodes and verifies len bytes.  Returns 0 and fills rec, or SC_ETRUNC,
//  SC_ETOOBIG, SC_EMALFORMED, SC_EVERSION, SC_ESIG.
int record_decode (const uint8_t *buf, size_t len, record_t *rec);

//  The same, but bytes equal to known (a record that passed record_decode
//  before, or NULL) are not verified again: a HELLO mostly repeats the
//  beacon its sender just sent.
int record_decode_known (const uint8_t *buf, size_t len, const uint8_t *known, record_t *rec);

//  Says whether a display name is acceptable: 1 to 32 bytes of valid UTF-8
//  with no control, format (bidi) or space-only content.
bool record_name_ok (const char *name);

//  Fills a record request datagram.
void record_request (uint8_t out [RECORD_REQ_SIZE]);

//  Says whether len bytes are a well-formed record request.
bool record_is_request (const uint8_t *buf, size_t len);

#endif

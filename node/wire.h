/*  wire: every frame that travels on a link, written down in one place.

    A frame is one ZeroMQ message holding one msgpack array
    [version, type, ...] with version = WIRE_VERSION.  The sender of a frame is
    the link's CURVE key (ZeroMQ User-Id), never a field of the frame.

      HELLO    [1, 1, record: bin (RECORD_SIZE), session: uint, seen: uint]
               first frame on a link: the sender's signed peer record; its
               session, a random number fixed for the sender's run; and the
               receiver's session as the sender last heard it (0: never).  A
               node answers a HELLO with its own only when `seen` is not its
               current session: the sender has not yet heard from this run
      PING     [1, 2, seq: uint]
               liveness, once a second on an idle link
      MSG      [1, 3, envelope: bin (<= WIRE_MAX_ENVELOPE)]
               a sealed envelope (crypto/envelope.h); its body is a UTF-8 chat
               line; flags tell private from broadcast
      RECEIPT  [1, 4, msg_id: bin (16)]
               the MSG with that id was opened, checked and shown
      BYE      [1, 5]
               the sender is leaving on purpose

    Body of a MSG envelope: [kind: uint (0 = private, 1 = to everyone), text: str]

    Decoding never trusts a declared length: wire_check walks the bytes first,
    without recursion, and refuses depth over WIRE_MAX_DEPTH and any count or
    length larger than the bytes really left, before libmsgpack-c (which
    allocates for a declared array size before it looks) is given the frame. */
#ifndef SC_WIRE_H
#define SC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_MAX_DEPTH 16
#define WIRE_MAX_FRAME (1024 * 1024)
#define WIRE_MAX_ENVELOPE (80 * 1024)
#define WIRE_ID_SIZE 16

typedef enum {
    WIRE_HELLO = 1,
    WIRE_PING = 2,
    WIRE_MSG = 3,
    WIRE_RECEIPT = 4,
    WIRE_BYE = 5,
} wire_type_t;

typedef struct {
    wire_type_t type;
    //  Byte fields point into the decoded buffer (borrowed) or, when
    //  encoding, into the caller's memory.
    const uint8_t *data;        //  HELLO record, MSG envelope
    size_t size;
    uint64_t seq;               //  PING sequence, HELLO session
    uint64_t seen;              //  HELLO: the receiver's session as last heard
    uint8_t msg_id [WIRE_ID_SIZE];  //  RECEIPT
} wire_frame_t;

//  Body of a chat envelope.
typedef struct {
    unsigned kind;              //  0 private, 1 to everyone
    const char *text;           //  borrowed, not NUL-terminated
    size_t text_len;
} wire_chat_t;

//  Walks msgpack bytes without unpacking.  Returns 0 if buf holds exactly one
//  well-formed object within the depth and length limits, else SC_ETRUNC,
//  SC_EDEPTH, SC_ETOOBIG or SC_EMALFORMED.
int wire_check (const uint8_t *buf, size_t len);

//  Encodes a frame.  Returns 0 and a malloc'd buffer (caller frees) or an error.
int wire_encode (const wire_frame_t *frame, uint8_t **out, size_t *len);

//  Decodes a frame; byte fields borrow from buf.  Returns 0 or an SC_E* code.
int wire_decode (const uint8_t *buf, size_t len, wire_frame_t *frame);

//  Encodes / decodes the chat body carried inside an envelope.
int wire_chat_encode (const wire_chat_t *chat, uint8_t **out, size_t *len);
int wire_chat_decode (const uint8_t *buf, size_t len, wire_chat_t *chat);

#endif

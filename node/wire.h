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
               no longer sent (ZeroMQ's heartbeats keep links alive and a
               socket monitor tells when one closes); accepted and ignored
      MSG      [1, 3, envelope: bin (<= WIRE_MAX_ENVELOPE)]
               a sealed envelope (crypto/envelope.h); its body is a UTF-8 chat
               line; flags tell private from broadcast
      RECEIPT  [1, 4, msg_id: bin (16)]
               the MSG with that id was opened, checked and shown
      BYE      [1, 5]
               the sender is leaving on purpose

      Files (see node/files.h).  ID is the 16-byte transfer id.
      OFFER    [1, 6, envelope: bin]
               a signed, sealed envelope whose body is an offer (node/xfer.h):
               id, name, size, chunk size and count, the checksum's name
      ACCEPT   [1, 7, id: bin (16), have: bin, credit: uint]
               the receiver takes the offer; `have` is a bitmap of the chunks
               it already holds (resume), credit its grant (as in CREDIT).
               Sent again to compare notes when a transfer makes no progress:
               the sender takes the bitmap as the truth
      REFUSE   [1, 8, id: bin (16), reason: str]
               an offer, a GET or a transfer is refused, with a sentence
      CHUNK    [1, 9, id: bin (16), index: uint, data: bin (<= WIRE_MAX_CHUNK)]
               chunk `index` of the file as it is: the CURVE link encrypts and
               authenticates it, and the sender is the link's proven identity.
               The sender builds it as wire_chunk_head + the bytes read
      CREDIT   [1, 10, id: bin (16), credit: uint]
               the receiver's grant, cumulative: the sender may have sent up
               to `credit` chunks in all (those the receiver holds plus those
               on the way).  The sender keeps the highest grant seen, held to
               its own window, so a lost, late or repeated CREDIT can neither
               shrink nor inflate the window; the receiver repeats it when
               nothing comes
      DONE     [1, 11, id: bin (16), ok: bool, sum: bin (16)?]
               from the sender, with sum: its last frame, once every chunk the
               receiver lacked is sent; sum is XXH3-128 of the whole file
               (canonical, big-endian).  The receiver checks it, then renames.
               A chunk that comes after it fails the transfer, unless the
               receiver had sent its bitmap again lately and holds that chunk
               (it crossed the ACCEPT on the way).
               From the receiver, without sum: it checked the sum and saved
               the file (or not)
      CANCEL   [1, 12, id: bin (16)]
               either side stops a transfer
      LIST     [1, 13]
               asks for the sender's share list
      SHARES   [1, 14, entries: bin]
               the share list: msgpack [[name: str, size: uint, video: bool], ...]
      GET      [1, 15, id: bin (16), name: str]
               asks for a shared file by name; answered by OFFER or REFUSE

      Video (see node/video.h).  SID is a 16-byte stream id the viewer draws.
      WATCH    [1, 16, sid: bin (16), name: str, offset_ms: uint, paced: bool, credit: uint]
               asks the owner to stream a shared video from the keyframe at
               or before offset_ms, paced to real time (for a player) or as
               fast as credit allows (to a file); credit counts batches
      STREAM   [1, 17, sid: bin (16), header: bin]
               the stream header (pack_header_encode), once, first
      BATCH    [1, 18, sid: bin (16), seq: uint, packets: bin]
               packets (pack_batch_finish), about MEDIA_BATCH_BYTES; seq
               counts from 0 and each batch takes one credit
      SCREDIT  [1, 19, sid: bin (16), credit: uint]
               the viewer's grant, cumulative: batches with seq < credit may
               be sent (the WATCH's credit is the first grant).  The owner
               keeps the highest, held to its own window; the viewer repeats
               it every second while nothing comes (also while its player is
               paused, so the owner knows it is there)
      SEND     [1, 20, sid: bin (16), ok: bool, reason: str]
               either side ends the stream: the owner at the end of the
               file (ok) or on an error, the viewer on /stop or an error

    The bodies of a STREAM header and of a BATCH are written down in
    media/pack.h (media/pack.c makes and reads them: the media helper makes
    them, the owner's node forwards them as they are, the viewer's checks).

    Body of a MSG envelope: [kind: uint (0 = private, 1 = to everyone), text: str]

    Decoding never trusts a declared length: wire_check (crypto/base/walk.h's
    walk_check) walks the bytes first, without recursion, and refuses depth
    over WALK_MAX_DEPTH and any count or length larger than the bytes really
    left, before libmsgpack-c (which allocates for a declared array size
    before it looks) is given the frame. */
#ifndef SC_WIRE_H
#define SC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_MAX_FRAME (1024 * 1024)
#define WIRE_MAX_ENVELOPE (80 * 1024)
#define WIRE_ID_SIZE 16
#define WIRE_MAX_CHUNK (WIRE_MAX_FRAME - 1024)
#define WIRE_NAME_MAX 1024
#define WIRE_SUM_SIZE 16                //  DONE: XXH3-128 of the file
#define WIRE_SUM_NAME "xxh3-128"        //  OFFER: the checksum the DONE carries
#define WIRE_CHUNK_HEAD_MAX 40          //  a CHUNK frame before its data

typedef enum {
    WIRE_HELLO = 1,
    WIRE_PING = 2,
    WIRE_MSG = 3,
    WIRE_RECEIPT = 4,
    WIRE_BYE = 5,
    WIRE_OFFER = 6,
    WIRE_ACCEPT = 7,
    WIRE_REFUSE = 8,
    WIRE_CHUNK = 9,
    WIRE_CREDIT = 10,
    WIRE_DONE = 11,
    WIRE_CANCEL = 12,
    WIRE_LIST = 13,
    WIRE_SHARES = 14,
    WIRE_GET = 15,
    WIRE_WATCH = 16,
    WIRE_STREAM = 17,
    WIRE_BATCH = 18,
    WIRE_SCREDIT = 19,
    WIRE_SEND = 20,
} wire_type_t;

#define WIRE_TYPE_MAX WIRE_SEND

//  A frame: its type and the fields of that type, each with its own name
//  (node/wire.c's table says which fields each type has, in order).  Byte
//  fields point into the decoded buffer (borrowed) or, when encoding, into
//  the caller's memory; ids are copied.  Strings are not NUL-terminated.
typedef struct {
    wire_type_t type;
    union {
        struct { const uint8_t *record; size_t record_len; uint64_t session, seen; } hello;
        struct { uint64_t seq; } ping;
        struct { const uint8_t *envelope; size_t envelope_len; } msg;
        struct { uint8_t msg_id [WIRE_ID_SIZE]; } receipt;
        struct { const uint8_t *envelope; size_t envelope_len; } offer;
        struct { uint8_t id [WIRE_ID_SIZE]; const uint8_t *have; size_t have_len;
                 uint64_t credit; } accept;
        struct { uint8_t id [WIRE_ID_SIZE]; const char *reason; size_t reason_len; } refuse;
        struct { uint8_t id [WIRE_ID_SIZE]; uint64_t index; const uint8_t *data;
                 size_t data_len; } chunk;
        struct { uint8_t id [WIRE_ID_SIZE]; uint64_t credit; } credit;
        struct { uint8_t id [WIRE_ID_SIZE]; int ok; uint8_t sum [WIRE_SUM_SIZE];
                 size_t sum_len; } done;
        struct { uint8_t id [WIRE_ID_SIZE]; } cancel;
        struct { const uint8_t *entries; size_t entries_len; } shares;
        struct { uint8_t id [WIRE_ID_SIZE]; const char *name; size_t name_len; } get;
        struct { uint8_t sid [WIRE_ID_SIZE]; const char *name; size_t name_len;
                 uint64_t offset_ms; int paced; uint64_t credit; } watch;
        struct { uint8_t sid [WIRE_ID_SIZE]; const uint8_t *header; size_t header_len; } stream;
        struct { uint8_t sid [WIRE_ID_SIZE]; uint64_t seq; const uint8_t *packets;
                 size_t packets_len; } batch;
        struct { uint8_t sid [WIRE_ID_SIZE]; uint64_t credit; } scredit;
        struct { uint8_t sid [WIRE_ID_SIZE]; int ok; const char *reason; size_t reason_len; } send;
    };
} wire_frame_t;

//  The codec's table, one spec per frame type: its fields in wire order.
typedef enum { WIRE_F_UINT, WIRE_F_BOOL, WIRE_F_FIXED, WIRE_F_BIN, WIRE_F_STR } wire_kind_t;
typedef struct {
    const char *name;           //  as wire.h's frame list names it
    wire_kind_t kind;
    size_t at;                  //  offset of the value in wire_frame_t
    size_t len_at;              //  BIN, STR: offset of its length (a size_t)
    size_t max;                 //  BIN, STR: most bytes; FIXED: its size
    bool optional;              //  may be left out (trailing fields only): a FIXED
                                //  one then has a length field, 0 or its size
} wire_field_t;
#define WIRE_FIELDS_MAX 5
typedef struct {
    const char *name;           //  "HELLO"; NULL for a type not in use
    int nfields;
    wire_field_t fields [WIRE_FIELDS_MAX];
} wire_spec_t;
//  The spec of a frame type, or NULL for an unknown one.
const wire_spec_t *wire_spec (int type);

//  The transfer or stream id a frame names (its first field, "id" or
//  "sid"), or NULL for a type that names none.  Borrowed from frame.
const uint8_t *wire_frame_id (const wire_frame_t *frame);

//  True when a and b are the same frame, field by field as the table says
//  (byte fields compared by content).  For tests and the fuzzers.
bool wire_same (const wire_frame_t *a, const wire_frame_t *b);

//  Handlers by frame type: modules register the types they own, and the
//  node hands each frame from a peer to them.  A type may have two (the
//  two roles of video share SEND): they are asked in order until one
//  takes the frame (returns true).
typedef bool (wire_handler_fn) (void *arg, const uint8_t peer [32], const wire_frame_t *frame,
                                int64_t now_ms);
typedef struct {
    struct { wire_handler_fn *fn; void *arg; } on [WIRE_TYPE_MAX + 1][2];
} wire_handlers_t;
//  Registers fn for type.  Returns 0, or SC_EINVAL (unknown type, or two
//  handlers there already).
int wire_handle (wire_handlers_t *self, wire_type_t type, wire_handler_fn *fn, void *arg);
//  Hands frame to its handlers.  Returns true when one took it.
bool wire_dispatch (const wire_handlers_t *self, const uint8_t peer [32],
                    const wire_frame_t *frame, int64_t now_ms);

//  Body of a chat envelope.
typedef struct {
    unsigned kind;              //  0 private, 1 to everyone
    const char *text;           //  borrowed, not NUL-terminated
    size_t text_len;
} wire_chat_t;

//  Body of an OFFER envelope: [id: bin (16), name: str, size: uint,
//  chunk_size: uint, chunk_count: uint, check: str (WIRE_SUM_NAME)]
typedef struct {
    uint8_t id [WIRE_ID_SIZE];
    const char *name;           //  borrowed, not NUL-terminated
    size_t name_len;
    uint64_t size, chunk_size, chunk_count;
} wire_offer_t;

//  One entry of a SHARES list: [name: str, size: uint, video: bool,
//  duration_ms: uint, codecs: str, tracks: str, skipped: str] (the last
//  four may be missing).  tracks: "kind:codec:language" per stream that
//  travels, ","-separated; skipped: what stays home and why, "; "-separated.
typedef struct {
    const char *name;           //  borrowed (decode), not NUL-terminated
    size_t name_len;
    uint64_t size;
    int video;
    uint64_t duration_ms;
    const char *codecs;         //  "h264,aac"; borrowed, not NUL-terminated
    size_t codecs_len;
    const char *tracks;         //  "video:h264:,audio:aac:eng"; borrowed, may be NULL
    size_t tracks_len;
    const char *skipped;        //  "subtitle mov_text: ..."; borrowed, may be NULL
    size_t skipped_len;
} wire_share_t;

//  Walks msgpack bytes without unpacking (crypto/base/walk.h's walk_check).
//  Returns 0 if buf holds exactly one
//  well-formed object within the depth and length limits, else SC_ETRUNC,
//  SC_EDEPTH, SC_ETOOBIG or SC_EMALFORMED.
int wire_check (const uint8_t *buf, size_t len);

//  Encodes a frame.  Returns 0 and a malloc'd buffer (caller frees) or an error.
int wire_encode (const wire_frame_t *frame, uint8_t **out, size_t *len);

//  Decodes a frame; byte fields borrow from buf.  Returns 0 or an SC_E* code.
int wire_decode (const uint8_t *buf, size_t len, wire_frame_t *frame);

//  Writes the bytes of a CHUNK frame that come before its data_len bytes
//  of data, so a sender reads the data straight into the frame's buffer.
//  Returns 0 with *len (at most WIRE_CHUNK_HEAD_MAX), or SC_ETOOBIG.
int wire_chunk_head (const uint8_t id [WIRE_ID_SIZE], uint64_t index, size_t data_len,
                     uint8_t out [WIRE_CHUNK_HEAD_MAX], size_t *len);

//  Encodes / decodes the chat body carried inside an envelope.
int wire_chat_encode (const wire_chat_t *chat, uint8_t **out, size_t *len);
int wire_chat_decode (const uint8_t *buf, size_t len, wire_chat_t *chat);

//  Encodes / decodes an offer body (layout only: xfer.h checks the meaning).
int wire_offer_encode (const wire_offer_t *offer, uint8_t **out, size_t *len);
int wire_offer_decode (const uint8_t *buf, size_t len, wire_offer_t *offer);

//  Encodes n share entries; decodes at most max into entries (*n set).
int wire_shares_encode (const wire_share_t *entries, size_t n, uint8_t **out, size_t *len);
int wire_shares_decode (const uint8_t *buf, size_t len, wire_share_t *entries, size_t max, size_t *n);

#endif

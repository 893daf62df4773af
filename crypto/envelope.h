/*  envelope: sign-then-seal for messages between identities.

    inner (big-endian):  0 1 version (1) | 1 32 from (Ed25519) | 33 32 to (Ed25519)
                        | 65 16 msg_id | 81 8 ts (ms, Unix) | 89 4 body length | 93 body
    signed:   Ed25519 over "securechat envelope v1\0" || inner
    sealed:   crypto_box_seal (signature (64) || inner) to the recipient's X25519 key

    A sealed box alone is anonymous; the signature over from/to is what makes
    the sender known.  envelope_open checks, in order: the box opens, the
    layout is sound, the signature verifies under `from`, `to` is us, `from`
    is pinned (the caller's callback), `from` matches the link (when given),
    the timestamp is inside the window (at most past_ms old, at most ahead_ms
    ahead of our clock) and above that sender's floor, and the msg_id was not
    seen from that sender.  Only then is the msg_id remembered: a failed check
    changes no state.

    Replay state is kept per sender, so only a sender's own signed messages
    move its own floor: one peer's timestamps never make another's stale.
    It is bounded: at most `senders` senders and `ids` ids in all; past
    either, the state of the sender accepted least recently is dropped whole.
    Evicting a sender forgets which ids it sent: a message of that sender
    that comes again later (a re-send whose receipt was lost, or its own
    envelope repeated inside the window) opens once more.  On a link, `from`
    must be the link's key, so only that sender can bring it again.  */
#ifndef SC_ENVELOPE_H
#define SC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "identity.h"

#define ENVELOPE_ID_SIZE 16
#define ENVELOPE_MAX_BODY (64 * 1024)
#define ENVELOPE_OVERHEAD (48 + 64 + 93)    //  seal + signature + inner header
#define ENVELOPE_PAST_MS (10 * 60 * 1000)   //  how old a timestamp may be
#define ENVELOPE_AHEAD_MS (2 * 60 * 1000)   //  how far ahead of our clock
#define ENVELOPE_SENDERS 1024               //  senders with replay state
#define ENVELOPE_SENDER_IDS 32768           //  ids per generation, per sender
#define ENVELOPE_IDS (128 * 1024)           //  ids remembered, all senders

typedef struct {
    int64_t past_ms, ahead_ms;  //  accepted: now - past_ms <= ts <= now + ahead_ms
    size_t senders;             //  senders kept; the least recent one goes past it
    size_t sender_ids;          //  ids per generation of one sender: it remembers
                                //  between this many and twice as many
    size_t ids;                 //  ids kept over all senders
} envelope_limits_t;

#define ENVELOPE_LIMITS_DEFAULT { ENVELOPE_PAST_MS, ENVELOPE_AHEAD_MS, ENVELOPE_SENDERS, \
                                  ENVELOPE_SENDER_IDS, ENVELOPE_IDS }

typedef struct {
    size_t senders;             //  with replay state now
    size_t ids;                 //  remembered now
    size_t evicted;             //  senders whose state was dropped, ever
} envelope_stats_t;

typedef struct {
    uint8_t from [IDENTITY_PK_SIZE];
    uint8_t to [IDENTITY_PK_SIZE];
    uint8_t msg_id [ENVELOPE_ID_SIZE];
    int64_t ts_ms;
    uint8_t *body;          //  owned; NUL-terminated for convenience
    size_t body_len;
} envelope_msg_t;

//  Says whether an Ed25519 key is a pinned peer.
typedef bool (envelope_pinned_fn) (const uint8_t sign_pk [IDENTITY_PK_SIZE], void *arg);

typedef struct _envelope_opener_t envelope_opener_t;

//  Seals body from self to the recipient under msg_id (random, chosen by the
//  caller: a re-send of the same message keeps its id, so the recipient's
//  replay cache makes delivery exactly-once).  Returns 0 and a malloc'd buffer in *out (caller frees), or SC_ETOOBIG,
//  SC_ENOMEM, SC_ECRYPTO.
int envelope_seal (const identity_t *self,
                   const uint8_t to_sign_pk [IDENTITY_PK_SIZE],
                   const uint8_t to_box_pk [IDENTITY_PK_SIZE],
                   int64_t ts_ms, const uint8_t *body, size_t body_len,
                   const uint8_t msg_id [ENVELOPE_ID_SIZE], uint8_t **out, size_t *out_len);

//  Returns a new opener for self (borrowed, must outlive it), or NULL.
//  limits (copied) may be NULL for ENVELOPE_LIMITS_DEFAULT.
envelope_opener_t *envelope_opener_new (const identity_t *self, const envelope_limits_t *limits,
                                        envelope_pinned_fn *pinned, void *arg);

//  Destroys an opener; accepts NULL, nulls the pointer.
void envelope_opener_destroy (envelope_opener_t **self_p);

//  Opens and checks a sealed envelope (see above).  expect_from may be NULL.
//  Returns 0 and fills *msg (free with envelope_msg_clear), or an SC_E* code.
//  On SC_EREPLAY (every other check passed) msg->from and msg->msg_id are set.
int envelope_open (envelope_opener_t *self, const uint8_t *sealed, size_t len,
                   const uint8_t *expect_from, int64_t now_ms, envelope_msg_t *msg);

//  The same with another past window: past_ms instead of the limits' (an
//  envelope that waited in a tracker's mailbox is judged against the
//  mailbox's time to live; the ids seen are the same set).
int envelope_open_window (envelope_opener_t *self, const uint8_t *sealed, size_t len,
                          const uint8_t *expect_from, int64_t now_ms, int64_t past_ms,
                          envelope_msg_t *msg);

//  The timestamp an envelope claims, unchecked (nothing else is looked at
//  and no state changes): only to put envelopes in order before opening.
//  0, or SC_EMALFORMED / SC_EBOX.
int envelope_peek_ts (const envelope_opener_t *self, const uint8_t *sealed, size_t len, int64_t *ts);

//  Returns how much replay state the opener holds.
envelope_stats_t envelope_opener_stats (const envelope_opener_t *self);

//  Frees what a successful envelope_open put in msg.
void envelope_msg_clear (envelope_msg_t *msg);

#endif

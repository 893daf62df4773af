/*  mailbox: the tracker's post box for sealed envelopes, with no sockets
    (DESIGN.md sections 6 and 9).  A thin socket layer calls it with what
    came on a CURVE link and sends on what it answers; `now` is passed in,
    in Unix ms (wall clock: items outlive the process on disk).

    What it does.  An item is opaque bytes (a sealed envelope: the tracker
    never opens one) for a recipient from a sender, with an id (the
    envelope's msg_id, given by the sender beside it), the time it was
    stored and a time to live in days.  Keys are the X25519 keys of the
    CURVE links: the sender's is the link a put came on, the recipient's
    the key the envelope is sealed to, and only a link with the
    recipient's key lists, fetches or acknowledges (deletes) its items.
    An item is (recipient, sender, id): a put that repeats one held is
    stored once and answered as stored again, so a sender may retry a put
    whose answer it lost.  Items are listed oldest first.

    Persistence.  One file per item in the directory given (made 0700),
    named by a hash of (recipient, sender, id): written to a temporary
    file, fsync'd, renamed, and the directory fsync'd, all before
    mailbox_put returns 0, so a tracker killed at any point loses no item
    it acknowledged.  mailbox_new loads the directory: a file that is
    damaged or cut short (magic, lengths, a BLAKE2b-256 over it all) is
    left alone and counted, a left-over temporary file is removed and
    counted, items past their time are removed, and an item found in two
    files is held once, in one file (the other is removed).
    An acknowledgement unlinks the file without waiting for the disk: an
    item that comes back after a crash is handed over again, and the
    recipient's replay cache (msg_id) shows it once.

    What it bounds.  Every limit has a default below, can be changed in
    mailbox_limits_t and is counted in mailbox_stats_t: an item's size (one
    envelope: ENVELOPE_OVERHEAD + ENVELOPE_MAX_BODY); items and bytes per
    recipient, per sender and in all; puts a second per sender (a token
    bucket, checked first, before any other work: each put that is stored
    costs two fsyncs); the disk's free space kept (a statvfs of the
    directory before each put); the time to live (days, the sender's ask
    capped).  Over a limit the answer is SC_EAGAIN with a mailbox_refusal_t
    (the limit's name, and retry_ms), or SC_ETOOBIG for an item larger than
    any envelope.  Only an index is held in memory (about 140 bytes an
    item, so at most total_items x 140 bytes: 2.2 MiB with the defaults),
    and the buckets of the rate_senders senders heard from last (56 bytes
    each; a sender forgotten has a full bucket again); the bytes stay on
    disk until fetched.

    Cost.  Puts, lists and caps walk the index (at most total_items
    entries), which is small beside the two fsyncs each put costs.

    Who owns what.  The mailbox owns its index and directory; fetched bytes
    belong to the caller; keys and bytes passed in are borrowed.  */
#ifndef SC_TRACKER_MAILBOX_H
#define SC_TRACKER_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../../crypto/envelope.h"

#define MAILBOX_KEY_SIZE 32
#define MAILBOX_ID_SIZE ENVELOPE_ID_SIZE
#define MAILBOX_ITEM_MAX (ENVELOPE_OVERHEAD + ENVELOPE_MAX_BODY)   //  one envelope
#define MAILBOX_ITEM_HEAD 105                   //  an item file's header (mailbox.c)
#define MAILBOX_ITEM_HASH 32                    //  ...and the BLAKE2b-256 after the bytes

#define MAILBOX_RECIPIENT_ITEMS 256             //  items waiting for one recipient
#define MAILBOX_RECIPIENT_BYTES (4u << 20)      //  ...and their bytes
#define MAILBOX_SENDER_ITEMS 1024               //  items one sender has waiting
#define MAILBOX_SENDER_BYTES (16u << 20)        //  ...and their bytes
#define MAILBOX_TOTAL_ITEMS 16384               //  items in all
#define MAILBOX_TOTAL_BYTES (256u << 20)        //  bytes in all
#define MAILBOX_DISK_FLOOR (256u << 20)         //  free space the disk keeps
#define MAILBOX_TTL_DAYS 7                      //  longest time to live
#define MAILBOX_RETRY_MS 60000                  //  retry_ms of a refusal by a cap
#define MAILBOX_PUT_PER_S 4                     //  puts a second per sender...
#define MAILBOX_PUT_BURST 64                    //  ...after a burst of this many
#define MAILBOX_RATE_SENDERS 1024               //  senders whose buckets are kept

typedef struct {
    size_t recipient_items, recipient_bytes;
    size_t sender_items, sender_bytes;
    size_t total_items;
    uint64_t total_bytes;
    uint64_t disk_floor;                //  bytes that must stay free on the disk
    uint32_t ttl_days;
    int64_t retry_ms;                   //  of a refusal by a cap (a rate says its own)
    uint32_t put_per_s, put_burst;      //  per sender
    size_t rate_senders;                //  buckets kept (the least recent goes)
} mailbox_limits_t;

#define MAILBOX_LIMITS_DEFAULT { .recipient_items = MAILBOX_RECIPIENT_ITEMS, \
    .recipient_bytes = MAILBOX_RECIPIENT_BYTES, .sender_items = MAILBOX_SENDER_ITEMS, \
    .sender_bytes = MAILBOX_SENDER_BYTES, .total_items = MAILBOX_TOTAL_ITEMS, \
    .total_bytes = MAILBOX_TOTAL_BYTES, .disk_floor = MAILBOX_DISK_FLOOR, \
    .ttl_days = MAILBOX_TTL_DAYS, .retry_ms = MAILBOX_RETRY_MS, \
    .put_per_s = MAILBOX_PUT_PER_S, .put_burst = MAILBOX_PUT_BURST, \
    .rate_senders = MAILBOX_RATE_SENDERS }

typedef struct {
    size_t items;                       //  held now
    uint64_t bytes;                     //  held now (the envelopes, not the files' headers)
    uint64_t stored;                    //  puts written
    uint64_t duplicates;                //  puts of an item held: stored once
    uint64_t fetched, acked, expired;
    uint64_t refused_item_size;         //  larger than one envelope
    uint64_t refused_recipient;         //  limit "recipient"
    uint64_t refused_sender;            //  limit "sender"
    uint64_t refused_sender_rate;       //  limit "sender_rate"
    uint64_t refused_total;             //  limit "total"
    uint64_t refused_disk;              //  limit "disk_floor"
    uint64_t io_errors;                 //  writes that failed (nothing was acknowledged)
    uint64_t loaded;                    //  items taken back at start
    uint64_t damaged;                   //  files at start that were damaged or cut short
    uint64_t temp_removed;              //  left-over temporary files removed at start
} mailbox_stats_t;

typedef struct {
    int64_t retry_ms;                   //  try again after this long
    const char *limit;                  //  static: "sender_rate", "recipient", "sender",
                                        //  "total", "disk_floor"; NULL when no limit was hit
} mailbox_refusal_t;

//  What the index holds of an item.
typedef struct {
    uint8_t recipient [MAILBOX_KEY_SIZE];
    uint8_t sender [MAILBOX_KEY_SIZE];
    uint8_t id [MAILBOX_ID_SIZE];
    int64_t stored_ms, expires_ms;
    size_t len;
} mailbox_item_t;

typedef struct _mailbox_t mailbox_t;

//  Opens the mailbox in dir (made 0700 with its parents), loading what is
//  there (see above).  limits is copied (NULL for the defaults).  Returns
//  the mailbox, or NULL and *err (SC_EIO, SC_ENOMEM, SC_EINVAL).
mailbox_t *mailbox_new (const char *dir, const mailbox_limits_t *limits, int64_t now, int *err);

//  Closes the mailbox (what is on disk stays); accepts NULL, nulls the pointer.
void mailbox_destroy (mailbox_t **self_p);

//  Stores len bytes for recipient from sender under id, for ttl_days (0 or
//  more than the limit: the limit).  Every put that is not SC_EINVAL or
//  SC_ETOOBIG takes a token of the sender's bucket, a repeat too.
//  Returns 0 once the item is on disk (also when it was held already),
//  SC_EAGAIN over a limit (*why, may be NULL), SC_ETOOBIG (larger than
//  one envelope), SC_EINVAL (empty), SC_EIO.
int mailbox_put (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
                 const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE],
                 const uint8_t *data, size_t len, uint32_t ttl_days, int64_t now,
                 mailbox_refusal_t *why);

//  Lists the live items for recipient, oldest first: the first max in out,
//  their number in *n; returns how many it holds for recipient in all.
size_t mailbox_list (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE], int64_t now,
                     mailbox_item_t *out, size_t max, size_t *n);

//  Reads one item of recipient.  Returns 0 and the bytes in *data (caller
//  frees) and *len, and its index entry in *item (may be NULL);
//  SC_ENOENT (none: another key asking is told the same), SC_EIO.
int mailbox_fetch (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
                   const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE],
                   int64_t now, uint8_t **data, size_t *len, mailbox_item_t *item);

//  Deletes one item of recipient (its acknowledgement).  0 or SC_ENOENT.
int mailbox_ack (mailbox_t *self, const uint8_t recipient [MAILBOX_KEY_SIZE],
                 const uint8_t sender [MAILBOX_KEY_SIZE], const uint8_t id [MAILBOX_ID_SIZE]);

//  Deletes the items whose time has ended; the caller calls it now and
//  then (once a minute is plenty).  Returns how many.
size_t mailbox_sweep (mailbox_t *self, int64_t now);

//  Returns the counters and what is held now.
mailbox_stats_t mailbox_stats (const mailbox_t *self);

//  Decodes len bytes of one item file (as mailbox_new reads each; the
//  layout is in mailbox.c): checks magic, version, lengths and the hash
//  before anything is taken.  0 and the index entry in *it, the item's
//  bytes being buf [MAILBOX_ITEM_HEAD, + it->len); or SC_ECORRUPT.
int mailbox_item_decode (const uint8_t *buf, size_t len, mailbox_item_t *it);

#endif

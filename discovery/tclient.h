/*  tclient: the node's rules for its trackers (--tracker FP@tcp://HOST:PORT),
    with no sockets and the clock passed in.

    Each tracker goes through named states:

      RESOLVING    its key is not known yet: the node asks its address for
                   the signed record over UDP (pinned to FP)
      REGISTERING  a link is open (or coming back): T_REGISTER goes out now
                   and again with backoff until T_REGISTERED comes
      REGISTERED   registered; refreshed at a jittered point between half
                   and three quarters of the time to live granted
      REFUSED      the tracker said no: asked again after its retry_ms (at
                   least the backoff)

    A link that closes (a tracker restarted or gone) takes a tracker back to
    REGISTERING: ZeroMQ reconnects, and the node registers again.  Besides,
    the module keeps what the node must remember across trackers: which
    key each tracker gave for a name (two that disagree are told), and the
    messages already shown (sender key, msg_id), for as long as the mailbox
    keeps mail, saved to disk so that a restart shows nothing twice.  */
#ifndef SC_TCLIENT_H
#define SC_TCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCLIENT_TRACKERS_MAX 8              //  --tracker options, at most
#define TCLIENT_RETRY_MS 1000               //  a register with no answer: again after
#define TCLIENT_RETRY_MAX_MS 30000          //  ...doubling up to this
#define TCLIENT_SEEN_MAX 65536              //  message ids remembered (oldest go first)
#define TCLIENT_SEEN_TTL_MS (7LL * 24 * 3600 * 1000)   //  the mailbox's longest time to live
#define TCLIENT_NAMES_MAX 256               //  name answers remembered per tracker

typedef enum {
    TCLIENT_RESOLVING,
    TCLIENT_REGISTERING,
    TCLIENT_REGISTERED,
    TCLIENT_REFUSED,
} tclient_state_t;

//  What a request was, kept in the low bits of its tag.
typedef enum {
    TCLIENT_REQ_REGISTER = 1,
    TCLIENT_REQ_LOOKUP = 2,
    TCLIENT_REQ_FETCH = 3,
    TCLIENT_REQ_PUT = 4,
    TCLIENT_REQ_DIAL = 5,
} tclient_req_t;

typedef struct {
    const char *text;               //  as given (borrowed from the module)
    tclient_state_t state;
    bool linked;                    //  a link is open and not known closed
    const char *seen_addr;          //  the address the tracker saw ("" before)
    int64_t ttl_left_ms;            //  REGISTERED: until the record ends
    uint64_t registrations, refusals;
    const char *last_refusal;       //  its code ("" when none)
} tclient_info_t;

typedef struct _tclient_t tclient_t;

//  An empty client.  NULL when out of memory.
tclient_t *tclient_new (void);
//  Accepts NULL, nulls the pointer.
void tclient_destroy (tclient_t **self_p);

//  Adds a tracker (text as given, pinned to fingerprint fp).  Returns its
//  index, or SC_ETOOBIG past TCLIENT_TRACKERS_MAX.
int tclient_add (tclient_t *self, const char *text, const uint8_t fp [32]);
size_t tclient_size (const tclient_t *self);
//  The tracker whose --tracker text this is (pointer or content), or -1.
int tclient_find_text (const tclient_t *self, const char *text);
//  The tracker with this signing key (once resolved), or -1.
int tclient_find_sign (const tclient_t *self, const uint8_t sign_pk [32]);

//  Its record came (already checked against the pinned fingerprint).
//  Returns true when the node is to open the link now (the first time).
bool tclient_on_resolved (tclient_t *self, int i, const uint8_t sign_pk [32], int64_t now_ms);
//  The link closed under us: registered no more; register again at once
//  (the frame waits in ZeroMQ's queue until the link is back).
void tclient_on_closed (tclient_t *self, int i, int64_t now_ms);
//  A frame came from the tracker: the link is there.
void tclient_on_frame (tclient_t *self, int i);

//  Whether a T_REGISTER is due now; if so *tag is set, the try counted
//  and the next one planned (with backoff).
bool tclient_register_due (tclient_t *self, int i, int64_t now_ms, uint64_t *tag);
//  T_REGISTERED.  jitter (0..1, the caller's randomness) places the next
//  refresh between 1/2 and 3/4 of ttl_ms.  Returns true when this was a
//  registration after none (then fetch the mail), false for a refresh or
//  an answer to a tag not ours.
bool tclient_on_registered (tclient_t *self, int i, uint64_t tag, uint64_t ttl_ms,
                            const char *addr, double jitter, int64_t now_ms);
//  T_REFUSED of request type `type` (wire type) with tag: counted; a
//  refused register is asked again after retry_ms (at least the backoff).
void tclient_on_refused (tclient_t *self, int i, uint64_t tag, const char *code,
                         uint64_t retry_ms, int64_t now_ms);
//  The earliest time something is due (INT64_MAX: nothing).
int64_t tclient_next_due (const tclient_t *self);

//  A fresh tag for a request of that kind; and the kind a tag was for.
uint64_t tclient_tag (tclient_t *self, tclient_req_t req);
tclient_req_t tclient_tag_req (uint64_t tag);

tclient_state_t tclient_state (const tclient_t *self, int i);
bool tclient_registered (const tclient_t *self, int i);
//  Index of a registered tracker, starting the search at first; -1: none.
int tclient_any_registered (const tclient_t *self);
tclient_info_t tclient_info (const tclient_t *self, int i, int64_t now_ms);

//  Tracker i says name belongs to sign_pk.  Returns the index of another
//  tracker that said another key for that name (they disagree), or -1.
int tclient_on_name (tclient_t *self, int i, const char *name, const uint8_t sign_pk [32]);

//  Messages shown (by signing key of the sender and msg_id), kept for
//  TCLIENT_SEEN_TTL_MS.  tclient_seen_mark returns true when it was marked
//  before (shown already: do not show it again); marks it now otherwise.
bool tclient_seen_mark (tclient_t *self, const uint8_t sender [32], const uint8_t msg_id [16],
                        int64_t wall_ms);
bool tclient_seen (const tclient_t *self, const uint8_t sender [32], const uint8_t msg_id [16],
                   int64_t wall_ms);
size_t tclient_seen_count (const tclient_t *self);
//  Whether marks changed since the last save.
bool tclient_seen_dirty (const tclient_t *self);
//  Saves the marks not yet expired at path (atomic), or loads them.
//  0, or SC_EIO / SC_ECORRUPT; a missing file loads as empty.
int tclient_seen_save (tclient_t *self, const char *path, int64_t wall_ms);
int tclient_seen_load (tclient_t *self, const char *path, int64_t wall_ms);

#endif

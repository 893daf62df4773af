/*  files_int: what the four files of the files module share, and nothing
    else includes.  node/files.h is the module's face; behind it the work
    is split by role, one file each:

      files.c         the dispatcher: life cycle, frames and commands to the
                      role that owns them, the work loop and the clock
      files_state.c   the transfer records: events, lookup, failing and
                      pausing, saved state under HOME/transfers, the
                      checksum read back from a file
      files_shares.c  shares: the index (HOME/shares.json), LIST / SHARES,
                      the probe children (securechat-media probe)
      files_send.c    sending: the offer, chunks read straight into their
                      frames and checksummed as they go, DONE with the sum
      files_recv.c    receiving: offers and their caps, ACCEPT and grants,
                      chunks written with pwrite and checksummed in order,
                      the check, the rename

    One struct (files_t) is shared by all of them, as one module's state;
    functions one file lends another are prefixed by the file's role
    (fstate_, fshares_, fsend_, frecv_), the rest are static.  Pointers
    given and returned are borrowed unless a comment says otherwise.  */
#ifndef SC_FILES_INT_H
#define SC_FILES_INT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xxhash.h>
#include "ctlq.h"
#include "child.h"
#include "files.h"
#include "xfer.h"

#define HASH_SLICE (8 * 1024 * 1024)    //  bytes read back and checksummed per work call
#define WRITEBACK_BYTES (16 * 1024 * 1024)  //  receiver: start writing to the disk this often
#define SEND_BURST 16                   //  chunks sent per work call, all transfers
#define SHARES_MAX 1024
#define FREE_MARGIN (16 * 1024 * 1024)  //  keep this much free on the disk
#define PROGRESS_MS 1000
#define MAP_SAVE_MS 1000                //  a running receiver saves its bitmap this often
#define REGRANT_MS 1000                 //  receiver: repeat the grant when nothing came this long
#define STALLED_MS 3000                 //  no progress this long: said in the events
#define RESYNC_MS 10000                 //  nothing came this long: compare bitmaps again
#define STALL_MS_DEFAULT 60000          //  no progress this long: paused
#define REOFFER_MS 10000                //  an offer with no answer is made again...
#define REOFFER_MAX 30                  //  ...this often at most (then at the peer's return)
#define RESYNC_MAX_MS 60000             //  the longest quiet before bitmaps are compared
#define OUT_PER_PEER 16                 //  transfers sent to one peer at once
#define OUT_MAX 64                      //  and to everyone
//  What a peer can make us keep (a peer costs one key pair)
#define OFFERS_PER_PEER 8               //  offers from one peer waiting for /accept
#define OFFERS_MAX 64                   //  from everyone: past that the oldest goes
#define IN_PER_PEER 16                  //  transfers from one peer accepted and not ended
#define IN_MAX 64                       //  from everyone
#define ENDED_MAX 256                   //  ended transfers kept for /transfers
#define OFFER_TTL_MS_DEFAULT (24LL * 3600 * 1000)   //  an offer not answered this long expires
#define STATE_FILE_MAX (1536 * 1024)    //  saved state larger than this is not ours

typedef enum {
    S_OFFERED,      //  offer sent / received, waiting for an answer
    S_RUNNING,
    S_VERIFYING,    //  receiver: checking the checksum
    S_PAUSED,       //  peer gone, disk full, stalled: resumes later (files_pause_t says why)
    S_DONE,
    S_FAILED,
} files_xstate_t;

//  Names of files_xstate_t for the events
extern const char *files_state_names [];

//  Why a transfer is paused
typedef enum {
    P_NONE,
    P_PEER,         //  the link is gone: resumes when the peer is back
    P_DISK,         //  the disk is full: /accept once there is room
    P_STALL,        //  no progress on a live link: resumes with the link, or /accept
} files_pause_t;

typedef struct {
    uint8_t id [16];
    char idhex [33];
    bool out;                   //  we send
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
    char path [PATH_MAX];       //  out: source; in: final path once saved
    char part [XFER_NAME_MAX + 64];     //  in: temporary name in the download folder
    uint64_t size, chunk_size, count;
    files_xstate_t state;
    int fd;
    //  XXH3-128 of the file, taken in order as the data streams: bytes
    //  [0, hashed) are in xs.  Whatever was not (out of order, before a
    //  restart) is read back once at the end.
    XXH3_state_t *xs;
    uint64_t hashed;
    uint64_t unsynced;          //  in: bytes written since the disk was last told to write back
    uint8_t sum [WIRE_SUM_SIZE];        //  in: the sender's, from its DONE
    bool sum_known;             //  in: the sender's DONE came
    bool fin;                   //  in: ...and every chunk was here: none may follow
    bool fin_sent;              //  out: our DONE went (since the last ACCEPT)
    //  out: the source as offered; a file changed since is not sent on
    int64_t src_mtime_ns;
    uint64_t src_ino, src_dev;
    uint8_t *map;               //  out: chunks the receiver holds or we sent; in: chunks we
                                //  hold (NULL until accepted: an offer holds no bitmap)
    uint64_t have;              //  chunks set in map
    //  Credit is cumulative: the receiver grants "you may have sent me up to
    //  N chunks in all" (counted as the chunks it holds plus those on the
    //  way), so a lost, late or repeated grant can neither shrink nor
    //  inflate the window.
    uint64_t limit;             //  out: the highest grant seen (held to our own window)
    uint64_t granted;           //  in: the grant we gave last
    bool grant_due;             //  in: the grant could not go out yet
    bool accept_due;            //  in: ACCEPT could not go out yet
    bool offer_due;             //  out: OFFER could not go out yet
    uint64_t next;              //  out: where to look for the next chunk to send
    uint64_t sent;              //  out: chunks sent in this run (for tests and stats)
    int64_t last_progress;      //  monotonic ms: a chunk came (in) or went / credit grew (out)
    int64_t last_heard;         //  in: any chunk came, even one held already (the link lives);
                                //  out: the grant last grew
    int64_t ivl;                //  usual ms between those (smoothed): what "quiet" means here
    int offers;                 //  out: OFFERs made while waiting for an answer
    int64_t last_grant;         //  in: when the grant last went out
    int64_t last_resync;        //  when bitmaps were last compared (ACCEPT or OFFER again)
    files_pause_t paused;
    bool dirty;                 //  in: state to save
    int64_t map_saved;          //  in: when the bitmap was last saved
    int accepts;                //  in: ACCEPTs sent in this run
    int64_t asked_again;        //  in: when we last sent one after the first (0: never)
    bool save_due;              //  saved at the next tick (a new transfer: its first data first)
    bool pull;                  //  in: we asked for it (/get)
    int64_t offered_at;         //  in: wall clock ms when the offer first came (it expires)
    int64_t last_event;
    uint64_t last_bytes;        //  at last_event, for the rate
    uint64_t rate;              //  bytes per second between the last two reports
    char error [512];
} files_xfer_t;

typedef struct {
    char name [XFER_NAME_MAX + 1];
    char path [PATH_MAX];
    uint64_t size;
    bool video;                 //  probed once, when shared
    uint64_t duration_ms;
    char codecs [64];           //  "h264,aac"
    char tracks [256];          //  "video:h264:,audio:aac:eng" (probe.h)
    char skipped [512];         //  what stays home and why
    int64_t mtime;              //  when probed: a file unchanged since is not probed again
    //  The probe runs in a child; the event loop reads its answer
    bool probing;               //  asked for (started, or waiting for a slot)
    bool announce;              //  say "shared" once it is known (a /share, not a start-up)
    child_t *probe;             //  the probe process, while it runs (node/child)
    int probe_fd;               //  -1 when not running
    char probe_text [1024];
    size_t probe_len;
    int64_t probe_end;          //  monotonic ms after which it is given up
} files_share_t;

typedef struct {
    uint8_t id [16];
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
} files_get_t;

struct _files_t {
    files_opts_t opts;
    files_host_t host;
    uint8_t videos_asked [8][32];       //  peers whose SHARES answer a /videos
    size_t nvideos_asked;
    char home [PATH_MAX];
    char downloads [PATH_MAX];
    char state_dir [PATH_MAX];
    int dir_fd;                 //  the download folder
    files_xfer_t **xfers;
    size_t nxfers;
    files_share_t *shares;
    size_t nshares;
    files_get_t gets [64];
    size_t ngets;
    ctlq_t *ctl;                //  answers and ends that met a full link
    files_stats_t stats;
    int64_t now;                //  monotonic ms, from the last work or tick
    size_t rr;                  //  the transfer the rate budget goes to first
    int64_t stall_ms;
    uint8_t *buf;               //  what the checksum reads back
    XXH3_state_t *xs_try;       //  a chunk's checksum until the link takes it
    int64_t rate_start;
    uint64_t rate_bytes;
};

//  ---------------------------------------------------------------------
//  The transfer records (files_state.c): events, lookup, the end of a transfer, saved state

//  The peer's display name (borrowed; "?" if unknown).
const char *fstate_peer_name (files_t *self, const uint8_t peer [32]);

//  Reports an event to the host (taken).
void fstate_emit (files_t *self, json_t *ev);

//  Reports an error event: code and a sentence.
void fstate_error (files_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Reports an info event with a sentence.
void fstate_info (files_t *self, const char *message);

//  Bytes of the file a transfer holds (in) or the receiver holds (out).
uint64_t fstate_bytes (const files_xfer_t *x);

//  A transfer as a "transfer" event (the caller owns it).
json_t *fstate_xfer_json (files_t *self, const files_xfer_t *x);

//  Reports a transfer's progress and state now (and its rate since the last report).
void fstate_report (files_t *self, files_xfer_t *x, int64_t now);

//  Sends a control frame that must not be lost: when the link is full it
//  waits in the control queue (ctlq.h) and goes when the link takes it.
void fstate_send_ctl (files_t *self, const uint8_t peer [32], wire_type_t type,
                      const uint8_t id [16], int ok, const char *text);

//  Pauses a transfer for why (a sentence kept for the events).
void fstate_pause (files_t *self, files_xfer_t *x, files_pause_t reason, const char *why);

//  Notes that something was heard on a transfer (a chunk, a grant): how
//  often that happens tells a slow link from a broken one.
void fstate_heard (files_t *self, files_xfer_t *x);

//  How long a transfer may be quiet before bitmaps are compared again:
//  a few of its usual gaps, within RESYNC_MS and RESYNC_MAX_MS
int64_t fstate_resync_ms (const files_xfer_t *x);

//  The transfer with id, or NULL (borrowed).
files_xfer_t *fstate_find (files_t *self, const uint8_t id [16]);

//  By hex prefix (4+ digits), for commands; reports errors.
files_xfer_t *fstate_find_prefix (files_t *self, const char *prefix);

//  Wall clock ms (offers expire across restarts).
int64_t fstate_wall (files_t *self);

//  Incoming transfers from peer (NULL: from everyone) waiting for /accept,
//  and accepted and not ended.
void fstate_count_in (files_t *self, const uint8_t *peer, size_t *offered, size_t *accepted);

//  A new transfer record in self (borrowed), or NULL without memory.
files_xfer_t *fstate_new_xfer (files_t *self, const uint8_t id [16], bool out,
                               const uint8_t peer [32]);

//  Closes and forgets a finished transfer's resources (the record stays
//  for /transfers).
void fstate_release (files_t *self, files_xfer_t *x, bool remove_part);

//  Ends a transfer for good with why (the peer told when tell_peer); removes a partial file.
void fstate_fail (files_t *self, files_xfer_t *x, const char *why, bool tell_peer);

//  Saves a receiver's bitmap: only as far as its last chunk held, so a
//  transfer that has just begun saves next to nothing.  None: no file.
int fstate_save_map (files_t *self, files_xfer_t *x);

//  Saves a transfer under HOME/transfers (a receiver's bitmap beside it), so a restart resumes.
void fstate_save (files_t *self, files_xfer_t *x);

//  Loads the unfinished transfers saved under HOME/transfers, checked.
void fstate_load (files_t *self);

//  Reads back and checksums one slice of what was not checksummed as it
//  went (after a restart or a resume).  Returns true if more remains.
bool fstate_sum_slice (files_t *self, files_xfer_t *x);

//  The checksum of the whole file, canonical (big-endian) bytes.
void fstate_digest (const files_xfer_t *x, uint8_t sum [WIRE_SUM_SIZE]);


//  ---------------------------------------------------------------------
//  Shares (files_shares.c): the share index, LIST / SHARES, the probe children

//  Loads HOME/shares.json: shares whose file went away are dropped, what
//  was probed is kept while the file stays the same, the rest is probed.
void fshares_load (files_t *self);

//  Stops every probe and forgets the shares (they are saved already).
void fshares_destroy (files_t *self);

//  A probe that takes too long says "not a video".
void fshares_tick (files_t *self, int64_t now);

//  Answers LIST: the share list goes to the peer (waits in the control queue when the link is full).
void fshares_send (files_t *self, const uint8_t peer [32]);

//  A peer's share list (SHARES): reported as a "files" or "videos" event.
void fshares_on_shares (files_t *self, const uint8_t peer [32], const wire_frame_t *f);


//  ---------------------------------------------------------------------
//  Sending (files_send.c): OFFER, chunks read into their frames, the checksum, DONE

//  Opens the source again (a resume) and checks that it is the file that
//  was offered: same size, modification time and inode.  Returns 0, or
//  fails the transfer with a sentence and returns SC_EIO.
int fsend_check_source (files_t *self, files_xfer_t *x);

//  Sends the signed, sealed OFFER (first: reported as new); pauses when the peer is gone.
void fsend_offer (files_t *self, files_xfer_t *x, bool first);

//  The next chunk the receiver lacks, from x->next on; count if none.
uint64_t fsend_next_missing (files_xfer_t *x);

//  GET: a peer asks for a share by name (never a path).  It goes as a
//  /send does, by the same path (s_start_out).
void fsend_on_get (files_t *self, const uint8_t peer [32], const wire_frame_t *f);

//  A frame about one of our outgoing transfers: ACCEPT, CREDIT, the
//  receiver's DONE.
void fsend_on_frame (files_t *self, files_xfer_t *x, const wire_frame_t *f);

//  /accept of a paused send: offers again (the receiver answers with its
//  bitmap), if the file is still the one offered.
void fsend_resume (files_t *self, files_xfer_t *x);

//  Sends what the grant allows of one transfer, at most *budget chunks
//  (and while the rate bucket holds less than allowed bytes, 0: no
//  limit), then its DONE.  Returns true if more can be done at once.
bool fsend_work (files_t *self, files_xfer_t *x, int *budget, uint64_t allowed);


//  ---------------------------------------------------------------------
//  Receiving (files_recv.c): offers, ACCEPT and grants, chunks written, the check, the rename

//  Sends the current grant (cumulative, so it may be repeated at will);
//  when the link does not take it, work() tries again.
void frecv_grant (files_t *self, files_xfer_t *x);

//  Sends ACCEPT: our bitmap (what we hold) and the grant.  The sender
//  takes the bitmap as the truth and sends what it lacks, so ACCEPT also
//  serves to compare notes when a transfer made no progress.
int frecv_accept_frame (files_t *self, files_xfer_t *x);

//  Ends an offer nobody answered: the sender is told why.
void frecv_expire (files_t *self, files_xfer_t *x, const char *why);

//  A frame about one of our incoming transfers: a CHUNK, the sender's
//  DONE with its checksum.
void frecv_on_frame (files_t *self, files_xfer_t *x, const wire_frame_t *f);

//  REFUSE of a /get we asked for: said, and forgotten.
void frecv_get_refused (files_t *self, const uint8_t peer [32], const wire_frame_t *f,
                        const char *why);

//  /accept of an incoming transfer: takes the offer, or resumes.
void frecv_take (files_t *self, files_xfer_t *x);

//  /reject: the peer is told, the offer is gone.
void frecv_refuse_offer (files_t *self, files_xfer_t *x);

//  A receiver's work: the check at the end, in slices; an ACCEPT or a
//  grant that waited for the link.  Returns true if more can be done at once.
bool frecv_work (files_t *self, files_xfer_t *x);


#endif

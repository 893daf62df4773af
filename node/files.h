/*  files: sharing, sending and receiving files between peers.

    Shares: /share offers a regular file by its base name; peers list them
    (LIST / SHARES) and fetch one by name (GET): never by path.

    Transfers: /send and GET go one path.  The sender offers at once (a
    signed, sealed OFFER: id, name, size, chunk size and count) and reads
    nothing first.  The receiver decides by policy (or asks) and grants
    XFER_WINDOW chunks past what it holds; the grant is cumulative and
    moves on as chunks are written, so a slow receiver is never flooded
    and a lost grant is made good by the next.  Chunks travel as they are:
    the CURVE link encrypts and authenticates every frame, from the
    identity proven on it.  Both ends take XXH3-128 of the data as it
    streams; the sender's last frame (DONE) carries it, and the receiver
    checks it before it renames the file without overwriting (a suffix
    is added).  The temporary file in the download folder (O_EXCL |
    O_NOFOLLOW, relative to the folder's descriptor) is made when the
    first chunk comes.  A transfer with no progress is recovered (the
    grant repeated, bitmaps compared again), then paused after the stall
    timeout.  A full disk or a lost peer pauses a transfer; nothing
    written is lost.  Both sides keep unfinished transfers under
    HOME/transfers, so the sender offers again when the peer is back (or
    after a restart) and the receiver answers with the bitmap of what it
    holds: only what is missing is sent.  A source changed since the
    offer (size, mtime, inode) is not sent on: the transfer fails.

    Hostile peers cost a key pair each, so everything a peer can make us
    keep is bounded: offers waiting for /accept (8 per peer, 64 in all, the
    oldest put out past that, each expiring after a day) hold no bitmap
    and save a few hundred bytes; accepted transfers (16 per peer, 64 in
    all) hold a bitmap of at most 2^22 chunks, saved as bits in a file of
    its own; ended transfers are kept for /transfers, 256 at most.  Saved
    state is checked when loaded: a temporary file is only ever our own
    name for that transfer, inside the download folder.

    No sockets here: the node gives a host (send a frame, seal an envelope,
    report an event, name a peer).  The work is split by role behind this
    header (files_int.h): shares, sending, receiving, a dispatcher.  */
#ifndef SC_FILES_H
#define SC_FILES_H

#include <jansson.h>
#include <zmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "wire.h"

typedef enum {
    FILES_ACCEPT_KNOWN = 0,     //  accept from any peer with a link
    FILES_ACCEPT_VERIFIED,      //  accept from verified peers, ask for others (the node's default)
    FILES_ACCEPT_ASK,           //  always ask (/accept ID)
} files_policy_t;

typedef struct {
    //  Sends a frame to the peer; returns 0, SC_EAGAIN (link full or down).
    int (*send) (void *arg, const uint8_t peer [32], const wire_frame_t *frame);
    //  Sends an encoded frame without a copy; *buf (malloc'd) is taken in
    //  every case.  NULL: decoded and given to send.
    int (*send_owned) (void *arg, const uint8_t peer [32], uint8_t **buf, size_t len);
    //  Seals body to the peer as an envelope (malloc'd into *env).
    int (*seal) (void *arg, const uint8_t peer [32], const uint8_t *body, size_t len,
                 uint8_t **env, size_t *env_len);
    //  Opens an OFFER's envelope from the peer: 0 and the body (malloc'd
    //  into *body), or an error (the host has said why: a replay, a seal
    //  that does not open).  NULL: offers are refused.
    int (*open) (void *arg, const uint8_t peer [32], const uint8_t *env, size_t env_len,
                 uint8_t **body, size_t *body_len);
    //  Reports an event (taken).
    void (*event) (void *arg, json_t *event);
    //  The peer's display name and whether it is verified (name NULL if unknown).
    const char *(*peer_name) (void *arg, const uint8_t peer [32], bool *verified);
    //  Whether the peer is online now (NULL: taken as online).
    bool (*online) (void *arg, const uint8_t peer [32]);
    //  Wall clock, ms since 1970, for offers that expire across restarts
    //  (required: the module reads no clock of its own).
    int64_t (*wall_ms) (void *arg);
    void *arg;
} files_host_t;

typedef struct {
    const char *home;           //  state under HOME/transfers and HOME/shares.json
    const char *downloads;      //  where received files go (made 0700 if missing)
    files_policy_t policy;
    uint64_t accept_max;        //  larger offers are asked about
    uint64_t max_rate;          //  bytes per second sent, 0 = no limit
    const char *helper;         //  securechat-media, which probes shares (NULL: none)
    int64_t stall_ms;           //  no progress this long on a live link: paused (0: 60 s)
    int64_t offer_ttl_ms;       //  an offer not answered this long expires (0: 24 h)
} files_opts_t;

//  What flow control saw (for /stats).
typedef struct {
    uint64_t credit_clamped;    //  grants past our own window, held to it
    uint64_t credit_stale;      //  grants lower than one already seen, ignored
    uint64_t grants_repeated;   //  grants we sent again because nothing came
    uint64_t resyncs;           //  bitmaps compared again after no progress
    uint64_t stalls;            //  transfers paused by the stall timeout
    uint64_t ctl_queued;        //  control frames that met a full link and waited
    uint64_t ctl_dropped;       //  control frames given up
    uint64_t offers_refused;    //  offers refused: a cap reached, or impossible numbers
    uint64_t offers_expired;    //  offers not answered in time, or the oldest put out by newer
    uint64_t bad_chunks;        //  chunks out of range, of the wrong size or after DONE: failed
    uint64_t sums_wrong;        //  files whose checksum did not match the sender's: discarded
} files_stats_t;

typedef struct _files_t files_t;

//  Loads shares and unfinished transfers.  Returns NULL and *err on failure.
files_t *files_new (const files_opts_t *opts, const files_host_t *host, int *err);
//  Saves state and closes files; accepts NULL, nulls the pointer.
void files_destroy (files_t **self_p);

//  Commands; each reports its result or a clear error as an event.
void files_share (files_t *self, const char *path);
void files_unshare (files_t *self, const char *name);
void files_send (files_t *self, const uint8_t peer [32], const char *path);
//  Asks a peer for its shares; with videos, the answer lists only videos
//  (a "videos" event instead of "files").
void files_list (files_t *self, const uint8_t peer [32], bool videos);
void files_get (files_t *self, const uint8_t peer [32], const char *name);
void files_transfers (files_t *self);
void files_accept (files_t *self, const char *id_prefix);
void files_reject (files_t *self, const char *id_prefix);
void files_cancel (files_t *self, const char *id_prefix);

//  Finds a share by name: 0 with its path and whether it is a video, or
//  SC_ENOENT.  Peers name shares, never paths.
int files_find_share (files_t *self, const char *name, char *path, size_t path_size, bool *video);

//  Registers the frames the files module owns (OFFER, ACCEPT, REFUSE,
//  CHUNK, CREDIT, DONE, CANCEL, LIST, SHARES, GET) in handlers.
int files_register (files_t *self, wire_handlers_t *handlers);

//  A frame from a peer (attributed by the link); OFFER bodies come opened.
void files_on_frame (files_t *self, const uint8_t peer [32], const wire_frame_t *frame);
void files_on_offer (files_t *self, const uint8_t peer [32], const uint8_t *body, size_t len);
void files_peer_up (files_t *self, const uint8_t peer [32]);
void files_peer_down (files_t *self, const uint8_t peer [32]);
//  One of two links to the peer closed (it stays up): chunks in flight on
//  it are lost, so receivers send their bitmap again at once.
void files_link_reset (files_t *self, const uint8_t peer [32]);

//  The descriptors of running probes (a /share asks the media helper in a
//  child), to poll for input: adds at most max to items, returns how many.
#define FILES_PROBES_MAX 8
int files_poll_items (files_t *self, zmq_pollitem_t *items, int max);
//  Reads what the probes said, for the items files_poll_items gave.
void files_on_poll (files_t *self, const zmq_pollitem_t *items, int count);

//  Does a slice of pending work (sending chunks, checking what came).  Returns true
//  when more can be done at once (poll without waiting).
bool files_work (files_t *self, int64_t now_ms);
//  Once in a while: progress events, saving receiver state, control
//  frames that waited for the link, stall recovery.
void files_tick (files_t *self, int64_t now_ms);
//  Counters for /stats.
files_stats_t files_stats (files_t *self);

#endif

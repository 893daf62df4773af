/*  node_int: the node's parts, shared by the files that implement it.

    The node is one object whose work is split by role over several files:
    node.c (the loop, the dispatch of frames, timers and the calls into the
    modules), meet.c (meeting peers: records from beacons, --peer answers
    and HELLOs, the peer table's admission rules, the link module's host),
    commands.c (what the user types: one handler per command).
    They share node_t, defined here; nothing outside node.c, meet.c and
    commands.c includes this header (the node's API is node.h).  */
#ifndef SC_NODE_INT_H
#define SC_NODE_INT_H

#include <limits.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "../crypto/envelope.h"
#include "../crypto/identity.h"
#include "../discovery/beacon.h"
#include "../discovery/record.h"
#include "../discovery/resolve.h"
#include "../discovery/tclient.h"
#include "chat.h"
#include "files.h"
#include "history.h"
#include "known.h"
#include "node.h"
#include "opts.h"
#include "peers.h"
#include "owner.h"
#include "video.h"
#include "viewer.h"
#include "transport.h"
#include "ui.h"
#include "wire.h"

#define TICK_MS 100
#define FIXED 7                 //  poll items before the jobs' and the links'
                                //  (each seal and signature costs ~0.1-0.3 ms)
#define HISTORY_SHOW 50
#define BEACON_MS 1000          //  beacon interval
#define ANSWER_MS 250           //  at most one early beacon per this, for newcomers
                                //  (they also learn us from our HELLO at once)
#define PEERS_MAX 1024          //  identities kept in one session
#define UNCONFIRMED_MAX 64      //  links open to peers that never said HELLO
#define PEERS_PER_ADDR 64       //  linked, unverified, never written to, from one address
#define TRACKER_PER_ADDR 16     //  unproven peers a tracker names at one address


struct _node_t {
    opts_t opts;
    char *home;
    char name [RECORD_NAME_MAX + 1];
    identity_t *id;
    char my_id [IDENTITY_FP_HEX_SIZE];
    transport_t *transport;
    resolve_t *resolve;         //  --peer targets, and answers to record requests
    bool known_failing;         //  saves failing: told once
    chat_t *chat;               //  chat lines and receipts
    wire_handlers_t handlers;   //  frame types, each to the module that owns it
    ui_t *ui;
    peers_t *peers;
    known_t *known;
    history_t *history;
    envelope_opener_t *opener;
    beacon_t *beacon;
    files_t *files;
    video_t *video;             //  what both roles of video share: the helper, ends that wait
    viewer_t *viewer;           //  our /watches
    owner_t *owner;             //  the videos we serve
    char helper [PATH_MAX];     //  securechat-media, beside our binary
    uint64_t session;
    uint8_t record [RECORD_SIZE];
    int64_t next_beacon;        //  monotonic ms
    int64_t next_save;
    int64_t last_beacon;
    bool beaconed;              //  the start beacon went out
    bool answer_due;
    void *router_watch;         //  links to our ROUTER that close
    uint64_t forgotten;         //  peers dropped (a pointer held across a call may be gone)
    bool trim_due;              //  links closed: memory to give back
    int64_t next_trim;
    zmq_pollitem_t *items;      //  for the loop: fixed ones, then jobs, then DEALERs
    size_t items_cap;
    bool quit;
    int64_t next_tick;
    tclient_t *tclient;         //  --tracker: the rules (NULL: no tracker given)
    struct {
        void *dealer, *watch;   //  our link to tracker i, once its key is known
        uint8_t box_pk [32];
        char host [64];
        int port;
    } tlinks [TCLIENT_TRACKERS_MAX];
    int64_t next_seen_save;
    struct _tbatch_t *tbatch;   //  tracking.c: mail of one fetch, held to be put in order
    struct _theld_t *theld;     //  tracking_held.c: /msg lines waiting for the trackers
    struct {
        uint64_t key_changed;   //  tracker answers refused: a known name with another key
        uint64_t disagree;      //  names two trackers gave different keys for
        uint64_t mail_in, mail_dropped;
        uint64_t dial_backs;    //  peers asked to connect to us
        uint64_t no_path;       //  peers with no direct path either way
    } tstats;
    struct {
        uint64_t bad_frames, unknown_sender, refused_msgs, peers_refused;
        uint64_t elsewhere;     //  records of linked peers from another address, ignored
        uint64_t key_claims;    //  records claiming a key another identity proved
    } stats;
};

//  Where a verified record came from
typedef enum {
    MEET_VIA_LINK,         //  a HELLO: proven by CURVE, and the link exists
    MEET_VIA_ANSWER,       //  the answer to our UDP request: connect now
    MEET_VIA_BEACON,       //  a beacon: connect now if it is a start beacon, else
                        //  after LINK_CONNECT_WAIT_MS unless the peer connects first
    MEET_VIA_TRACKER       //  a tracker named it (notice, lookup, dial-back): connect now
} meet_via_t;

//  The clocks: monotonic ms for timers, wall ms (since the epoch) for what
//  is signed and shown.  Read in node.c's loop and passed in below it.
int64_t node_mono_ms (void);
int64_t node_wall_ms (void);

//  Sends on the peer's one link (link_route says which): 0, SC_EAGAIN when
//  the link does not take it now, or an error.
int node_send (node_t *self, peer_t *peer, const wire_frame_t *frame);
//  The same for a frame already encoded: *buf (malloc'd) is taken in every case.
int node_send_buf (node_t *self, peer_t *peer, uint8_t **buf, size_t len);

//  meet.c
//  Signs a fresh record (new timestamp) into self->record.
void meet_refresh_record (node_t *self, uint8_t flags);
//  Sends our HELLO on the peer's link.
void meet_send_hello (node_t *self, peer_t *peer);
//  Sends a beacon (the first of a run with the START flag).
void meet_send_beacon (node_t *self, int64_t now);
//  The peer as /peers shows it (a new JSON object).
json_t *meet_peer_json (node_t *self, peer_t *peer);
//  Handles a verified record.  Returns the peer, or NULL when the record
//  is ours or could not be used.  *fresh is set when the peer has started
//  a new session (newer record) or is new; *connected when a link was opened.
peer_t *meet_on_record (node_t *self, const record_t *rec, const char *host, meet_via_t via,
                        bool *fresh, bool *connected);
//  A peer known from an earlier run only (known_peers: keys and name, no
//  address), for mail it left.  NULL when it cannot be added.
peer_t *meet_known (node_t *self, const uint8_t sign_pk [32], const uint8_t box_pk [32],
                    const char *name);
//  Forgets a peer that claimed an X25519 key another identity proved.
void meet_forget_claim (node_t *self, peer_t *peer);
//  A HELLO on a link (rx): see meet.c.
void meet_on_hello (node_t *self, transport_rx_t *rx, const wire_frame_t *f, peer_t *peer,
                    peer_t *owner, int64_t now);
//  The peer whose link to our ROUTER has this routing id (NULL: none).
peer_t *meet_peer_by_rid (node_t *self, const uint8_t *rid, size_t rid_len);
//  Reads the UDP socket (record requests and answers) and the beacons.
void meet_on_udp (node_t *self, int64_t now);
void meet_on_beacon (node_t *self, int64_t now);

//  tracking.c: the node's links to its trackers (the rules are discovery/tclient)
//  Sets up --tracker targets (after the resolver).  0 or an error (logged).
int tracking_init (node_t *self);
//  Sends T_LEAVE and closes the links.
void tracking_destroy (node_t *self);
//  Tracker i's record came from its address (UDP).
void tracking_on_resolved (node_t *self, int i, const resolve_answer_t *answer);
//  Registrations due, dial-backs, the shown messages saved.
void tracking_tick (node_t *self, int64_t now);
//  Fills poll items for the trackers' DEALERs and watches; returns how many.
int tracking_poll_items (node_t *self, zmq_pollitem_t *items);
//  Handles what they said (items as filled).
void tracking_on_poll (node_t *self, zmq_pollitem_t *items, int count, int64_t now);
//  Holds a private line to a name or fingerprint prefix (8 hex digits or
//  more) met nowhere yet, and asks the trackers for it: the line is queued
//  when one names that peer, and given up with an error when every tracker
//  answered without it, or after TRACKING_HOLD_MS.  0 when held; SC_ENOPEER
//  when no tracker could be asked; SC_EFULL.
//  (tracking_held.c.)
//  SC_EAGAIN: a prefix shorter than TRACKING_HOLD_PREFIX was asked for,
//  but no line waits on it (32 bits can be ground by a key maker).
#define TRACKING_HOLD_PREFIX 16
int tracking_hold (node_t *self, const char *query, const char *text);
//  Tracker i answered (or refused) the lookup tag: held lines are looked at.
void tracking_held_answered (node_t *self, int i, uint64_t tag, int64_t now);
//  Held lines whose answers are all in, or whose time is out, go or are refused.
void tracking_held_release (node_t *self, int64_t now);
//  Frees the held lines (unsent).
void tracking_held_destroy (node_t *self);
//  Sends f to tracker i.  0, or SC_EAGAIN when not linked.
int tracking_send (node_t *self, int i, const wire_frame_t *f);
//  The trackers as /trackers shows them (a new JSON array).
json_t *tracking_json (node_t *self);
//  For chat_host_t: leaves an envelope at a tracker.  0 when one took it.
int tracking_mail (void *arg, peer_t *peer, const uint8_t msg_id [ENVELOPE_ID_SIZE],
                   const uint8_t *env, size_t env_len);
//  For chat_host_t: marks a message shown (see tclient_seen_mark).
bool tracking_seen (void *arg, const uint8_t from [32], const uint8_t msg_id [ENVELOPE_ID_SIZE],
                    int64_t wall);

//  commands.c
//  The ui's line callback (arg: the node): parses and runs one command.
void commands_on_line (const char *line, void *arg);
//  For ui_host_t: each peer's name and fingerprint (completion).
void commands_peers (void *arg, ui_peer_fn *add, void *ctx);
//  The node's identity as an event of that name ("ready", "whoami").
json_t *commands_whoami_json (node_t *self, const char *event);

#endif

#define LOG_MODULE "node"
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../discovery/beacon.h"
#include "../discovery/record.h"
#include "../discovery/resolve.h"
#include "../discovery/udp.h"
#include "chat.h"
#include "files.h"
#include "history.h"
#include "jobs.h"
#include "known.h"
#include "link.h"
#include "node.h"
#include "peers.h"
#include "owner.h"
#include "video.h"
#include "viewer.h"
#include "transport.h"
#include "ui.h"
#include "wire.h"
#include "node_int.h"

static volatile sig_atomic_t s_signalled;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_signalled = 1;
}

int64_t
node_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  SC_NODE_CLOCK_OFFSET_MS (tests only, like the tracker's): the wall clock
//  moved by that many ms, so that mail can be "held" past the ordinary
//  window without sleeping
int64_t
node_wall_ms (void)
{
    static int64_t offset = -1;
    if (offset == -1) {
        const char *env = getenv ("SC_NODE_CLOCK_OFFSET_MS");
        offset = env? strtoll (env, NULL, 10): 0;
        if (offset == -1)
            offset = 0;
    }
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
}

static int
s_chat_send (void *arg, peer_t *peer, const wire_frame_t *frame)
{
    return node_send (arg, peer, frame);
}

static int64_t
s_chat_wall (void *arg)
{
    return node_wall_ms ();
}

//  ---------------------------------------------------------------------
//  Frames from peers

static void s_on_watch (node_t *self, void *watch, int64_t now);

//  A frame from a link: on our ROUTER, or on the DEALER we opened to owner.
//  A frame is the identity's that proved its key on that link (by the
//  HELLO over it), never whichever peer claimed that key first.
static void
s_on_frame (node_t *self, transport_rx_t *rx, peer_t *owner, int64_t now)
{
    wire_frame_t f;
    int rc = wire_decode (zmq_msg_data (&rx->msg), zmq_msg_size (&rx->msg), &f);
    if (rc != 0) {
        self->stats.bad_frames++;
        log_debug ("bad frame from %s: %s", rx->addr, sc_strerror (rc));
        return;
    }
    peer_t *peer = owner? owner: meet_peer_by_rid (self, rx->rid, rx->rid_len);
    //  A HELLO on a connection new to our ROUTER may have the descriptor
    //  of one that closed: ZeroMQ told the watch of that close before the
    //  descriptor could be reused, so hearing it now keeps the close from
    //  being taken for this new link's later
    if (!owner && !peer && f.type == WIRE_HELLO)
        s_on_watch (self, self->router_watch, now);
    if (f.type == WIRE_HELLO) {
        meet_on_hello (self, rx, &f, peer, owner, now);
        return;
    }
    if (!peer) {
        //  Anything but HELLO on a link that has not said HELLO is dropped
        self->stats.unknown_sender++;
        return;
    }
    link_on_frame (peer->link, rx->rid, rx->rid_len, rx->fd, now);
    //  The link's own frames here; the others to the modules that own them
    if (f.type == WIRE_BYE)
        link_on_bye (peer->link, now);
    else if (f.type != WIRE_PING)
        wire_dispatch (&self->handlers, peer->sign_pk, &f, now);
}

//  ---------------------------------------------------------------------
//  Timers

//  For the resolver: is this peer linked?  (Then its address is not asked.)
static bool
s_peer_up (const uint8_t sign_pk [32], void *arg)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, sign_pk);
    return (peer && link_up (peer->link))
        || (self->tclient && tclient_find_sign (self->tclient, sign_pk) >= 0);
}

static void
s_tick (node_t *self, int64_t now)
{
    files_tick (self->files, now);
    video_tick (self->video, now);
    viewer_tick (self->viewer, now);
    owner_tick (self->owner, now);
    //  Trust changes go to disk once a second at most (and at exit)
    if (now >= self->next_save) {
        //  What failed stays pending and is tried again each second
        int rc = known_flush (self->known);
        if (rc != 0 && !self->known_failing)
            ui_warning (self->ui, "save_failed", "the known peers could not be saved in %s: %s; "
                        "trying again", self->home, sc_strerror (rc));
        self->known_failing = rc != 0;
        self->next_save = now + 1000;
    }
    if (self->beacon && (now >= self->next_beacon
                         || (self->answer_due && now - self->last_beacon >= ANSWER_MS))) {
        meet_send_beacon (self, now);
        if (now >= self->next_beacon)
            self->next_beacon = now + BEACON_MS;
    }
    for (size_t i = 0; i < peers_size (self->peers); i++)
        link_tick (peers_at (self->peers, i)->link, now);
    //  Links that closed leave their buffers in the allocator (a flood of
    //  handshakes took tens of MB): give them back, at most every 5 s
    if (self->trim_due && now >= self->next_trim) {
        malloc_trim (0);
        self->trim_due = false;
        self->next_trim = now + 5000;
    }
    resolve_tick (self->resolve, now, s_peer_up, self);
    tracking_tick (self, now);
}

//  ---------------------------------------------------------------------
//  What the files module may ask of the node

static int
s_files_send (void *arg, const uint8_t peer_pk [32], const wire_frame_t *frame)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer || !link_up (peer->link))
        return SC_EAGAIN;
    return node_send (self, peer, frame);
}

//  A frame the files module built itself (a chunk read into its buffer)
static int
s_files_send_owned (void *arg, const uint8_t peer_pk [32], uint8_t **buf, size_t len)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer || !link_up (peer->link)) {
        free (*buf);
        *buf = NULL;
        return SC_EAGAIN;
    }
    return node_send_buf (self, peer, buf, len);
}

static bool
s_files_online (void *arg, const uint8_t peer_pk [32])
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    return peer && link_up (peer->link);
}

static int
s_files_seal (void *arg, const uint8_t peer_pk [32], const uint8_t *body, size_t len,
              uint8_t **env, size_t *env_len)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    if (!peer)
        return SC_ENOPEER;
    uint8_t msg_id [ENVELOPE_ID_SIZE];
    randombytes_buf (msg_id, sizeof msg_id);
    return envelope_seal (self->id, peer->sign_pk, peer->box_pk, node_wall_ms (), body, len,
                          msg_id, env, env_len);
}

static void
s_files_event (void *arg, json_t *event)
{
    node_t *self = arg;
    ui_emit (self->ui, event);
}

//  An OFFER's envelope, opened with the node's opener (replay state, pinned
//  keys) like a message's; what does not open is told and counted here.
static int
s_files_open (void *arg, const uint8_t peer_pk [32], const uint8_t *env, size_t env_len,
              uint8_t **body, size_t *body_len)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    envelope_msg_t msg;
    int rc = peer? envelope_open (self->opener, env, env_len, peer_pk, node_wall_ms (), &msg)
                 : SC_EUNKNOWN;
    if (rc == 0) {
        *body = malloc (msg.body_len? msg.body_len: 1);
        if (*body) {
            memcpy (*body, msg.body, msg.body_len);
            *body_len = msg.body_len;
        }
        else
            rc = SC_ENOMEM;
        envelope_msg_clear (&msg);
    }
    else if (peer && rc != SC_EREPLAY) {
        self->stats.refused_msgs++;
        ui_warning (self->ui, sc_errname (rc), "a file offer from %s (%.16s) was refused: %s",
                    peer->name, peer->id, sc_strerror (rc));
    }
    return rc;
}

static const char *
s_files_peer_name (void *arg, const uint8_t peer_pk [32], bool *verified)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, peer_pk);
    *verified = known_verified (self->known, peer_pk);
    return peer? peer->name: NULL;
}

//  What the video modules may ask of the node

static const char *
s_streams_peer_name (void *arg, const uint8_t peer_pk [32])
{
    bool verified;
    return s_files_peer_name (arg, peer_pk, &verified);
}

static int
s_streams_find_share (void *arg, const char *name, char *path, size_t path_size, bool *video)
{
    node_t *self = arg;
    return files_find_share (self->files, name, path, path_size, video);
}

//  ---------------------------------------------------------------------
//  Life cycle

static bool
s_pinned (const uint8_t sign_pk [32], void *arg)
{
    node_t *self = arg;
    return peers_find_sign (self->peers, sign_pk) != NULL;
}

//  Whether a key belongs to a peer online now (known_peers keeps it).
static bool
s_online_key (const uint8_t sign_pk [32], void *arg)
{
    node_t *self = arg;
    peer_t *peer = peers_find_sign (self->peers, sign_pk);
    return peer && link_up (peer->link);
}

node_t *
node_new (const opts_t *opts, const char *home, const char *name,
          identity_t **identity_p, int *err)
{
    node_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    struct s_target {
        char host [64];
        int port;
        uint8_t fp [32];
        bool pinned;
    } targets [OPTS_PEERS_MAX];
    int ntargets = 0;
    self->opts = *opts;
    self->id = *identity_p;
    *identity_p = NULL;         //  transferred
    snprintf (self->name, sizeof self->name, "%s", name);
    identity_fingerprint_hex (identity_sign_pk (self->id), self->my_id);
    char path [PATH_MAX];
    uint8_t key [32];
    self->home = strdup (home);
    self->peers = peers_new ();
    self->opener = envelope_opener_new (self->id, NULL, s_pinned, self);
    if (!self->home || !self->peers || !self->opener) {
        *err = SC_ENOMEM;
        goto fail;
    }
    snprintf (path, sizeof path, "%s/known_peers.json", home);
    self->known = known_new (path, err);
    if (!self->known) {
        log_error ("%s: %s", path, sc_strerror (*err));
        goto fail;
    }
    known_set_in_use (self->known, s_online_key, self);
    snprintf (path, sizeof path, "%s/history", home);
    *err = identity_derive_key (self->id, "history_", key);
    if (*err == 0)
        self->history = history_new (path, key, NULL);
    sodium_memzero (key, sizeof key);
    if (!self->history) {
        *err = SC_ENOMEM;
        goto fail;
    }
    //  Peer addresses are checked before anything is bound
    for (int i = 0; i < opts->npeers; i++) {
        struct s_target *t = &targets [ntargets];
        char msg [256];
        *err = opts_parse_peer (opts->peers [i], t->host, sizeof t->host, &t->port, t->fp,
                                &t->pinned, msg, sizeof msg);
        if (*err == 0 && udp_resolve (t->host, t->port, &(struct sockaddr_in) { 0 }) != 0) {
            snprintf (msg, sizeof msg, "cannot resolve the host in %s", opts->peers [i]);
            *err = SC_ENOENT;
        }
        if (*err != 0) {
            log_error ("--peer %s", msg);
            goto fail;
        }
        ntargets++;
    }
    self->transport = transport_new (self->id, opts->bind, opts->port, err);
    if (!self->transport)
        goto fail;
    self->router_watch = transport_watch (self->transport, transport_router (self->transport));
    if (!self->router_watch) {
        *err = SC_ENET;
        goto fail;
    }
    int port = transport_port (self->transport);
    self->resolve = resolve_new (opts->bind, port, err);
    if (!self->resolve) {
        log_error ("cannot open UDP port %d for record requests: %s", port, sc_strerror (*err));
        goto fail;
    }
    for (int i = 0; i < ntargets; i++)
        if ((*err = resolve_add (self->resolve, opts->peers [i], targets [i].host, targets [i].port,
                                 targets [i].pinned, targets [i].fp)) != 0) {
            log_error ("--peer %s: %s", opts->peers [i], sc_strerror (*err));
            goto fail;
        }
    *err = record_make (self->id, self->name, (uint16_t) port, 0, node_wall_ms (), self->record);
    if (*err != 0)
        goto fail;
    if ((*err = tracking_init (self)) != 0)
        goto fail;
    randombytes_buf (&self->session, sizeof self->session);
    if (!opts->no_discovery) {
        beacon_opts_t bo = {
            .bind = opts->bind, .port = opts->beacon_port,
            .addrs = opts->beacon_addrs, .naddrs = opts->nbeacon_addrs,
            .ifaces = opts->beacon_ifaces, .nifaces = opts->nbeacon_ifaces,
        };
        self->beacon = beacon_new (&bo, identity_sign_pk (self->id), err);
        if (!self->beacon) {
            log_error ("cannot start LAN discovery on UDP port %d: %s (use --no-discovery "
                       "or another --beacon-port)", opts->beacon_port? opts->beacon_port: BEACON_PORT,
                       sc_strerror (*err));
            goto fail;
        }
    }
    char downloads [PATH_MAX];
    if (opts->downloads)
        snprintf (downloads, sizeof downloads, "%s", opts->downloads);
    else if (getenv ("XDG_DOWNLOAD_DIR") && *getenv ("XDG_DOWNLOAD_DIR"))
        snprintf (downloads, sizeof downloads, "%s/securechat", getenv ("XDG_DOWNLOAD_DIR"));
    else
        snprintf (downloads, sizeof downloads, "%s/Downloads/securechat",
                  getenv ("HOME")? getenv ("HOME"): home);
    //  The media helper: beside the node, or in ../libexec/securechat/
    char exe [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0 && (exe [n] = 0, !jobs_find_helper (exe, self->helper, sizeof self->helper)))
        log_warn ("no media helper: %s is missing (and securechat-media beside the node): "
                  "shares are not probed for video and /watch fails", self->helper);
    files_opts_t fo = { .home = home, .downloads = downloads, .policy = (files_policy_t) opts->accept_policy,
                        .accept_max = opts->accept_max, .max_rate = opts->max_rate,
                        .helper = self->helper [0]? self->helper: NULL,
                        .stall_ms = (int64_t) opts->stall_s * 1000 };
    files_host_t fh = { .send = s_files_send, .send_owned = s_files_send_owned, .seal = s_files_seal, .event = s_files_event,
                        .peer_name = s_files_peer_name, .online = s_files_online,
                        .open = s_files_open, .wall_ms = s_chat_wall, .arg = self };
    self->files = files_new (&fo, &fh, err);
    if (!self->files)
        goto fail;
    video_opts_t so = { .helper = fo.helper, .player = opts->player, .stall_ms = fo.stall_ms,
                        .served_max = opts->serve_max,
                        .pause_max_ms = (int64_t) opts->pause_max_s * 1000 };
    video_host_t sh = { .send = s_files_send, .event = s_files_event,
                        .peer_name = s_streams_peer_name, .find_share = s_streams_find_share,
                        .arg = self };
    self->video = video_new (&so, &sh);
    self->viewer = self->video? viewer_new (self->video): NULL;
    self->owner = self->video? owner_new (self->video): NULL;
    if (!self->viewer || !self->owner) {
        *err = SC_ENOMEM;
        goto fail;
    }
    char prompt [64];
    snprintf (prompt, sizeof prompt, "%s> ", self->name);
    self->ui = ui_new (opts->json, prompt, commands_on_line, self);
    chat_host_t chat_host = { .send = s_chat_send, .wall = s_chat_wall, .arg = self };
    if (self->tclient) {        //  with no tracker, nothing changes
        chat_host.mail = tracking_mail;
        chat_host.seen = tracking_seen;
    }
    if (self->ui)
        ui_set_host (self->ui, &(ui_host_t) { s_chat_wall, commands_peers, self });
    if (self->ui)
        self->chat = chat_new (self->id, self->opener, self->peers, self->history, self->ui, &chat_host);
    if (!self->ui || !self->chat) {
        *err = SC_ENOMEM;
        goto fail;
    }
    //  Each frame type to the module that owns it (the owner before the
    //  viewer: both take SEND, each for its own streams)
    *err = chat_register (self->chat, &self->handlers);
    if (*err == 0)
        *err = files_register (self->files, &self->handlers);
    if (*err == 0)
        *err = owner_register (self->owner, &self->handlers);
    if (*err == 0)
        *err = viewer_register (self->viewer, &self->handlers);
    if (*err != 0)
        goto fail;
    ui_emit (self->ui, commands_whoami_json (self, "ready"));
    return self;
fail:
    node_destroy (&self);
    return NULL;
}

static int
s_items_reserve (node_t *self, size_t count)
{
    if (count <= self->items_cap)
        return 0;
    zmq_pollitem_t *more = realloc (self->items, count * sizeof *more);
    if (!more)
        return SC_ENOMEM;
    self->items = more;
    self->items_cap = count;
    return 0;
}

//  Reads what came on one of our DEALERs: frames from the peer it is
//  pinned to, at the address we connected to (a bounded batch, as for the
//  ROUTER).  A frame may close the DEALER (the peer left and we relink).
static void
s_on_dealer (node_t *self, void *dealer, int64_t now)
{
    peer_t *peer = NULL;
    for (size_t k = 0; !peer && k < peers_size (self->peers); k++)
        if (link_dealer (peers_at (self->peers, k)->link) == dealer)
            peer = peers_at (self->peers, k);
    uint64_t forgotten = self->forgotten;
    for (int i = 0; peer && forgotten == self->forgotten && link_dealer (peer->link) == dealer
                    && i < 64; i++) {
        transport_rx_t rx;
        int rc = transport_recv_dealer (dealer, &rx);
        if (rc == SC_EAGAIN)
            return;
        if (rc != 0) {
            self->stats.bad_frames++;
            continue;
        }
        memcpy (rx.key, peer->box_pk, 32);
        snprintf (rx.addr, sizeof rx.addr, "%s", link_host (peer->link));
        s_on_frame (self, &rx, peer, now);
        zmq_msg_close (&rx.msg);
    }
}

//  Reads what a watch says: the ROUTER's (a link the peer made closed:
//  known by its connection) or a DEALER's (the peer killed or gone, or
//  silent past ZeroMQ's heartbeat timeout).  A watch closed earlier in
//  this pass (its peer relinked) belongs to nobody and is not touched.
static void
s_on_watch (node_t *self, void *watch, int64_t now)
{
    peer_t *owner = NULL;
    for (size_t k = 0; !owner && watch != self->router_watch && k < peers_size (self->peers); k++)
        if (link_watch (peers_at (self->peers, k)->link) == watch)
            owner = peers_at (self->peers, k);
    if (!owner && watch != self->router_watch)
        return;
    bool closed;
    int fd;
    while (transport_watch_read (watch, &closed, &fd) == 0) {
        if (!closed)
            continue;
        self->trim_due = true;
        if (owner) {
            link_on_closed (owner->link, true, -1, now);    //  closes this watch
            return;
        }
        for (size_t k = 0; k < peers_size (self->peers); k++)
            if (link_on_closed (peers_at (self->peers, k)->link, false, fd, now))
                break;
    }
}

int
node_run (node_t *self)
{
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    bool input = true;
    self->next_tick = node_mono_ms ();
    while (!self->quit && !s_signalled) {
        int64_t now = node_mono_ms ();
        chat_pass (self->chat);
        if (now >= self->next_tick) {
            s_tick (self, now);
            self->next_tick = now + TICK_MS;
        }
        chat_pump (self->chat, now, node_wall_ms ());
        size_t npeers = peers_size (self->peers);
        if (s_items_reserve (self, FIXED + VIEWER_MAX + OWNER_SERVED_LIMIT + FILES_PROBES_MAX
                                   + 2 * npeers + 2 * TCLIENT_TRACKERS_MAX) != 0) {
            log_error ("out of memory");
            break;
        }
        zmq_pollitem_t *items = self->items;
        items [0] = (zmq_pollitem_t) { transport_zap (self->transport), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t) { transport_router (self->transport), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t) { NULL, resolve_fd (self->resolve), ZMQ_POLLIN, 0 };
        items [3] = (zmq_pollitem_t) { NULL, self->beacon? beacon_fd (self->beacon): -1,
                                       ZMQ_POLLIN, 0 };
        //  stdout only while output waits; stdin only while it is open
        items [4] = (zmq_pollitem_t) { NULL, ui_pending (self->ui)? ui_out_fd (self->ui): -1,
                                       ZMQ_POLLOUT, 0 };
        items [5] = (zmq_pollitem_t) { NULL, input? ui_fd (self->ui): -1, ZMQ_POLLIN, 0 };
        items [6] = (zmq_pollitem_t) { self->router_watch, 0, ZMQ_POLLIN, 0 };
        int nviewer = viewer_poll_items (self->viewer, items + FIXED, VIEWER_MAX);
        int nowner = owner_poll_items (self->owner, items + FIXED + nviewer, OWNER_SERVED_LIMIT);
        int nstreams = nviewer + nowner;
        int nprobes = files_poll_items (self->files, items + FIXED + nstreams, FILES_PROBES_MAX);
        int first_dealer = FIXED + nstreams + nprobes, count = first_dealer;
        //  Peers we connected to answer on our DEALER, and its watch says
        //  when it closed (frames first, so a BYE is read before the close)
        for (size_t i = 0; i < npeers; i++)
            if (link_dealer (peers_at (self->peers, i)->link))
                items [count++] = (zmq_pollitem_t) { link_dealer (peers_at (self->peers, i)->link),
                                                     0, ZMQ_POLLIN, 0 };
        int first_watch = count;
        for (size_t i = 0; i < npeers; i++)
            if (link_watch (peers_at (self->peers, i)->link))
                items [count++] = (zmq_pollitem_t) { link_watch (peers_at (self->peers, i)->link),
                                                     0, ZMQ_POLLIN, 0 };
        int end_watch = count, first_tracker = count;
        count += tracking_poll_items (self, items + count);
        long timeout = (long) (self->next_tick - now);
        if (files_work (self->files, now) || chat_more (self->chat) || (input && ui_more (self->ui)))
            timeout = 0;        //  more to send, hash or read: do not wait
        if (self->answer_due && self->last_beacon + ANSWER_MS - now < timeout)
            timeout = (long) (self->last_beacon + ANSWER_MS - now);
        if (transport_poll (items, count, timeout < 0? 0: timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error ("poll failed: %s", zmq_strerror (errno));
            break;
        }
        now = node_mono_ms ();
        if (items [1].revents & ZMQ_POLLIN) {
            //  A bounded batch, so input and timers keep their turn
            for (int i = 0; i < 512; i++) {
                transport_rx_t rx;
                int rc = transport_recv (self->transport, &rx);
                if (rc == SC_EAGAIN)
                    break;
                if (rc != 0) {
                    self->stats.bad_frames++;
                    continue;
                }
                s_on_frame (self, &rx, NULL, now);
                zmq_msg_close (&rx.msg);
            }
        }
        for (int i = first_dealer; i < first_watch; i++)
            if (items [i].revents & ZMQ_POLLIN)
                s_on_dealer (self, items [i].socket, now);
        //  Links that closed, after what came on them.  A new link's
        //  frames can come only after its ZAP answer, below: so a closed
        //  connection's descriptor, which a new one may take, is heard of
        //  before any frame of the new one
        if (items [6].revents & ZMQ_POLLIN)
            s_on_watch (self, self->router_watch, now);
        for (int i = first_watch; i < end_watch; i++)
            if (items [i].revents & ZMQ_POLLIN)
                s_on_watch (self, items [i].socket, now);
        tracking_on_poll (self, items + first_tracker, count - first_tracker, now);
        if (items [0].revents & ZMQ_POLLIN)
            while (transport_zap_handle (self->transport) == 0)
                ;
        if (items [2].revents & ZMQ_POLLIN)
            meet_on_udp (self, now);
        if (items [3].revents & ZMQ_POLLIN)
            meet_on_beacon (self, now);
        if (self->answer_due && node_mono_ms () - self->last_beacon >= ANSWER_MS)
            meet_send_beacon (self, node_mono_ms ());
        if (items [4].revents & (ZMQ_POLLOUT | ZMQ_POLLERR))
            ui_flush (self->ui);
        viewer_on_poll (self->viewer, items + FIXED, nviewer, now);
        owner_on_poll (self->owner, items + FIXED + nviewer, nowner, now);
        files_on_poll (self->files, items + FIXED + nstreams, nprobes);
        if (input && ((items [5].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) || ui_more (self->ui))) {
            if (ui_read (self->ui) == 1) {
                input = false;
                self->quit = true;      //  end of input means /quit
            }
        }
    }
    return 0;
}

void
node_destroy (node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_t *self = *self_p;
    //  Streams say goodbye while the links are still there
    viewer_destroy (&self->viewer);
    owner_destroy (&self->owner);
    video_destroy (&self->video);
    int linger = 200;               //  let the BYEs go out
    for (size_t i = 0; self->peers && i < peers_size (self->peers); i++) {
        peer_t *peer = peers_at (self->peers, i);
        //  Every peer with a link hears it, also one still saying HELLO
        if (link_linked (peer->link)) {
            wire_frame_t f = { .type = WIRE_BYE };
            node_send (self, peer, &f);
            if (link_dealer (peer->link))
                zmq_setsockopt (link_dealer (peer->link), ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt (transport_router (self->transport), ZMQ_LINGER, &linger, sizeof linger);
        }
        link_destroy (&peer->link);
    }
    tracking_destroy (self);
    transport_unwatch (self->transport? transport_router (self->transport): NULL, &self->router_watch);
    if (self->beacon && self->transport) {
        meet_refresh_record (self, RECORD_FLAG_LEAVE);
        beacon_send (self->beacon, self->record);
    }
    beacon_destroy (&self->beacon);
    files_destroy (&self->files);
    ui_destroy (&self->ui);
    transport_destroy (&self->transport);
    resolve_destroy (&self->resolve);
    peers_destroy (&self->peers);
    known_destroy (&self->known);
    history_destroy (&self->history);
    chat_destroy (&self->chat);
    envelope_opener_destroy (&self->opener);
    identity_destroy (&self->id);
    free (self->items);
    free (self->home);
    free (self);
    *self_p = NULL;
}

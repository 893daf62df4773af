/*  tracker: the loop, the links that registered, and one handler per
    request frame.  See tracker.h.  */
#define LOG_MODULE "tracker"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../discovery/record.h"
#include "../discovery/resolve.h"
#include "../discovery/udp.h"
#include "tracker.h"
#include "tracker_int.h"
#include "transport.h"
#include "wire.h"

_Static_assert (WIRE_TRECORD_SIZE == RECORD_SIZE, "wire.h's record size is record.h's");
_Static_assert (WIRE_TRECORD_NAME_MAX == RECORD_NAME_MAX, "wire.h's name size is record.h's");
_Static_assert (WIRE_TADDR_SIZE == REGISTRY_ADDR_MAX, "an entry's address is the registry's");
_Static_assert (WIRE_TFOUND_MAX == REGISTRY_MATCHES_MAX && WIRE_TPAGE_MAX == REGISTRY_PAGE_MAX,
                "T_FOUND and T_PAGE hold what the registry gives");
_Static_assert (MAILBOX_ITEM_MAX <= WIRE_MAX_ENVELOPE, "a mailbox item fits a T_PUT");

#define RX_BATCH 256                    //  frames read a pass before the timers run


static int64_t
s_wall_ms (const tracker_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + self->opts.clock_offset_ms;
}

void
tracker_hex (const uint8_t *bin, size_t len, char *out, size_t size)
{
    sodium_bin2hex (out, size, bin, len);
}

//  Prints one JSON event (taken) when --json; else at -v.
void
tracker_emit (tracker_t *self, json_t *ev)
{
    if (!ev)
        return;
    char *text = json_dumps (ev, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text && self->opts.json) {
        printf ("%s\n", text);
        fflush (stdout);
    }
    else if (text)
        log_info ("%s", text);
    free (text);
    json_decref (ev);
}

//  ---------------------------------------------------------------------
//  Links

//  Links are found by their CURVE key through chained buckets (one per
//  slot of the array), for every frame: a scan of 10,000 links would cost
//  more than the frame.
static size_t
s_bucket (const tracker_t *self, const uint8_t key [32])
{
    uint8_t h [crypto_shorthash_BYTES];
    crypto_shorthash (h, key, 32, self->link_hash_key);
    uint64_t v;
    memcpy (&v, h, sizeof v);
    return (size_t) (v % self->links_alloc);
}

static void
s_chain (tracker_t *self, int32_t i)
{
    size_t b = s_bucket (self, self->links [i].key);
    self->links [i].next = self->link_buckets [b];
    self->link_buckets [b] = i;
}

static void
s_unchain (tracker_t *self, int32_t i)
{
    int32_t *p = &self->link_buckets [s_bucket (self, self->links [i].key)];
    while (*p >= 0 && *p != i)
        p = &self->links [*p].next;
    if (*p == i)
        *p = self->links [i].next;
}

tracker_link_t *
tracker_link (tracker_t *self, const uint8_t key [32])
{
    if (!self->links_alloc)
        return NULL;
    for (int32_t k = self->link_buckets [s_bucket (self, key)]; k >= 0; k = self->links [k].next)
        if (memcmp (self->links [k].key, key, 32) == 0)
            return &self->links [k];
    return NULL;
}

static void
s_link_drop (tracker_t *self, tracker_link_t *link)
{
    int32_t i = (int32_t) (link - self->links), last = (int32_t) self->nlinks - 1;
    s_unchain (self, i);
    if (i != last) {
        s_unchain (self, last);
        self->links [i] = self->links [last];
        s_chain (self, i);
    }
    self->nlinks--;
    self->trim_due = true;
}

//  Room for one more link: the array and its buckets double together.
static int
s_link_grow (tracker_t *self)
{
    if (self->nlinks < self->links_alloc)
        return 0;
    size_t n = self->links_alloc? self->links_alloc * 2: 64;
    tracker_link_t *more = realloc (self->links, n * sizeof *more);
    if (!more)
        return SC_ENOMEM;
    self->links = more;
    int32_t *buckets = realloc (self->link_buckets, n * sizeof *buckets);
    if (!buckets)
        return SC_ENOMEM;       //  the array is larger, links_alloc not yet
    self->link_buckets = buckets;
    self->links_alloc = n;
    for (size_t b = 0; b < n; b++)
        buckets [b] = -1;
    for (size_t i = 0; i < self->nlinks; i++)
        s_chain (self, (int32_t) i);
    return 0;
}

//  Remembers the link of the frame being handled as registered for entry.
static void
s_link_note (tracker_t *self, const uint8_t *record, const char *addr)
{
    tracker_link_t *link = tracker_link (self, self->rx->key);
    if (!link) {
        if (s_link_grow (self) != 0)
            return;             //  no pushes to it: it still gets its answers
        link = &self->links [self->nlinks++];
        memcpy (link->key, self->rx->key, 32);
        s_chain (self, (int32_t) (self->nlinks - 1));
    }
    memcpy (link->sign_pk, record + 8, IDENTITY_PK_SIZE);
    wire_tentry_put (link->entry, record, addr);
    memcpy (link->rid, self->rx->rid, self->rx->rid_len);
    link->rid_len = self->rx->rid_len;
    link->fd = self->rx->fd;
}

//  Sends frame on a link's routing id.  SC_ENET: the link is gone.
static int
s_send (tracker_t *self, const uint8_t *rid, size_t rid_len, const wire_frame_t *frame)
{
    uint8_t *buf;
    size_t len;
    int rc = wire_encode (frame, &buf, &len);
    if (rc == 0)
        rc = transport_reply_owned (self->transport, rid, rid_len, &buf, len);
    return rc;
}

//  Answers the frame being handled.
void
tracker_reply (tracker_t *self, const wire_frame_t *frame)
{
    int rc = s_send (self, self->rx->rid, self->rx->rid_len, frame);
    if (rc != 0)
        log_debug ("an answer was not sent: %s", sc_strerror (rc));
}

//  Pushes frame to a registered link; a link that is gone is forgotten.
bool
tracker_push (tracker_t *self, tracker_link_t *link, const wire_frame_t *frame)
{
    int rc = s_send (self, link->rid, link->rid_len, frame);
    if (rc == SC_ENET)
        s_link_drop (self, link);
    if (rc != 0)
        self->stats.pushes_dropped++;
    return rc == 0;
}

//  ---------------------------------------------------------------------
//  Refusals

static const char *
s_code (int rc, const char *limit)
{
    if (rc == SC_EAGAIN && limit)
        return limit;
    switch (rc) {
        case SC_ESENDER: return "foreign_key";
        case SC_ESTALE: return "stale";
        case SC_EINVAL: return "invalid";
        case SC_ETOOBIG: return "too_big";
        case SC_ENOPEER: case SC_ENOENT: return "not_found";
        case SC_EOFFLINE: return "offline";
        case SC_EPERM: return "not_registered";
        case SC_EIO: case SC_ENOMEM: return "io";
        default: return "bad_record";
    }
}

//  Answers the frame being handled with T_REFUSED, and tells (bounded).
void
tracker_refuse (tracker_t *self, const wire_frame_t *req, uint64_t tag, int rc, const char *limit,
          int64_t retry_ms, int64_t now)
{
    const char *code = s_code (rc, limit);
    wire_frame_t f = { .type = WIRE_T_REFUSED, .t_refused = {
        .type = (uint64_t) req->type, .tag = tag, .code = code, .code_len = strlen (code),
        .retry_ms = retry_ms > 0? (uint64_t) retry_ms: 0 } };
    tracker_reply (self, &f);
    self->stats.refused++;
    if (now / 1000 != self->events_window) {
        self->events_window = now / 1000;
        self->events_in_window = 0;
    }
    if (self->events_in_window++ >= TRACKER_EVENTS_PER_S) {
        self->stats.refused_events_suppressed++;
        return;
    }
    char key [65];
    tracker_hex (self->rx->key, 32, key, sizeof key);
    tracker_emit (self, json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "event", "refused",
                             "request", wire_spec (req->type)->name, "code", code,
                             "retry_ms", (json_int_t) f.t_refused.retry_ms, "addr", self->rx->addr,
                             "key", key, "suppressed",
                             (json_int_t) self->stats.refused_events_suppressed));
}

//  ---------------------------------------------------------------------
//  Handlers, one per request frame

static bool
s_on_register (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    const uint8_t *raw = req->t_register.record;
    if (req->t_register.record_len != RECORD_SIZE) {
        tracker_refuse (self, req, req->t_register.tag, SC_EMALFORMED, NULL, 0, now);
        return true;
    }
    int64_t expires = 0;
    registry_refusal_t why = { 0 };
    int rc = registry_register (self->registry, self->rx->addr, peer, raw, RECORD_SIZE, now,
                                &expires, &why);
    if (rc != 0) {
        tracker_refuse (self, req, req->t_register.tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    bool leave = raw [5] & RECORD_FLAG_LEAVE;
    wire_frame_t f = { .type = WIRE_T_REGISTERED, .t_registered = {
        .tag = req->t_register.tag, .ttl_ms = leave || expires < now? 0: (uint64_t) (expires - now),
        .addr = self->rx->addr, .addr_len = strlen (self->rx->addr) } };
    tracker_reply (self, &f);
    if (leave) {
        tracker_link_t *link = tracker_link (self, peer);
        if (link)
            s_link_drop (self, link);
        return true;
    }
    bool known = tracker_link (self, peer) != NULL;
    s_link_note (self, raw, self->rx->addr);
    tracker_link_t *link = tracker_link (self, peer);
    if (link && !known)
        tracker_mail_note (self, link, now);
    return true;
}

static bool
s_on_leave (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    int rc = registry_leave (self->registry, peer, req->t_leave.key, now);
    if (rc != 0) {
        tracker_refuse (self, req, req->t_leave.tag, rc, NULL, 0, now);
        return true;
    }
    tracker_link_t *link = tracker_link (self, peer);
    if (link && memcmp (link->sign_pk, req->t_leave.key, IDENTITY_PK_SIZE) == 0)
        s_link_drop (self, link);
    return true;
}

//  Packs n entries into buf (WIRE_TENTRY_SIZE each).
static void
s_entries (const registry_entry_t *entries, size_t n, uint8_t *buf)
{
    for (size_t i = 0; i < n; i++)
        wire_tentry_put (buf + i * WIRE_TENTRY_SIZE, entries [i].rec.raw, entries [i].addr);
}

static bool
s_on_lookup (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    registry_entry_t found [REGISTRY_MATCHES_MAX];
    size_t n = 0;
    registry_refusal_t why = { 0 };
    char text [65];
    int rc = SC_EINVAL;
    const __typeof__ (req->t_lookup) *q = &req->t_lookup;
    int asked = (q->key_len > 0) + (q->prefix_len > 0) + (q->name_len > 0);
    if (asked != 1)
        ;
    else if (q->key_len == IDENTITY_PK_SIZE) {
        rc = registry_lookup_key (self->registry, self->rx->addr, q->key, now, &found [0], &why);
        n = rc == 0;
    }
    else if (q->prefix_len > 0 && q->prefix_len < sizeof text) {
        memcpy (text, q->prefix, q->prefix_len);
        text [q->prefix_len] = 0;
        rc = registry_lookup_prefix (self->registry, self->rx->addr, text, now, found,
                                     REGISTRY_MATCHES_MAX, &n, &why);
    }
    else if (q->name_len > 0 && q->name_len <= RECORD_NAME_MAX && !memchr (q->name, 0, q->name_len)) {
        memcpy (text, q->name, q->name_len);
        text [q->name_len] = 0;
        rc = registry_lookup_name (self->registry, self->rx->addr, text, now, found,
                                   REGISTRY_MATCHES_MAX, &n, &why);
    }
    if (rc != 0 && rc != SC_ENOPEER) {
        tracker_refuse (self, req, q->tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    uint8_t buf [REGISTRY_MATCHES_MAX * WIRE_TENTRY_SIZE];
    if (rc != 0)
        n = 0;
    s_entries (found, n, buf);
    wire_frame_t f = { .type = WIRE_T_FOUND, .t_found = {
        .tag = q->tag, .entries = buf, .entries_len = n * WIRE_TENTRY_SIZE } };
    tracker_reply (self, &f);
    return true;
}

static bool
s_on_list (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    registry_entry_t *page = malloc (REGISTRY_PAGE_MAX * sizeof *page);
    uint8_t *buf = malloc (REGISTRY_PAGE_MAX * WIRE_TENTRY_SIZE);
    size_t n = 0;
    uint64_t next = 0;
    registry_refusal_t why = { 0 };
    int rc = page && buf? registry_list (self->registry, self->rx->addr, req->t_list.cursor, now,
                                         page, REGISTRY_PAGE_MAX, &n, &next, &why): SC_ENOMEM;
    if (rc != 0)
        tracker_refuse (self, req, req->t_list.tag, rc, why.limit, why.retry_ms, now);
    else {
        s_entries (page, n, buf);
        wire_frame_t f = { .type = WIRE_T_PAGE, .t_page = {
            .tag = req->t_list.tag, .entries = buf, .entries_len = n * WIRE_TENTRY_SIZE,
            .next = next } };
        tracker_reply (self, &f);
    }
    free (page);
    free (buf);
    return true;
}

static bool
s_on_dial (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    tracker_link_t *asker = tracker_link (self, peer);
    if (!asker) {
        tracker_refuse (self, req, req->t_dial.tag, SC_EPERM, NULL, 0, now);
        return true;
    }
    registry_entry_t target;
    registry_refusal_t why = { 0 };
    int rc = registry_lookup_key (self->registry, self->rx->addr, req->t_dial.key, now, &target, &why);
    tracker_link_t *link = rc == 0? tracker_link (self, target.rec.box_pk): NULL;
    if (rc == 0 && !link)
        rc = SC_EOFFLINE;
    if (rc == 0) {
        //  tracker_push may drop a link: copy the asker's entry first
        uint8_t entry [WIRE_TENTRY_SIZE];
        memcpy (entry, asker->entry, sizeof entry);
        wire_frame_t f = { .type = WIRE_T_DIALED, .t_dialed = {
            .entry = entry, .entry_len = sizeof entry } };
        if (!tracker_push (self, link, &f))
            rc = SC_EOFFLINE;
    }
    if (rc != 0)
        tracker_refuse (self, req, req->t_dial.tag, rc, why.limit, why.retry_ms, now);
    else
        self->stats.dials++;
    return true;
}

//  ---------------------------------------------------------------------
//  Timers

//  Pushes the registry's notices to every registered link but the subject,
//  at most --push-rate pushes a second in all (a notice costs one
//  per link): past that they wait in the registry's bounded queue, so a
//  crowd of registrations cannot make the tracker's fan-out unbounded.
static void
s_notices (tracker_t *self, int64_t now)
{
    if (now - self->pushes_window >= 1000) {
        self->pushes_window = now;
        self->pushes_left = self->opts.push_rate;
    }
    registry_event_t ev;
    while (true) {
        if (self->pushes_left <= 0) {
            if (registry_events_waiting (self->registry))
                self->stats.pushes_deferred++;
            break;
        }
        if (registry_event_next (self->registry, &ev) != 0)
            break;
        self->pushes_left -= (int64_t) self->nlinks;
        bool joined = ev.type == REGISTRY_JOINED;
        uint8_t entry [WIRE_TENTRY_SIZE];
        wire_tentry_put (entry, ev.record, ev.addr);
        wire_frame_t f = { .type = WIRE_T_NOTICE, .t_notice = {
            .joined = joined, .reason = ev.reason, .reason_len = strlen (ev.reason),
            .entry = entry, .entry_len = sizeof entry } };
        for (size_t i = self->nlinks; i-- > 0; )
            if (memcmp (self->links [i].sign_pk, ev.sign_pk, IDENTITY_PK_SIZE) != 0
            &&  tracker_push (self, &self->links [i], &f))
                self->stats.notices_sent++;
        char fp [IDENTITY_FP_HEX_SIZE];
        identity_fingerprint_hex (ev.sign_pk, fp);
        record_t rec;
        const char *name = record_decode_known (ev.record, RECORD_SIZE, ev.record, &rec) == 0
                         ? rec.name: "";
        tracker_emit (self, json_pack ("{s:s, s:s, s:s, s:s, s:s}", "event",
                                 joined? "registered": "left", "id", fp, "name", name,
                                 "addr", ev.addr, "reason", ev.reason));
        if (!joined) {
            //  A leave or an expiry: no more pushes to that key's link
            for (size_t i = self->nlinks; i-- > 0; )
                if (memcmp (self->links [i].sign_pk, ev.sign_pk, IDENTITY_PK_SIZE) == 0)
                    s_link_drop (self, &self->links [i]);
        }
    }
}

static void
s_save (tracker_t *self, int64_t now)
{
    int rc = registry_save (self->registry, self->snapshot, now);
    if (rc != 0)
        log_warn ("could not save the records to %s (%s): a restart will wait for "
                  "nodes to register again", self->snapshot, sc_strerror (rc));
}

static void
s_timers (tracker_t *self, int64_t now)
{
    if (now >= self->next_sweep) {
        if (registry_sweep (self->registry, now) > 0)
            self->trim_due = true;
        //  What ZeroMQ and the registry freed goes back to the system (a
        //  crowd of links come and gone left the heap at its peak)
        if (self->trim_due)
            malloc_trim (0);
        self->trim_due = false;
        self->next_sweep = now + TRACKER_SWEEP_MS;
    }
    if (now >= self->next_mail_sweep) {
        mailbox_sweep (self->mailbox, now);
        //  Our record's timestamp kept fresh for the UDP record request
        record_make (self->id, "tracker", (uint16_t) transport_port (self->transport), 0, now,
                     self->record);
        self->next_mail_sweep = now + TRACKER_MAIL_SWEEP_MS;
    }
    if (now >= self->next_save) {
        s_save (self, now);
        self->next_save = now + TRACKER_SAVE_MS;
    }
    s_notices (self, now);
}

//  ---------------------------------------------------------------------
//  Sockets

static void s_read_watch (tracker_t *self);

static void
s_read_router (tracker_t *self, int64_t now)
{
    for (int i = 0; i < RX_BATCH; i++) {
        transport_rx_t rx;
        int rc = transport_recv (self->transport, &rx);
        if (rc == SC_EAGAIN)
            break;
        if (rc != 0) {
            self->stats.frames_bad++;
            continue;
        }
        self->stats.frames++;
        //  A descriptor is reused only after ZeroMQ told the watch its old
        //  connection closed: read the watch now, so a frame on a reused
        //  descriptor cannot be taken for the closed link's, and the close
        //  cannot drop the new link
        if (self->watch)
            s_read_watch (self);
        wire_frame_t f;
        if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) != 0)
            self->stats.frames_bad++;
        else {
            //  A registered link that reconnected answers on its new routing id
            tracker_link_t *link = tracker_link (self, rx.key);
            if (link && (link->rid_len != rx.rid_len || memcmp (link->rid, rx.rid, rx.rid_len))) {
                memcpy (link->rid, rx.rid, rx.rid_len);
                link->rid_len = rx.rid_len;
                link->fd = rx.fd;
            }
            self->rx = &rx;
            if (!wire_dispatch (&self->handlers, rx.key, &f, now))
                self->stats.frames_ignored++;
            self->rx = NULL;
        }
        zmq_msg_close (&rx.msg);
    }
}

static void
s_read_watch (tracker_t *self)
{
    bool closed;
    int fd;
    while (transport_watch_read (self->watch, &closed, &fd) == 0)
        if (closed)
            for (size_t i = self->nlinks; i-- > 0; )
                if (self->links [i].fd == fd)
                    s_link_drop (self, &self->links [i]);
}

static void
s_read_udp (tracker_t *self, int64_t now)
{
    resolve_answer_t answer;
    //  Answers requests with our record; answers to us are not expected
    while (resolve_recv (self->resolve, now, self->record, &answer) == 0)
        ;
}

int
tracker_run (tracker_t *self, volatile sig_atomic_t *stop)
{
    int64_t now = s_wall_ms (self);
    s_timers (self, now);
    while (!*stop) {
        int64_t wait = self->next_sweep - now;
        zmq_pollitem_t items [] = {
            { transport_router (self->transport), 0, ZMQ_POLLIN, 0 },
            { transport_zap (self->transport), 0, ZMQ_POLLIN, 0 },
            { self->watch, 0, ZMQ_POLLIN, 0 },
            { NULL, resolve_fd (self->resolve), ZMQ_POLLIN, 0 },
        };
        int count = self->watch? 4: 3;
        if (!self->watch)
            items [2] = items [3];
        if (transport_poll (items, count, wait < 0? 0: wait > 1000? 1000: (long) wait) < 0) {
            if (errno == EINTR)
                continue;
            log_error ("polling the sockets failed: %s", strerror (errno));
            return 1;
        }
        now = s_wall_ms (self);
        if (items [1].revents)
            while (transport_zap_handle (self->transport) == 0)
                ;
        if (items [0].revents)
            s_read_router (self, now);
        if (self->watch && items [2].revents)
            s_read_watch (self);
        if (items [count - 1].revents)
            s_read_udp (self, now);
        s_timers (self, now);
    }
    return 0;
}

//  ---------------------------------------------------------------------

tracker_t *
tracker_new (const tracker_opts_t *opts, const char *home, identity_t **id_p, int *err)
{
    tracker_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    self->opts = *opts;
    randombytes_buf (self->link_hash_key, sizeof self->link_hash_key);
    self->id = *id_p;
    *id_p = NULL;               //  transferred
    snprintf (self->home, sizeof self->home, "%s", home);
    snprintf (self->snapshot, sizeof self->snapshot, "%s/%s", home, TRACKER_SNAPSHOT);
    int64_t now = s_wall_ms (self);
    self->transport = transport_new (self->id, opts->bind, opts->port, err);
    if (!self->transport)
        goto fail;
    int port = transport_port (self->transport);
    self->resolve = resolve_new (opts->bind, port, err);
    if (!self->resolve)
        goto fail;
    self->watch = transport_watch (self->transport, transport_router (self->transport));
    self->registry = registry_new (&opts->registry);
    if (!self->registry) {
        *err = SC_EINVAL;
        goto fail;
    }
    char dir [PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/%s", home, TRACKER_MAILBOX);
    self->mailbox = mailbox_new (dir, &opts->mailbox, now, err);
    if (!self->mailbox)
        goto fail;
    size_t loaded = 0;
    int rc = registry_load (self->registry, self->snapshot, now, &loaded);
    if (rc != 0 && rc != SC_ENOENT)
        log_warn ("the records snapshot %s was not taken back (%s): nodes will register again",
                  self->snapshot, sc_strerror (rc));
    *err = record_make (self->id, "tracker", (uint16_t) port, 0, now, self->record);
    if (*err != 0)
        goto fail;
    static const struct { wire_type_t type; wire_handler_fn *fn; } handlers [] = {
        { WIRE_T_REGISTER, s_on_register }, { WIRE_T_LEAVE, s_on_leave },
        { WIRE_T_LOOKUP, s_on_lookup }, { WIRE_T_LIST, s_on_list }, { WIRE_T_DIAL, s_on_dial },
        { WIRE_T_PUT, tracker_on_put }, { WIRE_T_FETCH, tracker_on_fetch }, { WIRE_T_ACK, tracker_on_ack },
        { WIRE_T_STATUS, tracker_on_status },
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers [0]; i++)
        wire_handle (&self->handlers, handlers [i].type, handlers [i].fn, self);
    identity_fingerprint_hex (identity_sign_pk (self->id), self->fp);
    char shown [64];
    if (strcmp (opts->bind, "*") == 0 || strcmp (opts->bind, "0.0.0.0") == 0)
        udp_first_host (shown, sizeof shown);
    else
        snprintf (shown, sizeof shown, "%s", opts->bind);
    snprintf (self->address, sizeof self->address, "%s@tcp://%s:%d", self->fp, shown, port);
    self->next_sweep = now;
    self->next_save = now + TRACKER_SAVE_MS;
    self->next_mail_sweep = now + TRACKER_MAIL_SWEEP_MS;
    mailbox_stats_t m = mailbox_stats (self->mailbox);
    tracker_emit (self, json_pack ("{s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "event", "ready",
                             "id", self->fp, "address", self->address, "port", port,
                             "records", (json_int_t) loaded, "mail", (json_int_t) m.items,
                             "mail_damaged", (json_int_t) m.damaged));
    *err = 0;
    return self;
fail:
    tracker_destroy (&self);
    return NULL;
}

void
tracker_destroy (tracker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tracker_t *self = *self_p;
    if (self->registry && self->transport)
        s_save (self, s_wall_ms (self));
    registry_destroy (&self->registry);
    mailbox_destroy (&self->mailbox);
    resolve_destroy (&self->resolve);
    if (self->transport)
        transport_unwatch (transport_router (self->transport), &self->watch);
    transport_destroy (&self->transport);
    identity_destroy (&self->id);
    free (self->links);
    free (self->link_buckets);
    free (self);
    *self_p = NULL;
}

const char *
tracker_address (const tracker_t *self)
{
    return self->address;
}

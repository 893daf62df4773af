/*  tracker: the loop, the links that registered, and one handler per
    request frame.  See tracker.h.  */
#define LOG_MODULE "tracker"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
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
#include "transport.h"
#include "wire.h"

_Static_assert (WIRE_TRECORD_SIZE == RECORD_SIZE, "wire.h's record size is record.h's");
_Static_assert (WIRE_TRECORD_NAME_MAX == RECORD_NAME_MAX, "wire.h's name size is record.h's");
_Static_assert (WIRE_TADDR_SIZE == REGISTRY_ADDR_MAX, "an entry's address is the registry's");
_Static_assert (WIRE_TFOUND_MAX == REGISTRY_MATCHES_MAX && WIRE_TPAGE_MAX == REGISTRY_PAGE_MAX,
                "T_FOUND and T_PAGE hold what the registry gives");
_Static_assert (MAILBOX_ITEM_MAX <= WIRE_MAX_ENVELOPE, "a mailbox item fits a T_PUT");

#define RX_BATCH 256                    //  frames read a pass before the timers run

//  A link that registered: where to push notices, dial-backs, mail notes.
typedef struct {
    uint8_t key [32];                   //  its CURVE key (the record's X25519 key)
    uint8_t sign_pk [IDENTITY_PK_SIZE]; //  the signing key it registered last
    uint8_t entry [WIRE_TENTRY_SIZE];   //  its record and address, for a dial-back
    uint8_t rid [TRANSPORT_RID_MAX];
    size_t rid_len;
    int fd;
} s_link_t;

struct _tracker_t {
    tracker_opts_t opts;
    identity_t *id;
    transport_t *transport;
    void *watch;                        //  the ROUTER's closed connections
    resolve_t *resolve;
    registry_t *registry;
    mailbox_t *mailbox;
    wire_handlers_t handlers;
    char home [PATH_MAX];
    char snapshot [PATH_MAX + 32];
    char address [256];
    char fp [IDENTITY_FP_HEX_SIZE];
    uint8_t record [RECORD_SIZE];       //  ours, for the UDP record request
    s_link_t *links;
    size_t nlinks, links_alloc;
    const transport_rx_t *rx;           //  the frame being handled (its link)
    int64_t next_sweep, next_save, next_mail_sweep;
    int64_t events_window;              //  the second "refused" events are counted in
    unsigned events_in_window;
    struct {
        uint64_t frames, frames_bad, frames_ignored;
        uint64_t notices_sent, pushes_dropped, dials;
        uint64_t refused, refused_events_suppressed;
    } stats;
};

static int64_t
s_wall_ms (const tracker_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + self->opts.clock_offset_ms;
}

static void
s_hex (const uint8_t *bin, size_t len, char *out, size_t size)
{
    sodium_bin2hex (out, size, bin, len);
}

//  Prints one JSON event (taken) when --json; else at -v.
static void
s_emit (tracker_t *self, json_t *ev)
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

static s_link_t *
s_link (tracker_t *self, const uint8_t key [32])
{
    for (size_t i = 0; i < self->nlinks; i++)
        if (memcmp (self->links [i].key, key, 32) == 0)
            return &self->links [i];
    return NULL;
}

static void
s_link_drop (tracker_t *self, s_link_t *link)
{
    size_t i = (size_t) (link - self->links);
    self->links [i] = self->links [--self->nlinks];
}

//  Remembers the link of the frame being handled as registered for entry.
static void
s_link_note (tracker_t *self, const uint8_t *record, const char *addr)
{
    s_link_t *link = s_link (self, self->rx->key);
    if (!link) {
        if (self->nlinks == self->links_alloc) {
            size_t n = self->links_alloc? self->links_alloc * 2: 64;
            s_link_t *more = realloc (self->links, n * sizeof *more);
            if (!more)
                return;         //  no pushes to it: it still gets its answers
            self->links = more;
            self->links_alloc = n;
        }
        link = &self->links [self->nlinks++];
        memcpy (link->key, self->rx->key, 32);
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
static void
s_reply (tracker_t *self, const wire_frame_t *frame)
{
    int rc = s_send (self, self->rx->rid, self->rx->rid_len, frame);
    if (rc != 0)
        log_debug ("an answer was not sent: %s", sc_strerror (rc));
}

//  Pushes frame to a registered link; a link that is gone is forgotten.
static bool
s_push (tracker_t *self, s_link_t *link, const wire_frame_t *frame)
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
static void
s_refuse (tracker_t *self, const wire_frame_t *req, uint64_t tag, int rc, const char *limit,
          int64_t retry_ms, int64_t now)
{
    const char *code = s_code (rc, limit);
    wire_frame_t f = { .type = WIRE_T_REFUSED, .t_refused = {
        .type = (uint64_t) req->type, .tag = tag, .code = code, .code_len = strlen (code),
        .retry_ms = retry_ms > 0? (uint64_t) retry_ms: 0 } };
    s_reply (self, &f);
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
    s_hex (self->rx->key, 32, key, sizeof key);
    s_emit (self, json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "event", "refused",
                             "request", wire_spec (req->type)->name, "code", code,
                             "retry_ms", (json_int_t) f.t_refused.retry_ms, "addr", self->rx->addr,
                             "key", key, "suppressed",
                             (json_int_t) self->stats.refused_events_suppressed));
}

//  ---------------------------------------------------------------------
//  Handlers, one per request frame

static void
s_mail_note (tracker_t *self, s_link_t *link, int64_t now)
{
    size_t n;
    size_t count = mailbox_list (self->mailbox, link->key, now, NULL, 0, &n);
    if (count == 0)
        return;
    wire_frame_t f = { .type = WIRE_T_MAILNOTE, .t_mailnote = { .count = count } };
    s_push (self, link, &f);
}

static bool
s_on_register (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    const uint8_t *raw = req->t_register.record;
    if (req->t_register.record_len != RECORD_SIZE) {
        s_refuse (self, req, req->t_register.tag, SC_EMALFORMED, NULL, 0, now);
        return true;
    }
    int64_t expires = 0;
    registry_refusal_t why = { 0 };
    int rc = registry_register (self->registry, self->rx->addr, peer, raw, RECORD_SIZE, now,
                                &expires, &why);
    if (rc != 0) {
        s_refuse (self, req, req->t_register.tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    bool leave = raw [5] & RECORD_FLAG_LEAVE;
    wire_frame_t f = { .type = WIRE_T_REGISTERED, .t_registered = {
        .tag = req->t_register.tag, .ttl_ms = leave || expires < now? 0: (uint64_t) (expires - now),
        .addr = self->rx->addr, .addr_len = strlen (self->rx->addr) } };
    s_reply (self, &f);
    if (leave) {
        s_link_t *link = s_link (self, peer);
        if (link)
            s_link_drop (self, link);
        return true;
    }
    bool known = s_link (self, peer) != NULL;
    s_link_note (self, raw, self->rx->addr);
    s_link_t *link = s_link (self, peer);
    if (link && !known)
        s_mail_note (self, link, now);
    return true;
}

static bool
s_on_leave (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    int rc = registry_leave (self->registry, peer, req->t_leave.key, now);
    if (rc != 0) {
        s_refuse (self, req, req->t_leave.tag, rc, NULL, 0, now);
        return true;
    }
    s_link_t *link = s_link (self, peer);
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
        s_refuse (self, req, q->tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    uint8_t buf [REGISTRY_MATCHES_MAX * WIRE_TENTRY_SIZE];
    if (rc != 0)
        n = 0;
    s_entries (found, n, buf);
    wire_frame_t f = { .type = WIRE_T_FOUND, .t_found = {
        .tag = q->tag, .entries = buf, .entries_len = n * WIRE_TENTRY_SIZE } };
    s_reply (self, &f);
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
        s_refuse (self, req, req->t_list.tag, rc, why.limit, why.retry_ms, now);
    else {
        s_entries (page, n, buf);
        wire_frame_t f = { .type = WIRE_T_PAGE, .t_page = {
            .tag = req->t_list.tag, .entries = buf, .entries_len = n * WIRE_TENTRY_SIZE,
            .next = next } };
        s_reply (self, &f);
    }
    free (page);
    free (buf);
    return true;
}

static bool
s_on_dial (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    s_link_t *asker = s_link (self, peer);
    if (!asker) {
        s_refuse (self, req, req->t_dial.tag, SC_EPERM, NULL, 0, now);
        return true;
    }
    registry_entry_t target;
    registry_refusal_t why = { 0 };
    int rc = registry_lookup_key (self->registry, self->rx->addr, req->t_dial.key, now, &target, &why);
    s_link_t *link = rc == 0? s_link (self, target.rec.box_pk): NULL;
    if (rc == 0 && !link)
        rc = SC_EOFFLINE;
    if (rc == 0) {
        //  s_push may drop a link: copy the asker's entry first
        uint8_t entry [WIRE_TENTRY_SIZE];
        memcpy (entry, asker->entry, sizeof entry);
        wire_frame_t f = { .type = WIRE_T_DIALED, .t_dialed = {
            .entry = entry, .entry_len = sizeof entry } };
        if (!s_push (self, link, &f))
            rc = SC_EOFFLINE;
    }
    if (rc != 0)
        s_refuse (self, req, req->t_dial.tag, rc, why.limit, why.retry_ms, now);
    else
        self->stats.dials++;
    return true;
}

static bool
s_on_put (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    const __typeof__ (req->t_put) *p = &req->t_put;
    mailbox_refusal_t why = { 0 };
    uint64_t dups = mailbox_stats (self->mailbox).duplicates;
    uint32_t days = p->ttl_days > UINT32_MAX? 0: (uint32_t) p->ttl_days;
    //  Answered only once mailbox_put says the item is on disk (synced)
    int rc = mailbox_put (self->mailbox, p->recipient, peer, p->msg_id, p->envelope,
                          p->envelope_len, days, now, &why);
    if (rc != 0) {
        s_refuse (self, req, p->tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    wire_frame_t f = { .type = WIRE_T_STORED, .t_stored = { .tag = p->tag } };
    memcpy (f.t_stored.recipient, p->recipient, 32);
    memcpy (f.t_stored.msg_id, p->msg_id, WIRE_ID_SIZE);
    s_reply (self, &f);
    char recipient [65], sender [65], id [33];
    s_hex (p->recipient, 32, recipient, sizeof recipient);
    s_hex (peer, 32, sender, sizeof sender);
    s_hex (p->msg_id, WIRE_ID_SIZE, id, sizeof id);
    s_emit (self, json_pack ("{s:s, s:s, s:s, s:s, s:I, s:b}", "event", "mail_stored",
                             "recipient", recipient, "sender", sender, "msg_id", id,
                             "bytes", (json_int_t) p->envelope_len,
                             "repeat", mailbox_stats (self->mailbox).duplicates != dups));
    s_link_t *link = s_link (self, p->recipient);
    if (link)
        s_mail_note (self, link, now);
    return true;
}

static bool
s_on_fetch (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    mailbox_item_t items [WIRE_TFETCH_MAX];
    size_t max = req->t_fetch.max == 0 || req->t_fetch.max > WIRE_TFETCH_MAX
               ? WIRE_TFETCH_MAX: (size_t) req->t_fetch.max;
    size_t n;
    //  The link's key is the recipient: nobody fetches another's mail
    mailbox_list (self->mailbox, peer, now, items, max, &n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *data;
        size_t len;
        if (mailbox_fetch (self->mailbox, peer, items [i].sender, items [i].id, now, &data, &len,
                           NULL) != 0)
            continue;
        wire_frame_t f = { .type = WIRE_T_MAIL, .t_mail = {
            .stored_ms = items [i].stored_ms > 0? (uint64_t) items [i].stored_ms: 0,
            .envelope = data, .envelope_len = len } };
        memcpy (f.t_mail.sender, items [i].sender, 32);
        memcpy (f.t_mail.msg_id, items [i].id, WIRE_ID_SIZE);
        s_reply (self, &f);
        free (data);
    }
    wire_frame_t end = { .type = WIRE_T_FOUND, .t_found = { .tag = req->t_fetch.tag } };
    s_reply (self, &end);
    return true;
}

static bool
s_on_ack (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    if (mailbox_ack (self->mailbox, peer, req->t_ack.sender, req->t_ack.msg_id) != 0)
        return true;            //  acknowledged before: nothing to say
    char recipient [65], sender [65], id [33];
    s_hex (peer, 32, recipient, sizeof recipient);
    s_hex (req->t_ack.sender, 32, sender, sizeof sender);
    s_hex (req->t_ack.msg_id, WIRE_ID_SIZE, id, sizeof id);
    s_emit (self, json_pack ("{s:s, s:s, s:s, s:s}", "event", "mail_delivered",
                             "recipient", recipient, "sender", sender, "msg_id", id));
    return true;
}

//  Every limit and counter, by name.
static size_t
s_counters (tracker_t *self, wire_counter_t *c, size_t max)
{
    registry_stats_t r = registry_stats (self->registry);
    mailbox_stats_t m = mailbox_stats (self->mailbox);
    const registry_limits_t *rl = &self->opts.registry;
    const mailbox_limits_t *ml = &self->opts.mailbox;
    size_t n = 0;
#define C(name, v) if (n < max) c [n++] = (wire_counter_t) { name, 0, (uint64_t) (v) }
    C ("limit_records", rl->records);
    C ("limit_keys_per_address", rl->keys_per_source);
    C ("limit_register_per_s", rl->register_per_s);
    C ("limit_register_burst", rl->register_burst);
    C ("limit_lookup_per_s", rl->lookup_per_s);
    C ("limit_lookup_burst", rl->lookup_burst);
    C ("limit_misses_free", rl->misses_free);
    C ("limit_backoff_max_ms", rl->backoff_max_ms);
    C ("limit_ttl_ms", rl->ttl_ms);
    C ("limit_mail_ttl_days", ml->ttl_days);
    C ("limit_mail_per_recipient", ml->recipient_items);
    C ("limit_mail_recipient_bytes", ml->recipient_bytes);
    C ("limit_mail_per_sender", ml->sender_items);
    C ("limit_mail_total", ml->total_items);
    C ("limit_mail_total_bytes", ml->total_bytes);
    C ("limit_mail_disk_floor", ml->disk_floor);
    C ("limit_put_per_s", ml->put_per_s);
    C ("records", r.records);
    C ("sources", r.sources);
    C ("registry_memory", r.memory);
    C ("registered", r.registered);
    C ("refreshed", r.refreshed);
    C ("left", r.left);
    C ("expired", r.expired);
    C ("bad_record", r.bad_record);
    C ("foreign_key", r.foreign_key);
    C ("stale", r.stale);
    C ("refused_records", r.refused_records);
    C ("refused_keys_per_address", r.refused_keys_per_source);
    C ("refused_register_rate", r.refused_register_rate);
    C ("lookups", r.lookups);
    C ("lookups_missed", r.lookups_missed);
    C ("refused_lookup_rate", r.refused_lookup_rate);
    C ("refused_backoff", r.refused_backoff);
    C ("refused_prefix", r.refused_prefix);
    C ("sources_forgotten", r.sources_forgotten);
    C ("events_dropped", r.events_dropped);
    C ("snapshot_dropped", r.snapshot_dropped);
    C ("mail_items", m.items);
    C ("mail_bytes", m.bytes);
    C ("mail_stored", m.stored);
    C ("mail_duplicates", m.duplicates);
    C ("mail_fetched", m.fetched);
    C ("mail_acked", m.acked);
    C ("mail_expired", m.expired);
    C ("refused_mail_item_size", m.refused_item_size);
    C ("refused_mail_recipient", m.refused_recipient);
    C ("refused_mail_sender", m.refused_sender);
    C ("refused_mail_sender_rate", m.refused_sender_rate);
    C ("refused_mail_total", m.refused_total);
    C ("refused_mail_disk", m.refused_disk);
    C ("mail_io_errors", m.io_errors);
    C ("mail_loaded", m.loaded);
    C ("mail_damaged", m.damaged);
    C ("links", self->nlinks);
    C ("frames", self->stats.frames);
    C ("frames_bad", self->stats.frames_bad);
    C ("frames_ignored", self->stats.frames_ignored);
    C ("notices_sent", self->stats.notices_sent);
    C ("pushes_dropped", self->stats.pushes_dropped);
    C ("dials", self->stats.dials);
    C ("refused", self->stats.refused);
    C ("refused_events_suppressed", self->stats.refused_events_suppressed);
    C ("udp_dropped", resolve_dropped (self->resolve));
#undef C
    return n;
}

static bool
s_on_status (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    wire_counter_t c [WIRE_COUNTERS_MAX];
    size_t n = s_counters (self, c, WIRE_COUNTERS_MAX);
    uint8_t *body;
    size_t len;
    if (wire_counters_encode (c, n, &body, &len) != 0)
        return true;
    wire_frame_t f = { .type = WIRE_T_STATS, .t_stats = {
        .tag = req->t_status.tag, .counters = body, .counters_len = len } };
    s_reply (self, &f);
    free (body);
    return true;
}

//  ---------------------------------------------------------------------
//  Timers

//  Pushes the registry's notices to every registered link but the subject.
static void
s_notices (tracker_t *self)
{
    registry_event_t ev;
    while (registry_event_next (self->registry, &ev) == 0) {
        bool joined = ev.type == REGISTRY_JOINED;
        uint8_t entry [WIRE_TENTRY_SIZE];
        wire_tentry_put (entry, ev.record, ev.addr);
        wire_frame_t f = { .type = WIRE_T_NOTICE, .t_notice = {
            .joined = joined, .reason = ev.reason, .reason_len = strlen (ev.reason),
            .entry = entry, .entry_len = sizeof entry } };
        for (size_t i = self->nlinks; i-- > 0; )
            if (memcmp (self->links [i].sign_pk, ev.sign_pk, IDENTITY_PK_SIZE) != 0
            &&  s_push (self, &self->links [i], &f))
                self->stats.notices_sent++;
        char fp [IDENTITY_FP_HEX_SIZE];
        identity_fingerprint_hex (ev.sign_pk, fp);
        record_t rec;
        const char *name = record_decode_known (ev.record, RECORD_SIZE, ev.record, &rec) == 0
                         ? rec.name: "";
        s_emit (self, json_pack ("{s:s, s:s, s:s, s:s, s:s}", "event",
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
        registry_sweep (self->registry, now);
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
    s_notices (self);
}

//  ---------------------------------------------------------------------
//  Sockets

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
        wire_frame_t f;
        if (wire_decode (zmq_msg_data (&rx.msg), zmq_msg_size (&rx.msg), &f) != 0)
            self->stats.frames_bad++;
        else {
            //  A registered link that reconnected answers on its new routing id
            s_link_t *link = s_link (self, rx.key);
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
        { WIRE_T_PUT, s_on_put }, { WIRE_T_FETCH, s_on_fetch }, { WIRE_T_ACK, s_on_ack },
        { WIRE_T_STATUS, s_on_status },
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
    s_emit (self, json_pack ("{s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "event", "ready",
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
    free (self);
    *self_p = NULL;
}

const char *
tracker_address (const tracker_t *self)
{
    return self->address;
}

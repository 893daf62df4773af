/*  tracker_mail: securechat-tracker's mailbox and status handlers (T_PUT,
    T_FETCH, T_ACK, T_STATUS) and the "you have mail" note: what comes on a
    link fed to discovery/tracker/mailbox, its answers sent back.  A put is
    answered only once the mailbox has it on disk.  See tracker.h.  */
#define LOG_MODULE "tracker"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "tracker_int.h"

void
tracker_mail_note (tracker_t *self, tracker_link_t *link, int64_t now)
{
    size_t n;
    size_t count = mailbox_list (self->mailbox, link->key, now, NULL, 0, &n);
    if (count == 0)
        return;
    wire_frame_t f = { .type = WIRE_T_MAILNOTE, .t_mailnote = { .count = count } };
    tracker_push (self, link, &f);
}

bool
tracker_on_put (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    const __typeof__ (req->t_put) *p = &req->t_put;
    mailbox_refusal_t why = { 0 };
    uint64_t dups = mailbox_stats (self->mailbox).duplicates;
    uint32_t days = p->ttl_days > UINT32_MAX? 0: (uint32_t) p->ttl_days;
    //  Only a link that registered may leave mail: its key then counts
    //  against the keys one address may register, so throwaway keys from
    //  one place cannot fill a recipient's (or everyone's) mailbox
    if (!tracker_link (self, peer)) {
        tracker_refuse (self, req, p->tag, SC_EPERM, NULL, 0, now);
        return true;
    }
    //  Answered only once mailbox_put says the item is on disk (synced)
    int rc = mailbox_put (self->mailbox, p->recipient, peer, p->msg_id, p->envelope,
                          p->envelope_len, days, now, &why);
    if (rc != 0) {
        tracker_refuse (self, req, p->tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    wire_frame_t f = { .type = WIRE_T_STORED, .t_stored = { .tag = p->tag } };
    memcpy (f.t_stored.recipient, p->recipient, 32);
    memcpy (f.t_stored.msg_id, p->msg_id, WIRE_ID_SIZE);
    tracker_reply (self, &f);
    char recipient [65], sender [65], id [33];
    tracker_hex (p->recipient, 32, recipient, sizeof recipient);
    tracker_hex (peer, 32, sender, sizeof sender);
    tracker_hex (p->msg_id, WIRE_ID_SIZE, id, sizeof id);
    tracker_emit (self, json_pack ("{s:s, s:s, s:s, s:s, s:I, s:b}", "event", "mail_stored",
                             "recipient", recipient, "sender", sender, "msg_id", id,
                             "bytes", (json_int_t) p->envelope_len,
                             "repeat", mailbox_stats (self->mailbox).duplicates != dups));
    tracker_link_t *link = tracker_link (self, p->recipient);
    if (link)
        tracker_mail_note (self, link, now);
    return true;
}

bool
tracker_on_fetch (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    //  Each fetch reads files and scans the mailbox: it costs a lookup
    registry_refusal_t why = { 0 };
    int rc = registry_charge (self->registry, self->rx->addr, now, &why);
    if (rc != 0) {
        tracker_refuse (self, req, req->t_fetch.tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
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
        tracker_reply (self, &f);
        free (data);
    }
    wire_frame_t end = { .type = WIRE_T_FOUND, .t_found = { .tag = req->t_fetch.tag } };
    tracker_reply (self, &end);
    return true;
}

bool
tracker_on_ack (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    if (mailbox_ack (self->mailbox, peer, req->t_ack.sender, req->t_ack.msg_id) != 0)
        return true;            //  acknowledged before: nothing to say
    char recipient [65], sender [65], id [33];
    tracker_hex (peer, 32, recipient, sizeof recipient);
    tracker_hex (req->t_ack.sender, 32, sender, sizeof sender);
    tracker_hex (req->t_ack.msg_id, WIRE_ID_SIZE, id, sizeof id);
    tracker_emit (self, json_pack ("{s:s, s:s, s:s, s:s}", "event", "mail_delivered",
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
    C ("pushes_deferred", self->stats.pushes_deferred);
    C ("dials", self->stats.dials);
    C ("refused", self->stats.refused);
    C ("refused_events_suppressed", self->stats.refused_events_suppressed);
    C ("udp_dropped", resolve_dropped (self->resolve));
#undef C
    return n;
}

bool
tracker_on_status (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now)
{
    tracker_t *self = arg;
    registry_refusal_t why = { 0 };
    int rc = registry_charge (self->registry, self->rx->addr, now, &why);
    if (rc != 0) {
        tracker_refuse (self, req, req->t_status.tag, rc, why.limit, why.retry_ms, now);
        return true;
    }
    wire_counter_t c [WIRE_COUNTERS_MAX];
    size_t n = s_counters (self, c, WIRE_COUNTERS_MAX);
    uint8_t *body;
    size_t len;
    if (wire_counters_encode (c, n, &body, &len) != 0)
        return true;
    wire_frame_t f = { .type = WIRE_T_STATS, .t_stats = {
        .tag = req->t_status.tag, .counters = body, .counters_len = len } };
    tracker_reply (self, &f);
    free (body);
    return true;
}


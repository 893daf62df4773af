/*  tracker_int: what the files of securechat-tracker's socket glue share
    (tracker.c: the loop, the links, the record handlers; tracker_mail.c:
    the mailbox and status handlers).  Nothing else includes it.  */
#ifndef SC_TRACKER_INT_H
#define SC_TRACKER_INT_H

#include <jansson.h>
#include <limits.h>
#include "../discovery/record.h"
#include "../discovery/resolve.h"
#include "tracker.h"
#include "transport.h"
#include "wire.h"

//  A link that registered: where to push notices, dial-backs, mail notes.
typedef struct {
    uint8_t key [32];                   //  its CURVE key (the record's X25519 key)
    uint8_t sign_pk [IDENTITY_PK_SIZE]; //  the signing key it registered last
    uint8_t entry [WIRE_TENTRY_SIZE];   //  its record and address, for a dial-back
    uint8_t rid [TRANSPORT_RID_MAX];
    size_t rid_len;
    int fd;
    int32_t next;                       //  its bucket's chain, -1 at the end
} tracker_link_t;

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
    tracker_link_t *links;
    size_t nlinks, links_alloc;
    int32_t *link_buckets;              //  links by CURVE key (as many as links_alloc)
    uint8_t link_hash_key [16];         //  SipHash key: a client cannot aim at one chain
    const transport_rx_t *rx;           //  the frame being handled (its link)
    int64_t next_sweep, next_save, next_mail_sweep;
    bool trim_due;                      //  links or records went: give memory back
    int64_t pushes_window;              //  the second notice pushes are counted in
    int64_t pushes_left;                //  of opts.push_rate in it
    int64_t events_window;              //  the second "refused" events are counted in
    unsigned events_in_window;
    struct {
        uint64_t frames, frames_bad, frames_ignored;
        uint64_t notices_sent, pushes_dropped, pushes_deferred, dials;
        uint64_t refused, refused_events_suppressed;
    } stats;
};

//  bin as hex into out (NUL-terminated, cut to size).
void tracker_hex (const uint8_t *bin, size_t len, char *out, size_t size);
//  Prints one JSON event (taken) with --json, else at -v.
void tracker_emit (tracker_t *self, json_t *ev);
//  The registered link with this CURVE key, or NULL (borrowed).
tracker_link_t *tracker_link (tracker_t *self, const uint8_t key [32]);
//  Answers the frame being handled (self->rx) on its link.
void tracker_reply (tracker_t *self, const wire_frame_t *frame);
//  Pushes frame to a registered link; one that is gone is forgotten.
bool tracker_push (tracker_t *self, tracker_link_t *link, const wire_frame_t *frame);
//  Answers req with T_REFUSED (code from rc or the limit's name), and
//  tells it as a "refused" event (at most TRACKER_EVENTS_PER_S a second).
void tracker_refuse (tracker_t *self, const wire_frame_t *req, uint64_t tag, int rc,
                     const char *limit, int64_t retry_ms, int64_t now);
//  tracker_mail.c: "you have mail" to a link with items waiting, and the
//  handlers of T_PUT, T_FETCH, T_ACK and T_STATUS (wire_handler_fn).
void tracker_mail_note (tracker_t *self, tracker_link_t *link, int64_t now);
bool tracker_on_put (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now);
bool tracker_on_fetch (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now);
bool tracker_on_ack (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now);
bool tracker_on_status (void *arg, const uint8_t peer [32], const wire_frame_t *req, int64_t now);

#endif

/*  commands: what the user types, one handler per row of cmd.h's table
    (s_cmd_<name>), each returning 0 or an SC_E* code with a sentence;
    s_cmd_error is the one place a failure becomes an "error" event.  Part
    of the node (see node_int.h): handlers reach the node's modules.  */
#define LOG_MODULE "node"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "../crypto/base/utf8.h"
#include "../discovery/udp.h"
#include "cmd.h"
#include "link.h"
#include "node_int.h"

//  ---------------------------------------------------------------------
//  Commands: one handler per row of cmd.h's table, s_cmd_<name>.  A handler
//  returns 0, or an error code of crypto/base/err.h with a sentence for the user
//  in err; s_cmd_error turns that into the "error" event.

typedef int (s_cmd_fn) (node_t *self, const cmd_t *cmd, char *err, size_t err_size);

//  The one place a command's failure becomes an "error" event: the code is
//  the error's stable name, the message its sentence.
static void
s_cmd_error (node_t *self, int rc, const char *err)
{
    ui_error (self->ui, sc_errname (rc), "%s", err [0]? err: sc_strerror (rc));
}

//  A peer by display name or fingerprint prefix: 0 and *peer, or the
//  error (no_peer, ambiguous, key_changed) with its sentence.
static int
s_resolve (node_t *self, const char *query, bool allow_changed, peer_t **peer,
           char *err, size_t err_size)
{
    char cands [512];
    int rc = peers_resolve (self->peers, self->known, query, allow_changed, peer,
                            cands, sizeof cands);
    if (rc == SC_ENOPEER)
        snprintf (err, err_size, "no peer called '%s': /peers lists them", query);
    else if (rc == SC_EAMBIGUOUS)
        snprintf (err, err_size, "'%s' matches several peers: %s; use a fingerprint prefix",
                  query, cands);
    else if (rc == SC_EKEYCHANGED)
        snprintf (err, err_size,
                  "'%s' now comes with a different key: %s. It is refused by name until you "
                  "compare safety numbers with /verify and confirm; its fingerprint prefix works",
                  query, cands);
    return rc;
}

//  A peer by name or fingerprint prefix that is online now.
static int
s_resolve_online (node_t *self, const char *query, peer_t **peer, char *err, size_t err_size)
{
    int rc = s_resolve (self, query, false, peer, err, err_size);
    if (rc == 0 && !link_up ((*peer)->link)) {
        snprintf (err, err_size, "%s is not online now", (*peer)->name);
        rc = SC_EOFFLINE;
    }
    return rc;
}

static int
s_cmd_empty (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    return 0;
}

//  A line to every online peer.  Each peer's outbox can refuse it on its
//  own, so each refusal is its own error and the others still go.
static int
s_cmd_say (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    //  Only valid UTF-8 goes on the wire
    char *text = utf8_sanitize (cmd->argv [0], strlen (cmd->argv [0]));
    if (!text)
        return 0;
    int sent = 0;
    for (size_t i = 0; i < peers_size (self->peers); i++) {
        peer_t *peer = peers_at (self->peers, i);
        if (link_up (peer->link)) {
            err [0] = 0;
            int rc = chat_queue (self->chat, peer, 1, text, node_mono_ms (), node_wall_ms (), err, err_size);
            if (rc != 0)
                s_cmd_error (self, rc, err);
            sent++;
        }
    }
    if (sent == 0)
        ui_warning (self->ui, "no_peers", "nobody is online: the line was not sent");
    free (text);
    return 0;
}

static int
s_cmd_msg (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve (self, cmd->argv [0], false, &peer, err, err_size);
    //  Only valid UTF-8 goes on the wire
    char *text = utf8_sanitize (cmd->argv [1], strlen (cmd->argv [1]));
    //  A name or prefix met nowhere yet is asked of the trackers, and the
    //  line waits for their answer
    int held = rc == SC_ENOPEER && text? tracking_hold (self, cmd->argv [0], text): SC_ENOPEER;
    if (held == SC_EAGAIN)
        snprintf (err, err_size, "no peer with a fingerprint starting '%s' here yet: the trackers "
                  "are asked; send again once /peers lists it (a line waits for their answer "
                  "only with %d hex digits or more)", cmd->argv [0], TRACKING_HOLD_PREFIX);
    if (held == 0) {
        char note [256];
        snprintf (note, sizeof note, "no peer called '%s' here yet: the trackers are asked, "
                  "and the message goes when one names it", cmd->argv [0]);
        ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message", note));
        free (text);
        return 0;
    }
    if (rc != 0) {
        free (text);
        return rc;
    }
    if (text)
        rc = chat_queue (self->chat, peer, 0, text, node_mono_ms (), node_wall_ms (), err, err_size);
    known_set_messaged (self->known, peer->sign_pk);
    free (text);
    return rc;
}

static int
s_cmd_peers (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < peers_size (self->peers); i++)
        json_array_append_new (list, meet_peer_json (self, peers_at (self->peers, i)));
    ui_emit (self->ui, json_pack ("{s:s, s:o}", "event", "peers", "peers", list));
    return 0;
}

void
commands_peers (void *arg, ui_peer_fn *add, void *ctx)
{
    node_t *self = arg;
    for (size_t i = 0; i < peers_size (self->peers); i++) {
        peer_t *peer = peers_at (self->peers, i);
        add (ctx, peer->name, peer->id);
    }
}

json_t *
commands_whoami_json (node_t *self, const char *event)
{
    char safety [IDENTITY_SAFETY_SIZE], host [64], address [256];
    identity_safety_number (identity_sign_pk (self->id), safety);
    if (strcmp (self->opts.bind, "*") == 0 || strcmp (self->opts.bind, "0.0.0.0") == 0)
        udp_first_host (host, sizeof host);
    else
        snprintf (host, sizeof host, "%s", self->opts.bind);
    snprintf (address, sizeof address, "%s@tcp://%s:%d", self->my_id, host,
              transport_port (self->transport));
    return json_pack ("{s:s, s:s, s:s, s:i, s:s, s:s}", "event", event, "id", self->my_id,
                      "name", self->name, "port", transport_port (self->transport),
                      "safety", safety, "address", address);
}

static int
s_cmd_whoami (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    ui_emit (self->ui, commands_whoami_json (self, "whoami"));
    return 0;
}

static int
s_cmd_verify (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve (self, cmd->argv [0], true, &peer, err, err_size);
    if (rc != 0)
        return rc;
    if (cmd->argc == 2 && strcmp (cmd->argv [1], "yes") != 0) {
        snprintf (err, err_size, "usage: /verify PEER [yes]");
        return SC_EINVAL;
    }
    if (cmd->argc == 2 && known_set_verified (self->known, peer->sign_pk, true) != 0) {
        snprintf (err, err_size, "could not save the verified mark for %s", peer->name);
        return SC_EIO;
    }
    char theirs [IDENTITY_SAFETY_SIZE], mine [IDENTITY_SAFETY_SIZE];
    identity_safety_number (peer->sign_pk, theirs);
    identity_safety_number (identity_sign_pk (self->id), mine);
    bool verified = known_verified (self->known, peer->sign_pk);
    ui_emit (self->ui, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b}", "event", "verify",
                                  "id", peer->id, "name", peer->name, "safety", theirs,
                                  "own_safety", mine, "verified", verified));
    if (!verified)
        ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message",
            "Compare the peer's safety number with the one it sees for itself (its /whoami), "
            "by voice or in person; if they match, type /verify PEER yes"));
    return 0;
}

static int
s_cmd_history (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    const char *peer_id = NULL;
    if (cmd->argc == 1) {
        peer_t *peer;
        int rc = s_resolve (self, cmd->argv [0], true, &peer, err, err_size);
        if (rc != 0)
            return rc;
        peer_id = peer->id;
    }
    json_t *entries = history_read (self->history, peer_id, HISTORY_SHOW);
    ui_emit (self->ui, json_pack ("{s:s, s:o}", "event", "history", "entries",
                                  entries? entries: json_array ()));
    return 0;
}

static int
s_cmd_send (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve_online (self, cmd->argv [0], &peer, err, err_size);
    if (rc != 0)
        return rc;
    files_send (self->files, peer->sign_pk, cmd->argv [1]);
    return 0;
}

static int
s_cmd_files (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve_online (self, cmd->argv [0], &peer, err, err_size);
    if (rc != 0)
        return rc;
    files_list (self->files, peer->sign_pk, false);
    return 0;
}

static int
s_cmd_videos (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve_online (self, cmd->argv [0], &peer, err, err_size);
    if (rc != 0)
        return rc;
    files_list (self->files, peer->sign_pk, true);
    return 0;
}

static int
s_cmd_get (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve_online (self, cmd->argv [0], &peer, err, err_size);
    if (rc != 0)
        return rc;
    files_get (self->files, peer->sign_pk, cmd->argv [1]);
    return 0;
}

static int
s_cmd_watch (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    peer_t *peer;
    int rc = s_resolve_online (self, cmd->argv [0], &peer, err, err_size);
    if (rc != 0)
        return rc;
    int64_t offset = 0;
    if (cmd->offset)
        cmd_parse_offset (cmd->offset, &offset);
    viewer_watch (self->viewer, peer->sign_pk, cmd->argv [1], offset, cmd->out, node_mono_ms ());
    return 0;
}

static int
s_cmd_stop (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    const char *prefix = cmd->argc? cmd->argv [0]: "";
    int64_t now = node_mono_ms ();
    if (viewer_stop (self->viewer, prefix, now) + owner_stop (self->owner, prefix, now) == 0)
        ui_error (self->ui, "no_stream", *prefix? "no stream has an id starting with '%s'"
                                               : "no stream is running%s", prefix);
    return 0;
}

static int
s_cmd_streams (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    json_t *list = json_array ();
    viewer_list (self->viewer, list, node_mono_ms ());
    owner_list (self->owner, list, node_mono_ms ());
    ui_emit (self->ui, json_pack ("{s:s, s:o}", "event", "streams", "streams", list));
    return 0;
}

static int
s_cmd_share (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_share (self->files, cmd->argv [0]);
    return 0;
}

static int
s_cmd_unshare (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_unshare (self->files, cmd->argv [0]);
    return 0;
}

static int
s_cmd_transfers (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_transfers (self->files);
    return 0;
}

static int
s_cmd_accept (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_accept (self->files, cmd->argv [0]);
    return 0;
}

static int
s_cmd_reject (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_reject (self->files, cmd->argv [0]);
    return 0;
}

static int
s_cmd_cancel (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    files_cancel (self->files, cmd->argv [0]);
    return 0;
}

static int
s_cmd_trackers (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    ui_emit (self->ui, json_pack ("{s:s, s:o, s:I, s:I, s:I, s:I, s:I}", "event", "trackers",
                                  "trackers", tracking_json (self),
                                  "key_changed", (json_int_t) self->tstats.key_changed,
                                  "disagree", (json_int_t) self->tstats.disagree,
                                  "dial_backs", (json_int_t) self->tstats.dial_backs,
                                  "no_path", (json_int_t) self->tstats.no_path,
                                  "mail_in", (json_int_t) self->tstats.mail_in));
    return 0;
}

static int
s_cmd_stats (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    beacon_stats_t b = { 0 };
    if (self->beacon)
        b = beacon_stats (self->beacon);
    files_stats_t fs = files_stats (self->files);
    video_stats_t ss = video_stats (self->video);
    json_t *ev = json_pack (
        "{s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I,"
        " s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
        "event", "stats", "discovery", self->beacon != NULL,
        "beacons", "received", (json_int_t) b.received, "wrong_size", (json_int_t) b.wrong_size,
        "malformed", (json_int_t) b.malformed, "bad_signature", (json_int_t) b.bad_signature,
        "own", (json_int_t) b.own, "stale", (json_int_t) b.stale,
        "replayed", (json_int_t) b.replayed, "over_budget", (json_int_t) b.over_budget,
        "linked", (json_int_t) b.linked, "checked", (json_int_t) b.checked,
        "elsewhere", (json_int_t) self->stats.elsewhere,
        "bad_frames", (json_int_t) self->stats.bad_frames,
        "unknown_sender", (json_int_t) self->stats.unknown_sender,
        "refused_messages", (json_int_t) (self->stats.refused_msgs + chat_refused (self->chat)),
        "udp_dropped", (json_int_t) (self->resolve? resolve_dropped (self->resolve): 0),
        "peers_refused", (json_int_t) self->stats.peers_refused,
        "peers", (int) peers_size (self->peers),
        "files", "credit_clamped", (json_int_t) fs.credit_clamped,
        "credit_stale", (json_int_t) fs.credit_stale,
        "grants_repeated", (json_int_t) fs.grants_repeated, "resyncs", (json_int_t) fs.resyncs,
        "stalls", (json_int_t) fs.stalls, "control_queued", (json_int_t) fs.ctl_queued,
        "control_dropped", (json_int_t) fs.ctl_dropped,
        "offers_refused", (json_int_t) fs.offers_refused, "offers_expired", (json_int_t) fs.offers_expired,
        "bad_chunks", (json_int_t) fs.bad_chunks, "sums_wrong", (json_int_t) fs.sums_wrong,
        "streams", "credit_clamped", (json_int_t) ss.credit_clamped,
        "credit_stale", (json_int_t) ss.credit_stale,
        "grants_repeated", (json_int_t) ss.grants_repeated, "stalls", (json_int_t) ss.stalls,
        "control_queued", (json_int_t) ss.ctl_queued,
        "control_dropped", (json_int_t) ss.ctl_dropped);
    if (ev)
    {
        json_object_set_new (ev, "key_claims", json_integer ((json_int_t) self->stats.key_claims));
        json_object_set_new (ev, "tracker_key_changed", json_integer ((json_int_t) self->tstats.key_changed));
    }
    ui_emit (self->ui, ev);
    return 0;
}

static int
s_cmd_help (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    if (cmd->argc == 0) {
        ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message", cmd_help ()));
        return 0;
    }
    char text [2048];
    int rc = cmd_help_one (cmd->argv [0], text, sizeof text);
    if (rc != 0) {
        snprintf (err, err_size, "%s", text);
        return rc;
    }
    ui_emit (self->ui, json_pack ("{s:s, s:s}", "event", "info", "message", text));
    return 0;
}

static int
s_cmd_quit (node_t *self, const cmd_t *cmd, char *err, size_t err_size)
{
    self->quit = true;
    return 0;
}

//  Each command type's handler: the two kinds of plain line, then one per
//  row of cmd.h's table (a row without its s_cmd_<name> does not compile).
static s_cmd_fn *const s_cmds [CMD_TYPES] = {
    [CMD_EMPTY] = s_cmd_empty,
    [CMD_SAY] = s_cmd_say,
#define S_HANDLER(type, name, min, max, rest, usage, help, example, detail) [CMD_##type] = s_cmd_##name,
    CMD_TABLE (S_HANDLER)
#undef S_HANDLER
};

bool
node_handles (cmd_type_t type)
{
    return (int) type >= 0 && (int) type < CMD_TYPES && s_cmds [type] != NULL;
}

void
commands_on_line (const char *line, void *arg)
{
    node_t *self = arg;
    cmd_t *cmd = malloc (sizeof *cmd);
    if (!cmd)
        return;
    char err [1024];
    int rc = cmd_parse (line, cmd, err, sizeof err);
    if (rc == 0) {
        err [0] = 0;
        rc = s_cmds [cmd->type] (self, cmd, err, sizeof err);
    }
    if (rc != 0)
        s_cmd_error (self, rc, err);
    free (cmd);
}


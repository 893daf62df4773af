/*  The real video modules, owner and viewer (node/owner, node/viewer, what
    they share in node/video), on a fake link that refuses sends at random
    (as a full link does), with the real media helper doing the demuxing
    and muxing.  Each side is wired as the node wires it.  */
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../../crypto/base/err.h"
#include "../../node/owner.h"
#include "../../node/viewer.h"
#include "unit.h"

//  Both roles over what they share, as node.c has them
typedef struct {
    video_t *video;
    viewer_t *viewer;
    owner_t *owner;
    int nviewer;                //  poll items the viewer gave, first
} s_side_t;

static int64_t
s_mono (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
s_side_new (s_side_t *side, const video_opts_t *opts, const video_host_t *host)
{
    side->video = video_new (opts, host);
    side->viewer = side->video? viewer_new (side->video): NULL;
    side->owner = side->video? owner_new (side->video): NULL;
    return side->viewer && side->owner;
}

static void
s_side_destroy (s_side_t *side)
{
    viewer_destroy (&side->viewer);
    owner_destroy (&side->owner);
    video_destroy (&side->video);
}

static void
s_side_frame (s_side_t *side, const uint8_t peer [32], const wire_frame_t *f)
{
    if (!owner_on_frame (side->owner, peer, f, s_mono ()))
        viewer_on_frame (side->viewer, peer, f, s_mono ());
}

static int
s_side_poll_items (s_side_t *side, zmq_pollitem_t *items)
{
    side->nviewer = viewer_poll_items (side->viewer, items, VIEWER_MAX);
    return side->nviewer + owner_poll_items (side->owner, items + side->nviewer, OWNER_SERVED_LIMIT);
}

static void
s_side_on_poll (s_side_t *side, const zmq_pollitem_t *items, int count, int64_t now)
{
    viewer_on_poll (side->viewer, items, side->nviewer, now);
    owner_on_poll (side->owner, items + side->nviewer, count - side->nviewer, now);
}

static void
s_side_tick (s_side_t *side, int64_t now)
{
    video_tick (side->video, now);
    viewer_tick (side->viewer, now);
    owner_tick (side->owner, now);
}

#define SIDE_ITEMS (VIEWER_MAX + OWNER_SERVED_LIMIT)

typedef struct s_end s_end_t;
struct s_end {
    s_side_t side;
    uint8_t me [32];
    s_end_t *other;
    uint8_t *frames [4096];
    size_t sizes [4096];
    size_t head, count;
    uint64_t refused, sent;
    uint32_t first_refused;     //  frame types refused once
    const char *state;          //  the last stream state reported
    char share [PATH_MAX];
};

static uint32_t s_rand_state;

static uint32_t
s_rand (void)
{
    s_rand_state = s_rand_state * 1103515245 + 12345;
    return s_rand_state >> 8;
}

static int
s_send (void *arg, const uint8_t peer [32], const wire_frame_t *f)
{
    s_end_t *end = arg;
    (void) peer;
    //  At random, and always the first grant, batch and end of stream, so
    //  both sides meet a full link whatever the timing
    bool first = (f->type == WIRE_SCREDIT || f->type == WIRE_BATCH || f->type == WIRE_SEND)
              && !(end->first_refused & (1u << f->type));
    if (first || s_rand () % 5 == 0 || end->count == 4096) {
        end->first_refused |= 1u << f->type;
        end->refused++;
        return SC_EAGAIN;
    }
    uint8_t *buf;
    size_t len;
    if (wire_encode (f, &buf, &len) != 0)
        return SC_EMALFORMED;
    size_t at = (end->head + end->count++) % 4096;
    end->frames [at] = buf;
    end->sizes [at] = len;
    end->sent++;
    return 0;
}

static void
s_event (void *arg, json_t *ev)
{
    s_end_t *end = arg;
    const char *state = json_string_value (json_object_get (ev, "state"));
    if (state && strcmp (json_string_value (json_object_get (ev, "event")), "stream") == 0)
        end->state = strcmp (state, "ended") == 0? "ended": strcmp (state, "failed") == 0? "failed"
                   : "other";
    if (getenv ("SC_DEBUG")) {
        char *t = json_dumps (ev, 0);
        fprintf (stderr, "%s\n", t);
        free (t);
    }
    json_decref (ev);
}

static const char *
s_name (void *arg, const uint8_t peer [32])
{
    (void) arg; (void) peer;
    return "peer";
}

static int
s_find_share (void *arg, const char *name, char *path, size_t size, bool *video)
{
    s_end_t *end = arg;
    if (strcmp (name, "clip.mp4") != 0)
        return SC_ENOENT;
    snprintf (path, size, "%s", end->share);
    *video = true;
    return 0;
}

static void
s_deliver (s_end_t *end)
{
    while (end->count) {
        uint8_t *buf = end->frames [end->head];
        size_t len = end->sizes [end->head];
        end->head = (end->head + 1) % 4096;
        end->count--;
        wire_frame_t f;
        if (wire_decode (buf, len, &f) == 0)
            s_side_frame (&end->other->side, end->me, &f);
        free (buf);
    }
}

static void
s_full_link_never_stalls_a_stream (void)
{
    const char *dir = unit_tmpdir ();
    char helper [PATH_MAX + 32], exe [PATH_MAX], clip [PATH_MAX], out [PATH_MAX], cmd [PATH_MAX * 2];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    exe [n > 0? n: 0] = 0;
    char *slash = strrchr (exe, '/');
    if (slash)
        *slash = 0;
    snprintf (helper, sizeof helper, "%s/securechat-media", exe);
    snprintf (clip, sizeof clip, "%s/clip.mp4", dir);
    snprintf (out, sizeof out, "%s/got.mkv", dir);
    if (access (helper, X_OK) != 0) {
        unit_skip ("securechat-media is not built beside the unit tests");
        return;
    }
    snprintf (cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=640x480:rate=25 "
              "-f lavfi -i sine=frequency=440 -t 8 -c:v libx264 -preset ultrafast -g 25 -c:a aac %s", clip);
    if (system (cmd) != 0) {
        unit_skip ("ffmpeg could not make a clip");
        return;
    }
    s_rand_state = 4242;
    s_end_t owner = { 0 }, viewer = { 0 };
    memset (owner.me, 0x0a, 32);
    memset (viewer.me, 0x0b, 32);
    owner.other = &viewer;
    viewer.other = &owner;
    snprintf (owner.share, sizeof owner.share, "%s", clip);
    video_opts_t o = { .helper = helper, .player = "cat >/dev/null", .stall_ms = 60000 };
    video_host_t ho = { .send = s_send, .event = s_event, .peer_name = s_name,
                          .find_share = s_find_share, .arg = &owner };
    video_host_t hv = ho;
    hv.arg = &viewer;
    CHECK (s_side_new (&owner.side, &o, &ho) && s_side_new (&viewer.side, &o, &hv));
    //  The WATCH itself may meet the full link: the user is told, and tries again
    for (int i = 0; i < 10 && !viewer.state; i++)
        viewer_watch (viewer.side.viewer, owner.me, "clip.mp4", 0, out, s_mono ());
    int64_t start = s_mono (), next_tick = start;
    while (s_mono () - start < 60000 && (!viewer.state || strcmp (viewer.state, "other") == 0)) {
        zmq_pollitem_t items [2 * SIDE_ITEMS];
        int no = s_side_poll_items (&owner.side, items);
        int nv = s_side_poll_items (&viewer.side, items + no);
        zmq_poll (items, no + nv, 10);
        int64_t now = s_mono ();
        s_side_on_poll (&owner.side, items, no, now);
        s_side_on_poll (&viewer.side, items + no, nv, now);
        s_deliver (&viewer);
        s_deliver (&owner);
        if (now >= next_tick) {
            s_side_tick (&owner.side, now);
            s_side_tick (&viewer.side, now);
            next_tick = now + 100;
        }
    }
    video_stats_t so = video_stats (owner.side.video), sv = video_stats (viewer.side.video);
    CHECK (owner.refused > 0 && viewer.refused > 0);
    CHECK (viewer.state && strcmp (viewer.state, "ended") == 0);
    CHECK (so.stalls == 0 && sv.stalls == 0);
    struct stat st;
    CHECK (stat (out, &st) == 0 && st.st_size > 100 * 1024);
    s_side_destroy (&owner.side);
    s_side_destroy (&viewer.side);
    for (s_end_t *e = &owner; e; e = e == &owner? &viewer: NULL)
        while (e->count) {
            free (e->frames [e->head]);
            e->head = (e->head + 1) % 4096;
            e->count--;
        }
}

//  ---------------------------------------------------------------------
//  An owner against hostile viewers: every frame it sends is kept, decoded

typedef struct {
    int type;
    uint8_t peer;               //  first byte of the key it went to
    uint8_t sid [WIRE_ID_SIZE];
    uint64_t index;
    char text [300];
} s_sent_t;

typedef struct {
    s_sent_t sent [256];
    int count;
    char share [PATH_MAX];
    char state [32];            //  the last stream event's state
    char message [300];         //  and its message
} s_cap_t;

static int
s_cap_send (void *arg, const uint8_t peer [32], const wire_frame_t *f)
{
    s_cap_t *cap = arg;
    if (cap->count < 256) {
        s_sent_t *e = &cap->sent [cap->count++];
        e->type = f->type;
        e->peer = peer [0];
        const uint8_t *sid = NULL;
        const char *text = NULL;
        size_t text_len = 0;
        e->index = 0;
        switch (f->type) {
            case WIRE_WATCH: sid = f->watch.sid; e->index = f->watch.offset_ms;
                             text = f->watch.name; text_len = f->watch.name_len; break;
            case WIRE_STREAM: sid = f->stream.sid; break;
            case WIRE_BATCH: sid = f->batch.sid; e->index = f->batch.seq; break;
            case WIRE_SCREDIT: sid = f->scredit.sid; break;
            case WIRE_SEND: sid = f->send.sid; text = f->send.reason;
                            text_len = f->send.reason_len; break;
            default: break;
        }
        if (sid)
            memcpy (e->sid, sid, WIRE_ID_SIZE);
        snprintf (e->text, sizeof e->text, "%.*s", (int) text_len, text? text: "");
    }
    return 0;
}

static void
s_cap_event (void *arg, json_t *ev)
{
    s_cap_t *cap = arg;
    const char *state = json_string_value (json_object_get (ev, "state"));
    const char *message = json_string_value (json_object_get (ev, "message"));
    if (state) {
        snprintf (cap->state, sizeof cap->state, "%s", state);
        snprintf (cap->message, sizeof cap->message, "%s", message? message: "");
    }
    json_decref (ev);
}

static int
s_cap_find_share (void *arg, const char *name, char *path, size_t size, bool *video)
{
    s_cap_t *cap = arg;
    if (strcmp (name, "clip.mp4") != 0)
        return SC_ENOENT;
    snprintf (path, size, "%s", cap->share);
    *video = true;
    return 0;
}

//  Frames of a type sent whose text holds text (NULL: any).
static int
s_cap_count (const s_cap_t *cap, int type, const char *text)
{
    int n = 0;
    for (int i = 0; i < cap->count; i++)
        n += cap->sent [i].type == type && (!text || strstr (cap->sent [i].text, text));
    return n;
}

static void
s_watch_from (owner_t *owner, uint8_t who, uint8_t n, uint64_t offset, uint64_t credit)
{
    uint8_t peer [32];
    memset (peer, who, 32);
    wire_frame_t f = { .type = WIRE_WATCH, .watch = { .name = "clip.mp4", .name_len = 8,
                       .offset_ms = offset, .paced = 1, .credit = credit } };
    memset (f.watch.sid, who, WIRE_ID_SIZE);
    f.watch.sid [0] = n;
    CHECK (owner_on_frame (owner, peer, &f, s_mono ()));
}

//  The helper beside the unit tests and a clip; false (skipped) when either
//  cannot be had.
static bool
s_helper_and_clip (char *helper, size_t helper_size, char *clip, size_t clip_size)
{
    char exe [PATH_MAX], cmd [PATH_MAX * 2];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    exe [n > 0? n: 0] = 0;
    char *slash = strrchr (exe, '/');
    if (slash)
        *slash = 0;
    snprintf (helper, helper_size, "%s/securechat-media", exe);
    snprintf (clip, clip_size, "%s/clip.mp4", unit_tmpdir ());
    if (access (helper, X_OK) != 0) {
        unit_skip ("securechat-media is not built beside the unit tests");
        return false;
    }
    snprintf (cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=25 "
              "-t 4 -c:v libx264 -preset ultrafast -g 25 %s", clip);
    if (system (cmd) != 0) {
        unit_skip ("ffmpeg could not make a clip");
        return false;
    }
    return true;
}

static void
s_watches_are_bounded_and_never_started_ones_end (void)
{
    char helper [PATH_MAX + 32], out [PATH_MAX + 32];
    s_cap_t *cap = calloc (1, sizeof *cap);
    CHECK (cap);
    if (!s_helper_and_clip (helper, sizeof helper, cap->share, sizeof cap->share)) {
        free (cap);
        return;
    }
    video_opts_t o = { .helper = helper, .player = "cat >/dev/null" };
    video_host_t h = { .send = s_cap_send, .event = s_cap_event, .peer_name = s_name,
                         .find_share = s_cap_find_share, .arg = cap };
    s_side_t node = { 0 };
    CHECK (s_side_new (&node, &o, &h));
    int64_t start = s_mono ();
    //  Nine throwaway keys, three WATCHes each, none with credit
    for (uint8_t who = 1; who <= 9; who++)
        for (uint8_t n = 0; n < 3; n++)
            s_watch_from (node.owner, who, n, 0, 0);
    CHECK (s_cap_count (cap, WIRE_SEND, "too many streams to you at once (at most 2)") == 8);
    CHECK (s_cap_count (cap, WIRE_SEND, "too many streams at once (at most 16)") == 3);
    CHECK (s_cap_count (cap, WIRE_SEND, NULL) == 11);
    CHECK (strcmp (cap->state, "requested") == 0);
    //  No credit, no job: nothing to poll, nothing sent
    zmq_pollitem_t items [SIDE_ITEMS];
    CHECK (s_side_poll_items (&node, items) == 0);
    CHECK (s_cap_count (cap, WIRE_STREAM, NULL) == 0);
    //  Our own /watch has room
    uint8_t peer [32];
    memset (peer, 0x42, 32);
    snprintf (out, sizeof out, "%s/own.mkv", unit_tmpdir ());
    viewer_watch (node.viewer, peer, "clip.mp4", 0, out, s_mono ());
    CHECK (strcmp (cap->state, "requested") == 0);
    CHECK (s_cap_count (cap, WIRE_WATCH, NULL) == 1);
    //  A grant that repeats nothing keeps none of them: a few seconds on,
    //  all sixteen end, each viewer told why
    s_side_tick (&node, start + OWNER_START_MS - 1000);
    CHECK (s_cap_count (cap, WIRE_SEND, "no credit came") == 0);
    s_side_tick (&node, start + OWNER_START_MS + 1000);
    CHECK (s_cap_count (cap, WIRE_SEND, "no credit came within 5 s of the WATCH") == 16);
    //  and take new WATCHes again
    s_watch_from (node.owner, 9, 0, 0, 0);
    CHECK (s_cap_count (cap, WIRE_SEND, NULL) == 11 + 16);
    //  An offset past any video is refused before anything is opened
    s_watch_from (node.owner, 10, 0, UINT64_MAX, 32);
    s_watch_from (node.owner, 10, 1, (uint64_t) INT64_MAX + 1, 32);
    CHECK (s_cap_count (cap, WIRE_SEND, "is past any video we stream (at most 10000000 s)") == 2);
    s_side_destroy (&node);
    free (cap);
}

//  Runs owner's polling until it has sent want batches in all.
static bool
s_pump (s_side_t *node, s_cap_t *cap, int want)
{
    int64_t deadline = s_mono () + 20000;
    while (s_cap_count (cap, WIRE_BATCH, NULL) < want && s_mono () < deadline) {
        zmq_pollitem_t items [SIDE_ITEMS];
        int n = s_side_poll_items (node, items);
        zmq_poll (items, n, 10);
        s_side_on_poll (node, items, n, s_mono ());
    }
    return s_cap_count (cap, WIRE_BATCH, NULL) >= want;
}

static void
s_a_paused_stream_ends_after_pause_max (void)
{
    char helper [PATH_MAX + 32];
    s_cap_t *cap = calloc (1, sizeof *cap);
    CHECK (cap);
    if (!s_helper_and_clip (helper, sizeof helper, cap->share, sizeof cap->share)) {
        free (cap);
        return;
    }
    video_opts_t o = { .helper = helper, .pause_max_ms = 4000 };
    video_host_t h = { .send = s_cap_send, .event = s_cap_event, .peer_name = s_name,
                         .find_share = s_cap_find_share, .arg = cap };
    s_side_t node = { 0 };
    CHECK (s_side_new (&node, &o, &h));
    uint8_t peer [32];
    memset (peer, 1, 32);
    //  One batch granted: the job starts, sends it, and waits
    s_watch_from (node.owner, 1, 0, 0, 1);
    CHECK (s_pump (&node, cap, 1));
    CHECK (s_cap_count (cap, WIRE_STREAM, NULL) == 1);
    int64_t t = s_mono ();
    s_side_tick (&node, t);
    //  The viewer repeats its grant every second (a paused player) ...
    wire_frame_t grant = { .type = WIRE_SCREDIT, .scredit = { .credit = 1 } };
    memset (grant.scredit.sid, 1, WIRE_ID_SIZE);
    grant.scredit.sid [0] = 0;
    s_side_frame (&node, peer, &grant);
    s_side_tick (&node, t + 3000);
    CHECK (s_cap_count (cap, WIRE_SEND, NULL) == 0);
    //  ... a grant of more restarts the clock
    grant.scredit.credit = 2;
    s_side_frame (&node, peer, &grant);
    CHECK (s_pump (&node, cap, 2));
    s_side_tick (&node, t + 3500);
    s_side_tick (&node, t + 7000);
    CHECK (s_cap_count (cap, WIRE_SEND, NULL) == 0);
    //  ... and only the pause limit ends it
    s_side_frame (&node, peer, &grant);
    s_side_tick (&node, t + 7500);
    CHECK (s_cap_count (cap, WIRE_SEND, "the stream was paused for longer than 4 s") == 1);
    CHECK (strcmp (cap->state, "failed") == 0 && strstr (cap->message, "(--pause-max)"));
    s_side_destroy (&node);
    free (cap);
}

void
streams_tests (void)
{
    unit_run ("streams: a link that refuses 1 send in 5 never stalls a stream",
              s_full_link_never_stalls_a_stream);
    unit_run ("streams: WATCHes are bounded per viewer and in all, start no job without credit, "
              "end within seconds, and our own /watch has room", s_watches_are_bounded_and_never_started_ones_end);
    unit_run ("streams: a served stream paused past --pause-max ends, one granted more goes on",
              s_a_paused_stream_ends_after_pause_max);
}

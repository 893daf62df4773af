#include <dirent.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "../../crypto/base/err.h"
#include "../../crypto/base/fileio.h"
#include "../../crypto/base/log.h"
#include "../../node/files.h"
#include "../../node/opts.h"
#include "../../node/xfer.h"
#include "unit.h"

static void
s_names (void)
{
    struct { const char *in; const char *want; } cases [] = {
        { "../../.ssh/authorized_keys", "authorized_keys" },
        { "/etc/passwd", "passwd" },
        { "..", "file" },
        { ".", "file" },
        { "", "file" },
        { ".bashrc", "_bashrc" },
        { "a\\b\\c.txt", "c.txt" },
        { "\x1b[2J", "_[2J" },
        { "evil\xe2\x80\xaetxt.exe", "evil_txt.exe" },
        { "bad\xff\xfeutf8", "bad__utf8" },
        { "name. . .", "name" },
        { "tab\there", "tab_here" },
        { "caf\xc3\xa9.pdf", "caf\xc3\xa9.pdf" },
    };
    char out [XFER_NAME_MAX + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        xfer_safe_name (cases [i].in, strlen (cases [i].in), out);
        if (strcmp (out, cases [i].want) != 0) {
            char m [256];
            snprintf (m, sizeof m, "'%s' became '%s', not '%s'", cases [i].in, out, cases [i].want);
            unit_fail (__FILE__, __LINE__, m);
            return;
        }
    }
    //  300 bytes, cut on a character boundary
    char long_name [301];
    memset (long_name, 'x', 298);
    memcpy (long_name + 298, "\xc3\xa9", 3);
    xfer_safe_name (long_name, 300, out);
    CHECK (strlen (out) == XFER_NAME_MAX);
    char multi [400] = "";
    for (int i = 0; i < 120; i++)
        strcat (multi, "\xc3\xa9");
    xfer_safe_name (multi, strlen (multi), out);
    CHECK (strlen (out) == XFER_NAME_MAX && out [XFER_NAME_MAX - 1] == (char) 0xa9);
    //  an embedded NUL cannot cut the check short
    xfer_safe_name ("ok\0/../../x", 11, out);
    CHECK (strchr (out, '/') == NULL);
}

static void
s_offers (void)
{
    wire_offer_t o = { .name = "a", .name_len = 1, .size = 1000, .chunk_size = 4096, .chunk_count = 1 };
    CHECK_RC (xfer_check_offer (&o, NULL, 0), 0);
    o.size = 1ULL << 63;
    o.chunk_count = o.size / 4096;
    CHECK_RC (xfer_check_offer (&o, NULL, 0), SC_ETOOBIG);
    o.size = 10000;
    o.chunk_count = 2;          //  10000 / 4096 needs 3
    CHECK_RC (xfer_check_offer (&o, NULL, 0), SC_EMALFORMED);
    o.chunk_count = 3;
    o.chunk_size = 1;
    CHECK_RC (xfer_check_offer (&o, NULL, 0), SC_EMALFORMED);
    o.chunk_size = 64 * 1024 * 1024;
    CHECK_RC (xfer_check_offer (&o, NULL, 0), SC_EMALFORMED);
    o.chunk_size = 4096;
    o.name_len = 0;
    CHECK_RC (xfer_check_offer (&o, NULL, 0), SC_EMALFORMED);
    o.name_len = 1;
    o.size = 0;
    o.chunk_count = 0;
    CHECK_RC (xfer_check_offer (&o, NULL, 0), 0);
    //  At most 2^22 chunks, so that a bitmap fits a frame; the peer is told why
    char why [200];
    o.size = XFER_COUNT_MAX * 4096;
    o.chunk_count = XFER_COUNT_MAX;
    CHECK_RC (xfer_check_offer (&o, why, sizeof why), 0);
    o.size++;
    o.chunk_count++;
    CHECK_RC (xfer_check_offer (&o, why, sizeof why), SC_ETOOBIG);
    CHECK (strstr (why, "at most 4194304") && strstr (why, "at least 4097 bytes"));
    CHECK (xfer_map_size (XFER_COUNT_MAX) + 1024 <= WIRE_MAX_FRAME);
    CHECK (xfer_chunk_len (10000, 4096, 2) == 10000 - 8192 && xfer_chunk_len (10000, 4096, 3) == 0);
    //  A CHUNK built as head + data is the frame wire_encode makes
    uint8_t id [16], data [5000], head [WIRE_CHUNK_HEAD_MAX], *enc;
    size_t hlen, elen;
    randombytes_buf (id, sizeof id);
    randombytes_buf (data, sizeof data);
    uint64_t indexes [] = { 0, 200, 70000, 1ULL << 40 };
    for (size_t i = 0; i < 4; i++) {
        CHECK_RC (wire_chunk_head (id, indexes [i], sizeof data, head, &hlen), 0);
        wire_frame_t f = { .type = WIRE_CHUNK, .chunk = { .index = indexes [i], .data = data,
                           .data_len = sizeof data } };
        memcpy (f.chunk.id, id, 16);
        CHECK_RC (wire_encode (&f, &enc, &elen), 0);
        CHECK (elen == hlen + sizeof data && memcmp (enc, head, hlen) == 0
               && memcmp (enc + hlen, data, sizeof data) == 0);
        free (enc);
    }
    CHECK_RC (wire_chunk_head (id, 0, WIRE_MAX_CHUNK + 1, head, &hlen), SC_ETOOBIG);
}

//  A receiver driven by hand: frames it sends and events it reports are kept.
static wire_type_t s_sent [256];
static int s_nsent;
static json_t *s_events;
static uint8_t s_peer [32];

//  The wall clock the files module is given (the node gives its own).
static int64_t
s_real_wall (void *arg)
{
    (void) arg;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_host_send (void *arg, const uint8_t peer [32], const wire_frame_t *f)
{
    (void) arg; (void) peer;
    if (s_nsent < 256)
        s_sent [s_nsent++] = f->type;
    return 0;
}

static void
s_host_event (void *arg, json_t *ev)
{
    (void) arg;
    json_array_append_new (s_events, ev);
}

static const char *
s_host_name (void *arg, const uint8_t peer [32], bool *verified)
{
    (void) arg; (void) peer;
    *verified = false;
    return "mallory";
}

static const char *
s_last_state (void)
{
    for (size_t i = json_array_size (s_events); i-- > 0; ) {
        json_t *e = json_array_get (s_events, i);
        if (strcmp (json_string_value (json_object_get (e, "event")), "transfer") == 0)
            return json_string_value (json_object_get (e, "state"));
    }
    return "";
}

static int
s_count_files (const char *dir)
{
    DIR *d = opendir (dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir (d)))
        n += e->d_name [0] != '.' || strncmp (e->d_name, ".securechat-", 12) == 0;
    if (d)
        closedir (d);
    return n;
}

typedef struct {
    files_t *files;
    char downloads [PATH_MAX];
    uint8_t data [3 * 4096 + 100];
    wire_offer_t offer;
    bool corrupt_sum;
} s_rx_t;

static void
s_rx_start (s_rx_t *rx, bool corrupt_sum)
{
    const char *dir = unit_tmpdir ();
    char home [PATH_MAX];
    snprintf (home, sizeof home, "%s/home", dir);
    snprintf (rx->downloads, sizeof rx->downloads, "%s/dl", dir);
    s_events = json_array ();
    s_nsent = 0;
    files_opts_t o = { .home = home, .downloads = rx->downloads, .policy = FILES_ACCEPT_KNOWN,
                       .accept_max = 1ULL << 30 };
    files_host_t h = { .send = s_host_send, .event = s_host_event, .peer_name = s_host_name,
                       .wall_ms = s_real_wall };
    int err;
    rx->files = files_new (&o, &h, &err);
    randombytes_buf (rx->data, sizeof rx->data);
    wire_offer_t *of = &rx->offer;
    memset (of, 0, sizeof *of);
    randombytes_buf (of->id, 16);
    of->name = "report.txt";
    of->name_len = 10;
    of->size = sizeof rx->data;
    of->chunk_size = 4096;
    of->chunk_count = 4;
    rx->corrupt_sum = corrupt_sum;
    uint8_t *body;
    size_t len;
    wire_offer_encode (of, &body, &len);
    files_on_offer (rx->files, s_peer, body, len);
    free (body);
}

static void
s_rx_chunk (s_rx_t *rx, uint64_t index, size_t cut, int flip)
{
    uint8_t plain [4096];
    uint64_t len = xfer_chunk_len (rx->offer.size, 4096, index);
    if (index >= 4)
        len = 100;
    memcpy (plain, rx->data + (index < 4? index * 4096: 0), (size_t) len);
    if (flip >= 0)
        plain [flip] ^= 1;
    wire_frame_t f = { .type = WIRE_CHUNK, .chunk = { .index = index, .data = plain,
                       .data_len = (size_t) len - cut } };
    memcpy (f.chunk.id, rx->offer.id, 16);
    files_on_frame (rx->files, s_peer, &f);
}

//  The sender's last frame: DONE with XXH3-128 of the file.
static void
s_rx_done (s_rx_t *rx)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash (&c, XXH3_128bits (rx->data, sizeof rx->data));
    if (rx->corrupt_sum)
        c.digest [0] ^= 1;
    wire_frame_t f = { .type = WIRE_DONE, .done = { .ok = 1, .sum_len = WIRE_SUM_SIZE } };
    memcpy (f.done.sum, c.digest, WIRE_SUM_SIZE);
    memcpy (f.done.id, rx->offer.id, 16);
    files_on_frame (rx->files, s_peer, &f);
}

static void
s_rx_finish (s_rx_t *rx)
{
    for (int i = 0; i < 10 && files_work (rx->files, 0); i++)
        ;
}

static void
s_receiver_good_and_duplicates (void)
{
    s_rx_t rx;
    s_rx_start (&rx, false);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_ACCEPT);
    CHECK (strcmp (s_last_state (), "running") == 0);
    s_rx_chunk (&rx, 0, 0, -1);
    s_rx_chunk (&rx, 0, 0, -1);         //  duplicate: ignored
    s_rx_chunk (&rx, 2, 0, -1);
    s_rx_chunk (&rx, 1, 0, -1);
    s_rx_chunk (&rx, 3, 0, -1);
    s_rx_finish (&rx);
    CHECK (strcmp (s_last_state (), "running") == 0);   //  the sender's DONE is not here yet
    s_rx_done (&rx);
    s_rx_finish (&rx);
    CHECK (strcmp (s_last_state (), "done") == 0);
    CHECK (s_sent [s_nsent - 1] == WIRE_DONE);
    char path [PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/report.txt", rx.downloads);
    uint8_t *got;
    size_t len;
    CHECK_RC (fileio_read_all (path, 1 << 20, &got, &len), 0);
    CHECK (len == sizeof rx.data && memcmp (got, rx.data, len) == 0);
    free (got);
    CHECK (s_count_files (rx.downloads) == 1);
    files_destroy (&rx.files);
    json_decref (s_events);
}

static void
s_receiver_refuses_bad_chunks (void)
{
    //  out of range, wrong size: each stops the transfer for good, is
    //  counted, and removes the temporary file
    struct { uint64_t index; size_t cut; int flip; } bad [] = {
        { 4, 0, -1 }, { 99999999999ULL, 0, -1 }, { 1, 1, -1 }, { 3, 99, -1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_rx_t rx;
        s_rx_start (&rx, false);
        s_rx_chunk (&rx, 0, 0, -1);
        CHECK (s_count_files (rx.downloads) == 1);      //  the .part file
        s_rx_chunk (&rx, bad [i].index, bad [i].cut, bad [i].flip);
        CHECK (strcmp (s_last_state (), "failed") == 0);
        CHECK (files_stats (rx.files).bad_chunks == 1);
        CHECK (s_sent [s_nsent - 1] == WIRE_CANCEL);
        CHECK (s_count_files (rx.downloads) == 0);
        //  what comes after is ignored
        s_rx_chunk (&rx, 1, 0, -1);
        CHECK (strcmp (s_last_state (), "failed") == 0);
        files_destroy (&rx.files);
        json_decref (s_events);
    }
}

static void
s_receiver_hash_mismatch (void)
{
    //  A checksum that does not match, or a flipped bit in a chunk (the
    //  link authenticates each byte; the checksum catches accidents)
    for (int flip = 0; flip < 2; flip++) {
        s_rx_t rx;
        s_rx_start (&rx, !flip);
        for (uint64_t i = 0; i < 4; i++)
            s_rx_chunk (&rx, i, 0, flip && i == 2? 7: -1);
        s_rx_done (&rx);
        s_rx_finish (&rx);
        CHECK (strcmp (s_last_state (), "failed") == 0);
        CHECK (s_sent [s_nsent - 1] == WIRE_DONE);
        CHECK (s_count_files (rx.downloads) == 0);
        CHECK (files_stats (rx.files).sums_wrong == 1);
        files_destroy (&rx.files);
        json_decref (s_events);
    }
}

static void
s_receiver_chunk_after_done (void)
{
    //  The sender's DONE came with every chunk here: a chunk after it
    //  (even one it had sent) fails the transfer, counted
    s_rx_t rx;
    s_rx_start (&rx, false);
    for (uint64_t i = 0; i < 4; i++)
        s_rx_chunk (&rx, i, 0, -1);
    s_rx_done (&rx);
    s_rx_chunk (&rx, 1, 0, -1);
    CHECK (strcmp (s_last_state (), "failed") == 0);
    CHECK (files_stats (rx.files).bad_chunks == 1);
    CHECK (s_count_files (rx.downloads) == 0);
    files_destroy (&rx.files);
    json_decref (s_events);
    //  A DONE that came before every chunk did asks for the rest again
    //  (ACCEPT); what then comes is taken
    s_rx_start (&rx, false);
    s_rx_chunk (&rx, 0, 0, -1);
    s_rx_chunk (&rx, 1, 0, -1);
    s_rx_done (&rx);
    CHECK (s_sent [s_nsent - 1] == WIRE_ACCEPT);
    s_rx_chunk (&rx, 2, 0, -1);
    s_rx_chunk (&rx, 3, 0, -1);
    s_rx_finish (&rx);
    CHECK (strcmp (s_last_state (), "done") == 0);      //  its checksum was known
    files_destroy (&rx.files);
    json_decref (s_events);
    //  An honest sender: we sent our bitmap again (one of two links
    //  closed) while chunks 2 and 3 were on their way; they come, then its
    //  DONE, then chunk 3 again, which our ACCEPT named: taken in stride
    s_rx_start (&rx, false);
    files_tick (rx.files, 500);
    s_rx_chunk (&rx, 0, 0, -1);
    s_rx_chunk (&rx, 1, 0, -1);
    files_link_reset (rx.files, s_peer);
    CHECK (s_sent [s_nsent - 1] == WIRE_ACCEPT);
    s_rx_chunk (&rx, 2, 0, -1);
    s_rx_chunk (&rx, 3, 0, -1);
    s_rx_done (&rx);
    s_rx_chunk (&rx, 3, 0, -1);
    CHECK (files_stats (rx.files).bad_chunks == 0);
    s_rx_finish (&rx);
    CHECK (strcmp (s_last_state (), "done") == 0);
    files_destroy (&rx.files);
    json_decref (s_events);
}

static void
s_receiver_refuses_impossible_offers (void)
{
    const char *dir = unit_tmpdir ();
    char home [PATH_MAX], dl [PATH_MAX];
    snprintf (home, sizeof home, "%s/home", dir);
    snprintf (dl, sizeof dl, "%s/dl", dir);
    s_events = json_array ();
    s_nsent = 0;
    files_opts_t o = { .home = home, .downloads = dl, .accept_max = 1ULL << 30 };
    files_host_t h = { .send = s_host_send, .event = s_host_event, .peer_name = s_host_name,
                       .wall_ms = s_real_wall };
    int err;
    files_t *files = files_new (&o, &h, &err);
    wire_offer_t of = { .name = "x", .name_len = 1, .size = 1ULL << 63, .chunk_size = 4096,
                        .chunk_count = (1ULL << 63) / 4096 };
    uint8_t *body;
    size_t len;
    wire_offer_encode (&of, &body, &len);
    files_on_offer (files, s_peer, body, len);
    free (body);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_REFUSE);
    CHECK (s_count_files (dl) == 0);
    //  Garbage bodies are refused quietly
    files_on_offer (files, s_peer, (const uint8_t *) "\xdd\xff\xff\xff\xff", 5);
    CHECK (s_count_files (dl) == 0);
    files_destroy (&files);
    json_decref (s_events);
}


//  ---------------------------------------------------------------------
//  A sender and a receiver, both the real module, on a fake link that
//  refuses sends at random (as a full link does) and, when asked, loses
//  frames it took (as a link replaced under a transfer does), with a
//  fake clock.

typedef struct s_side s_side_t;
struct s_side {
    files_t *files;
    uint8_t me [32];
    s_side_t *other;
    uint8_t *frames [4096];     //  encoded, in flight to `other`
    size_t sizes [4096];
    size_t head, count;
    int refuse_1_in;            //  sends refused at random
    int64_t bw;                 //  bytes delivered per 10 ms step (0: all at once)
    int64_t budget;
    uint64_t dups;              //  chunks delivered more than once
    uint8_t seen [4096];        //  chunks delivered
    int lose_1_in;              //  frames taken and lost
    bool done, failed, running;
    uint64_t refused, lost;
    json_int_t stalled;         //  the most `stalled` seconds reported
    char paused [512];          //  the last reason for a pause
    uint64_t bytes;             //  the last bytes reported
};

static uint32_t s_rand_state;

static uint32_t
s_rand (void)
{
    s_rand_state = s_rand_state * 1103515245 + 12345;
    return s_rand_state >> 8;
}

static int
s_link_send (void *arg, const uint8_t peer [32], const wire_frame_t *f)
{
    s_side_t *side = arg;
    (void) peer;
    if (side->refuse_1_in && s_rand () % side->refuse_1_in == 0) {
        side->refused++;
        return SC_EAGAIN;
    }
    if (side->count == 4096)
        return SC_EAGAIN;       //  the link's own bound
    uint8_t *buf;
    size_t len;
    if (wire_encode (f, &buf, &len) != 0)
        return SC_EMALFORMED;
    if (side->lose_1_in && s_rand () % side->lose_1_in == 0) {
        side->lost++;
        free (buf);
        return 0;
    }
    size_t at = (side->head + side->count++) % 4096;
    side->frames [at] = buf;
    side->sizes [at] = len;
    return 0;
}

static int
s_link_seal (void *arg, const uint8_t peer [32], const uint8_t *body, size_t len,
             uint8_t **env, size_t *env_len)
{
    (void) arg; (void) peer;
    *env = malloc (len);
    memcpy (*env, body, len);
    *env_len = len;
    return 0;
}

static void
s_link_event (void *arg, json_t *ev)
{
    s_side_t *side = arg;
    const char *state = json_string_value (json_object_get (ev, "state"));
    if (state && strcmp (state, "done") == 0)
        side->done = true;
    if (state && strcmp (state, "failed") == 0)
        side->failed = true;
    if (state && strcmp (state, "running") == 0)
        side->running = true;
    json_t *stalled = json_object_get (ev, "stalled");
    if (stalled && json_integer_value (stalled) > side->stalled)
        side->stalled = json_integer_value (stalled);
    if (state && strcmp (state, "paused") == 0)
        snprintf (side->paused, sizeof side->paused, "%s",
                  json_string_value (json_object_get (ev, "error"))?: "");
    if (json_object_get (ev, "bytes"))
        side->bytes = (uint64_t) json_integer_value (json_object_get (ev, "bytes"));
    json_decref (ev);
}

static const char *
s_link_name (void *arg, const uint8_t peer [32], bool *verified)
{
    (void) arg; (void) peer;
    *verified = true;
    return "peer";
}

//  Delivers what is in flight from side to its other.
static void
s_link_deliver (s_side_t *side)
{
    if (side->bw)
        side->budget += side->bw;
    while (side->count) {
        uint8_t *buf = side->frames [side->head];
        size_t len = side->sizes [side->head];
        if (side->bw && side->budget < (int64_t) len)
            break;
        side->budget -= side->bw? (int64_t) len: 0;
        side->head = (side->head + 1) % 4096;
        side->count--;
        wire_frame_t f;
        if (wire_decode (buf, len, &f) == 0) {
            if (f.type == WIRE_CHUNK && f.chunk.index < sizeof side->seen) {
                side->dups += side->seen [f.chunk.index];
                side->seen [f.chunk.index] = 1;
            }
            if (f.type == WIRE_OFFER)
                files_on_offer (side->other->files, side->me, f.offer.envelope, f.offer.envelope_len);
            else
                files_on_frame (side->other->files, side->me, &f);
        }
        free (buf);
    }
}

static files_t *
s_link_files (s_side_t *side, const char *dir, const char *name)
{
    char home [PATH_MAX], dl [PATH_MAX];
    snprintf (home, sizeof home, "%s/%s", dir, name);
    snprintf (dl, sizeof dl, "%s/%s-dl", dir, name);
    files_opts_t o = { .home = home, .downloads = dl, .accept_max = 1ULL << 40,
                       .stall_ms = 60000 };
    files_host_t h = { .send = s_link_send, .seal = s_link_seal, .event = s_link_event,
                       .peer_name = s_link_name, .wall_ms = s_real_wall, .arg = side };
    int err;
    return files_new (&o, &h, &err);
}

//  Writes size random bytes to DIR/name and has a send the file to b.
//  Returns the bytes (the caller frees them).
static uint8_t *
s_link_send_new (s_side_t *a, s_side_t *b, const char *dir, const char *name, size_t size)
{
    char src [PATH_MAX];
    snprintf (src, sizeof src, "%s/%s", dir, name);
    uint8_t *data = malloc (size);
    randombytes_buf (data, size);
    fileio_write_atomic (src, data, size);
    files_send (a->files, b->me, src);
    return data;
}

//  Whether b saved name in its download folder with exactly these bytes.
static bool
s_link_received (const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char got [PATH_MAX];
    snprintf (got, sizeof got, "%s/b-dl/%s", dir, name);
    uint8_t *back = NULL;
    size_t back_len = 0;
    bool same = fileio_read_all (got, size + 1, &back, &back_len) == 0 && back_len == size
             && memcmp (back, data, size) == 0;
    free (back);
    return same;
}

//  Runs a 20 MiB transfer from a to b; returns the fake milliseconds it took.
static int64_t
s_link_run (s_side_t *a, s_side_t *b, const char *dir, files_stats_t *sa, files_stats_t *sb)
{
    size_t size = 20 * 1024 * 1024 + 777;
    uint8_t *data = s_link_send_new (a, b, dir, "source.bin", size);
    int64_t now = 0;
    while (!(a->done && b->done) && !a->failed && !b->failed && now < 600000) {
        now += 10;
        for (int i = 0; i < 8 && files_work (a->files, now); i++)
            s_link_deliver (a);
        files_work (b->files, now);
        s_link_deliver (a);
        s_link_deliver (b);
        if (now % 100 == 0) {
            files_tick (a->files, now);
            files_tick (b->files, now);
        }
    }
    *sa = files_stats (a->files);
    *sb = files_stats (b->files);
    bool same = s_link_received (dir, "source.bin", data, size);
    free (data);
    return same? now: -1;
}

static void
s_link_pair (s_side_t *a, s_side_t *b, const char *dir)
{
    memset (a, 0, sizeof *a);
    memset (b, 0, sizeof *b);
    //  The same draws every run (SC_SEED picks others, to explore)
    s_rand_state = getenv ("SC_SEED")? (uint32_t) atoi (getenv ("SC_SEED")): 12345;
    memset (a->me, 0xa1, 32);
    memset (b->me, 0xb2, 32);
    a->other = b;
    b->other = a;
    a->files = s_link_files (a, dir, "a");
    b->files = s_link_files (b, dir, "b");
}

static void
s_link_close (s_side_t *a, s_side_t *b)
{
    files_destroy (&a->files);
    files_destroy (&b->files);
    for (s_side_t *side = a; side; side = side == a? b: NULL)
        while (side->count) {
            free (side->frames [side->head]);
            side->head = (side->head + 1) % 4096;
            side->count--;
        }
}

static void
s_full_link_never_stalls (void)
{
    const char *dir = unit_tmpdir ();
    s_side_t a, b;
    s_link_pair (&a, &b, dir);
    a.refuse_1_in = b.refuse_1_in = 5;
    files_stats_t sa, sb;
    int64_t took = s_link_run (&a, &b, dir, &sa, &sb);
    CHECK (a.refused > 5 && b.refused > 0);             //  the link was full often
    CHECK (took > 0);                                   //  arrived, whole
    CHECK (a.done && b.done && !a.failed && !b.failed);
    //  No stall: nothing was lost, so no recovery was needed either
    CHECK (sa.stalls == 0 && sb.stalls == 0 && sa.resyncs == 0 && sb.resyncs == 0);
    CHECK (took < 10000);
    s_link_close (&a, &b);
}

static void
s_lost_frames_are_recovered (void)
{
    const char *dir = unit_tmpdir ();
    s_side_t a, b;
    s_link_pair (&a, &b, dir);
    a.refuse_1_in = b.refuse_1_in = 5;
    a.lose_1_in = b.lose_1_in = 10;     //  chunks, grants, ACCEPT, DONE lost on the way
    files_stats_t sa, sb;
    int64_t took = s_link_run (&a, &b, dir, &sa, &sb);
    CHECK (a.lost > 0);
    CHECK (took > 0);
    CHECK (a.done && b.done && !a.failed && !b.failed);
    CHECK (sa.stalls == 0 && sb.stalls == 0);
    CHECK (sa.resyncs + sb.resyncs + sb.grants_repeated > 0);
    s_link_close (&a, &b);
}

//  A receiver that grants absurdly (2^63, then backwards) is held to the
//  sender's own window, and counted.
static void
s_absurd_grants_are_held (void)
{
    const char *dir = unit_tmpdir ();
    s_side_t a, b;
    s_link_pair (&a, &b, dir);
    char src [PATH_MAX];
    snprintf (src, sizeof src, "%s/big.bin", dir);
    //  More chunks than the window lets go (a sparse file)
    size_t size = (size_t) XFER_WINDOW * 8 * XFER_CHUNK;
    FILE *big = fopen (src, "w");
    CHECK (big && ftruncate (fileno (big), (off_t) size) == 0);
    fclose (big);
    files_send (a.files, b.me, src);
    //  Offer; the receiver (b) answers ACCEPT; then b turns hostile
    for (int64_t now = 10; now < 1000 && !b.count; now += 10) {
        files_work (a.files, now);
        s_link_deliver (&a);
    }
    CHECK (b.count >= 1);
    s_link_deliver (&b);                //  the ACCEPT: sending starts
    uint8_t id [16];
    uint8_t *buf = a.frames [a.head];
    wire_frame_t f;
    while (a.count == 0)
        files_work (a.files, 1000);
    buf = a.frames [a.head];
    CHECK (wire_decode (buf, a.sizes [a.head], &f) == 0 && f.type == WIRE_CHUNK);
    memcpy (id, f.chunk.id, 16);
    size_t sent = a.count;              //  one burst of the first window
    wire_frame_t grant = { .type = WIRE_CREDIT, .credit = { .credit = 1ULL << 63 } };
    memcpy (grant.credit.id, id, 16);
    files_on_frame (a.files, b.me, &grant);
    grant.credit.credit = 3;
    files_on_frame (a.files, b.me, &grant);
    for (int i = 0; i < 100; i++)
        files_work (a.files, 1000 + i);
    //  At most our own window (4 of the receiver's) past what was sent
    //  when the absurd grant came, whatever it said
    CHECK (sent > 0 && a.count == sent + XFER_WINDOW * 4);
    files_stats_t st = files_stats (a.files);
    CHECK (st.credit_clamped == 1 && st.credit_stale == 1);
    s_link_close (&a, &b);
}

//  Runs both sides for ms of fake time from *now.
static void
s_link_step (s_side_t *a, s_side_t *b, int64_t *now, int64_t ms)
{
    for (int64_t end = *now + ms; *now < end; ) {
        *now += 10;
        files_work (a->files, *now);
        s_link_deliver (a);
        files_work (b->files, *now);
        s_link_deliver (b);
        if (*now % 100 == 0) {
            files_tick (a->files, *now);
            files_tick (b->files, *now);
        }
    }
}

//  A slow link (48 KB/s: a chunk takes 5 s, the window 87 s) is not a
//  broken one: nothing is sent twice, nothing stalls
static void
s_slow_link_sends_nothing_twice (void)
{
    const char *dir = unit_tmpdir ();
    s_side_t a, b;
    s_link_pair (&a, &b, dir);
    a.bw = 480;                         //  bytes per 10 ms
    size_t size = 4 * 1024 * 1024;
    uint8_t *data = s_link_send_new (&a, &b, dir, "slow.bin", size);
    int64_t now = 0;
    while (!(a.done && b.done) && now < 400000)
        s_link_step (&a, &b, &now, 1000);
    files_stats_t sa = files_stats (a.files), sb = files_stats (b.files);
    CHECK (a.done && b.done);
    CHECK (now < 120000);               //  87 s of link time, and a little
    CHECK (a.dups == 0 && sa.stalls == 0 && sb.stalls == 0 && sb.resyncs == 0);
    CHECK (s_link_received (dir, "slow.bin", data, size));
    free (data);
    s_link_close (&a, &b);
}

//  A link that takes frames and delivers none (a peer frozen, a path that
//  went dark while TCP holds on): both sides say it stalled, try to
//  recover, pause with a sentence at the stall timeout, and /accept
//  resumes once the link works again.
static void
s_stall_is_said_recovered_and_paused (void)
{
    const char *dir = unit_tmpdir ();
    s_side_t a, b;
    s_link_pair (&a, &b, dir);
    size_t size = 64 * 1024 * 1024;
    uint8_t *data = s_link_send_new (&a, &b, dir, "source.bin", size);
    int64_t now = 0;
    while (!b.running && now < 10000)   //  hashing, the offer, the accept
        s_link_step (&a, &b, &now, 10);
    s_link_step (&a, &b, &now, 30);     //  a few windows
    CHECK (b.running && !b.done);
    a.lose_1_in = b.lose_1_in = 1;
    s_link_step (&a, &b, &now, 5000);
    files_stats_t sa = files_stats (a.files), sb = files_stats (b.files);
    CHECK (a.stalled >= 3 && b.stalled >= 3);
    CHECK (sb.grants_repeated >= 2 && sb.resyncs == 0);
    //  Quiet for longer than a slow link would be: bitmaps compared again
    s_link_step (&a, &b, &now, 20000);
    sa = files_stats (a.files);
    sb = files_stats (b.files);
    CHECK (sb.resyncs >= 1 && sa.resyncs >= 1);
    CHECK (sa.stalls == 0 && sb.stalls == 0 && !a.paused [0]);
    s_link_step (&a, &b, &now, 40000);
    sa = files_stats (a.files);
    sb = files_stats (b.files);
    CHECK (sa.stalls == 1 && sb.stalls == 1);
    CHECK (b.bytes > 0 && b.bytes < size);
    CHECK (strstr (a.paused, "no credit came") && strstr (a.paused, "/accept"));
    CHECK (strstr (b.paused, "no data came") && strstr (b.paused, "/accept"));
    //  The link works again; the sender's /accept resumes both
    a.lose_1_in = b.lose_1_in = 0;
    char idhex [9] = "";
    char statedir [PATH_MAX];
    snprintf (statedir, sizeof statedir, "%s/b/transfers", dir);
    DIR *d = opendir (statedir);     //  the id, from the receiver's saved state
    CHECK (d);
    struct dirent *e;
    while ((e = readdir (d)))
        if (strncmp (e->d_name, "in-", 3) == 0)
            snprintf (idhex, sizeof idhex, "%.8s", e->d_name + 3);
    closedir (d);
    CHECK (idhex [0]);
    files_accept (a.files, idhex);
    while (!(a.done && b.done) && now < 200000)
        s_link_step (&a, &b, &now, 100);
    CHECK (a.done && b.done);
    CHECK (s_link_received (dir, "source.bin", data, size));
    free (data);
    s_link_close (&a, &b);
}

//  ---------------------------------------------------------------------
//  Hostile offers: a peer costs one key pair, so every offer it makes is
//  bounded, in number and in what it leaves in memory and on disk.

static files_t *
s_hostile_files (const char *dir, files_policy_t policy)
{
    char home [PATH_MAX], dl [PATH_MAX];
    snprintf (home, sizeof home, "%s/home", dir);
    snprintf (dl, sizeof dl, "%s/dl", dir);
    s_events = json_array ();
    s_nsent = 0;
    files_opts_t o = { .home = home, .downloads = dl, .policy = policy, .accept_max = 1ULL << 30 };
    files_host_t h = { .send = s_host_send, .event = s_host_event, .peer_name = s_host_name,
                       .wall_ms = s_real_wall };
    int err;
    return files_new (&o, &h, &err);
}

static void
s_hostile_offer (files_t *files, const uint8_t peer [32], uint64_t size, uint64_t chunk_size)
{
    wire_offer_t of = { .name = "huge.bin", .name_len = 8, .size = size, .chunk_size = chunk_size,
                        .chunk_count = size / chunk_size + (size % chunk_size != 0) };
    randombytes_buf (of.id, 16);
    uint8_t *body;
    size_t len;
    wire_offer_encode (&of, &body, &len);
    files_on_offer (files, peer, body, len);
    free (body);
}

static int
s_count_sent (wire_type_t type)
{
    int n = 0;
    for (int i = 0; i < s_nsent; i++)
        n += s_sent [i] == type;
    return n;
}

//  Bytes in a folder's files, and the largest of them.
static uint64_t
s_dir_bytes (const char *dir, uint64_t *largest)
{
    DIR *d = opendir (dir);
    uint64_t n = 0;
    *largest = 0;
    struct dirent *e;
    while (d && (e = readdir (d))) {
        char path [PATH_MAX + 300];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name [0] != '.' && stat (path, &st) == 0 && S_ISREG (st.st_mode)) {
            n += (uint64_t) st.st_size;
            if ((uint64_t) st.st_size > *largest)
                *largest = (uint64_t) st.st_size;
        }
    }
    if (d)
        closedir (d);
    return n;
}

//  The transfers /transfers lists in a state.
static int
s_count_state (files_t *files, const char *state)
{
    size_t before = json_array_size (s_events);
    files_transfers (files);
    json_t *list = json_object_get (json_array_get (s_events, before), "transfers");
    int n = 0;
    size_t i;
    json_t *t;
    json_array_foreach (list, i, t)
        n += strcmp (json_string_value (json_object_get (t, "state")), state) == 0;
    return n;
}

//  Offers of 1 TiB above --accept-max wait for /accept: each costs a few
//  hundred bytes saved and no bitmap; past 8 from one peer they are
//  refused, past 64 in all the oldest goes; chunks too small for the size
//  are refused before anything is kept.
static void
s_hostile_offers_are_bounded (void)
{
    const char *dir = unit_tmpdir ();
    files_t *files = s_hostile_files (dir, FILES_ACCEPT_VERIFIED);
    char state [PATH_MAX], dl [PATH_MAX];
    snprintf (state, sizeof state, "%s/home/transfers", dir);
    snprintf (dl, sizeof dl, "%s/dl", dir);
    //  One peer, 20 offers: 8 wait, 12 are refused
    for (int i = 0; i < 20; i++)
        s_hostile_offer (files, s_peer, 1ULL << 40, 256 * 1024);
    CHECK (s_count_sent (WIRE_REFUSE) == 12);
    CHECK (s_count_state (files, "offered") == 8);
    CHECK (files_stats (files).offers_refused == 12);
    //  Chunks so small that the bitmap would not fit a frame: refused
    s_nsent = 0;
    uint8_t other [32];
    memset (other, 0x55, 32);
    s_hostile_offer (files, other, 1ULL << 40, 4096);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_REFUSE);
    //  100 peers (100 throwaway keys), one offer each
    s_nsent = 0;
    for (int i = 0; i < 100; i++) {
        uint8_t peer [32];
        memset (peer, 0, 32);
        memcpy (peer, &i, sizeof i);
        peer [31] = 0xee;
        s_hostile_offer (files, peer, 1ULL << 40, 256 * 1024);
    }
    CHECK (s_count_state (files, "offered") == 64);
    //  The oldest went, their senders told why
    CHECK (files_stats (files).offers_expired == 8 + 100 - 64);
    CHECK (s_count_sent (WIRE_REFUSE) == 8 + 100 - 64);
    uint64_t largest, bytes = s_dir_bytes (state, &largest);
    CHECK (bytes < 64 * 1024 && largest < 1024);
    CHECK (s_count_files (dl) == 0);
    //  A restart reads them back as they were
    files_destroy (&files);
    json_decref (s_events);
    files = s_hostile_files (dir, FILES_ACCEPT_VERIFIED);
    CHECK (s_count_state (files, "offered") == 64);
    files_destroy (&files);
    json_decref (s_events);
}

//  Under --accept known a peer may start 16 transfers at once to us (64
//  from everyone); no temporary file is made before data comes.
static void
s_auto_accept_is_bounded (void)
{
    const char *dir = unit_tmpdir ();
    files_t *files = s_hostile_files (dir, FILES_ACCEPT_KNOWN);
    char dl [PATH_MAX];
    snprintf (dl, sizeof dl, "%s/dl", dir);
    for (int i = 0; i < 20; i++)
        s_hostile_offer (files, s_peer, 3 * 4096 + 100, 4096);
    CHECK (s_count_sent (WIRE_ACCEPT) == 16 && s_count_sent (WIRE_REFUSE) == 4);
    CHECK (s_count_files (dl) == 0);
    files_destroy (&files);
    json_decref (s_events);
    //  The first chunk makes the temporary file
    s_rx_t rx;
    s_rx_start (&rx, false);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_ACCEPT);
    CHECK (s_count_files (rx.downloads) == 0);
    s_rx_chunk (&rx, 1, 0, -1);
    CHECK (s_count_files (rx.downloads) == 1);
    files_destroy (&rx.files);
    json_decref (s_events);
    //  Automatic acceptance is for verified peers unless asked for
    opts_t opts;
    char err [256];
    char *argv [] = { "securechat-node", NULL };
    CHECK_RC (opts_parse (1, argv, &opts, err, sizeof err), 0);
    CHECK (opts.accept_policy == FILES_ACCEPT_VERIFIED);
}

//  Saved state names a temporary file: only our own pattern, in the
//  download folder, is taken; /cancel never removes anything else.
static void
s_resume_state_is_checked (void)
{
    const char *dir = unit_tmpdir ();
    char state [PATH_MAX], dl [PATH_MAX], victim [PATH_MAX];
    snprintf (state, sizeof state, "%s/home/transfers", dir);
    snprintf (dl, sizeof dl, "%s/dl", dir);
    snprintf (victim, sizeof victim, "%s/victim", dir);
    fileio_mkdir_private (state);
    fileio_mkdir_private (dl);
    fileio_write_atomic (victim, "precious", 8);
    char dl_victim [PATH_MAX + 16];
    snprintf (dl_victim, sizeof dl_victim, "%s/mine.txt", dl);
    fileio_write_atomic (dl_victim, "mine", 4);
    //  part: elsewhere, up and out, another file in the folder; name: a path
    const char *parts [] = { victim, "../victim", "mine.txt", ".securechat-%s.part",
                             ".securechat-%s.part" };
    const char *names [] = { "a.bin", "a.bin", "a.bin", "../../victim", "a.bin" };
    char ids [5][33];
    for (int i = 0; i < 5; i++) {
        uint8_t id [16];
        randombytes_buf (id, 16);
        id [0] = (uint8_t) (0x10 * (i + 1));
        sodium_bin2hex (ids [i], 33, id, 16);
        char part [300], text [2048], path [PATH_MAX + 200];
        snprintf (part, sizeof part, parts [i], ids [i]);
        snprintf (text, sizeof text, "{\"id\": \"%s\", \"out\": false, \"peer\": \"%064d\", "
                  "\"name\": \"%s\", \"path\": \"\", \"part\": \"%s\", \"size\": 10000, "
                  "\"chunk_size\": 4096, \"count\": 3, \"hash\": \"%064d\", \"key\": \"%064d\", "
                  "\"pull\": false, \"accepted\": true}", ids [i], 7, names [i], part, 0, 0);
        snprintf (path, sizeof path, "%s/in-%s.json", state, ids [i]);
        fileio_write_atomic (path, text, strlen (text));
    }
    log_set_level (LOG_LEVEL_ERROR);          //  the four warnings are expected
    files_t *files = s_hostile_files (dir, FILES_ACCEPT_KNOWN);
    log_set_level (LOG_LEVEL_WARN);
    CHECK (s_count_state (files, "paused") == 1);       //  only the last is ours
    for (int i = 0; i < 5; i++) {
        char prefix [9];
        snprintf (prefix, sizeof prefix, "%.8s", ids [i]);
        files_cancel (files, prefix);
    }
    files_destroy (&files);
    json_decref (s_events);
    uint8_t *got;
    size_t len;
    CHECK_RC (fileio_read_all (victim, 100, &got, &len), 0);
    free (got);
    CHECK_RC (fileio_read_all (dl_victim, 100, &got, &len), 0);
    free (got);
}

static int64_t s_wall_now;

static int64_t
s_host_wall (void *arg)
{
    (void) arg;
    return s_wall_now;
}

//  An offer nobody answers expires after a day (the sender is told); a
//  receiver's bitmap is saved as bits, and believed after a restart only
//  as far as its temporary file goes.
static void
s_offers_expire_and_bitmaps_are_compact (void)
{
    const char *dir = unit_tmpdir ();
    char home [PATH_MAX], dl [PATH_MAX], state [PATH_MAX + 16];
    snprintf (home, sizeof home, "%s/home", dir);
    snprintf (dl, sizeof dl, "%s/dl", dir);
    snprintf (state, sizeof state, "%s/transfers", home);
    s_events = json_array ();
    s_nsent = 0;
    s_wall_now = 1700000000000;
    files_opts_t o = { .home = home, .downloads = dl, .policy = FILES_ACCEPT_ASK, .accept_max = 1 << 30 };
    files_host_t h = { .send = s_host_send, .event = s_host_event, .peer_name = s_host_name,
                       .wall_ms = s_host_wall };
    int err;
    files_t *files = files_new (&o, &h, &err);
    s_hostile_offer (files, s_peer, 1ULL << 40, 256 * 1024);
    CHECK (s_count_state (files, "offered") == 1);
    s_wall_now += 23 * 3600 * 1000;
    files_tick (files, 1000);
    CHECK (s_count_state (files, "offered") == 1 && s_nsent == 0);
    //  Across a restart too: the day counts from when it came
    files_destroy (&files);
    files = files_new (&o, &h, &err);
    CHECK (s_count_state (files, "offered") == 1);
    s_wall_now += 3600 * 1000;
    files_tick (files, 2000);
    CHECK (s_count_state (files, "offered") == 0 && s_count_state (files, "failed") == 1);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_REFUSE);
    CHECK (files_stats (files).offers_expired == 1);
    uint64_t largest;
    CHECK (s_dir_bytes (state, &largest) == 0);
    files_destroy (&files);
    json_decref (s_events);

    //  Two chunks of four held: one byte of bitmap, in a file of its own
    s_rx_t rx;
    s_rx_start (&rx, false);
    s_rx_chunk (&rx, 0, 0, -1);
    s_rx_chunk (&rx, 1, 0, -1);
    files_tick (rx.files, 1100);        //  a running receiver saves it once a second
    snprintf (state, sizeof state, "%.*s/home/transfers", (int) strlen (rx.downloads) - 3, rx.downloads);
    char idhex [33], path [PATH_MAX + 64];
    sodium_bin2hex (idhex, sizeof idhex, rx.offer.id, 16);
    snprintf (path, sizeof path, "%s/in-%s.map", state, idhex);
    uint8_t *got = NULL;
    size_t len = 0;
    CHECK_RC (fileio_read_all (path, 100, &got, &len), 0);
    CHECK (len == 1 && got [0] == 3);
    free (got);
    snprintf (path, sizeof path, "%s/in-%s.json", state, idhex);
    CHECK_RC (fileio_read_all (path, 4096, &got, &len), 0);
    CHECK (len < 1024 && !memmem (got, len, "have", 4));
    free (got);
    //  The temporary file lost its second chunk (cut short): after a
    //  restart only the first counts, and the rest is asked for
    files_destroy (&rx.files);
    json_decref (s_events);
    snprintf (path, sizeof path, "%s/.securechat-%s.part", rx.downloads, idhex);
    CHECK (truncate (path, 4096) == 0);
    s_events = json_array ();
    s_nsent = 0;
    snprintf (home, sizeof home, "%.*s/home", (int) strlen (rx.downloads) - 3, rx.downloads);
    files_opts_t o2 = { .home = home, .downloads = rx.downloads, .accept_max = 1 << 30 };
    rx.files = files_new (&o2, &h, &err);
    files_transfers (rx.files);
    json_t *t = json_array_get (json_object_get (json_array_get (s_events, 0), "transfers"), 0);
    CHECK (t && json_integer_value (json_object_get (t, "bytes")) == 4096);
    //  The sender comes back: the rest comes and the file is whole
    uint8_t *body;
    wire_offer_encode (&rx.offer, &body, &len);
    files_on_offer (rx.files, s_peer, body, len);
    free (body);
    CHECK (s_nsent == 1 && s_sent [0] == WIRE_ACCEPT);
    for (uint64_t i = 1; i < 4; i++)
        s_rx_chunk (&rx, i, 0, -1);
    s_rx_done (&rx);
    s_rx_finish (&rx);
    CHECK (strcmp (s_last_state (), "done") == 0);
    files_destroy (&rx.files);
    json_decref (s_events);
}

void
files_tests (void)
{
    memset (s_peer, 7, sizeof s_peer);
    unit_run ("xfer: hostile names become safe base names", s_names);
    unit_run ("xfer: offer numbers and chunk binding", s_offers);
    unit_run ("files: receiver writes chunks in any order, ignores duplicates", s_receiver_good_and_duplicates);
    unit_run ("files: out-of-range, wrong-size and tampered chunks stop the transfer", s_receiver_refuses_bad_chunks);
    unit_run ("files: hash mismatch discards the file", s_receiver_hash_mismatch);
    unit_run ("files: a chunk after the sender's DONE fails the transfer", s_receiver_chunk_after_done);
    unit_run ("files: impossible offers refused before anything is written", s_receiver_refuses_impossible_offers);
    unit_run ("files: a link that refuses 1 send in 5 never stalls a transfer", s_full_link_never_stalls);
    unit_run ("files: frames lost on the way are recovered without a stall", s_lost_frames_are_recovered);
    unit_run ("files: absurd and backward grants are held to our own window", s_absurd_grants_are_held);
    unit_run ("files: a stall is said, recovery tried, then paused; /accept resumes", s_stall_is_said_recovered_and_paused);
    unit_run ("files: a slow link sends nothing twice and never stalls", s_slow_link_sends_nothing_twice);
    unit_run ("files: hostile offers are bounded in number, memory and disk", s_hostile_offers_are_bounded);
    unit_run ("files: automatic acceptance is bounded; no temporary file before data", s_auto_accept_is_bounded);
    unit_run ("files: saved state naming files not ours is ignored", s_resume_state_is_checked);
    unit_run ("files: offers expire after a day; bitmaps saved as bits, as far as the file goes",
              s_offers_expire_and_bitmaps_are_compact);
}

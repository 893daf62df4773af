/*  The stream header and batch codecs (media/pack.c), the header and packet
    checks (media/media.c), decode timestamps (media/dts.c), and /watch
    parsing (node/cmd.c).  */
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/err.h"
#include "../../media/dts.h"
#include "../../media/pack.h"
#include "../../node/cmd.h"
#include "../../node/wire.h"
#include "alloc.h"
#include "unit.h"

//  avcC: version, profile, compatibility, level, length size, 1 SPS of 4
//  bytes, 1 PPS of 2 bytes
static const uint8_t s_avcc [] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f,
                                   1, 0, 2, 0x68, 0xee };

static media_header_t
s_header (void)
{
    media_header_t h = { .duration_ms = 4000, .start_ms = 0, .nstreams = 2 };
    media_stream_t *v = &h.streams [0];
    v->kind = MEDIA_VIDEO;
    strcpy (v->codec, "h264");
    v->tb_num = 1;
    v->tb_den = 12800;
    v->extradata = s_avcc;
    v->extradata_size = sizeof s_avcc;
    v->width = 320;
    v->height = 240;
    v->sar_num = v->sar_den = 1;
    v->profile = 100;
    v->level = 31;
    v->color_primaries = 2;
    media_stream_t *a = &h.streams [1];
    a->kind = MEDIA_AUDIO;
    strcpy (a->codec, "aac");
    a->tb_num = 1;
    a->tb_den = 48000;
    a->sample_rate = 48000;
    a->channels = 2;
    a->channel_mask = 3;
    a->frame_size = 1024;
    a->profile = -99;           //  FFmpeg's "unknown" is negative
    a->level = -99;
    a->bit_rate = 128000;
    return h;
}

static void
s_header_round_trip (void)
{
    media_header_t h = s_header (), back;
    uint8_t *buf;
    size_t len;
    char err [256];
    CHECK_RC (pack_header_encode (&h, &buf, &len), 0);
    CHECK_RC (pack_header_decode (buf, len, &back, err, sizeof err), 0);
    CHECK (back.nstreams == 2 && back.duration_ms == 4000);
    CHECK (strcmp (back.streams [0].codec, "h264") == 0 && back.streams [0].tb_den == 12800);
    CHECK (back.streams [0].extradata_size == sizeof s_avcc
           && memcmp (back.streams [0].extradata, s_avcc, sizeof s_avcc) == 0);
    CHECK (back.streams [0].width == 320 && back.streams [0].profile == 100);
    CHECK (back.streams [0].color_primaries == 2);
    CHECK (back.streams [1].channels == 2 && back.streams [1].channel_mask == 3);
    CHECK (back.streams [1].profile == -99 && back.streams [1].bit_rate == 128000);
    for (size_t cut = 0; cut < len; cut++)
        CHECK (pack_header_decode (buf, cut, &back, err, sizeof err) != 0);
    free (buf);
}

//  Encodes h and expects the decoder to refuse it with text in err.
static int
s_refused (media_header_t h, const char *text)
{
    uint8_t *buf;
    size_t len;
    char err [256] = "";
    if (pack_header_encode (&h, &buf, &len) != 0)
        return 0;               //  refused even earlier
    media_header_t back;
    int rc = pack_header_decode (buf, len, &back, err, sizeof err);
    free (buf);
    if (rc == 0)
        return -1;
    if (!strstr (err, text)) {
        fprintf (stderr, "    expected '%s' in '%s'\n", text, err);
        return -1;
    }
    return 0;
}

static void
s_header_bounds (void)
{
    media_header_t h = s_header ();
    strcpy (h.streams [0].codec, "rawvideo");
    CHECK (s_refused (h, "not one we play") == 0);
    h = s_header ();
    strcpy (h.streams [1].codec, "h264");       //  a video codec on an audio stream
    CHECK (s_refused (h, "not one we play") == 0);
    h = s_header ();
    h.streams [0].width = 100000;
    CHECK (s_refused (h, "out of bounds") == 0);
    h = s_header ();
    h.streams [0].height = 0;
    CHECK (s_refused (h, "out of bounds") == 0);
    h = s_header ();
    h.streams [1].channels = 200;
    CHECK (s_refused (h, "out of bounds") == 0);
    h = s_header ();
    h.streams [1].sample_rate = -1;
    CHECK (s_refused (h, "out of bounds") == 0);
    h = s_header ();
    h.streams [0].tb_den = 0;
    CHECK (s_refused (h, "time base") == 0);
    h = s_header ();
    h.streams [1].frame_size = -5;
    CHECK (s_refused (h, "out of bounds") == 0);
    h = s_header ();
    h.nstreams = 1;
    h.streams [0] = h.streams [1];              //  audio only
    CHECK (s_refused (h, "no video") == 0);
    h = s_header ();
    h.nstreams = 0;
    CHECK (s_refused (h, "1 to 8") == 0);
    //  Codec data that declares more parameter sets than it holds
    uint8_t lying [sizeof s_avcc];
    memcpy (lying, s_avcc, sizeof lying);
    lying [12] = 0x20;                          //  32 PPS in 5 bytes
    h = s_header ();
    h.streams [0].extradata = lying;
    CHECK (s_refused (h, "does not hold what it declares") == 0);
    lying [12] = 1;
    lying [14] = 9;                             //  a PPS longer than what is left
    CHECK (s_refused (h, "does not hold what it declares") == 0);
    uint8_t hvcc [23] = { 1 };
    hvcc [22] = 200;                            //  200 arrays in nothing
    h = s_header ();
    strcpy (h.streams [0].codec, "hevc");
    h.streams [0].extradata = hvcc;
    h.streams [0].extradata_size = sizeof hvcc;
    CHECK (s_refused (h, "does not hold what it declares") == 0);
    hvcc [22] = 0;
    CHECK (s_refused (h, "does not hold") != 0);    //  no arrays is fine
    //  AV1 codec data that is not an av1C record (FFmpeg would parse it as
    //  OBUs, and these bytes, from fuzz_stream, kept its muxer looping)
    uint8_t obus [10] = { 0x09, 0x97, 0x2e, 0x79, 0x8f, 0x97, 0xff, 0xce, 0xce, 0xce };
    h = s_header ();
    strcpy (h.streams [0].codec, "av1");
    h.streams [0].extradata = obus;
    h.streams [0].extradata_size = sizeof obus;
    CHECK (s_refused (h, "does not hold what it declares") == 0);
    uint8_t av1c [4] = { 0x81, 0x08, 0x0c, 0x00 };
    h.streams [0].extradata = av1c;
    h.streams [0].extradata_size = sizeof av1c;
    CHECK (s_refused (h, "does not hold") != 0);
    //  Extradata over the limit cannot even be encoded into a valid header
    static uint8_t big [MEDIA_EXTRADATA_MAX + 1];
    h = s_header ();
    h.streams [0].extradata = big;
    h.streams [0].extradata_size = sizeof big;
    char err [256];
    CHECK (media_header_check (&h, err, sizeof err) != 0 && strstr (err, "codec data"));
    CHECK (s_refused (h, "not well-formed") == 0);
}

static void
s_header_lies (void)
{
    char err [256];
    media_header_t h;
    //  [0, 0, array32 of 4 billion streams] in 9 bytes
    const uint8_t lie [] = { 0x93, 0x00, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff };
    if (alloc_counting ()) {
        alloc_track_begin ();
        int rc = pack_header_decode (lie, sizeof lie, &h, err, sizeof err);
        size_t allocated = alloc_track_end ();
        CHECK (rc == SC_ETOOBIG);
        CHECK (allocated <= sizeof lie);
    }
    //  A codec name with a NUL inside
    media_header_t good = s_header ();
    uint8_t *buf;
    size_t len;
    CHECK_RC (pack_header_encode (&good, &buf, &len), 0);
    uint8_t *at = memmem (buf, len, "aac", 3);
    CHECK (at != NULL);
    at [1] = 0;
    CHECK (pack_header_decode (buf, len, &h, err, sizeof err) == SC_EMALFORMED);
    free (buf);
}

typedef struct {
    media_packet_t got [8];
    uint8_t data [8][64];
    int n;
} s_seen_t;

static int
s_collect (void *arg, const media_packet_t *p)
{
    s_seen_t *seen = arg;
    if (seen->n == 8 || p->size > 64)
        return -7;
    memcpy (seen->data [seen->n], p->data, p->size);
    seen->got [seen->n] = *p;
    seen->got [seen->n].data = seen->data [seen->n];
    seen->n++;
    return 0;
}

static void
s_batches (void)
{
    media_header_t h = s_header ();
    pack_batch_t b;
    pack_batch_init (&b);
    media_packet_t in [3] = {
        { .stream = 0, .pts = 1024, .dts = -512, .duration = 512, .key = true,
          .data = (const uint8_t *) "frame-one", .size = 9, .more = true },
        { .stream = 1, .pts = MEDIA_NOPTS, .dts = 0, .duration = 1024, .key = true,
          .data = (const uint8_t *) "aac", .size = 3 },
        { .stream = 0, .pts = 2048, .dts = 1024, .duration = 512, .key = false,
          .data = (const uint8_t *) "frame-two!", .size = 10 },
    };
    for (int i = 0; i < 3; i++)
        CHECK_RC (pack_batch_add (&b, &in [i]), 0);
    CHECK (pack_batch_size (&b) > 22);
    uint8_t *buf;
    size_t len;
    CHECK_RC (pack_batch_finish (&b, &buf, &len), 0);
    CHECK (b.count == 0 && pack_batch_size (&b) == 0);
    s_seen_t seen = { .n = 0 };
    char err [256];
    CHECK_RC (pack_batch_decode (buf, len, &h, s_collect, &seen, err, sizeof err), 0);
    CHECK (seen.n == 3);
    for (int i = 0; i < 3; i++) {
        CHECK (seen.got [i].stream == in [i].stream && seen.got [i].pts == in [i].pts);
        CHECK (seen.got [i].dts == in [i].dts && seen.got [i].duration == in [i].duration);
        CHECK (seen.got [i].key == in [i].key && seen.got [i].size == in [i].size);
        CHECK (seen.got [i].more == in [i].more);
        CHECK (memcmp (seen.got [i].data, in [i].data, in [i].size) == 0);
    }
    //  A stream the header does not have is refused, whatever came before
    media_header_t one = h;
    one.nstreams = 1;
    seen.n = 0;
    CHECK (pack_batch_decode (buf, len, &one, s_collect, &seen, err, sizeof err) != 0);
    CHECK (strstr (err, "stream 1 of 1") != NULL);
    //  The callback's refusal stops the walk and is returned
    seen.n = 8;
    CHECK_RC (pack_batch_decode (buf, len, &h, s_collect, &seen, err, sizeof err), -7);
    for (size_t cut = 0; cut < len; cut++)
        CHECK (pack_batch_decode (buf, cut, &h, NULL, NULL, err, sizeof err) != 0);
    free (buf);
    //  An empty packet is refused
    media_packet_t empty = { .stream = 0, .data = (const uint8_t *) "", .size = 0 };
    CHECK_RC (pack_batch_add (&b, &empty), 0);
    CHECK_RC (pack_batch_finish (&b, &buf, &len), 0);
    CHECK (pack_batch_decode (buf, len, &h, NULL, NULL, err, sizeof err) != 0);
    free (buf);
}

static void
s_watch_frames (void)
{
    wire_frame_t in = { .type = WIRE_WATCH, .watch = { .sid = { 9, 8, 7 }, .name = "talk.mp4",
                        .name_len = 8, .offset_ms = 750000, .paced = 1, .credit = 8 } }, out;
    uint8_t *buf;
    size_t len;
    CHECK_RC (wire_encode (&in, &buf, &len), 0);
    CHECK_RC (wire_decode (buf, len, &out), 0);
    CHECK (out.type == WIRE_WATCH && out.watch.offset_ms == 750000 && out.watch.paced
           && out.watch.credit == 8);
    CHECK (out.watch.name_len == 8 && memcmp (out.watch.name, "talk.mp4", 8) == 0
           && out.watch.sid [2] == 7);
    free (buf);
    wire_frame_t end = { .type = WIRE_SEND, .send = { .ok = 0, .reason = "why", .reason_len = 3 } };
    CHECK_RC (wire_encode (&end, &buf, &len), 0);
    CHECK_RC (wire_decode (buf, len, &out), 0);
    CHECK (out.type == WIRE_SEND && !out.send.ok && out.send.reason_len == 3);
    free (buf);
    wire_frame_t batch = { .type = WIRE_BATCH, .batch = { .seq = 41,
                           .packets = (const uint8_t *) "\x90", .packets_len = 1 } };
    CHECK_RC (wire_encode (&batch, &buf, &len), 0);
    CHECK_RC (wire_decode (buf, len, &out), 0);
    CHECK (out.type == WIRE_BATCH && out.batch.seq == 41 && out.batch.packets_len == 1);
    free (buf);
}

static void
s_watch_commands (void)
{
    cmd_t c;
    char err [256];
    CHECK_RC (cmd_parse ("/watch alice talk.mp4", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_WATCH && strcmp (c.argv [1], "talk.mp4") == 0);
    CHECK (c.argc == 2 && c.offset == NULL && c.out == NULL);
    CHECK_RC (cmd_parse ("/watch alice my talk.mp4 12:30 --out /tmp/a b.mkv", &c, err, sizeof err), 0);
    CHECK (strcmp (c.argv [1], "my talk.mp4") == 0 && strcmp (c.offset, "12:30") == 0);
    CHECK (strcmp (c.out, "/tmp/a b.mkv") == 0);
    CHECK_RC (cmd_parse ("/watch alice talk.mp4 --out x.ts", &c, err, sizeof err), 0);
    CHECK (c.offset == NULL && strcmp (c.out, "x.ts") == 0);
    CHECK_RC (cmd_parse ("/watch alice --outside.mp4", &c, err, sizeof err), 0);
    CHECK (strcmp (c.argv [1], "--outside.mp4") == 0 && c.out == NULL);
    CHECK_RC (cmd_parse ("/watch alice talk.mp4 --out", &c, err, sizeof err), SC_EINVAL);
    CHECK (strstr (err, "--out needs a file") != NULL);
    CHECK_RC (cmd_parse ("/watch alice 12", &c, err, sizeof err), 0);
    CHECK (strcmp (c.argv [1], "12") == 0);     //  a name alone is a name
    CHECK_RC (cmd_parse ("/watch alice --out x.mkv", &c, err, sizeof err), SC_EINVAL);
    int64_t ms;
    CHECK_RC (cmd_parse_offset ("90", &ms), 0);
    CHECK (ms == 90000);
    CHECK_RC (cmd_parse_offset ("1:02:03.5", &ms), 0);
    CHECK (ms == 3723500);
    CHECK_RC (cmd_parse_offset ("12:30", &ms), 0);
    CHECK (ms == 750000);
    CHECK_RC (cmd_parse_offset ("1:60", &ms), SC_EINVAL);
    CHECK_RC (cmd_parse_offset ("1.5:00", &ms), SC_EINVAL);
    CHECK_RC (cmd_parse_offset ("1e5", &ms), SC_EINVAL);
    CHECK_RC (cmd_parse_offset ("1:2:3:4", &ms), SC_EINVAL);
    CHECK_RC (cmd_parse_offset ("", &ms), SC_EINVAL);
    CHECK_RC (cmd_parse_offset ("talk.mp4", &ms), SC_EINVAL);
    //  The most /watch takes is the most an owner serves; a WATCH may say
    //  any 64-bit number, and past that it is a sentence, not arithmetic
    CHECK_RC (cmd_parse_offset ("9999999.999", &ms), 0);
    CHECK (media_offset_check ((uint64_t) ms, err, sizeof err) == 0);
    CHECK (media_offset_check (MEDIA_OFFSET_MAX_MS, err, sizeof err) == 0);
    CHECK (media_offset_check (MEDIA_OFFSET_MAX_MS + 1, err, sizeof err) == SC_EINVAL);
    CHECK (strcmp (err, "the offset 10000000.001 s is past any video we stream (at most 10000000 s)") == 0);
    CHECK (media_offset_check (UINT64_MAX, err, sizeof err) == SC_EINVAL);
    CHECK (strstr (err, "the offset 18446744073709551.615 s is past any video") == err);
}

//  A subtitle stream, a language and chapters travel; an older owner's
//  header (without them) still reads.
static void
s_header_subtitles_and_chapters (void)
{
    media_header_t h = s_header (), back;
    h.nstreams = 3;
    media_stream_t *t = &h.streams [2];
    t->kind = MEDIA_SUBTITLE;
    strcpy (t->codec, "subrip");
    t->tb_num = 1;
    t->tb_den = 1000;
    strcpy (t->language, "eng");
    h.streams [0].video_delay = 2;
    h.nchapters = 2;
    h.chapters [0] = (media_chapter_t) { 0, 1000, "Opening" };
    h.chapters [1] = (media_chapter_t) { 1000, 2000, "Zweiter Teil \xc3\xa4" };
    uint8_t *buf;
    size_t len;
    char err [256];
    CHECK_RC (pack_header_encode (&h, &buf, &len), 0);
    CHECK_RC (pack_header_decode (buf, len, &back, err, sizeof err), 0);
    free (buf);
    CHECK (back.nstreams == 3 && back.streams [2].kind == MEDIA_SUBTITLE);
    CHECK (strcmp (back.streams [2].language, "eng") == 0 && back.streams [0].language [0] == 0);
    CHECK (back.streams [0].video_delay == 2);
    CHECK (back.nchapters == 2 && back.chapters [1].end_ms == 2000);
    CHECK (strcmp (back.chapters [1].title, h.chapters [1].title) == 0);
    //  Bounds: languages are letters, titles have no control characters,
    //  chapters run forwards, reordering is shallow, MP4 text stays home
    media_header_t bad = h;
    strcpy (bad.streams [2].language, "e1");
    CHECK (s_refused (bad, "language out of bounds") == 0);
    bad = h;
    strcpy (bad.chapters [0].title, "a\x1b[2Jb");
    CHECK (s_refused (bad, "chapter 0") == 0);
    bad = h;
    bad.chapters [1].end_ms = 10;
    CHECK (s_refused (bad, "chapter 1") == 0);
    bad = h;
    bad.streams [0].video_delay = MEDIA_DELAY_MAX + 1;
    CHECK (s_refused (bad, "reordering") == 0);
    bad = h;
    strcpy (bad.streams [2].codec, "mov_text");
    CHECK (s_refused (bad, "not one we play") == 0);
    bad = h;
    bad.streams [2].kind = MEDIA_AUDIO;         //  a text codec on an audio stream
    CHECK (s_refused (bad, "not one we play") == 0);
    bad = h;
    bad.nstreams = 1;
    bad.streams [0] = h.streams [2];            //  subtitles alone are no video
    CHECK (s_refused (bad, "no video") == 0);
}

//  dts as FFmpeg makes them: x264's I P B B B with b-pyramid (reorder 2).
static void
s_dts_from_pts (void)
{
    const int64_t pts [] = { 0, 160, 80, 40, 120, 320, 240, 200, 280 };
    int64_t none [9], dur [9];
    for (int i = 0; i < 9; i++) {
        none [i] = MEDIA_NOPTS;
        dur [i] = 40;
    }
    media_dts_t *d = media_dts_new (pts, none, dur, 9, 0);
    CHECK (d && media_dts_delay (d) == 2);
    const int64_t want [] = { -80, -40, 0, 40, 80, 120, 160, 200, 240 };
    for (int i = 0; i < 9; i++) {
        int64_t got = media_dts_next (d, pts [i]);
        if (got != want [i])
            fprintf (stderr, "    packet %d: dts %lld, expected %lld\n", i, (long long) got,
                     (long long) want [i]);
        CHECK (got == want [i] && got <= pts [i]);
    }
    media_dts_destroy (&d);
    CHECK (d == NULL);
    //  dts = pts (what libavformat gives Matroska): broken, remade
    d = media_dts_new (pts, pts, dur, 9, 0);
    CHECK (d && media_dts_delay (d) == 2);
    media_dts_destroy (&d);
    //  Good dts are kept; no pts, nothing to make them from
    const int64_t mp4 [] = { -80, -40, 0, 40, 80, 120, 160, 200, 240 };
    CHECK (media_dts_new (pts, mp4, dur, 9, 0) == NULL);
    int64_t holes [9];
    memcpy (holes, pts, sizeof holes);
    holes [3] = MEDIA_NOPTS;
    CHECK (media_dts_new (holes, none, dur, 9, 0) == NULL);
    //  No B-frames: dts = pts; an open GOP's leading pictures come before the first
    const int64_t open [] = { 100, 40, 60, 80, 200, 120, 160 };
    d = media_dts_new (open, none, dur, 7, 0);
    CHECK (d && media_dts_delay (d) == 1);
    int64_t last = INT64_MIN;
    for (int i = 0; i < 7; i++) {
        int64_t got = media_dts_next (d, open [i]);
        CHECK (got <= open [i] && got > last);
        last = got;
    }
    media_dts_destroy (&d);
    //  Deeper than measured: still increasing
    const int64_t flat [] = { 0, 40, 80 };
    d = media_dts_new (flat, none, dur, 3, 0);
    CHECK (d && media_dts_delay (d) == 0);
    CHECK (media_dts_next (d, 0) == 0 && media_dts_next (d, 120) == 120);
    CHECK (media_dts_next (d, 40) == 121 && media_dts_next (d, MEDIA_NOPTS) == 122);
    media_dts_destroy (&d);
    //  Whatever a file says, the sums stay in range (UBSan watches) and
    //  the dts still increase
    const int64_t wild [] = { INT64_MAX - 1, INT64_MIN + 1, 0, INT64_MAX, -7, INT64_MAX - 2 };
    d = media_dts_new (wild, none, dur, 6, MEDIA_DTS_DELAY_MAX);
    CHECK (d != NULL);
    last = INT64_MIN;
    for (int i = 0; i < 6; i++) {
        int64_t got = media_dts_next (d, wild [i]);
        CHECK (got > last);
        last = got;
    }
    media_dts_destroy (&d);
}

//  SHARES entries carry tracks and what stays home; an older node's
//  entries (five fields) read with neither.
static void
s_share_tracks (void)
{
    wire_share_t e [2] = {
        { .name = "a.mkv", .name_len = 5, .size = 10, .video = 1, .duration_ms = 2000,
          .codecs = "h264,aac", .codecs_len = 8, .tracks = "video:h264:,audio:aac:eng",
          .tracks_len = 25, .skipped = "subtitle mov_text: MP4 timed text", .skipped_len = 33 },
        { .name = "b.txt", .name_len = 5, .size = 3 },
    };
    uint8_t *buf;
    size_t len, n;
    wire_share_t back [2];
    CHECK_RC (wire_shares_encode (e, 2, &buf, &len), 0);
    CHECK_RC (wire_shares_decode (buf, len, back, 2, &n), 0);
    CHECK (n == 2 && back [0].tracks_len == 25 && memcmp (back [0].tracks, e [0].tracks, 25) == 0);
    CHECK (back [0].skipped_len == 33 && back [1].tracks_len == 0);
    free (buf);
    //  [["old.mp4", 1, true, 1000, "h264"]]
    static const uint8_t old [] = { 0x91, 0x95, 0xa7, 'o', 'l', 'd', '.', 'm', 'p', '4', 1, 0xc3,
                                    0xcd, 0x03, 0xe8, 0xa4, 'h', '2', '6', '4' };
    CHECK_RC (wire_shares_decode (old, sizeof old, back, 2, &n), 0);
    CHECK (n == 1 && back [0].codecs_len == 4 && back [0].tracks == NULL && back [0].skipped == NULL);
}

void
media_tests (void)
{
    unit_run ("media: a stream header round-trips, and every prefix is refused", s_header_round_trip);
    unit_run ("media: headers outside the allowlist and bounds are refused", s_header_bounds);
    unit_run ("media: a header that lies about its size allocates nothing", s_header_lies);
    unit_run ("media: subtitles, languages and chapters travel in the header, within bounds",
              s_header_subtitles_and_chapters);
    unit_run ("media: decode timestamps are made from pts as FFmpeg makes them", s_dts_from_pts);
    unit_run ("media: share entries carry tracks and what is not carried", s_share_tracks);
    unit_run ("media: packet batches round-trip and are checked against the header", s_batches);
    unit_run ("media: WATCH, SEND and BATCH frames round-trip", s_watch_frames);
    unit_run ("media: /watch splits name, offset and --out FILE", s_watch_commands);
}

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../node/term.h"
#include "unit.h"

static json_t *
s_xfer (const char *id, const char *name, const char *state, json_int_t bytes, json_int_t rate)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "event", "transfer",
                      "transfer_id", id, "name", name, "peer_name", "bob", "direction", "out",
                      "state", state, "size", (json_int_t) 1000000, "bytes", bytes, "rate", rate);
}

//  One status line for everything running: updated in place, entries
//  leave when they end, names clipped to share the width, no escapes.
static void
s_status (void)
{
    term_t *t = term_new ("alice> ", false, true, false);
    CHECK (t);
    char line [1024];
    term_status (t, 80, line, sizeof line);
    CHECK (line [0] == 0);
    json_t *ev = s_xfer ("aa11", "talk.mp4", "offered", 0, 0);
    CHECK (term_track (t, ev) == TERM_OTHER);
    json_decref (ev);
    ev = s_xfer ("aa11", "talk.mp4", "running", 0, 0);
    CHECK (term_track (t, ev) == TERM_STARTED);
    json_decref (ev);
    ev = s_xfer ("aa11", "talk.mp4", "running", 420000, 100000);
    CHECK (term_track (t, ev) == TERM_UPDATED);
    json_decref (ev);
    term_status (t, 80, line, sizeof line);
    CHECK (strcmp (line, "-> talk.mp4 42% 100.0 KB/s 0:06") == 0);
    ev = s_xfer ("bb22", "a very long name \x1b[31m that goes on and on.pdf", "running", 0, 0);
    CHECK (term_track (t, ev) == TERM_STARTED);
    json_decref (ev);
    term_status (t, 60, line, sizeof line);
    CHECK (strlen (line) <= 59 && strstr (line, " | -> a very") && !strchr (line, 0x1b));
    ev = s_xfer ("aa11", "talk.mp4", "done", 1000000, 0);
    CHECK (term_track (t, ev) == TERM_ENDED);
    json_decref (ev);
    term_status (t, 200, line, sizeof line);
    CHECK (!strstr (line, "talk.mp4") && strstr (line, "-> a very long name \\x1b[31m"));
    ev = json_pack ("{s:s}", "event", "message");
    CHECK (term_track (t, ev) == TERM_OTHER);
    json_decref (ev);
    term_destroy (&t);
    CHECK (t == NULL);
    term_destroy (&t);
}

//  HH:MM of the time given; a date line for the first and when the day changes
static void
s_stamps (void)
{
    const char *tz = getenv ("TZ");
    char *was = tz? strdup (tz): NULL;
    setenv ("TZ", "UTC", 1);
    tzset ();
    term_t *t = term_new ("> ", true, false, true);
    char stamp [16], date [64];
    int64_t noon = 1795955640000;     //  Sun 29 Nov 2026 12:34 UTC
    term_stamp (t, noon, stamp, sizeof stamp, date, sizeof date);
    CHECK (strcmp (stamp, "12:34") == 0 && strcmp (date, "-- Sun 29 Nov 2026 --") == 0);
    term_stamp (t, noon + 60000, stamp, sizeof stamp, date, sizeof date);
    CHECK (strcmp (stamp, "12:35") == 0 && date [0] == 0);
    term_stamp (t, noon - 86400000, stamp, sizeof stamp, date, sizeof date);
    CHECK (strcmp (date, "-- Sat 28 Nov 2026 --") == 0);      //  mail written yesterday
    term_stamp (t, noon, stamp, sizeof stamp, date, sizeof date);
    CHECK (strcmp (date, "-- Sun 29 Nov 2026 --") == 0);
    //  A peer's colour is its key's, and none without colours
    CHECK (strcmp (term_peer_color (t, "0a12"), term_peer_color (t, "0aff")) == 0);
    CHECK (strcmp (term_peer_color (t, "00"), term_peer_color (t, "01")) != 0);
    term_t *plain = term_new ("> ", false, false, false);
    CHECK (strcmp (term_peer_color (plain, "0a12"), "") == 0);
    term_destroy (&plain);
    term_destroy (&t);
    if (was)
        setenv ("TZ", was, 1);
    else
        unsetenv ("TZ");
    free (was);
    tzset ();
}

//  Events with no renderer of their own read as a sentence; fields from a
//  peer or a tracker cannot carry escapes
static void
s_sentences (void)
{
    json_t *ev = json_pack ("{s:s, s:s, s:s, s:i}", "event", "tracker_refused",
                            "tracker", "ab@tcp://h:1", "code", "rate\x1b[2J", "retry_ms", 50);
    char out [256];
    term_sentence (ev, "{tracker} refused: {code} ({retry_ms} ms){missing}", out, sizeof out);
    CHECK (strcmp (out, "ab@tcp://h:1 refused: rate\\x1b[2J (50 ms)?") == 0);
    term_sentence (ev, NULL, out, sizeof out);
    CHECK (strncmp (out, "tracker_refused - ", 18) == 0 && strstr (out, "retry_ms: 50")
           && !strchr (out, 0x1b));
    term_sentence (ev, "{tracker}", out, 5);
    CHECK (strlen (out) == 4);
    json_decref (ev);
}

//  What a peer writes cannot reach the terminal as a control: C1 codes
//  (U+009B is a CSI), bidi overrides; wide characters count two columns,
//  so the status line never wraps
static void
s_safe_and_wide (void)
{
    char out [256];
    term_safe (out, sizeof out, "X\xc2\x9b" "2J\xc2\x9d" "0;t\xe2\x80\xae" "fdp.exe \xc3\xa9\xe6\x96\x87");
    CHECK (strcmp (out, "X\\u009b2J\\u009d0;t\\u202efdp.exe \xc3\xa9\xe6\x96\x87") == 0);
    term_safe (out, sizeof out, "cut \xe6\x96");
    CHECK (strcmp (out, "cut \\xe6\\x96") == 0);
    term_t *t = term_new ("alice> ", false, true, true);
    CHECK (t);
    char name [200] = "";
    for (int i = 0; i < 20; i++)
        strcat (name, "\xe6\x96\x87\xf0\x9f\x9a\x80");   //  CJK and a rocket: 80 columns
    json_t *ev = s_xfer ("cc33", name, "running", 0, 0);
    CHECK (term_track (t, ev) == TERM_STARTED);
    json_decref (ev);
    char line [1024];
    term_status (t, 60, line, sizeof line);
    //  every character here is 3 bytes and 2 columns, but for ASCII ones
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *) line; *p; )
        if (*p == 0xe6) { cols += 2; p += 3; }
        else if (*p == 0xf0) { cols += 2; p += 4; }
        else if (*p == 0xe2) { cols += 1; p += 3; }
        else { cols += 1; p += 1; }
    CHECK (cols <= 59);
    term_destroy (&t);
}

void
term_tests (void)
{
    unit_run ("term: controls and bidi overrides escaped, wide characters fit", s_safe_and_wide);
    unit_run ("term: events with no renderer read as one sentence, made safe", s_sentences);
    unit_run ("term: one status line, updated in place, clipped, made safe", s_status);
    unit_run ("term: times, date lines, peer colours", s_stamps);
}

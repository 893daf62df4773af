/*  The tracker client's rules with a fake clock and no sockets.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/err.h"
#include "../../discovery/tclient.h"
#include "unit.h"

static const uint8_t s_fp [32] = { 1 };
static const uint8_t s_key [32] = { 2 };

//  Resolved, registered, refreshed between 1/2 and 3/4 of the time to live
static void
s_register_refresh (void)
{
    tclient_t *c = tclient_new ();
    CHECK (c);
    int i = tclient_add (c, "fp@tcp://127.0.0.1:1", s_fp);
    CHECK (i == 0 && tclient_state (c, i) == TCLIENT_RESOLVING);
    uint64_t tag;
    CHECK (!tclient_register_due (c, i, 0, &tag));         //  no key yet
    CHECK (tclient_find_sign (c, s_key) == -1);
    CHECK (tclient_on_resolved (c, i, s_key, 1000));
    CHECK (!tclient_on_resolved (c, i, s_key, 1000));      //  once
    CHECK (tclient_find_sign (c, s_key) == 0);
    CHECK (tclient_register_due (c, i, 1000, &tag));
    CHECK (tclient_tag_req (tag) == TCLIENT_REQ_REGISTER);
    CHECK (!tclient_register_due (c, i, 1500, &tag));      //  waits for the answer
    uint64_t tag2;
    CHECK (tclient_register_due (c, i, 2000, &tag2));      //  no answer: again
    CHECK (!tclient_on_registered (c, i, tag, 60000, "1.2.3.4", 0, 2100));   //  an old tag
    CHECK (tclient_on_registered (c, i, tag2, 60000, "1.2.3.4", 0, 2100));
    CHECK (tclient_registered (c, i) && tclient_any_registered (c) == 0);
    tclient_info_t info = tclient_info (c, i, 12100);
    CHECK (info.ttl_left_ms == 50000 && strcmp (info.seen_addr, "1.2.3.4") == 0);
    //  jitter 0: refresh at half the time to live
    CHECK (!tclient_register_due (c, i, 2100 + 29999, &tag));
    CHECK (tclient_register_due (c, i, 2100 + 30000, &tag));
    CHECK (!tclient_on_registered (c, i, tag, 60000, "1.2.3.4", 1, 32200));  //  a refresh: no fetch
    CHECK (tclient_next_due (c) == 32200 + 45000);         //  jitter 1: 3/4
    tclient_destroy (&c);
    CHECK (!c);
}

//  A link that closes (the tracker restarted) registers again at once
static void
s_closed_registers_again (void)
{
    tclient_t *c = tclient_new ();
    int i = tclient_add (c, "t", s_fp);
    tclient_on_resolved (c, i, s_key, 0);
    uint64_t tag;
    CHECK (tclient_register_due (c, i, 0, &tag));
    CHECK (tclient_on_registered (c, i, tag, 600000, "a", 0.5, 10));
    tclient_on_closed (c, i, 5000);
    CHECK (!tclient_registered (c, i) && tclient_state (c, i) == TCLIENT_REGISTERING);
    CHECK (tclient_register_due (c, i, 5000, &tag));
    //  backoff doubles while nothing answers, up to the most
    int64_t t = 5000;
    int64_t prev = 0;
    for (int k = 0; k < 10; k++) {
        int64_t next = tclient_next_due (c);
        CHECK (next - t >= prev && next - t <= TCLIENT_RETRY_MAX_MS);
        prev = next - t;
        t = next;
        CHECK (tclient_register_due (c, i, t, &tag));
    }
    CHECK (prev == TCLIENT_RETRY_MAX_MS);
    CHECK (tclient_on_registered (c, i, tag, 600000, "a", 0.5, t));   //  news: fetch mail
    tclient_destroy (&c);
}

//  A refused register waits the tracker's retry_ms; refusals are counted
static void
s_refused_waits (void)
{
    tclient_t *c = tclient_new ();
    int i = tclient_add (c, "t", s_fp);
    tclient_on_resolved (c, i, s_key, 0);
    uint64_t tag;
    CHECK (tclient_register_due (c, i, 0, &tag));
    tclient_on_refused (c, i, tag, "register_rate", 5000, 100);
    CHECK (tclient_state (c, i) == TCLIENT_REFUSED);
    CHECK (!tclient_register_due (c, i, 5099, &tag));
    CHECK (tclient_register_due (c, i, 5100, &tag));
    tclient_on_refused (c, i, tclient_tag (c, TCLIENT_REQ_LOOKUP), "lookup_rate", 50, 5200);
    tclient_info_t info = tclient_info (c, i, 5200);
    CHECK (info.refusals == 2 && strcmp (info.last_refusal, "lookup_rate") == 0);
    CHECK (info.state == TCLIENT_REFUSED);        //  a lookup's refusal changes no state
    CHECK (tclient_add (c, "2", s_fp) == 1);
    for (int k = 2; k < TCLIENT_TRACKERS_MAX; k++)
        CHECK (tclient_add (c, "more", s_fp) == k);
    CHECK_RC (tclient_add (c, "one too many", s_fp), SC_ETOOBIG);
    CHECK (tclient_find_text (c, "2") == 1);
    tclient_destroy (&c);
}

//  Two trackers that give another key for one name disagree
static void
s_names_disagree (void)
{
    tclient_t *c = tclient_new ();
    int a = tclient_add (c, "a", s_fp), b = tclient_add (c, "b", s_fp);
    uint8_t k1 [32] = { 1 }, k2 [32] = { 2 };
    CHECK (tclient_on_name (c, a, "bob", k1) == -1);
    CHECK (tclient_on_name (c, b, "bob", k1) == -1);
    CHECK (tclient_on_name (c, b, "carol", k2) == -1);
    CHECK (tclient_on_name (c, b, "bob", k2) == a);
    //  bounded: many names forget the oldest
    for (int n = 0; n < TCLIENT_NAMES_MAX + 10; n++) {
        char name [16];
        snprintf (name, sizeof name, "n%d", n);
        tclient_on_name (c, a, name, k1);
    }
    CHECK (tclient_on_name (c, b, "n0", k2) == -1);
    CHECK (tclient_on_name (c, b, "n300", k2) == -1);
    CHECK (tclient_on_name (c, b, "n265", k2) == a);
    tclient_destroy (&c);
}

//  Messages shown are marked once, expire with the mailbox's time to
//  live, are bounded, and come back after a restart (saved)
static void
s_seen_dedupe_and_persist (void)
{
    tclient_t *c = tclient_new ();
    uint8_t who [32] = { 7 }, other [32] = { 8 }, id [16] = { 1 };
    int64_t t0 = 1700000000000LL;
    CHECK (!tclient_seen_mark (c, who, id, t0));
    CHECK (tclient_seen_mark (c, who, id, t0 + 1000));
    CHECK (!tclient_seen (c, other, id, t0));      //  per sender
    CHECK (tclient_seen (c, who, id, t0 + TCLIENT_SEEN_TTL_MS - 1));
    CHECK (!tclient_seen (c, who, id, t0 + TCLIENT_SEEN_TTL_MS + 1));
    char path [512];
    snprintf (path, sizeof path, "%s/seen", unit_tmpdir ());
    CHECK (tclient_seen_dirty (c));
    CHECK_RC (tclient_seen_save (c, path, t0 + 2000), 0);
    CHECK (!tclient_seen_dirty (c));
    tclient_t *d = tclient_new ();
    CHECK_RC (tclient_seen_load (d, path, t0 + 3000), 0);
    CHECK (tclient_seen (d, who, id, t0 + 3000) && tclient_seen_count (d) == 1);
    tclient_destroy (&d);
    d = tclient_new ();
    CHECK_RC (tclient_seen_load (d, path, t0 + TCLIENT_SEEN_TTL_MS + 1), 0);   //  expired
    CHECK (tclient_seen_count (d) == 0);
    tclient_destroy (&d);
    //  bounded: the oldest go first
    for (uint32_t n = 0; n < TCLIENT_SEEN_MAX + 5; n++) {
        uint8_t m [16] = { 0 };
        memcpy (m + 4, &n, 4);
        tclient_seen_mark (c, other, m, t0 + 5000);
    }
    CHECK (tclient_seen_count (c) == TCLIENT_SEEN_MAX);
    CHECK (!tclient_seen (c, who, id, t0 + 5000));
    uint8_t last [16] = { 0 };
    uint32_t n = TCLIENT_SEEN_MAX + 4;
    memcpy (last + 4, &n, 4);
    CHECK (tclient_seen (c, other, last, t0 + 5000));
    //  a damaged file is refused
    FILE *f = fopen (path, "w");
    CHECK (f);
    fputs ("SCSEEN1\nxx", f);
    fclose (f);
    d = tclient_new ();
    CHECK_RC (tclient_seen_load (d, path, t0), SC_ECORRUPT);
    tclient_destroy (&d);
    tclient_destroy (&c);
}

void
tclient_tests (void)
{
    unit_run ("tclient: register, then refresh with jitter before the time to live", s_register_refresh);
    unit_run ("tclient: a closed link registers again, with backoff", s_closed_registers_again);
    unit_run ("tclient: a refusal waits the retry and is counted", s_refused_waits);
    unit_run ("tclient: two trackers that disagree about a name", s_names_disagree);
    unit_run ("tclient: messages shown: once, expiring, bounded, saved", s_seen_dedupe_and_persist);
}

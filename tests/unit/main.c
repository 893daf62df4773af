#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>
#include "unit.h"

void identity_tests (void);
void envelope_tests (void);
void wire_tests (void);
void wire_ctlq_tests (void);
void record_tests (void);
void node_tests (void);
void files_tests (void);
void media_tests (void);
void streams_tests (void);
void link_tests (void);
void transport_tests (void);
void resolve_tests (void);
void tclient_tests (void);
void child_tests (void);
void jobs_tests (void);
void tracker_tests (void);
void term_tests (void);

static int s_passed, s_failed, s_skipped;
static bool s_current_failed, s_current_skipped;
static char s_root [64];
static int s_tmpcount;
static const char *s_filter;

void
unit_fail (const char *file, int line, const char *what)
{
    fprintf (stdout, "    %s:%d: check failed: %s\n", file, line, what);
    s_current_failed = true;
}

void
unit_skip (const char *why)
{
    fprintf (stdout, "    skipped: %s\n", why);
    s_current_skipped = true;
}

const char *
unit_tmpdir (void)
{
    static char path [128];
    snprintf (path, sizeof path, "%s/t%d", s_root, ++s_tmpcount);
    if (mkdir (path, 0700) != 0) {
        perror (path);
        abort ();
    }
    return path;
}

void
unit_run (const char *name, void (*fn) (void))
{
    if (s_filter && !strstr (name, s_filter))
        return;
    s_current_failed = s_current_skipped = false;
    fn ();
    if (s_current_failed) {
        s_failed++;
        printf ("FAIL  %s\n", name);
    }
    else if (s_current_skipped) {
        s_skipped++;
        printf ("skip  %s\n", name);
    }
    else {
        s_passed++;
        printf ("ok    %s\n", name);
    }
    fflush (stdout);
}

int
main (int argc, char **argv)
{
    if (sodium_init () < 0)
        return 2;
    s_filter = argc > 1? argv [1]: NULL;
    snprintf (s_root, sizeof s_root, "/tmp/sc-unit-XXXXXX");
    if (!mkdtemp (s_root))
        return 2;
    identity_tests ();
    envelope_tests ();
    wire_tests ();
    wire_ctlq_tests ();
    record_tests ();
    node_tests ();
    term_tests ();
    link_tests ();
    transport_tests ();
    resolve_tests ();
    tclient_tests ();
    tracker_tests ();
    files_tests ();
    child_tests ();
    jobs_tests ();
    media_tests ();
    streams_tests ();
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_root);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", s_root);
    printf ("%d passed, %d failed, %d skipped\n", s_passed, s_failed, s_skipped);
    return s_failed? 1: 0;
}

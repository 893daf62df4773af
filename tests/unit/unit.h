/*  unit: a very small test runner.  Each file in tests/unit has a
    `void NAME_tests (void)` that calls unit_run for each of its tests; a test
    fails when any CHECK in it fails.  */
#ifndef SC_UNIT_H
#define SC_UNIT_H

#include <stdbool.h>
#include <stdio.h>

void unit_run (const char *name, void (*fn) (void));
void unit_fail (const char *file, int line, const char *what);
void unit_skip (const char *why);
//  A fresh empty directory for this test (removed at exit); static buffer.
const char *unit_tmpdir (void);

#define CHECK(cond) do { if (!(cond)) { unit_fail (__FILE__, __LINE__, #cond); return; } } while (0)
#define CHECK_RC(expr, want) do { int rc_ = (expr); if (rc_ != (want)) { \
    char m_ [256]; snprintf (m_, sizeof m_, "%s = %d, expected %s", #expr, rc_, #want); \
    unit_fail (__FILE__, __LINE__, m_); return; } } while (0)

#endif

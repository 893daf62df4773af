#include <stddef.h>
#include "alloc.h"

#if defined (__SANITIZE_ADDRESS__)
bool alloc_counting (void) { return false; }
void alloc_track_begin (void) { }
size_t alloc_track_end (void) { return 0; }
#else
//  Replaces glibc's malloc family in this test binary (and so in every
//  library it loads), forwarding to glibc's own implementation.
extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void __libc_free (void *);

static bool s_tracking;
static size_t s_total;

bool alloc_counting (void) { return true; }
void alloc_track_begin (void) { s_total = 0; s_tracking = true; }
size_t alloc_track_end (void) { s_tracking = false; return s_total; }

void *malloc (size_t n) { if (s_tracking) s_total += n; return __libc_malloc (n); }
void *calloc (size_t n, size_t m) { if (s_tracking) s_total += n * m; return __libc_calloc (n, m); }
void *realloc (void *p, size_t n) { if (s_tracking) s_total += n; return __libc_realloc (p, n); }
void free (void *p) { __libc_free (p); }
#endif

/*  alloc: counts heap requests made while tracking is on (not under ASan,
    which owns malloc itself).  */
#ifndef SC_ALLOC_H
#define SC_ALLOC_H
#include <stdbool.h>
#include <stddef.h>
//  True when counting works in this build.
bool alloc_counting (void);
//  Starts counting from zero.
void alloc_track_begin (void);
//  Stops counting; returns the total bytes requested meanwhile.
size_t alloc_track_end (void);
#endif

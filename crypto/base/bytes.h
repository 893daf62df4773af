/*  bytes: big-endian integers in fixed binary layouts (records, envelopes,
    identity files).  Bottom layer, header only.  */
#ifndef SC_BYTES_H
#define SC_BYTES_H

#include <stdint.h>

//  Writes the low n bytes of v at p, most significant first.
static inline void
bytes_put_be (uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p [i] = (uint8_t) v;
}

//  Reads n bytes at p, most significant first.
static inline uint64_t
bytes_get_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p [i];
    return v;
}

#endif

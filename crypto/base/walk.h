/*  walk: the bounded msgpack walk every decoder runs before msgpack-c sees
    the bytes.  Bottom layer (it needs only err.h), so that node/ (wire),
    media/ (pack) and discovery/ can all decode.

    libmsgpack-c allocates for a declared array size before it looks at
    what follows, so a few bytes that claim 4 billion items would cost
    gigabytes.  walk_check walks the bytes first, without recursion and
    without allocating, and refuses depth over WALK_MAX_DEPTH and any count
    or length larger than the bytes really left.  */
#ifndef SC_WALK_H
#define SC_WALK_H

#include <stddef.h>
#include <stdint.h>

#define WALK_MAX_DEPTH 16               //  deepest nesting accepted
#define WALK_MAX_LEN (1024 * 1024)      //  a length beyond the bytes and over this is SC_ETOOBIG, not SC_ETRUNC

//  Walks msgpack bytes without unpacking.  Returns 0 if buf holds exactly one
//  well-formed object within the depth and length limits, else SC_ETRUNC,
//  SC_EDEPTH, SC_ETOOBIG or SC_EMALFORMED.
int walk_check (const uint8_t *buf, size_t len);

#endif

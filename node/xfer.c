#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/utf8.h"
#include "xfer.h"

int
xfer_check_offer (const wire_offer_t *o, char *why, size_t why_size)
{
    char none [1];
    if (!why)
        why = none, why_size = sizeof none;
    if (o->size > XFER_SIZE_MAX) {
        snprintf (why, why_size, "offer refused: larger than 1 TiB");
        return SC_ETOOBIG;
    }
    if (o->chunk_size < XFER_CHUNK_MIN || o->chunk_size > XFER_CHUNK_MAX || o->name_len == 0) {
        snprintf (why, why_size, "offer refused: impossible chunk size or no name");
        return SC_EMALFORMED;
    }
    uint64_t want = o->size / o->chunk_size + (o->size % o->chunk_size != 0);
    if (o->chunk_count != want) {
        snprintf (why, why_size, "offer refused: the chunk count does not match size and chunk size");
        return SC_EMALFORMED;
    }
    if (o->chunk_count > XFER_COUNT_MAX) {
        snprintf (why, why_size, "offer refused: %llu chunks, at most %llu are taken (chunks of "
                  "at least %llu bytes for this size)", (unsigned long long) o->chunk_count,
                  (unsigned long long) XFER_COUNT_MAX,
                  (unsigned long long) ((o->size + XFER_COUNT_MAX - 1) / XFER_COUNT_MAX));
        return SC_ETOOBIG;
    }
    return 0;
}

uint64_t
xfer_chunk_len (uint64_t size, uint64_t chunk_size, uint64_t index)
{
    uint64_t start = index * chunk_size;
    if (start >= size)
        return 0;
    return size - start < chunk_size? size - start: chunk_size;
}

static bool
s_bad (uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)
        || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e)
        || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || cp == 0xfffd;
}

void
xfer_safe_name (const char *name, size_t len, char *out)
{
    char *clean = utf8_sanitize (name, len);
    const char *base = clean? clean: "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t o = 0;
    const uint8_t *s = (const uint8_t *) base;
    size_t n = strlen (base);
    for (size_t i = 0; i < n; ) {
        uint32_t cp;
        size_t k = utf8_decode (s + i, n - i, &cp);
        if (k == 0)
            k = 1, cp = 0xfffd;
        if (o + (s_bad (cp)? 1: k) > XFER_NAME_MAX)
            break;                          //  cut at a character boundary
        if (s_bad (cp))
            out [o++] = '_';
        else if (o == 0 && cp == '.')
            out [o++] = '_';                //  no hidden files, no "." or ".."
        else {
            memcpy (out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    //  Trailing spaces and dots are trouble on other systems: drop them
    while (o > 0 && (out [o - 1] == ' ' || out [o - 1] == '.'))
        o--;
    out [o] = 0;
    if (o == 0 || strspn (out, "_ ") == o)
        strcpy (out, "file");
    free (clean);
}

size_t
xfer_map_size (uint64_t count)
{
    return (size_t) ((count + 7) / 8);
}

bool
xfer_map_get (const uint8_t *map, uint64_t index)
{
    return map [index / 8] & (1u << (index % 8));
}

void
xfer_map_set (uint8_t *map, uint64_t index)
{
    map [index / 8] |= (uint8_t) (1u << (index % 8));
}

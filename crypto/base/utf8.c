#include <stdlib.h>
#include <string.h>
#include "utf8.h"

size_t
utf8_decode (const uint8_t *s, size_t len, uint32_t *cp)
{
    if (s [0] < 0x80) {
        *cp = s [0];
        return 1;
    }
    size_t n = s [0] >= 0xf0? 4: s [0] >= 0xe0? 3: s [0] >= 0xc2? 2: 0;
    if (n == 0 || s [0] > 0xf4 || n > len)
        return 0;
    uint32_t v = s [0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s [i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s [i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff))
    ||  (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

char *
utf8_sanitize (const char *s, size_t len)
{
    //  U+FFFD takes 3 bytes and replaces at least one
    char *out = malloc (len * 3 + 1);
    if (!out)
        return NULL;
    const uint8_t *p = (const uint8_t *) s;
    size_t o = 0;
    for (size_t i = 0; i < len; ) {
        uint32_t cp;
        size_t n = utf8_decode (p + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            memcpy (out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += n? n: 1;
        }
        else {
            memcpy (out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out [o] = 0;
    return out;
}

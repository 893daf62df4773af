/*  utf8: strict UTF-8 decoding, shared by every module that shows text
    from outside (names, chat lines).  Bottom layer, no dependencies.  */
#ifndef SC_UTF8_H
#define SC_UTF8_H

#include <stddef.h>
#include <stdint.h>

//  Decodes one code point at s (len > 0 bytes left).  Returns its length in
//  bytes, or 0 when invalid (overlong, surrogate, out of range, truncated).
size_t utf8_decode (const uint8_t *s, size_t len, uint32_t *cp);

//  Returns a malloc'd NUL-terminated copy of len bytes in which every invalid
//  sequence and every NUL is replaced by U+FFFD (caller frees), or NULL when
//  out of memory.
char *utf8_sanitize (const char *s, size_t len);

#endif

#include <string.h>
#include "../crypto/base/bytes.h"
#include "../crypto/base/err.h"
#include "../crypto/base/utf8.h"
#include "record.h"

#define CTX "securechat record v1"
#define SIGNED_SIZE 113



bool
record_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > RECORD_NAME_MAX)
        return false;
    const uint8_t *s = (const uint8_t *) name;
    bool visible = false;
    for (size_t i = 0; i < len; ) {
        uint32_t cp;
        size_t n = utf8_decode (s + i, len - i, &cp);
        if (n == 0)
            return false;
        //  Control characters, bidi and other format characters
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)
        ||  (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e)
        ||  (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff)
            return false;
        if (cp != ' ')
            visible = true;
        i += n;
    }
    //  A name may not start with '/' (commands) or contain '@' (addresses)
    return visible && name [0] != '/' && !strchr (name, '@');
}

int
record_make (const identity_t *self, const char *name, uint16_t port,
             uint8_t flags, int64_t ts_ms, uint8_t out [RECORD_SIZE])
{
    if (!record_name_ok (name))
        return SC_EINVAL;
    memset (out, 0, RECORD_SIZE);
    memcpy (out, "SCPR", 4);
    out [4] = 1;
    out [5] = flags;
    bytes_put_be (out + 6, port, 2);
    memcpy (out + 8, identity_sign_pk (self), 32);
    memcpy (out + 40, identity_box_pk (self), 32);
    bytes_put_be (out + 72, (uint64_t) ts_ms, 8);
    size_t len = strlen (name);
    out [80] = (uint8_t) len;
    memcpy (out + 81, name, len);
    return identity_sign (self, CTX, out, SIGNED_SIZE, out + SIGNED_SIZE);
}

static int
s_decode (const uint8_t *buf, size_t len, bool verify, record_t *rec)
{
    memset (rec, 0, sizeof *rec);
    if (len < RECORD_SIZE)
        return SC_ETRUNC;
    if (len > RECORD_SIZE)
        return SC_ETOOBIG;
    if (memcmp (buf, "SCPR", 4) != 0)
        return SC_EMALFORMED;
    if (buf [4] != 1)
        return SC_EVERSION;
    uint8_t name_len = buf [80];
    if (name_len == 0 || name_len > RECORD_NAME_MAX
    ||  (buf [5] & ~(RECORD_FLAG_LEAVE | RECORD_FLAG_START)))
        return SC_EMALFORMED;
    for (size_t i = 81 + name_len; i < SIGNED_SIZE; i++)
        if (buf [i])
            return SC_EMALFORMED;
    memcpy (rec->name, buf + 81, name_len);
    rec->name [name_len] = 0;
    if (!record_name_ok (rec->name))
        return SC_EMALFORMED;
    if (verify && identity_verify (buf + 8, CTX, buf, SIGNED_SIZE, buf + SIGNED_SIZE) != 0)
        return SC_ESIG;
    rec->flags = buf [5];
    rec->port = (uint16_t) bytes_get_be (buf + 6, 2);
    memcpy (rec->sign_pk, buf + 8, 32);
    memcpy (rec->box_pk, buf + 40, 32);
    rec->ts_ms = (int64_t) bytes_get_be (buf + 72, 8);
    if (rec->port == 0)
        return SC_EMALFORMED;
    memcpy (rec->raw, buf, RECORD_SIZE);
    return 0;
}

int
record_decode (const uint8_t *buf, size_t len, record_t *rec)
{
    return s_decode (buf, len, true, rec);
}

int
record_decode_known (const uint8_t *buf, size_t len, const uint8_t *known, record_t *rec)
{
    bool same = known && len == RECORD_SIZE && memcmp (buf, known, RECORD_SIZE) == 0;
    return s_decode (buf, len, !same, rec);
}

void
record_request (uint8_t out [RECORD_REQ_SIZE])
{
    memset (out, 0, RECORD_REQ_SIZE);
    memcpy (out, "SCRQ", 4);
    out [4] = 1;
}

bool
record_is_request (const uint8_t *buf, size_t len)
{
    return len == RECORD_REQ_SIZE && memcmp (buf, "SCRQ", 4) == 0 && buf [4] == 1;
}

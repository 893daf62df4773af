/*  mpack: shared msgpack-c helpers.  See mpack.h.  */
#include <stdlib.h>
#include "err.h"
#include "mpack.h"
#include "walk.h"

void
mpack_body_begin (msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer_init (pk, sb, msgpack_sbuffer_write);
}

int
mpack_str (msgpack_packer *pk, const char *text, size_t len)
{
    if (msgpack_pack_str (pk, len) != 0 || msgpack_pack_str_body (pk, text, len) != 0)
        return SC_ENOMEM;
    return 0;
}

int
mpack_bin (msgpack_packer *pk, const void *data, size_t size)
{
    if (msgpack_pack_bin (pk, size) != 0 || msgpack_pack_bin_body (pk, data, size) != 0)
        return SC_ENOMEM;
    return 0;
}

int
mpack_end (msgpack_sbuffer *sb, int rc, uint8_t **out, size_t *len)
{
    if (rc == 0) {
        *len = sb->size;
        *out = (uint8_t *) msgpack_sbuffer_release (sb);
        if (!*out)
            rc = SC_ENOMEM;
    }
    msgpack_sbuffer_destroy (sb);
    return rc;
}

int
mpack_unpack (const uint8_t *buf, size_t len, msgpack_zone *zone, uint32_t min,
              const msgpack_object **items, uint32_t *count)
{
    msgpack_object obj;
    int rc = walk_check (buf, len);
    if (rc != 0)
        return rc;
    if (!msgpack_zone_init (zone, 256))
        return SC_ENOMEM;
    size_t off = 0;
    if (msgpack_unpack ((const char *) buf, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS
    ||  obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size < min) {
        msgpack_zone_destroy (zone);
        return SC_EMALFORMED;
    }
    *items = obj.via.array.ptr;
    *count = obj.via.array.size;
    return 0;
}

bool
mpack_is_uint (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

bool
mpack_is_str (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max;
}

bool
mpack_is_bin (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size <= max;
}

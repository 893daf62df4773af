#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/err.h"
#include "../crypto/walk.h"
#include "../media/pack.h"
#include "wire.h"


//  The walk lives in crypto/walk.c, where media/pack.c can use it too
_Static_assert (WIRE_MAX_FRAME == WALK_MAX_LEN, "the walk's length bound is the largest frame");
//  A STREAM or BATCH frame carries one media/pack.c body
_Static_assert (PACK_MAX_BODY <= WIRE_MAX_CHUNK, "a header or batch body fits its frame");

int
wire_check (const uint8_t *buf, size_t len)
{
    return walk_check (buf, len);
}

//  Starts a frame in sb with room for about hint bytes, so that a 256 KiB
//  chunk is packed without the buffer doubling (and copying) six times.
static int
s_pack_begin (msgpack_sbuffer *sb, msgpack_packer *pk, size_t hint, wire_type_t type, size_t fields)
{
    msgpack_sbuffer_init (sb);
    if (hint > 256) {
        sb->data = malloc (hint);
        sb->alloc = sb->data? hint: 0;
    }
    msgpack_packer_init (pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_array (pk, 2 + fields) != 0
    ||  msgpack_pack_uint8 (pk, WIRE_VERSION) != 0
    ||  msgpack_pack_uint8 (pk, (uint8_t) type) != 0)
        return SC_ENOMEM;
    return 0;
}

//  Starts a body (not a frame) in sb.
static void
s_body_begin (msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer_init (pk, sb, msgpack_sbuffer_write);
}

static int
s_pack_str (msgpack_packer *pk, const char *text, size_t len)
{
    if (msgpack_pack_str (pk, len) != 0 || msgpack_pack_str_body (pk, text, len) != 0)
        return SC_ENOMEM;
    return 0;
}

static int
s_pack_bin (msgpack_packer *pk, const void *data, size_t size)
{
    if (msgpack_pack_bin (pk, size) != 0 || msgpack_pack_bin_body (pk, data, size) != 0)
        return SC_ENOMEM;
    return 0;
}

static int
s_pack_end (msgpack_sbuffer *sb, int rc, uint8_t **out, size_t *len)
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
wire_encode (const wire_frame_t *f, uint8_t **out, size_t *len)
{
    *out = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;
    size_t hint = f->size + f->text_len + 64;
    switch (f->type) {
        case WIRE_HELLO:
        case WIRE_MSG:
            if (f->size > WIRE_MAX_ENVELOPE)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, f->type == WIRE_HELLO? 3: 1);
            if (rc == 0)
                rc = s_pack_bin (&pk, f->data, f->size);
            if (rc == 0 && f->type == WIRE_HELLO
            &&  (msgpack_pack_uint64 (&pk, f->seq) != 0 || msgpack_pack_uint64 (&pk, f->seen) != 0))
                rc = SC_ENOMEM;
            break;
        case WIRE_PING:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 1);
            if (rc == 0 && msgpack_pack_uint64 (&pk, f->seq) != 0)
                rc = SC_ENOMEM;
            break;
        case WIRE_RECEIPT:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 1);
            if (rc == 0)
                rc = s_pack_bin (&pk, f->msg_id, WIRE_ID_SIZE);
            break;
        case WIRE_BYE:
        case WIRE_LIST:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 0);
            break;
        case WIRE_OFFER:
        case WIRE_SHARES:
            if (f->size > WIRE_MAX_ENVELOPE)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 1);
            if (rc == 0)
                rc = s_pack_bin (&pk, f->data, f->size);
            break;
        case WIRE_ACCEPT:
            if (f->size > WIRE_MAX_CHUNK)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 3);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE) || s_pack_bin (&pk, f->data, f->size)
                        ||  msgpack_pack_uint64 (&pk, f->credit)))
                rc = SC_ENOMEM;
            break;
        case WIRE_REFUSE:
        case WIRE_GET:
            if (f->text_len > WIRE_NAME_MAX)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 2);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE)
                        ||  s_pack_str (&pk, f->text, f->text_len)))
                rc = SC_ENOMEM;
            break;
        case WIRE_CHUNK:
            if (f->size > WIRE_MAX_CHUNK)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 3);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE) || msgpack_pack_uint64 (&pk, f->index)
                        ||  s_pack_bin (&pk, f->data, f->size)))
                rc = SC_ENOMEM;
            break;
        case WIRE_CREDIT:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 2);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE) || msgpack_pack_uint64 (&pk, f->credit)))
                rc = SC_ENOMEM;
            break;
        case WIRE_DONE:
            //  The sender's DONE carries the checksum; the receiver's none
            if (f->size != 0 && f->size != WIRE_SUM_SIZE)
                return SC_EMALFORMED;
            rc = s_pack_begin (&sb, &pk, hint, f->type, f->size? 3: 2);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE)
                        ||  (f->ok? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
                        ||  (f->size && s_pack_bin (&pk, f->data, f->size))))
                rc = SC_ENOMEM;
            break;
        case WIRE_CANCEL:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 1);
            if (rc == 0)
                rc = s_pack_bin (&pk, f->id, WIRE_ID_SIZE);
            break;
        case WIRE_WATCH:
            if (f->text_len > WIRE_NAME_MAX)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 5);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE)
                        ||  s_pack_str (&pk, f->text, f->text_len)
                        ||  msgpack_pack_uint64 (&pk, f->index)
                        ||  (f->ok? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
                        ||  msgpack_pack_uint64 (&pk, f->credit)))
                rc = SC_ENOMEM;
            break;
        case WIRE_STREAM:
        case WIRE_BATCH:
            if (f->size > WIRE_MAX_CHUNK)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, f->type == WIRE_BATCH? 3: 2);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE)
                        ||  (f->type == WIRE_BATCH && msgpack_pack_uint64 (&pk, f->index))
                        ||  s_pack_bin (&pk, f->data, f->size)))
                rc = SC_ENOMEM;
            break;
        case WIRE_SCREDIT:
            rc = s_pack_begin (&sb, &pk, hint, f->type, 2);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE) || msgpack_pack_uint64 (&pk, f->credit)))
                rc = SC_ENOMEM;
            break;
        case WIRE_SEND:
            if (f->text_len > WIRE_NAME_MAX)
                return SC_ETOOBIG;
            rc = s_pack_begin (&sb, &pk, hint, f->type, 3);
            if (rc == 0 && (s_pack_bin (&pk, f->id, WIRE_ID_SIZE)
                        ||  (f->ok? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
                        ||  s_pack_str (&pk, f->text, f->text_len)))
                rc = SC_ENOMEM;
            break;
        default:
            return SC_ETYPE;
    }
    return s_pack_end (&sb, rc, out, len);
}

//  Walks buf, then (only if sound) creates the zone and unpacks into obj,
//  which must be an array of at least min items (*items points at them).
//  Nothing is allocated for bytes that fail the walk.  Returns 0 or an error;
//  on 0 the caller destroys zone.
static int
s_unpack (const uint8_t *buf, size_t len, msgpack_zone *zone, uint32_t min,
          const msgpack_object **items, uint32_t *count)
{
    msgpack_object object, *obj = &object;
    int rc = wire_check (buf, len);
    if (rc != 0)
        return rc;
    if (!msgpack_zone_init (zone, 256))
        return SC_ENOMEM;
    size_t off = 0;
    if (msgpack_unpack ((const char *) buf, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS
    ||  obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < min) {
        msgpack_zone_destroy (zone);
        return SC_EMALFORMED;
    }
    *items = obj->via.array.ptr;
    *count = obj->via.array.size;
    return 0;
}

static bool
s_is_uint (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

static bool
s_is_bin (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size <= max;
}

static bool
s_is_str (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max;
}

static bool
s_get_id (const msgpack_object *o, uint8_t id [WIRE_ID_SIZE])
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != WIRE_ID_SIZE)
        return false;
    memcpy (id, o->via.bin.ptr, WIRE_ID_SIZE);
    return true;
}

int
wire_decode (const uint8_t *buf, size_t len, wire_frame_t *f)
{
    memset (f, 0, sizeof *f);
    if (len > WIRE_MAX_FRAME)
        return SC_ETOOBIG;
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = s_unpack (buf, len, &zone, 2, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    if (!s_is_uint (&a [0]) || !s_is_uint (&a [1]))
        goto out;
    if (a [0].via.u64 != WIRE_VERSION) {
        rc = SC_EVERSION;
        goto out;
    }
    f->type = (wire_type_t) a [1].via.u64;
    //  Fields after the known ones are allowed: later versions may add them
    switch (a [1].via.u64) {
        case WIRE_HELLO:
        case WIRE_MSG:
            if (n < 3 || a [2].type != MSGPACK_OBJECT_BIN)
                goto out;
            if (a [2].via.bin.size > WIRE_MAX_ENVELOPE) {
                rc = SC_ETOOBIG;
                goto out;
            }
            f->data = (const uint8_t *) a [2].via.bin.ptr;
            f->size = a [2].via.bin.size;
            if (f->type == WIRE_HELLO) {
                if (n < 5 || !s_is_uint (&a [3]) || !s_is_uint (&a [4]))
                    goto out;
                f->seq = a [3].via.u64;
                f->seen = a [4].via.u64;
            }
            break;
        case WIRE_PING:
            if (n < 3 || !s_is_uint (&a [2]))
                goto out;
            f->seq = a [2].via.u64;
            break;
        case WIRE_RECEIPT:
            if (n < 3 || a [2].type != MSGPACK_OBJECT_BIN || a [2].via.bin.size != WIRE_ID_SIZE)
                goto out;
            memcpy (f->msg_id, a [2].via.bin.ptr, WIRE_ID_SIZE);
            break;
        case WIRE_BYE:
        case WIRE_LIST:
            break;
        case WIRE_OFFER:
        case WIRE_SHARES:
            if (n < 3 || !s_is_bin (&a [2], WIRE_MAX_ENVELOPE))
                goto out;
            f->data = (const uint8_t *) a [2].via.bin.ptr;
            f->size = a [2].via.bin.size;
            break;
        case WIRE_ACCEPT:
            if (n < 5 || !s_get_id (&a [2], f->id) || !s_is_bin (&a [3], WIRE_MAX_CHUNK)
            ||  !s_is_uint (&a [4]))
                goto out;
            f->data = (const uint8_t *) a [3].via.bin.ptr;
            f->size = a [3].via.bin.size;
            f->credit = a [4].via.u64;
            break;
        case WIRE_REFUSE:
        case WIRE_GET:
            if (n < 4 || !s_get_id (&a [2], f->id) || a [3].type != MSGPACK_OBJECT_STR
            ||  a [3].via.str.size > WIRE_NAME_MAX)
                goto out;
            f->text = a [3].via.str.ptr;
            f->text_len = a [3].via.str.size;
            break;
        case WIRE_CHUNK:
            if (n < 5 || !s_get_id (&a [2], f->id) || !s_is_uint (&a [3])
            ||  !s_is_bin (&a [4], WIRE_MAX_CHUNK))
                goto out;
            f->index = a [3].via.u64;
            f->data = (const uint8_t *) a [4].via.bin.ptr;
            f->size = a [4].via.bin.size;
            break;
        case WIRE_CREDIT:
            if (n < 4 || !s_get_id (&a [2], f->id) || !s_is_uint (&a [3]))
                goto out;
            f->credit = a [3].via.u64;
            break;
        case WIRE_DONE:
            if (n < 4 || !s_get_id (&a [2], f->id) || a [3].type != MSGPACK_OBJECT_BOOLEAN
            ||  (n >= 5 && (a [4].type != MSGPACK_OBJECT_BIN || a [4].via.bin.size != WIRE_SUM_SIZE)))
                goto out;
            f->ok = a [3].via.boolean;
            if (n >= 5) {
                f->data = (const uint8_t *) a [4].via.bin.ptr;
                f->size = WIRE_SUM_SIZE;
            }
            break;
        case WIRE_CANCEL:
            if (n < 3 || !s_get_id (&a [2], f->id))
                goto out;
            break;
        case WIRE_WATCH:
            if (n < 7 || !s_get_id (&a [2], f->id) || !s_is_str (&a [3], WIRE_NAME_MAX)
            ||  !s_is_uint (&a [4]) || a [5].type != MSGPACK_OBJECT_BOOLEAN || !s_is_uint (&a [6]))
                goto out;
            f->text = a [3].via.str.ptr;
            f->text_len = a [3].via.str.size;
            f->index = a [4].via.u64;
            f->ok = a [5].via.boolean;
            f->credit = a [6].via.u64;
            break;
        case WIRE_STREAM:
            if (n < 4 || !s_get_id (&a [2], f->id) || !s_is_bin (&a [3], WIRE_MAX_CHUNK))
                goto out;
            f->data = (const uint8_t *) a [3].via.bin.ptr;
            f->size = a [3].via.bin.size;
            break;
        case WIRE_BATCH:
            if (n < 5 || !s_get_id (&a [2], f->id) || !s_is_uint (&a [3])
            ||  !s_is_bin (&a [4], WIRE_MAX_CHUNK))
                goto out;
            f->index = a [3].via.u64;
            f->data = (const uint8_t *) a [4].via.bin.ptr;
            f->size = a [4].via.bin.size;
            break;
        case WIRE_SCREDIT:
            if (n < 4 || !s_get_id (&a [2], f->id) || !s_is_uint (&a [3]))
                goto out;
            f->credit = a [3].via.u64;
            break;
        case WIRE_SEND:
            if (n < 5 || !s_get_id (&a [2], f->id) || a [3].type != MSGPACK_OBJECT_BOOLEAN
            ||  !s_is_str (&a [4], WIRE_NAME_MAX))
                goto out;
            f->ok = a [3].via.boolean;
            f->text = a [4].via.str.ptr;
            f->text_len = a [4].via.str.size;
            break;
        default:
            rc = SC_ETYPE;
            goto out;
    }
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

int
wire_chat_encode (const wire_chat_t *chat, uint8_t **out, size_t *len)
{
    *out = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_begin (&sb, &pk);
    int rc = 0;
    if (msgpack_pack_array (&pk, 2) != 0
    ||  msgpack_pack_uint8 (&pk, (uint8_t) chat->kind) != 0
    ||  s_pack_str (&pk, chat->text, chat->text_len))
        rc = SC_ENOMEM;
    return s_pack_end (&sb, rc, out, len);
}

int
wire_chat_decode (const uint8_t *buf, size_t len, wire_chat_t *chat)
{
    memset (chat, 0, sizeof *chat);
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = s_unpack (buf, len, &zone, 2, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    if (!s_is_uint (&a [0]) || a [0].via.u64 > 1 || a [1].type != MSGPACK_OBJECT_STR)
        goto out;
    chat->kind = (unsigned) a [0].via.u64;
    chat->text = a [1].via.str.ptr;
    chat->text_len = a [1].via.str.size;
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

int
wire_chunk_head (const uint8_t id [WIRE_ID_SIZE], uint64_t index, size_t data_len,
                 uint8_t out [WIRE_CHUNK_HEAD_MAX], size_t *len)
{
    *len = 0;
    if (data_len > WIRE_MAX_CHUNK)
        return SC_ETOOBIG;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = s_pack_begin (&sb, &pk, 0, WIRE_CHUNK, 3);
    if (rc == 0 && (s_pack_bin (&pk, id, WIRE_ID_SIZE) || msgpack_pack_uint64 (&pk, index)
                ||  msgpack_pack_bin (&pk, data_len)))
        rc = SC_ENOMEM;
    if (rc == 0 && sb.size <= WIRE_CHUNK_HEAD_MAX) {
        memcpy (out, sb.data, sb.size);
        *len = sb.size;
    }
    else if (rc == 0)
        rc = SC_ETOOBIG;
    msgpack_sbuffer_destroy (&sb);
    return rc;
}

int
wire_offer_encode (const wire_offer_t *o, uint8_t **out, size_t *len)
{
    *out = NULL;
    if (o->name_len > WIRE_NAME_MAX)
        return SC_ETOOBIG;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_begin (&sb, &pk);
    int rc = 0;
    if (msgpack_pack_array (&pk, 6) || s_pack_bin (&pk, o->id, WIRE_ID_SIZE)
    ||  s_pack_str (&pk, o->name, o->name_len)
    ||  msgpack_pack_uint64 (&pk, o->size) || msgpack_pack_uint64 (&pk, o->chunk_size)
    ||  msgpack_pack_uint64 (&pk, o->chunk_count)
    ||  s_pack_str (&pk, WIRE_SUM_NAME, strlen (WIRE_SUM_NAME)))
        rc = SC_ENOMEM;
    return s_pack_end (&sb, rc, out, len);
}

int
wire_offer_decode (const uint8_t *buf, size_t len, wire_offer_t *o)
{
    memset (o, 0, sizeof *o);
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = s_unpack (buf, len, &zone, 6, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    //  An earlier version's offer (a hash and a chunk key where the
    //  checksum's name is) is refused: its chunks would be sealed
    if (!s_get_id (&a [0], o->id) || a [1].type != MSGPACK_OBJECT_STR
    ||  a [1].via.str.size > WIRE_NAME_MAX || !s_is_uint (&a [2]) || !s_is_uint (&a [3])
    ||  !s_is_uint (&a [4]) || a [5].type != MSGPACK_OBJECT_STR
    ||  a [5].via.str.size != strlen (WIRE_SUM_NAME)
    ||  memcmp (a [5].via.str.ptr, WIRE_SUM_NAME, strlen (WIRE_SUM_NAME)) != 0)
        goto out;
    o->name = a [1].via.str.ptr;
    o->name_len = a [1].via.str.size;
    o->size = a [2].via.u64;
    o->chunk_size = a [3].via.u64;
    o->chunk_count = a [4].via.u64;
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

int
wire_shares_encode (const wire_share_t *e, size_t n, uint8_t **out, size_t *len)
{
    *out = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_begin (&sb, &pk);
    int rc = msgpack_pack_array (&pk, n)? SC_ENOMEM: 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (msgpack_pack_array (&pk, 7)
        ||  s_pack_str (&pk, e [i].name, e [i].name_len)
        ||  msgpack_pack_uint64 (&pk, e [i].size)
        ||  (e [i].video? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
        ||  msgpack_pack_uint64 (&pk, e [i].duration_ms)
        ||  s_pack_str (&pk, e [i].codecs? e [i].codecs: "", e [i].codecs? e [i].codecs_len: 0)
        ||  s_pack_str (&pk, e [i].tracks? e [i].tracks: "", e [i].tracks? e [i].tracks_len: 0)
        ||  s_pack_str (&pk, e [i].skipped? e [i].skipped: "", e [i].skipped? e [i].skipped_len: 0))
            rc = SC_ENOMEM;
    if (rc == 0 && sb.size > WIRE_MAX_ENVELOPE)
        rc = SC_ETOOBIG;
    return s_pack_end (&sb, rc, out, len);
}

int
wire_shares_decode (const uint8_t *buf, size_t len, wire_share_t *e, size_t max, size_t *count)
{
    *count = 0;
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = s_unpack (buf, len, &zone, 0, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    for (uint32_t i = 0; i < n && *count < max; i++) {
        const msgpack_object *x = &a [i];
        if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size < 3)
            goto out;
        const msgpack_object *f = x->via.array.ptr;
        if (f [0].type != MSGPACK_OBJECT_STR || f [0].via.str.size > WIRE_NAME_MAX
        ||  !s_is_uint (&f [1]) || f [2].type != MSGPACK_OBJECT_BOOLEAN)
            goto out;
        e [*count].name = f [0].via.str.ptr;
        e [*count].name_len = f [0].via.str.size;
        e [*count].size = f [1].via.u64;
        e [*count].video = f [2].via.boolean;
        e [*count].duration_ms = 0;
        e [*count].codecs = NULL;
        e [*count].codecs_len = 0;
        if (x->via.array.size >= 5) {
            if (!s_is_uint (&f [3]) || !s_is_str (&f [4], WIRE_NAME_MAX))
                goto out;
            e [*count].duration_ms = f [3].via.u64;
            e [*count].codecs = f [4].via.str.ptr;
            e [*count].codecs_len = f [4].via.str.size;
        }
        e [*count].tracks = e [*count].skipped = NULL;
        e [*count].tracks_len = e [*count].skipped_len = 0;
        if (x->via.array.size >= 7) {
            if (!s_is_str (&f [5], WIRE_NAME_MAX) || !s_is_str (&f [6], WIRE_NAME_MAX))
                goto out;
            e [*count].tracks = f [5].via.str.ptr;
            e [*count].tracks_len = f [5].via.str.size;
            e [*count].skipped = f [6].via.str.ptr;
            e [*count].skipped_len = f [6].via.str.size;
        }
        (*count)++;
    }
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/mpack.h"
#include "../crypto/base/walk.h"
#include "../media/pack.h"
#include "wire.h"


//  The walk lives in crypto/base/walk.c, where media/pack.c can use it too
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

//  ---------------------------------------------------------------------
//  The table: every frame type's fields, in wire order, as the list in
//  wire.h writes them down.  One encode loop and one decode loop read it.

#define S_AT(m) offsetof (wire_frame_t, m)
#define S_UINT(n, m) { n, WIRE_F_UINT, S_AT (m), 0, 0 }
#define S_BOOL(n, m) { n, WIRE_F_BOOL, S_AT (m), 0, 0 }
#define S_ID(n, m) { n, WIRE_F_FIXED, S_AT (m), 0, WIRE_ID_SIZE }
#define S_KEY(n, m) { n, WIRE_F_FIXED, S_AT (m), 0, WIRE_KEY_SIZE }
#define S_BIN(n, m, max) { n, WIRE_F_BIN, S_AT (m), S_AT (m##_len), max }
#define S_STR(n, m, max) { n, WIRE_F_STR, S_AT (m), S_AT (m##_len), max }
//  A trailing fixed-size field that may be missing (m##_len: 0, or its size)
#define S_OPT_FIXED(n, m, size) { n, WIRE_F_FIXED, S_AT (m), S_AT (m##_len), size, true }

static const wire_spec_t s_specs [WIRE_TYPE_MAX + 1] = {
    [WIRE_HELLO] = { "HELLO", 3, { S_BIN ("record", hello.record, WIRE_MAX_ENVELOPE),
                                   S_UINT ("session", hello.session),
                                   S_UINT ("seen", hello.seen) } },
    [WIRE_PING] = { "PING", 1, { S_UINT ("seq", ping.seq) } },
    [WIRE_MSG] = { "MSG", 1, { S_BIN ("envelope", msg.envelope, WIRE_MAX_ENVELOPE) } },
    [WIRE_RECEIPT] = { "RECEIPT", 1, { S_ID ("msg_id", receipt.msg_id) } },
    [WIRE_BYE] = { "BYE", 0, { { 0 } } },
    [WIRE_OFFER] = { "OFFER", 1, { S_BIN ("envelope", offer.envelope, WIRE_MAX_ENVELOPE) } },
    [WIRE_ACCEPT] = { "ACCEPT", 3, { S_ID ("id", accept.id),
                                     S_BIN ("have", accept.have, WIRE_MAX_CHUNK),
                                     S_UINT ("credit", accept.credit) } },
    [WIRE_REFUSE] = { "REFUSE", 2, { S_ID ("id", refuse.id),
                                     S_STR ("reason", refuse.reason, WIRE_NAME_MAX) } },
    [WIRE_CHUNK] = { "CHUNK", 3, { S_ID ("id", chunk.id), S_UINT ("index", chunk.index),
                                   S_BIN ("data", chunk.data, WIRE_MAX_CHUNK) } },
    [WIRE_CREDIT] = { "CREDIT", 2, { S_ID ("id", credit.id), S_UINT ("credit", credit.credit) } },
    [WIRE_DONE] = { "DONE", 3, { S_ID ("id", done.id), S_BOOL ("ok", done.ok),
                                 S_OPT_FIXED ("sum", done.sum, WIRE_SUM_SIZE) } },
    [WIRE_CANCEL] = { "CANCEL", 1, { S_ID ("id", cancel.id) } },
    [WIRE_LIST] = { "LIST", 0, { { 0 } } },
    [WIRE_SHARES] = { "SHARES", 1, { S_BIN ("entries", shares.entries, WIRE_MAX_ENVELOPE) } },
    [WIRE_GET] = { "GET", 2, { S_ID ("id", get.id), S_STR ("name", get.name, WIRE_NAME_MAX) } },
    [WIRE_WATCH] = { "WATCH", 5, { S_ID ("sid", watch.sid),
                                   S_STR ("name", watch.name, WIRE_NAME_MAX),
                                   S_UINT ("offset_ms", watch.offset_ms),
                                   S_BOOL ("paced", watch.paced),
                                   S_UINT ("credit", watch.credit) } },
    [WIRE_STREAM] = { "STREAM", 2, { S_ID ("sid", stream.sid),
                                     S_BIN ("header", stream.header, WIRE_MAX_CHUNK) } },
    [WIRE_BATCH] = { "BATCH", 3, { S_ID ("sid", batch.sid), S_UINT ("seq", batch.seq),
                                   S_BIN ("packets", batch.packets, WIRE_MAX_CHUNK) } },
    [WIRE_SCREDIT] = { "SCREDIT", 2, { S_ID ("sid", scredit.sid),
                                       S_UINT ("credit", scredit.credit) } },
    [WIRE_SEND] = { "SEND", 3, { S_ID ("sid", send.sid), S_BOOL ("ok", send.ok),
                                 S_STR ("reason", send.reason, WIRE_NAME_MAX) } },
    //  Tracker frames
    [WIRE_T_REGISTER] = { "T_REGISTER", 2, { S_UINT ("tag", t_register.tag),
                          S_BIN ("record", t_register.record, WIRE_TRECORD_SIZE) } },
    [WIRE_T_REGISTERED] = { "T_REGISTERED", 3, { S_UINT ("tag", t_registered.tag),
                            S_UINT ("ttl_ms", t_registered.ttl_ms),
                            S_STR ("addr", t_registered.addr, WIRE_TADDR_SIZE - 1) } },
    [WIRE_T_LEAVE] = { "T_LEAVE", 2, { S_UINT ("tag", t_leave.tag), S_KEY ("key", t_leave.key) } },
    [WIRE_T_LOOKUP] = { "T_LOOKUP", 4, { S_UINT ("tag", t_lookup.tag),
                        S_BIN ("key", t_lookup.key, WIRE_KEY_SIZE),
                        S_STR ("prefix", t_lookup.prefix, 64),
                        S_STR ("name", t_lookup.name, WIRE_TRECORD_NAME_MAX) } },
    [WIRE_T_FOUND] = { "T_FOUND", 2, { S_UINT ("tag", t_found.tag),
                       S_BIN ("entries", t_found.entries, WIRE_TFOUND_MAX * WIRE_TENTRY_SIZE) } },
    [WIRE_T_LIST] = { "T_LIST", 2, { S_UINT ("tag", t_list.tag), S_UINT ("cursor", t_list.cursor) } },
    [WIRE_T_PAGE] = { "T_PAGE", 3, { S_UINT ("tag", t_page.tag),
                      S_BIN ("entries", t_page.entries, WIRE_TPAGE_MAX * WIRE_TENTRY_SIZE),
                      S_UINT ("next", t_page.next) } },
    [WIRE_T_NOTICE] = { "T_NOTICE", 3, { S_BOOL ("joined", t_notice.joined),
                        S_STR ("reason", t_notice.reason, WIRE_TCODE_MAX),
                        S_BIN ("entry", t_notice.entry, WIRE_TENTRY_SIZE) } },
    [WIRE_T_DIAL] = { "T_DIAL", 2, { S_UINT ("tag", t_dial.tag), S_KEY ("key", t_dial.key) } },
    [WIRE_T_DIALED] = { "T_DIALED", 1, { S_BIN ("entry", t_dialed.entry, WIRE_TENTRY_SIZE) } },
    [WIRE_T_PUT] = { "T_PUT", 5, { S_UINT ("tag", t_put.tag), S_KEY ("recipient", t_put.recipient),
                     S_ID ("msg_id", t_put.msg_id), S_UINT ("ttl_days", t_put.ttl_days),
                     S_BIN ("envelope", t_put.envelope, WIRE_MAX_ENVELOPE) } },
    [WIRE_T_STORED] = { "T_STORED", 3, { S_UINT ("tag", t_stored.tag),
                        S_KEY ("recipient", t_stored.recipient),
                        S_ID ("msg_id", t_stored.msg_id) } },
    [WIRE_T_MAILNOTE] = { "T_MAILNOTE", 1, { S_UINT ("count", t_mailnote.count) } },
    [WIRE_T_FETCH] = { "T_FETCH", 2, { S_UINT ("tag", t_fetch.tag), S_UINT ("max", t_fetch.max) } },
    [WIRE_T_MAIL] = { "T_MAIL", 4, { S_KEY ("sender", t_mail.sender), S_ID ("msg_id", t_mail.msg_id),
                      S_UINT ("stored_ms", t_mail.stored_ms),
                      S_BIN ("envelope", t_mail.envelope, WIRE_MAX_ENVELOPE) } },
    [WIRE_T_ACK] = { "T_ACK", 2, { S_KEY ("sender", t_ack.sender), S_ID ("msg_id", t_ack.msg_id) } },
    [WIRE_T_STATUS] = { "T_STATUS", 1, { S_UINT ("tag", t_status.tag) } },
    [WIRE_T_STATS] = { "T_STATS", 2, { S_UINT ("tag", t_stats.tag),
                       S_BIN ("counters", t_stats.counters, WIRE_MAX_ENVELOPE) } },
    [WIRE_T_REFUSED] = { "T_REFUSED", 4, { S_UINT ("type", t_refused.type),
                         S_UINT ("tag", t_refused.tag),
                         S_STR ("code", t_refused.code, WIRE_TCODE_MAX),
                         S_UINT ("retry_ms", t_refused.retry_ms) } },
};

const wire_spec_t *
wire_spec (int type)
{
    if (type < 1 || type > WIRE_TYPE_MAX || !s_specs [type].name)
        return NULL;
    return &s_specs [type];
}

//  The value of field d in frame f, by kind.
#define S_VAL(f, d, t) (*(t *) ((char *) (f) + (d)->at))
#define S_CVAL(f, d, t) (*(const t *) ((const char *) (f) + (d)->at))
//  A byte field's pointer in frame f.
#define S_PTR(f, d) (*(const void *const *) ((const char *) (f) + (d)->at))

int
wire_encode (const wire_frame_t *f, uint8_t **out, size_t *len)
{
    *out = NULL;
    const wire_spec_t *spec = wire_spec (f->type);
    if (!spec)
        return SC_ETYPE;
    size_t hint = 64;
    int present = spec->nfields;        //  fields sent: optional ones only when set
    for (int i = 0; i < spec->nfields; i++) {
        const wire_field_t *d = &spec->fields [i];
        size_t n = d->len_at? *(const size_t *) ((const char *) f + d->len_at): 0;
        if (d->optional && n == 0) {
            present = i;
            break;
        }
        if (d->kind == WIRE_F_FIXED && d->len_at && n != d->max)
            return SC_EMALFORMED;
        if (n > d->max)
            return SC_ETOOBIG;
        hint += n;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = s_pack_begin (&sb, &pk, hint, f->type, (size_t) present);
    for (int i = 0; rc == 0 && i < present; i++) {
        const wire_field_t *d = &spec->fields [i];
        size_t n = d->len_at? *(const size_t *) ((const char *) f + d->len_at): 0;
        switch (d->kind) {
            case WIRE_F_UINT:
                rc = msgpack_pack_uint64 (&pk, S_CVAL (f, d, uint64_t))? SC_ENOMEM: 0;
                break;
            case WIRE_F_BOOL:
                rc = (S_CVAL (f, d, int)? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
                   ? SC_ENOMEM: 0;
                break;
            case WIRE_F_FIXED:
                rc = mpack_bin (&pk, (const uint8_t *) f + d->at, d->max);
                break;
            case WIRE_F_BIN:
                rc = mpack_bin (&pk, S_PTR (f, d), n);
                break;
            case WIRE_F_STR:
                rc = mpack_str (&pk, S_PTR (f, d), n);
                break;
        }
    }
    return mpack_end (&sb, rc, out, len);
}

const uint8_t *
wire_frame_id (const wire_frame_t *f)
{
    const wire_spec_t *spec = wire_spec (f->type);
    if (!spec || spec->nfields == 0 || spec->fields [0].kind != WIRE_F_FIXED
    ||  spec->fields [0].max != WIRE_ID_SIZE || strcmp (spec->fields [0].name, "msg_id") == 0)
        return NULL;
    return (const uint8_t *) f + spec->fields [0].at;
}

bool
wire_same (const wire_frame_t *a, const wire_frame_t *b)
{
    const wire_spec_t *spec = wire_spec (a->type);
    if (a->type != b->type || !spec)
        return false;
    for (int i = 0; i < spec->nfields; i++) {
        const wire_field_t *d = &spec->fields [i];
        switch (d->kind) {
            case WIRE_F_UINT:
                if (S_CVAL (a, d, uint64_t) != S_CVAL (b, d, uint64_t))
                    return false;
                break;
            case WIRE_F_BOOL:
                if (!S_CVAL (a, d, int) != !S_CVAL (b, d, int))
                    return false;
                break;
            case WIRE_F_FIXED: {
                //  An optional one that is missing on both is the same
                size_t n = d->len_at? *(const size_t *) ((const char *) a + d->len_at): d->max;
                if ((d->len_at && n != *(const size_t *) ((const char *) b + d->len_at))
                ||  (n && memcmp ((const char *) a + d->at, (const char *) b + d->at, d->max) != 0))
                    return false;
                break;
            }
            case WIRE_F_BIN:
            case WIRE_F_STR: {
                size_t n = *(const size_t *) ((const char *) a + d->len_at);
                if (n != *(const size_t *) ((const char *) b + d->len_at)
                ||  (n && memcmp (S_PTR (a, d), S_PTR (b, d), n) != 0))
                    return false;
                break;
            }
        }
    }
    return true;
}

int
wire_handle (wire_handlers_t *self, wire_type_t type, wire_handler_fn *fn, void *arg)
{
    if (!wire_spec (type))
        return SC_EINVAL;
    for (int k = 0; k < 2; k++)
        if (!self->on [type][k].fn) {
            self->on [type][k].fn = fn;
            self->on [type][k].arg = arg;
            return 0;
        }
    return SC_EINVAL;
}

bool
wire_dispatch (const wire_handlers_t *self, const uint8_t peer [32],
               const wire_frame_t *frame, int64_t now_ms)
{
    if (!wire_spec (frame->type))
        return false;
    for (int k = 0; k < 2; k++)
        if (self->on [frame->type][k].fn
        &&  self->on [frame->type][k].fn (self->on [frame->type][k].arg, peer, frame, now_ms))
            return true;
    return false;
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
    int rc = mpack_unpack (buf, len, &zone, 2, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    if (!mpack_is_uint (&a [0]) || !mpack_is_uint (&a [1]))
        goto out;
    if (a [0].via.u64 != WIRE_VERSION) {
        rc = SC_EVERSION;
        goto out;
    }
    const wire_spec_t *spec = a [1].via.u64 <= WIRE_TYPE_MAX? wire_spec ((int) a [1].via.u64): NULL;
    if (!spec) {
        rc = SC_ETYPE;
        goto out;
    }
    f->type = (wire_type_t) a [1].via.u64;
    //  Fields after the known ones are allowed: later versions may add them;
    //  optional ones (trailing) may be missing
    for (int i = 0; i < spec->nfields; i++) {
        const wire_field_t *d = &spec->fields [i];
        if (2 + (uint32_t) i >= n) {
            if (d->optional)
                break;
            goto out;
        }
        const msgpack_object *o = &a [2 + i];
        switch (d->kind) {
            case WIRE_F_UINT:
                if (!mpack_is_uint (o))
                    goto out;
                S_VAL (f, d, uint64_t) = o->via.u64;
                break;
            case WIRE_F_BOOL:
                if (o->type != MSGPACK_OBJECT_BOOLEAN)
                    goto out;
                S_VAL (f, d, int) = o->via.boolean;
                break;
            case WIRE_F_FIXED:
                if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != d->max)
                    goto out;
                memcpy ((uint8_t *) f + d->at, o->via.bin.ptr, d->max);
                if (d->len_at)
                    *(size_t *) ((char *) f + d->len_at) = d->max;
                break;
            case WIRE_F_BIN:
            case WIRE_F_STR:
                if (o->type != (d->kind == WIRE_F_BIN? MSGPACK_OBJECT_BIN: MSGPACK_OBJECT_STR))
                    goto out;
                //  bin and str share their layout in msgpack-c's object
                if (o->via.bin.size > d->max) {
                    rc = SC_ETOOBIG;
                    goto out;
                }
                S_VAL (f, d, const void *) = o->via.bin.ptr;
                *(size_t *) ((char *) f + d->len_at) = o->via.bin.size;
                break;
        }
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
    mpack_body_begin (&sb, &pk);
    int rc = 0;
    if (msgpack_pack_array (&pk, 2) != 0
    ||  msgpack_pack_uint8 (&pk, (uint8_t) chat->kind) != 0
    ||  mpack_str (&pk, chat->text, chat->text_len))
        rc = SC_ENOMEM;
    return mpack_end (&sb, rc, out, len);
}

int
wire_chat_decode (const uint8_t *buf, size_t len, wire_chat_t *chat)
{
    memset (chat, 0, sizeof *chat);
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = mpack_unpack (buf, len, &zone, 2, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    if (!mpack_is_uint (&a [0]) || a [0].via.u64 > 2 || a [1].type != MSGPACK_OBJECT_STR)
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
    if (rc == 0 && (mpack_bin (&pk, id, WIRE_ID_SIZE) || msgpack_pack_uint64 (&pk, index)
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
    mpack_body_begin (&sb, &pk);
    int rc = 0;
    if (msgpack_pack_array (&pk, 6) || mpack_bin (&pk, o->id, WIRE_ID_SIZE)
    ||  mpack_str (&pk, o->name, o->name_len)
    ||  msgpack_pack_uint64 (&pk, o->size) || msgpack_pack_uint64 (&pk, o->chunk_size)
    ||  msgpack_pack_uint64 (&pk, o->chunk_count)
    ||  mpack_str (&pk, WIRE_SUM_NAME, strlen (WIRE_SUM_NAME)))
        rc = SC_ENOMEM;
    return mpack_end (&sb, rc, out, len);
}

int
wire_offer_decode (const uint8_t *buf, size_t len, wire_offer_t *o)
{
    memset (o, 0, sizeof *o);
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = mpack_unpack (buf, len, &zone, 6, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    //  An earlier version's offer (a hash and a chunk key where the
    //  checksum's name is) is refused: its chunks would be sealed
    if (!s_get_id (&a [0], o->id) || a [1].type != MSGPACK_OBJECT_STR
    ||  a [1].via.str.size > WIRE_NAME_MAX || !mpack_is_uint (&a [2]) || !mpack_is_uint (&a [3])
    ||  !mpack_is_uint (&a [4]) || a [5].type != MSGPACK_OBJECT_STR
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
    mpack_body_begin (&sb, &pk);
    int rc = msgpack_pack_array (&pk, n)? SC_ENOMEM: 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (msgpack_pack_array (&pk, 7)
        ||  mpack_str (&pk, e [i].name, e [i].name_len)
        ||  msgpack_pack_uint64 (&pk, e [i].size)
        ||  (e [i].video? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
        ||  msgpack_pack_uint64 (&pk, e [i].duration_ms)
        ||  mpack_str (&pk, e [i].codecs? e [i].codecs: "", e [i].codecs? e [i].codecs_len: 0)
        ||  mpack_str (&pk, e [i].tracks? e [i].tracks: "", e [i].tracks? e [i].tracks_len: 0)
        ||  mpack_str (&pk, e [i].skipped? e [i].skipped: "", e [i].skipped? e [i].skipped_len: 0))
            rc = SC_ENOMEM;
    if (rc == 0 && sb.size > WIRE_MAX_ENVELOPE)
        rc = SC_ETOOBIG;
    return mpack_end (&sb, rc, out, len);
}

int
wire_shares_decode (const uint8_t *buf, size_t len, wire_share_t *e, size_t max, size_t *count)
{
    *count = 0;
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = mpack_unpack (buf, len, &zone, 0, &a, &n);
    if (rc != 0)
        return rc;
    rc = SC_EMALFORMED;
    for (uint32_t i = 0; i < n && *count < max; i++) {
        const msgpack_object *x = &a [i];
        if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size < 3)
            goto out;
        const msgpack_object *f = x->via.array.ptr;
        if (f [0].type != MSGPACK_OBJECT_STR || f [0].via.str.size > WIRE_NAME_MAX
        ||  !mpack_is_uint (&f [1]) || f [2].type != MSGPACK_OBJECT_BOOLEAN)
            goto out;
        e [*count].name = f [0].via.str.ptr;
        e [*count].name_len = f [0].via.str.size;
        e [*count].size = f [1].via.u64;
        e [*count].video = f [2].via.boolean;
        e [*count].duration_ms = 0;
        e [*count].codecs = NULL;
        e [*count].codecs_len = 0;
        if (x->via.array.size >= 5) {
            if (!mpack_is_uint (&f [3]) || !mpack_is_str (&f [4], WIRE_NAME_MAX))
                goto out;
            e [*count].duration_ms = f [3].via.u64;
            e [*count].codecs = f [4].via.str.ptr;
            e [*count].codecs_len = f [4].via.str.size;
        }
        e [*count].tracks = e [*count].skipped = NULL;
        e [*count].tracks_len = e [*count].skipped_len = 0;
        if (x->via.array.size >= 7) {
            if (!mpack_is_str (&f [5], WIRE_NAME_MAX) || !mpack_is_str (&f [6], WIRE_NAME_MAX))
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
int
wire_tentry_at (const uint8_t *entries, size_t len, size_t i, const uint8_t **record,
                char addr [WIRE_TADDR_SIZE])
{
    if (len % WIRE_TENTRY_SIZE != 0 || i >= len / WIRE_TENTRY_SIZE)
        return SC_EMALFORMED;
    const uint8_t *e = entries + i * WIRE_TENTRY_SIZE;
    const uint8_t *a = e + WIRE_TRECORD_SIZE;
    size_t n = strnlen ((const char *) a, WIRE_TADDR_SIZE);
    if (n == WIRE_TADDR_SIZE)
        return SC_EMALFORMED;
    for (size_t k = n; k < WIRE_TADDR_SIZE; k++)
        if (a [k] != 0)
            return SC_EMALFORMED;
    for (size_t k = 0; k < n; k++)
        if (a [k] < 0x21 || a [k] > 0x7e)
            return SC_EMALFORMED;
    *record = e;
    memcpy (addr, a, n + 1);
    return 0;
}

void
wire_tentry_put (uint8_t out [WIRE_TENTRY_SIZE], const uint8_t record [WIRE_TRECORD_SIZE],
                 const char *addr)
{
    memcpy (out, record, WIRE_TRECORD_SIZE);
    memset (out + WIRE_TRECORD_SIZE, 0, WIRE_TADDR_SIZE);
    size_t n = strnlen (addr, WIRE_TADDR_SIZE - 1);
    memcpy (out + WIRE_TRECORD_SIZE, addr, n);
}

int
wire_counters_encode (const wire_counter_t *counters, size_t n, uint8_t **out, size_t *len)
{
    *out = NULL;
    if (n > WIRE_COUNTERS_MAX)
        return SC_ETOOBIG;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    mpack_body_begin (&sb, &pk);
    int rc = msgpack_pack_map (&pk, n)? SC_ENOMEM: 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (mpack_str (&pk, counters [i].name, counters [i].name_len
                        ? counters [i].name_len: strlen (counters [i].name))
        ||  msgpack_pack_uint64 (&pk, counters [i].value))
            rc = SC_ENOMEM;
    return mpack_end (&sb, rc, out, len);
}

int
wire_counters_decode (const uint8_t *buf, size_t len, wire_counter_t *out, size_t max, size_t *n)
{
    *n = 0;
    int rc = wire_check (buf, len);
    if (rc != 0)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 256))
        return SC_ENOMEM;
    msgpack_object obj;
    size_t off = 0;
    rc = SC_EMALFORMED;
    if (msgpack_unpack ((const char *) buf, len, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
    ||  obj.type != MSGPACK_OBJECT_MAP)
        goto out;
    if (obj.via.map.size > max) {
        rc = SC_ETOOBIG;
        goto out;
    }
    for (uint32_t i = 0; i < obj.via.map.size; i++) {
        const msgpack_object_kv *kv = &obj.via.map.ptr [i];
        if (kv->key.type != MSGPACK_OBJECT_STR || !mpack_is_uint (&kv->val))
            goto out;
        out [i].name = kv->key.via.str.ptr;
        out [i].name_len = kv->key.via.str.size;
        out [i].value = kv->val.via.u64;
    }
    *n = obj.via.map.size;
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

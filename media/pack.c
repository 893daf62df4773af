#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/mpack.h"
#include "../crypto/base/walk.h"
#include "pack.h"

static int
s_pack_int (msgpack_packer *pk, int64_t v)
{
    return msgpack_pack_int64 (pk, v) != 0? SC_ENOMEM: 0;
}

int
pack_header_encode (const media_header_t *h, uint8_t **out, size_t *len)
{
    *out = NULL;
    if (h->nstreams < 0 || h->nstreams > MEDIA_STREAMS_MAX)
        return SC_EINVAL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    mpack_body_begin (&sb, &pk);
    int rc = 0;
    if (h->nchapters < 0 || h->nchapters > MEDIA_CHAPTERS_MAX)
        return SC_EINVAL;
    if (msgpack_pack_array (&pk, 4) || msgpack_pack_uint64 (&pk, (uint64_t) h->duration_ms)
    ||  msgpack_pack_uint64 (&pk, (uint64_t) h->start_ms) || msgpack_pack_array (&pk, (size_t) h->nstreams))
        rc = SC_ENOMEM;
    for (int i = 0; rc == 0 && i < h->nstreams; i++) {
        const media_stream_t *s = &h->streams [i];
        const int64_t ints [] = {
            s->width, s->height, s->sar_num, s->sar_den, s->field_order, s->color_range,
            s->color_primaries, s->color_trc, s->color_space, s->chroma_location,
            s->sample_rate, s->channels, (int64_t) s->channel_mask, s->frame_size,
            s->initial_padding, s->trailing_padding, s->seek_preroll, s->block_align,
            s->bits_per_coded_sample, s->profile, s->level, s->bit_rate,
        };
        if (msgpack_pack_array (&pk, 7 + sizeof ints / sizeof ints [0])
        ||  msgpack_pack_uint8 (&pk, (uint8_t) s->kind)
        ||  mpack_str (&pk, s->codec, strnlen (s->codec, sizeof s->codec - 1))
        ||  s_pack_int (&pk, s->tb_num) || s_pack_int (&pk, s->tb_den)
        ||  mpack_bin (&pk, s->extradata, s->extradata_size))
            rc = SC_ENOMEM;
        for (size_t k = 0; rc == 0 && k < sizeof ints / sizeof ints [0]; k++)
            rc = k == 12? (msgpack_pack_uint64 (&pk, s->channel_mask)? SC_ENOMEM: 0)
                        : s_pack_int (&pk, ints [k]);
        if (rc == 0 && (s_pack_int (&pk, s->video_delay)
                    ||  mpack_str (&pk, s->language, strnlen (s->language, MEDIA_LANG_MAX - 1))))
            rc = SC_ENOMEM;
    }
    if (rc == 0 && msgpack_pack_array (&pk, (size_t) h->nchapters))
        rc = SC_ENOMEM;
    for (int i = 0; rc == 0 && i < h->nchapters; i++) {
        const media_chapter_t *c = &h->chapters [i];
        if (msgpack_pack_array (&pk, 3) || s_pack_int (&pk, c->start_ms) || s_pack_int (&pk, c->end_ms)
        ||  mpack_str (&pk, c->title, strnlen (c->title, MEDIA_TITLE_MAX - 1)))
            rc = SC_ENOMEM;
    }
    if (rc == 0 && sb.size > PACK_MAX_BODY)
        rc = SC_ETOOBIG;
    return mpack_end (&sb, rc, out, len);
}

static bool s_get_ts (const msgpack_object *o, int64_t *v);

//  Copies a string that fits size with its NUL and holds no NUL.
static bool
s_copy_str (const msgpack_object *o, char *out, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size
    ||  memchr (o->via.str.ptr, 0, o->via.str.size))
        return false;
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out [o->via.str.size] = 0;
    return true;
}

//  A signed integer that fits an int.
static bool
s_get_int (const msgpack_object *o, int *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX)
        *v = (int) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN)
        *v = (int) o->via.i64;
    else
        return false;
    return true;
}

int
pack_header_decode (const uint8_t *buf, size_t len, media_header_t *h, char *err, size_t err_size)
{
    memset (h, 0, sizeof *h);
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = mpack_unpack (buf, len, &zone, 3, &a, &n);
    if (rc != 0) {
        snprintf (err, err_size, "a stream header that is not well-formed: %s", sc_strerror (rc));
        return rc;
    }
    rc = SC_EMALFORMED;
    snprintf (err, err_size, "a stream header that is not well-formed");
    if (!mpack_is_uint (&a [0]) || !mpack_is_uint (&a [1]) || a [0].via.u64 > INT64_MAX / 2
    ||  a [1].via.u64 > INT64_MAX / 2 || a [2].type != MSGPACK_OBJECT_ARRAY)
        goto out;
    h->duration_ms = (int64_t) a [0].via.u64;
    h->start_ms = (int64_t) a [1].via.u64;
    if (a [2].via.array.size > MEDIA_STREAMS_MAX) {
        snprintf (err, err_size, "a stream header with %u streams (at most %d)",
                  a [2].via.array.size, MEDIA_STREAMS_MAX);
        rc = SC_ETOOBIG;
        goto out;
    }
    h->nstreams = (int) a [2].via.array.size;
    for (int i = 0; i < h->nstreams; i++) {
        const msgpack_object *x = &a [2].via.array.ptr [i];
        if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size < 27)
            goto out;
        const msgpack_object *f = x->via.array.ptr;
        media_stream_t *s = &h->streams [i];
        if (!mpack_is_uint (&f [0]) || f [0].via.u64 > MEDIA_SUBTITLE || !mpack_is_str (&f [1], MEDIA_CODEC_MAX - 1)
        ||  !s_get_int (&f [2], &s->tb_num) || !s_get_int (&f [3], &s->tb_den)
        ||  !mpack_is_bin (&f [4], MEDIA_EXTRADATA_MAX) || !mpack_is_uint (&f [17]))
            goto out;
        s->kind = (int) f [0].via.u64;
        memcpy (s->codec, f [1].via.str.ptr, f [1].via.str.size);
        s->codec [f [1].via.str.size] = 0;
        if (strlen (s->codec) != f [1].via.str.size)
            goto out;               //  a NUL inside the name
        s->extradata = f [4].via.bin.size? (const uint8_t *) f [4].via.bin.ptr: NULL;
        s->extradata_size = f [4].via.bin.size;
        s->channel_mask = f [17].via.u64;
        int *ints [] = {
            &s->width, &s->height, &s->sar_num, &s->sar_den, &s->field_order, &s->color_range,
            &s->color_primaries, &s->color_trc, &s->color_space, &s->chroma_location,
            &s->sample_rate, &s->channels, NULL, &s->frame_size,
            &s->initial_padding, &s->trailing_padding, &s->seek_preroll, &s->block_align,
            &s->bits_per_coded_sample, &s->profile, &s->level,
        };
        for (size_t k = 0; k < sizeof ints / sizeof ints [0]; k++)
            if (ints [k] && !s_get_int (&f [5 + k], ints [k]))
                goto out;
        if (!mpack_is_uint (&f [26]) || f [26].via.u64 > INT64_MAX)
            goto out;
        s->bit_rate = (int64_t) f [26].via.u64;
        //  Later fields, absent from older owners
        if (x->via.array.size >= 29) {
            if (!s_get_int (&f [27], &s->video_delay) || !mpack_is_str (&f [28], MEDIA_LANG_MAX - 1)
            ||  !s_copy_str (&f [28], s->language, sizeof s->language))
                goto out;
        }
    }
    if (n >= 4) {
        if (a [3].type != MSGPACK_OBJECT_ARRAY)
            goto out;
        if (a [3].via.array.size > MEDIA_CHAPTERS_MAX) {
            snprintf (err, err_size, "a stream header with %u chapters (at most %d)",
                      a [3].via.array.size, MEDIA_CHAPTERS_MAX);
            rc = SC_ETOOBIG;
            goto out;
        }
        h->nchapters = (int) a [3].via.array.size;
        for (int i = 0; i < h->nchapters; i++) {
            const msgpack_object *x = &a [3].via.array.ptr [i];
            media_chapter_t *c = &h->chapters [i];
            if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size < 3
            ||  !s_get_ts (&x->via.array.ptr [0], &c->start_ms) || c->start_ms == MEDIA_NOPTS
            ||  !s_get_ts (&x->via.array.ptr [1], &c->end_ms) || c->end_ms == MEDIA_NOPTS
            ||  x->via.array.ptr [2].type != MSGPACK_OBJECT_STR
            ||  !s_copy_str (&x->via.array.ptr [2], c->title, sizeof c->title))
                goto out;
        }
    }
    if (media_header_check (h, err, err_size) != 0)
        goto out;
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

void
pack_batch_init (pack_batch_t *b)
{
    b->buf = NULL;
    b->count = 0;
}

int
pack_batch_add (pack_batch_t *b, const media_packet_t *p)
{
    if (!b->buf) {
        b->buf = msgpack_sbuffer_new ();
        if (!b->buf)
            return SC_ENOMEM;
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, b->buf, msgpack_sbuffer_write);
    if (msgpack_pack_array (&pk, p->more? 7: 6) || msgpack_pack_uint64 (&pk, (uint64_t) p->stream)
    ||  (p->pts == MEDIA_NOPTS? msgpack_pack_nil (&pk): msgpack_pack_int64 (&pk, p->pts))
    ||  (p->dts == MEDIA_NOPTS? msgpack_pack_nil (&pk): msgpack_pack_int64 (&pk, p->dts))
    ||  msgpack_pack_uint64 (&pk, (uint64_t) (p->duration > 0? p->duration: 0))
    ||  (p->key? msgpack_pack_true (&pk): msgpack_pack_false (&pk))
    ||  mpack_bin (&pk, p->data, p->size)
    ||  (p->more && msgpack_pack_true (&pk)))
        return SC_ENOMEM;
    b->count++;
    return 0;
}

size_t
pack_batch_size (const pack_batch_t *b)
{
    return b->buf? ((msgpack_sbuffer *) b->buf)->size: 0;
}

int
pack_batch_finish (pack_batch_t *b, uint8_t **out, size_t *len)
{
    *out = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    mpack_body_begin (&sb, &pk);
    int rc = msgpack_pack_array (&pk, b->count)? SC_ENOMEM: 0;
    if (rc == 0 && b->count && msgpack_sbuffer_write (&sb, ((msgpack_sbuffer *) b->buf)->data,
                                                      pack_batch_size (b)) != 0)
        rc = SC_ENOMEM;
    if (rc == 0 && sb.size > PACK_MAX_BODY)
        rc = SC_ETOOBIG;
    pack_batch_clear (b);
    return mpack_end (&sb, rc, out, len);
}

void
pack_batch_clear (pack_batch_t *b)
{
    if (b->buf)
        msgpack_sbuffer_free (b->buf);
    b->buf = NULL;
    b->count = 0;
}

static bool
s_get_ts (const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        *v = MEDIA_NOPTS;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 > MEDIA_NOPTS)
        *v = o->via.i64;
    else
        return false;
    return true;
}

int
pack_batch_decode (const uint8_t *buf, size_t len, const media_header_t *h,
                   int (*fn) (void *arg, const media_packet_t *packet), void *arg,
                   char *err, size_t err_size)
{
    msgpack_zone zone;
    const msgpack_object *a;
    uint32_t n;
    int rc = mpack_unpack (buf, len, &zone, 0, &a, &n);
    if (rc != 0) {
        snprintf (err, err_size, "a packet batch that is not well-formed: %s", sc_strerror (rc));
        return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *x = &a [i];
        rc = SC_EMALFORMED;
        snprintf (err, err_size, "a packet batch that is not well-formed");
        if (x->type != MSGPACK_OBJECT_ARRAY || x->via.array.size < 6)
            goto out;
        const msgpack_object *f = x->via.array.ptr;
        media_packet_t p;
        if (!mpack_is_uint (&f [0]) || f [0].via.u64 >= MEDIA_STREAMS_MAX || !s_get_ts (&f [1], &p.pts)
        ||  !s_get_ts (&f [2], &p.dts) || !mpack_is_uint (&f [3]) || f [3].via.u64 > INT64_MAX
        ||  f [4].type != MSGPACK_OBJECT_BOOLEAN || f [5].type != MSGPACK_OBJECT_BIN)
            goto out;
        p.stream = (int) f [0].via.u64;
        p.duration = (int64_t) f [3].via.u64;
        p.key = f [4].via.boolean;
        p.data = (const uint8_t *) f [5].via.bin.ptr;
        p.size = f [5].via.bin.size;
        p.more = false;
        if (x->via.array.size >= 7) {
            if (f [6].type != MSGPACK_OBJECT_BOOLEAN)
                goto out;
            p.more = f [6].via.boolean;
        }
        if (media_packet_check (h, &p, err, err_size) != 0)
            goto out;
        err [0] = 0;
        rc = fn? fn (arg, &p): 0;
        if (rc != 0)
            goto out;
    }
    rc = 0;
out:
    msgpack_zone_destroy (&zone);
    return rc;
}

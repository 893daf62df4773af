/*  mpack: the few msgpack-c calls every codec makes (node/wire.c,
    media/pack.c), with errors as SC_E* codes.  Unpacking always walks the
    bytes first (walk.h), so nothing is allocated for a declared length
    larger than the bytes really there.  */
#ifndef SC_MPACK_H
#define SC_MPACK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Starts a body in sb (initialised here; mpack_end frees it).
void mpack_body_begin (msgpack_sbuffer *sb, msgpack_packer *pk);
//  Packs a str or a bin.  0, or SC_ENOMEM.
int mpack_str (msgpack_packer *pk, const char *text, size_t len);
int mpack_bin (msgpack_packer *pk, const void *data, size_t size);
//  Ends sb: when rc is 0, *out (malloc'd, the caller frees) and *len take
//  its bytes.  Frees sb in every case; returns rc, or SC_ENOMEM.
int mpack_end (msgpack_sbuffer *sb, int rc, uint8_t **out, size_t *len);

//  Walks buf, then (only if sound) creates zone and unpacks: buf must hold
//  one array of at least min items (*items points at them, *count says how
//  many).  0 (the caller destroys zone), or an error (nothing to destroy).
int mpack_unpack (const uint8_t *buf, size_t len, msgpack_zone *zone, uint32_t min,
                  const msgpack_object **items, uint32_t *count);

//  Kind checks on an unpacked object; lengths at most max.
bool mpack_is_uint (const msgpack_object *o);
bool mpack_is_str (const msgpack_object *o, size_t max);
bool mpack_is_bin (const msgpack_object *o, size_t max);

#endif

/*  xfer: the rules of a file transfer that need no I/O, so that tests and
    fuzzers can call them: what an acceptable offer is, the safe name a
    received file is saved under, and the chunk bitmap.  */
#ifndef SC_XFER_H
#define SC_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

#define XFER_CHUNK (256 * 1024)             //  chunk size we send
#define XFER_CHUNK_MIN 4096
#define XFER_CHUNK_MAX (512 * 1024)         //  largest chunk we accept
#define XFER_SIZE_MAX (1ULL << 40)          //  1 TiB: larger offers are refused
#define XFER_COUNT_MAX (1ULL << 22)         //  chunks: a bitmap of at most 512 KiB fits a frame
#define XFER_NAME_MAX 200                   //  bytes of a saved name
#define XFER_WINDOW 32                      //  chunks granted ahead

//  Checks an offer's declared numbers before anything is allocated: size at
//  most XFER_SIZE_MAX, chunk size within limits, chunk count exactly what
//  size and chunk size give and at most XFER_COUNT_MAX, a name.  Returns 0,
//  SC_ETOOBIG or SC_EMALFORMED, and a sentence for the peer in why (NULL
//  when not wanted).
int xfer_check_offer (const wire_offer_t *offer, char *why, size_t why_size);

//  The length of chunk index of an offer (the last one may be shorter).
uint64_t xfer_chunk_len (uint64_t size, uint64_t chunk_size, uint64_t index);

//  Reduces a name from a peer to a safe base name for the download folder:
//  valid UTF-8, only what follows the last '/' or '\', control, bidi and
//  format characters replaced by '_', no leading '.', at most XFER_NAME_MAX
//  bytes, never empty ("file").  out must hold XFER_NAME_MAX + 1 bytes.
void xfer_safe_name (const char *name, size_t len, char *out);

//  Bitmap helpers: bytes needed for count chunks, test and set.
size_t xfer_map_size (uint64_t count);
bool xfer_map_get (const uint8_t *map, uint64_t index);
void xfer_map_set (uint8_t *map, uint64_t index);

#endif

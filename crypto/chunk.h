/*  chunk: authenticated encryption of file chunks.

    XChaCha20-Poly1305 (IETF) under the transfer's random key.  The nonce is
    the 16-byte transfer id followed by the chunk index (8 bytes, big-endian),
    so any chunk can be sealed again alone and no nonce repeats under a key.
    The additional data is index and chunk count (8 + 8 bytes), so a chunk
    cannot be moved to another place or into a transfer of another length.  */
#ifndef SC_CHUNK_H
#define SC_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define CHUNK_KEY_SIZE 32
#define CHUNK_ID_SIZE 16
#define CHUNK_TAG_SIZE 16

//  Seals len bytes into out (len + CHUNK_TAG_SIZE bytes).  Returns 0 or SC_ECRYPTO.
int chunk_seal (const uint8_t key [CHUNK_KEY_SIZE], const uint8_t id [CHUNK_ID_SIZE],
                uint64_t index, uint64_t count, const uint8_t *plain, size_t len, uint8_t *out);

//  Opens len bytes (with tag) into out (len - CHUNK_TAG_SIZE bytes).
//  Returns 0, SC_ETRUNC or SC_EBOX (tampered, wrong place or wrong key).
int chunk_open (const uint8_t key [CHUNK_KEY_SIZE], const uint8_t id [CHUNK_ID_SIZE],
                uint64_t index, uint64_t count, const uint8_t *sealed, size_t len, uint8_t *out);

#endif

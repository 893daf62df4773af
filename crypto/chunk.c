#include <sodium.h>
#include <string.h>
#include "bytes.h"
#include "chunk.h"
#include "err.h"

static void
s_nonce_ad (const uint8_t id [CHUNK_ID_SIZE], uint64_t index, uint64_t count,
            uint8_t nonce [crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], uint8_t ad [16])
{
    memcpy (nonce, id, CHUNK_ID_SIZE);
    bytes_put_be (nonce + CHUNK_ID_SIZE, index, 8);
    bytes_put_be (ad, index, 8);
    bytes_put_be (ad + 8, count, 8);
}

int
chunk_seal (const uint8_t key [CHUNK_KEY_SIZE], const uint8_t id [CHUNK_ID_SIZE],
            uint64_t index, uint64_t count, const uint8_t *plain, size_t len, uint8_t *out)
{
    uint8_t nonce [crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], ad [16];
    s_nonce_ad (id, index, count, nonce, ad);
    unsigned long long clen;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt (out, &clen, plain, len, ad, sizeof ad,
                                                    NULL, nonce, key) != 0)
        return SC_ECRYPTO;
    return 0;
}

int
chunk_open (const uint8_t key [CHUNK_KEY_SIZE], const uint8_t id [CHUNK_ID_SIZE],
            uint64_t index, uint64_t count, const uint8_t *sealed, size_t len, uint8_t *out)
{
    if (len < CHUNK_TAG_SIZE)
        return SC_ETRUNC;
    uint8_t nonce [crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], ad [16];
    s_nonce_ad (id, index, count, nonce, ad);
    unsigned long long plen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt (out, &plen, NULL, sealed, len, ad, sizeof ad,
                                                    nonce, key) != 0)
        return SC_EBOX;
    return 0;
}

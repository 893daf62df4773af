/*  history: the chat log, encrypted at rest under the node's home.

    HOME/history is a sequence of records: length (4 bytes, big-endian) ||
    nonce (24) || crypto_secretbox of one compact JSON object.  The key is
    derived from the identity's secret, so only this identity can read it.
    A damaged tail (a crash mid-write) is skipped, never fatal.  */
#ifndef SC_HISTORY_H
#define SC_HISTORY_H

#include <jansson.h>
#include <stdint.h>

typedef struct _history_t history_t;

//  Opens (creating on first append) the history at path with a 32-byte key
//  (copied).  Returns NULL when out of memory.
history_t *history_new (const char *path, const uint8_t key [32]);

//  Destroys; wipes the key; accepts NULL, nulls the pointer.
void history_destroy (history_t **self_p);

//  Appends one entry (borrowed).  Returns 0, SC_EIO or SC_ENOMEM.
int history_append (history_t *self, const json_t *entry);

//  Returns a new JSON array of the last `max` entries whose "peer" equals
//  peer_id (or all when peer_id is NULL); never NULL except out of memory.
json_t *history_read (history_t *self, const char *peer_id, size_t max);

#endif

/*  history: the chat log, encrypted at rest under the node's home.

    HOME/history is a sequence of records: length (4 bytes, big-endian) ||
    nonce (24) || crypto_secretbox of one compact JSON object.  The key is
    derived from the identity's secret, so only this identity can read it.
    A damaged tail (a crash mid-write) is skipped, never fatal.

    Bounded: when the next record would take HOME/history past file_max, it
    becomes HOME/history.1 (replacing the one before) and a new file starts,
    so the log holds at most twice file_max and the oldest half goes.
    history_read reads backwards from the end in chunks, at most read_max
    bytes in all, whatever the size of the files.  Records carry no marker:
    inside a chunk the first record is found as the first offset whose
    length fits and whose box opens (the MAC makes a false start
    impossible), and the chain of lengths is followed from there.  */
#ifndef SC_HISTORY_H
#define SC_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_FILE_MAX (64u * 1024 * 1024)    //  HOME/history, and again HOME/history.1
#define HISTORY_READ_MAX (4u * 1024 * 1024)     //  bytes one history_read looks at

typedef struct {
    size_t file_max;            //  bytes in each of the two files
    size_t read_max;            //  bytes one read looks at, from the end
} history_limits_t;

typedef struct _history_t history_t;

//  Opens (creating on first append) the history at path (and path.1) with a
//  32-byte key (copied); limits (copied) may be NULL for the defaults above.
//  Returns NULL when out of memory.
history_t *history_new (const char *path, const uint8_t key [32], const history_limits_t *limits);

//  Destroys; wipes the key; accepts NULL, nulls the pointer.
void history_destroy (history_t **self_p);

//  Appends one entry (borrowed), turning the files over first when it would
//  not fit.  Returns 0, SC_ETOOBIG, SC_EIO or SC_ENOMEM.
int history_append (history_t *self, const json_t *entry);

//  Returns a new JSON array of the last `max` entries, oldest first, whose
//  "peer" equals peer_id (or all when peer_id is NULL), among the last
//  read_max bytes of the log; never NULL except out of memory.
json_t *history_read (history_t *self, const char *peer_id, size_t max);

//  Returns how many bytes the last history_read read from disk.
size_t history_read_bytes (const history_t *self);

#endif

/*  resolve: peers named by address (--peer [FP@]tcp://HOST:PORT), found by
    asking that address for its signed record over UDP, and the answers
    this node gives to such requests.

    The node's UDP socket is on its TCP port.  A request is a few bytes; the
    answer is the node's record (RECORD_SIZE), never more than a bounded
    number a second in all and per source address, so a flood, or many
    spoofed sources, costs bounded bytes and cannot starve honest askers.
    Each target is asked once a second until it answers, and again whenever
    the node says its peer is not linked; an answer counts only from an
    address that was asked, and a target pinned to a fingerprint takes no
    other key (it is asked again only after 10 s).  Like beacon_t, this
    module only finds records: the node decides what to do with them.  */
#ifndef SC_RESOLVE_H
#define SC_RESOLVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "record.h"

#define RESOLVE_TARGETS_MAX 64          //  --peer options, at most
#define RESOLVE_ASK_MS 1000             //  re-ask an address that did not answer
#define RESOLVE_MISMATCH_MS 10000       //  ...or whose answer was the wrong key
#define RESOLVE_ANSWERS_PER_S 200       //  record answers a second, in all
#define RESOLVE_PER_SOURCE_PER_S 4      //  ...and per source address
#define RESOLVE_SOURCES 256             //  source addresses tracked (a hash table)

typedef struct _resolve_t resolve_t;

typedef struct {
    record_t rec;                       //  verified record
    char host [64];                     //  where it came from
    const char *target;                 //  the --peer text it answers (borrowed)
    bool pinned;                        //  that target was pinned to rec's key
    bool mismatch;                      //  pinned to another key: not to be used
} resolve_answer_t;

//  Opens the UDP socket on host ("*" = any) and port.  NULL and *err.
resolve_t *resolve_new (const char *host, int port, int *err);
//  Closes the socket; accepts NULL, nulls the pointer.
void resolve_destroy (resolve_t **self_p);

//  The descriptor to poll for input.
int resolve_fd (resolve_t *self);

//  Adds a target: text as the user gave it (for messages), host and port
//  to ask, fp its pinned fingerprint when pinned.  0, SC_ENOENT when the
//  host does not resolve, SC_ETOOBIG past RESOLVE_TARGETS_MAX.
int resolve_add (resolve_t *self, const char *text, const char *host, int port,
                 bool pinned, const uint8_t fp [32]);

//  Reads what came: answers requests with record (bounded), and returns
//  the next answer to one of our requests in *out.  0 with *out, SC_EAGAIN
//  when nothing more waits (after at most a bounded batch).
int resolve_recv (resolve_t *self, int64_t now, const uint8_t record [RECORD_SIZE],
                  resolve_answer_t *out);

//  Callback: is the peer with this signing key linked?  (Then its target
//  is not asked again.)
typedef bool (resolve_linked_fn) (const uint8_t sign_pk [32], void *arg);

//  Asks every target that is due: not answered yet, or answered by a peer
//  that is not linked now.
void resolve_tick (resolve_t *self, int64_t now, resolve_linked_fn *linked, void *arg);

//  True when host:port is a target pinned to a fingerprint other than fp:
//  a record for that address with another key is refused.
bool resolve_pin_conflict (resolve_t *self, const char *host, int port, const uint8_t fp [32]);

//  Datagrams dropped: answers not worth one, requests over the bounds.
uint64_t resolve_dropped (resolve_t *self);

#endif

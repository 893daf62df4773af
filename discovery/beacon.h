/*  beacon: LAN discovery by UDP broadcast of the signed peer record.

    A beacon is one record (RECORD_SIZE bytes), sent once at start, once a
    second, at once (rate limited) when a new peer shows up, and with the
    LEAVE flag on exit.  By default it goes to the broadcast address of every
    interface that has one and to 127.255.255.255 (so nodes on one machine
    find each other); beacon_opts_t narrows that.  Several nodes on one host
    share the port (SO_REUSEPORT: broadcasts reach every socket).

    A beacon is only a hint: the node connects with CURVE pinned to the key
    it names, and that handshake proves the identity.  The filter drops and
    counts what is not worth a connection: wrong size (never answered),
    malformed, our own, too old or from the future, not newer than the last
    beacon of that identity (replay), and anything past a budget of
    signature checks per second, so a flood costs bounded CPU.  No beacon is
    ever answered by unicast, nor with more bytes than it carried.  */
#ifndef SC_BEACON_H
#define SC_BEACON_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "record.h"

#define BEACON_PORT 47470
#define BEACON_TARGETS_MAX 32
#define BEACON_WINDOW_MS 30000      //  accepted |now - ts| for a beacon
#define BEACON_VERIFY_PER_S 400     //  signature checks per second, at most
#define BEACON_REPLAY_SLOTS 1024    //  identities whose last beacon time is kept

typedef struct {
    const char *bind;               //  "*" by default
    int port;                       //  BEACON_PORT by default
    const char *const *addrs;       //  broadcast targets; NULL = all interfaces + loopback
    int naddrs;
    const char *const *ifaces;      //  only these interfaces' broadcast addresses
    int nifaces;
} beacon_opts_t;

typedef struct {
    uint64_t received, wrong_size, malformed, bad_signature, own, stale, replayed, over_budget;
    uint64_t linked;                //  from a peer already linked there: no check spent
    uint64_t checked;               //  signature checks spent
} beacon_stats_t;

typedef struct _beacon_t beacon_t;

//  Opens the beacon socket and works out the targets.  Returns NULL and *err.
beacon_t *beacon_new (const beacon_opts_t *opts, const uint8_t own_sign_pk [32], int *err);

//  Closes; accepts NULL, nulls the pointer.
void beacon_destroy (beacon_t **self_p);

//  The socket to poll.
int beacon_fd (beacon_t *self);

//  Broadcasts a record to every target.  Returns 0 if it went to at least one.
int beacon_send (beacon_t *self, const uint8_t record [RECORD_SIZE]);

//  Notes the timestamp of a record of sign_pk verified elsewhere (a HELLO
//  over a link): copies of that beacon and of older ones are replays.
void beacon_note (beacon_t *self, const uint8_t sign_pk [32], int64_t ts_ms);

//  Receives one datagram.  Returns 0 with a checked record and its source
//  address, SC_EAGAIN when none waits, or another SC_E* code when the
//  datagram was dropped (and counted; SC_EPERM: over the signature budget).  now_ms is wall-clock time and
//  mono_ms the monotonic clock (for the budget).  skip, when set, is asked
//  after the cheap checks and before the signature check: it returns true
//  for beacons that would change nothing (a peer already online at that
//  address), which are then dropped without costing a check (SC_EEXIST).
typedef bool (beacon_skip_fn) (const uint8_t sign_pk [32], const struct sockaddr_in *from,
                               uint16_t port, uint8_t flags, void *arg);
int beacon_recv (beacon_t *self, int64_t now_ms, int64_t mono_ms, beacon_skip_fn *skip, void *arg,
                 record_t *rec, struct sockaddr_in *from);

//  The pure filter behind beacon_recv, for tests and fuzzing.
int beacon_filter (beacon_t *self, const uint8_t *buf, size_t len, const struct sockaddr_in *from,
                   int64_t now_ms, int64_t mono_ms, beacon_skip_fn *skip, void *arg, record_t *rec);

//  Counters since start.
beacon_stats_t beacon_stats (beacon_t *self);

//  How many targets beacons go to (for messages).
int beacon_targets (beacon_t *self);

#endif

//  libFuzzer harness: the beacon filter (every check before and after the
//  signature), with replay state carried across inputs.
#include <arpa/inet.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "../../discovery/beacon.h"

static bool
s_skip (const uint8_t pk [32], const struct sockaddr_in *from, uint16_t port, uint8_t flags, void *arg)
{
    (void) from; (void) port; (void) flags; (void) arg;
    return pk [0] == 0xff;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static beacon_t *beacon;
    static int64_t clock;
    if (!beacon) {
        static const char *addrs [] = { "127.0.0.1" };
        beacon_opts_t opts = { .bind = "127.0.0.1", .port = 0, .addrs = addrs, .naddrs = 1 };
        uint8_t own [32] = { 1 };
        int err;
        //  Port 0 is replaced by the default; bind a private one instead
        opts.port = 40000 + (int) (getpid () % 20000);
        beacon = beacon_new (&opts, own, &err);
        if (!beacon)
            abort ();
    }
    //  The first 8 bytes steer the clock, the rest is the datagram
    int64_t now = 1700000000000LL;
    if (size >= 8) {
        memcpy (&clock, data, 8);
        now += clock % 100000;
        data += 8;
        size -= 8;
    }
    struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons (5) };
    record_t rec;
    if (beacon_filter (beacon, data, size, &from, now, now, s_skip, NULL, &rec) == 0
    &&  (!record_name_ok (rec.name) || rec.port == 0))
        abort ();
    return 0;
}

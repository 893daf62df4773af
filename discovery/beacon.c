#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define LOG_MODULE "beacon"
#include "../crypto/base/bytes.h"
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "beacon.h"
#include "udp.h"

typedef struct {
    uint8_t sign_pk [32];
    int64_t ts;
    bool used;
} s_seen_t;

#define BATCH 64

struct _beacon_t {
    int fd;
    //  Datagrams read by one recvmmsg, handed out one at a time
    uint8_t batch [BATCH][RECORD_SIZE + 1];
    struct sockaddr_in batch_from [BATCH];
    unsigned batch_len [BATCH];
    int batch_count, batch_next;
    uint8_t own [32];
    struct sockaddr_in targets [BEACON_TARGETS_MAX];
    int ntargets;
    s_seen_t seen [BEACON_REPLAY_SLOTS];   //  direct-mapped by key
    int64_t budget_start;
    int budget_used;
    beacon_stats_t stats;
};

static void
s_add_target (beacon_t *self, struct in_addr addr, int port)
{
    for (int i = 0; i < self->ntargets; i++)
        if (self->targets [i].sin_addr.s_addr == addr.s_addr)
            return;
    if (self->ntargets == BEACON_TARGETS_MAX)
        return;
    struct sockaddr_in *t = &self->targets [self->ntargets++];
    memset (t, 0, sizeof *t);
    t->sin_family = AF_INET;
    t->sin_port = htons ((uint16_t) port);
    t->sin_addr = addr;
}

static bool
s_iface_wanted (const beacon_opts_t *opts, const char *name)
{
    if (opts->nifaces == 0)
        return true;
    for (int i = 0; i < opts->nifaces; i++)
        if (strcmp (opts->ifaces [i], name) == 0)
            return true;
    return false;
}

beacon_t *
beacon_new (const beacon_opts_t *opts, const uint8_t own_sign_pk [32], int *err)
{
    beacon_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    memcpy (self->own, own_sign_pk, 32);
    int port = opts->port? opts->port: BEACON_PORT;
    if (opts->naddrs > 0) {
        for (int i = 0; i < opts->naddrs; i++) {
            struct sockaddr_in a;
            if (udp_resolve (opts->addrs [i], port, &a) != 0) {
                *err = SC_EINVAL;
                free (self);
                return NULL;
            }
            s_add_target (self, a.sin_addr, port);
        }
    }
    else {
        struct ifaddrs *ifs;
        if (getifaddrs (&ifs) == 0) {
            for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask
                ||  !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_BROADCAST)
                ||  !s_iface_wanted (opts, i->ifa_name))
                    continue;
                //  An address added without "brd" has none (glibc then reports
                //  the address itself): derive it from the netmask
                struct in_addr b = { 0 };
                in_addr_t addr = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr;
                if (i->ifa_broadaddr)
                    b = ((struct sockaddr_in *) i->ifa_broadaddr)->sin_addr;
                if (b.s_addr == 0 || b.s_addr == addr)
                    b.s_addr = addr | ~((struct sockaddr_in *) i->ifa_netmask)->sin_addr.s_addr;
                s_add_target (self, b, port);
            }
            freeifaddrs (ifs);
        }
        if (opts->nifaces == 0 || s_iface_wanted (opts, "lo")) {
            struct in_addr lo;
            inet_pton (AF_INET, "127.255.255.255", &lo);
            s_add_target (self, lo, port);
        }
    }
    if (self->ntargets == 0) {
        *err = SC_ENOENT;
        free (self);
        return NULL;
    }
    for (int i = 0; i < self->ntargets; i++) {
        char text [32];
        udp_ntoa (&self->targets [i], text, sizeof text);
        log_info ("beacons go to %s:%d", text, port);
    }
    self->fd = udp_open (opts->bind? opts->bind: "*", port, true);
    if (self->fd < 0) {
        *err = self->fd;
        free (self);
        return NULL;
    }
    *err = 0;
    return self;
}

void
beacon_destroy (beacon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    close ((*self_p)->fd);
    free (*self_p);
    *self_p = NULL;
}

int beacon_fd (beacon_t *self) { return self->fd; }
int beacon_targets (beacon_t *self) { return self->ntargets; }
beacon_stats_t beacon_stats (beacon_t *self) { return self->stats; }

int
beacon_send (beacon_t *self, const uint8_t record [RECORD_SIZE])
{
    int sent = 0;
    for (int i = 0; i < self->ntargets; i++)
        if (udp_send (self->fd, &self->targets [i], record, RECORD_SIZE) == 0)
            sent++;
    return sent? 0: SC_ENET;
}

//  The slot for a key: one lookup per datagram, whatever a flood sends.  A
//  collision forgets the older identity's time, which only re-admits a
//  replay to the node's own check (a record older than the one it holds is
//  ignored there); inserting needs a valid signature, within the budget.
static s_seen_t *
s_slot (beacon_t *self, const uint8_t sign_pk [32])
{
    uint32_t h = (uint32_t) sign_pk [0] | (uint32_t) sign_pk [1] << 8 | (uint32_t) sign_pk [2] << 16;
    return &self->seen [h % BEACON_REPLAY_SLOTS];
}

static s_seen_t *
s_seen (beacon_t *self, const uint8_t sign_pk [32])
{
    s_seen_t *slot = s_slot (self, sign_pk);
    return slot->used && memcmp (slot->sign_pk, sign_pk, 32) == 0? slot: NULL;
}

int
beacon_filter (beacon_t *self, const uint8_t *buf, size_t len, const struct sockaddr_in *from,
               int64_t now_ms, int64_t mono_ms, beacon_skip_fn *skip, void *arg, record_t *rec)
{
    self->stats.received++;
    if (len != RECORD_SIZE) {
        self->stats.wrong_size++;
        return len < RECORD_SIZE? SC_ETRUNC: SC_ETOOBIG;
    }
    //  Cheap checks first: layout, ours, time, replay
    if (memcmp (buf, "SCPR", 4) != 0 || buf [4] != 1) {
        self->stats.malformed++;
        return SC_EMALFORMED;
    }
    const uint8_t *sign_pk = buf + 8;
    if (memcmp (sign_pk, self->own, 32) == 0) {
        self->stats.own++;
        return SC_EEXIST;
    }
    int64_t ts = (int64_t) bytes_get_be (buf + 72, 8);
    if (ts < now_ms - BEACON_WINDOW_MS || ts > now_ms + BEACON_WINDOW_MS) {
        self->stats.stale++;
        return SC_ESTALE;
    }
    s_seen_t *seen = s_seen (self, sign_pk);
    if (seen && ts <= seen->ts) {
        self->stats.replayed++;
        return SC_EREPLAY;
    }
    uint16_t port = (uint16_t) bytes_get_be (buf + 6, 2);
    if (skip && skip (sign_pk, from, port, buf [5], arg)) {
        self->stats.linked++;
        return SC_EEXIST;
    }
    //  Only now spend a signature check, within the budget
    if (mono_ms - self->budget_start >= 1000) {
        self->budget_start = mono_ms;
        self->budget_used = 0;
    }
    if (self->budget_used >= BEACON_VERIFY_PER_S) {
        self->stats.over_budget++;
        return SC_EPERM;
    }
    self->budget_used++;
    self->stats.checked++;
    int rc = record_decode (buf, len, rec);
    if (rc != 0) {
        if (rc == SC_ESIG)
            self->stats.bad_signature++;
        else
            self->stats.malformed++;
        return rc;
    }
    //  Remember the newest time per identity, so a replay is refused
    if (!seen) {
        seen = s_slot (self, sign_pk);
        seen->used = true;
        memcpy (seen->sign_pk, sign_pk, 32);
    }
    seen->ts = ts;
    return 0;
}

void
beacon_note (beacon_t *self, const uint8_t sign_pk [32], int64_t ts_ms)
{
    s_seen_t *seen = s_seen (self, sign_pk);
    if (!seen) {
        seen = s_slot (self, sign_pk);
        seen->used = true;
        memcpy (seen->sign_pk, sign_pk, 32);
        seen->ts = ts_ms;
    }
    else if (ts_ms > seen->ts)
        seen->ts = ts_ms;
}

int
beacon_recv (beacon_t *self, int64_t now_ms, int64_t mono_ms, beacon_skip_fn *skip, void *arg,
             record_t *rec, struct sockaddr_in *from)
{
    if (self->batch_next == self->batch_count) {
        //  One system call for up to BATCH datagrams: a flood costs less
        struct mmsghdr msgs [BATCH];
        struct iovec iov [BATCH];
        memset (msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
            iov [i].iov_base = self->batch [i];
            iov [i].iov_len = sizeof self->batch [i];
            msgs [i].msg_hdr.msg_iov = &iov [i];
            msgs [i].msg_hdr.msg_iovlen = 1;
            msgs [i].msg_hdr.msg_name = &self->batch_from [i];
            msgs [i].msg_hdr.msg_namelen = sizeof self->batch_from [i];
        }
        int n = recvmmsg (self->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return SC_EAGAIN;
        for (int i = 0; i < n; i++)
            //  A datagram cut to the buffer is over-long: make it count as such
            self->batch_len [i] = (msgs [i].msg_hdr.msg_flags & MSG_TRUNC)
                                  ? RECORD_SIZE + 1: msgs [i].msg_len;
        self->batch_count = n;
        self->batch_next = 0;
    }
    int i = self->batch_next++;
    *from = self->batch_from [i];
    return beacon_filter (self, self->batch [i], self->batch_len [i], from, now_ms, mono_ms,
                          skip, arg, rec);
}

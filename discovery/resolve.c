/*  resolve: --peer targets asked for their record over UDP, and the
    answers this node gives.  See resolve.h.  */
#define LOG_MODULE "resolve"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "../crypto/identity.h"
#include "../crypto/base/log.h"
#include "resolve.h"
#include "udp.h"

typedef struct {
    char text [160];            //  as given, for messages
    struct sockaddr_in addr;
    bool pinned;
    uint8_t fp [32];
    uint8_t sign_pk [32];       //  who answered, once resolved
    bool resolved;
    int64_t next_ms;
} s_target_t;

struct _resolve_t {
    int fd;
    s_target_t targets [RESOLVE_TARGETS_MAX];
    int ntargets;
    int64_t window_start;       //  answers given in this second, in all
    int answers;
    struct {                    //  ...and per source (a hash table)
        uint32_t ip;
        int64_t start;
        int count;
    } sources [RESOLVE_SOURCES];
    uint64_t dropped;
};

resolve_t *
resolve_new (const char *host, int port, int *err)
{
    resolve_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    self->fd = udp_open (host, port, false);
    if (self->fd < 0) {
        *err = self->fd;
        free (self);
        return NULL;
    }
    return self;
}

void
resolve_destroy (resolve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    close ((*self_p)->fd);
    free (*self_p);
    *self_p = NULL;
}

int resolve_fd (resolve_t *self) { return self->fd; }
uint64_t resolve_dropped (resolve_t *self) { return self->dropped; }

int
resolve_add (resolve_t *self, const char *text, const char *host, int port,
             bool pinned, const uint8_t fp [32])
{
    if (self->ntargets == RESOLVE_TARGETS_MAX)
        return SC_ETOOBIG;
    s_target_t *t = &self->targets [self->ntargets];
    memset (t, 0, sizeof *t);
    if (udp_resolve (host, port, &t->addr) != 0)
        return SC_ENOENT;
    snprintf (t->text, sizeof t->text, "%s", text);
    t->pinned = pinned;
    if (pinned)
        memcpy (t->fp, fp, 32);
    self->ntargets++;
    return 0;
}

//  The target at from, or NULL: an answer counts only from an address asked.
static s_target_t *
s_target_at (resolve_t *self, const struct sockaddr_in *from)
{
    for (int i = 0; i < self->ntargets; i++)
        if (self->targets [i].addr.sin_addr.s_addr == from->sin_addr.s_addr
        &&  self->targets [i].addr.sin_port == from->sin_port)
            return &self->targets [i];
    return NULL;
}

//  Answers a request with fewer bytes than came in, within the bounds.
static void
s_answer (resolve_t *self, int64_t now, const struct sockaddr_in *from,
          const uint8_t record [RECORD_SIZE])
{
    if (now - self->window_start >= 1000) {
        self->window_start = now;
        self->answers = 0;
    }
    uint32_t ip = from->sin_addr.s_addr;
    uint32_t h = (ip * 2654435761u) >> 24;
    if (self->sources [h].ip != ip || now - self->sources [h].start >= 1000) {
        self->sources [h].ip = ip;
        self->sources [h].start = now;
        self->sources [h].count = 0;
    }
    if (self->sources [h].count++ < RESOLVE_PER_SOURCE_PER_S
    &&  self->answers++ < RESOLVE_ANSWERS_PER_S)
        udp_send (self->fd, from, record, RECORD_SIZE);
    else
        self->dropped++;
}

int
resolve_recv (resolve_t *self, int64_t now, const uint8_t record [RECORD_SIZE],
              resolve_answer_t *out)
{
    for (int burst = 0; burst < 64; burst++) {
        uint8_t buf [512];
        struct sockaddr_in from;
        int n = udp_recv (self->fd, buf, sizeof buf, &from);
        if (n < 0)
            return SC_EAGAIN;
        if (record_is_request (buf, (size_t) n)) {
            s_answer (self, now, &from, record);
            continue;
        }
        s_target_t *t = s_target_at (self, &from);
        if (!t || record_decode (buf, (size_t) n, &out->rec) != 0) {
            self->dropped++;
            continue;
        }
        udp_ntoa (&from, out->host, sizeof out->host);
        out->target = t->text;
        out->pinned = t->pinned;
        out->mismatch = false;
        if (t->pinned) {
            uint8_t fp [32];
            identity_fingerprint (out->rec.sign_pk, fp);
            out->mismatch = sodium_memcmp (fp, t->fp, 32) != 0;
        }
        if (out->mismatch)
            t->next_ms = now + RESOLVE_MISMATCH_MS;
        else {
            memcpy (t->sign_pk, out->rec.sign_pk, 32);
            t->resolved = true;
        }
        return 0;
    }
    return SC_EAGAIN;
}

void
resolve_tick (resolve_t *self, int64_t now, resolve_linked_fn *linked, void *arg)
{
    for (int i = 0; i < self->ntargets; i++) {
        s_target_t *t = &self->targets [i];
        if ((t->resolved && linked (t->sign_pk, arg)) || now < t->next_ms)
            continue;
        uint8_t req [RECORD_REQ_SIZE];
        record_request (req);
        udp_send (self->fd, &t->addr, req, sizeof req);
        t->next_ms = now + RESOLVE_ASK_MS;
    }
}

bool
resolve_pin_conflict (resolve_t *self, const char *host, int port, const uint8_t fp [32])
{
    struct sockaddr_in where;
    if (udp_resolve (host, port, &where) != 0)
        return false;
    for (int i = 0; i < self->ntargets; i++) {
        s_target_t *t = &self->targets [i];
        if (t->pinned && t->addr.sin_addr.s_addr == where.sin_addr.s_addr
        &&  t->addr.sin_port == where.sin_port && sodium_memcmp (fp, t->fp, 32) != 0)
            return true;
    }
    return false;
}

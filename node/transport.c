#define LOG_MODULE "transport"
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "transport.h"
#include "wire.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "securechat"
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TIMEOUT_MS 3000
#define RECONNECT_IVL_MS 100
#define RECONNECT_IVL_MAX_MS 2000
#define HANDSHAKE_IVL_MS 5000
#define ROUTER_RCVHWM 10000
#define ROUTER_BACKLOG 1024
#define LINK_HWM 256            //  frames queued one way on one link: with 256 KiB
                                //  chunks at most 64 MiB, whatever a peer grants

//  Set by every call here that may change what a ZeroMQ socket has to say
//  (send, receive, connect, close, monitor), cleared by transport_poll when
//  it has asked every socket.  One per process, as ZeroMQ's sockets are
//  reachable from any transport: set too often only costs a little.
static bool s_used = true;

struct _transport_t {
    unsigned watches;           //  for unique inproc names
    void *ctx;
    void *router;
    void *zap;
    int port;
    const identity_t *id;
};

static int
s_setint (void *sock, int option, int value)
{
    return zmq_setsockopt (sock, option, &value, sizeof value);
}

//  Options shared by both ends of a link.
static int
s_link_options (void *sock)
{
    int64_t maxmsg = WIRE_MAX_FRAME;
    if (zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg)
    ||  s_setint (sock, ZMQ_LINGER, 0)
    ||  s_setint (sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    ||  s_setint (sock, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    ||  s_setint (sock, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TIMEOUT_MS)
    ||  s_setint (sock, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS))
        return SC_ENET;
    return 0;
}

transport_t *
transport_new (const identity_t *id, const char *host, int port, int *err)
{
    *err = SC_ENET;
    transport_t *self = calloc (1, sizeof *self);
    if (!self) {
        *err = SC_ENOMEM;
        return NULL;
    }
    self->id = id;
    self->ctx = zmq_ctx_new ();
    if (!self->ctx)
        goto fail;
    //  The ZAP handler must be bound before any CURVE server accepts
    self->zap = zmq_socket (self->ctx, ZMQ_REP);
    if (!self->zap || s_setint (self->zap, ZMQ_LINGER, 0)
    ||  zmq_bind (self->zap, ZAP_ENDPOINT) != 0)
        goto fail;
    self->router = zmq_socket (self->ctx, ZMQ_ROUTER);
    if (!self->router
    ||  s_link_options (self->router)
    ||  s_setint (self->router, ZMQ_CURVE_SERVER, 1)
    ||  zmq_setsockopt (self->router, ZMQ_CURVE_SECRETKEY, identity_box_sk (id), 32)
    ||  zmq_setsockopt (self->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen (ZAP_DOMAIN))
    ||  s_setint (self->router, ZMQ_RCVHWM, ROUTER_RCVHWM)
    //  A flood of connections from throwaway keys must not fill the
    //  accept queue a real newcomer needs (ZeroMQ's default is 100)
    ||  s_setint (self->router, ZMQ_BACKLOG, ROUTER_BACKLOG)
    ||  s_setint (self->router, ZMQ_SNDHWM, LINK_HWM)
    //  A reply to a link that is gone, or full, fails instead of vanishing
    ||  s_setint (self->router, ZMQ_ROUTER_MANDATORY, 1))
        goto fail;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", host, port);
    if (zmq_bind (self->router, endpoint) != 0) {
        log_error ("cannot listen on %s: %s", endpoint, zmq_strerror (errno));
        *err = errno == EADDRINUSE? SC_EEXIST: SC_ENET;
        goto fail;
    }
    char last [256];
    size_t size = sizeof last;
    if (zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, last, &size) != 0)
        goto fail;
    const char *colon = strrchr (last, ':');
    self->port = colon? atoi (colon + 1): 0;
    if (self->port <= 0)
        goto fail;
    *err = 0;
    return self;
fail:
    transport_destroy (&self);
    return NULL;
}

void
transport_destroy (transport_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    transport_t *self = *self_p;
    if (self->router)
        zmq_close (self->router);
    if (self->zap)
        zmq_close (self->zap);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}

int transport_port (transport_t *self) { return self->port; }
void *transport_router (transport_t *self) { return self->router; }
void *transport_zap (transport_t *self) { return self->zap; }

//  Reads all parts of a message into parts (up to max); returns the count,
//  or -1 when nothing waits.  Parts beyond max are read and dropped.
static int
s_recv_parts (void *sock, zmq_msg_t *parts, int max)
{
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, sock, count == 0? ZMQ_DONTWAIT: 0) < 0) {
            zmq_msg_close (&part);
            return count? count: -1;
        }
        more = zmq_msg_more (&part);
        if (count < max)
            parts [count] = part;
        else
            zmq_msg_close (&part);
        count++;
    }
    return count;
}

static void
s_close_parts (zmq_msg_t *parts, int count, int max)
{
    for (int i = 0; i < count && i < max; i++)
        zmq_msg_close (&parts [i]);
}

int
transport_zap_handle (transport_t *self)
{
    s_used = true;
    enum { MAX = 8 };
    zmq_msg_t req [MAX];
    int n = s_recv_parts (self->zap, req, MAX);
    if (n < 0)
        return SC_EAGAIN;
    //  version, request id, domain, address, identity, mechanism, key
    const char *status = "400";
    char user [65] = "";
    if (n == 7
    &&  zmq_msg_size (&req [0]) == 3 && memcmp (zmq_msg_data (&req [0]), "1.0", 3) == 0
    &&  zmq_msg_size (&req [5]) == 5 && memcmp (zmq_msg_data (&req [5]), "CURVE", 5) == 0
    &&  zmq_msg_size (&req [6]) == 32) {
        sodium_bin2hex (user, sizeof user, zmq_msg_data (&req [6]), 32);
        status = "200";
    }
    const char *reqid = n >= 2? zmq_msg_data (&req [1]): "";
    size_t reqid_len = n >= 2? zmq_msg_size (&req [1]): 0;
    zmq_send (self->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send (self->zap, reqid, reqid_len, ZMQ_SNDMORE);
    zmq_send (self->zap, status, 3, ZMQ_SNDMORE);
    zmq_send (self->zap, status [0] == '2'? "OK": "denied", status [0] == '2'? 2: 6, ZMQ_SNDMORE);
    zmq_send (self->zap, user, strlen (user), ZMQ_SNDMORE);
    zmq_send (self->zap, "", 0, 0);
    s_close_parts (req, n, MAX);
    return 0;
}

int
transport_recv (transport_t *self, transport_rx_t *rx)
{
    s_used = true;
    enum { MAX = 2 };
    zmq_msg_t parts [MAX];
    int n = s_recv_parts (self->router, parts, MAX);
    if (n < 0)
        return SC_EAGAIN;
    int rc = SC_EMALFORMED;
    if (n != 2)
        goto drop;
    const char *user = zmq_msg_gets (&parts [1], "User-Id");
    const char *addr = zmq_msg_gets (&parts [1], "Peer-Address");
    if (!user || strlen (user) != 64
    ||  sodium_hex2bin (rx->key, 32, user, 64, NULL, NULL, NULL) != 0)
        goto drop;
    snprintf (rx->addr, sizeof rx->addr, "%s", addr? addr: "");
    //  The connection it came on, to know which link a closed one was
    rx->fd = zmq_msg_get (&parts [1], ZMQ_SRCFD);
    rx->rid_len = zmq_msg_size (&parts [0]);
    if (rx->rid_len == 0 || rx->rid_len > sizeof rx->rid)
        goto drop;
    memcpy (rx->rid, zmq_msg_data (&parts [0]), rx->rid_len);
    zmq_msg_close (&parts [0]);
    rx->msg = parts [1];        //  transferred
    return 0;
drop:
    s_close_parts (parts, n, MAX);
    return rc;
}

int
transport_recv_dealer (void *dealer, transport_rx_t *rx)
{
    s_used = true;
    zmq_msg_t parts [1];
    int n = s_recv_parts (dealer, parts, 1);
    if (n < 0)
        return SC_EAGAIN;
    if (n != 1) {
        s_close_parts (parts, n, 1);
        return SC_EMALFORMED;
    }
    rx->rid_len = 0;
    rx->fd = -1;
    rx->msg = parts [0];        //  transferred
    return 0;
}

void *
transport_watch (transport_t *self, void *sock)
{
    s_used = true;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://securechat-watch-%u", self->watches++);
    if (zmq_socket_monitor (sock, endpoint, ZMQ_EVENT_DISCONNECTED) != 0)
        return NULL;
    void *watch = zmq_socket (self->ctx, ZMQ_PAIR);
    if (!watch || s_setint (watch, ZMQ_LINGER, 0) || zmq_connect (watch, endpoint) != 0) {
        if (watch)
            zmq_close (watch);
        zmq_socket_monitor (sock, NULL, 0);
        return NULL;
    }
    return watch;
}

int
transport_watch_read (void *watch, bool *closed, int *fd)
{
    s_used = true;
    //  An event is two parts: [event: u16, value: u32] and the endpoint
    enum { MAX = 2 };
    zmq_msg_t parts [MAX];
    int n = s_recv_parts (watch, parts, MAX);
    if (n < 0)
        return SC_EAGAIN;
    *closed = false;
    if (n >= 1 && zmq_msg_size (&parts [0]) == 6) {
        const uint8_t *d = zmq_msg_data (&parts [0]);
        uint16_t event;
        uint32_t value;
        memcpy (&event, d, 2);
        memcpy (&value, d + 2, 4);
        *closed = event == ZMQ_EVENT_DISCONNECTED;
        *fd = (int) value;
    }
    s_close_parts (parts, n, MAX);
    return 0;
}

void
transport_unwatch (void *sock, void **watch_p)
{
    s_used = true;
    if (!watch_p || !*watch_p)
        return;
    if (sock)
        zmq_socket_monitor (sock, NULL, 0);
    zmq_close (*watch_p);
    *watch_p = NULL;
}

void *
transport_connect (transport_t *self, const uint8_t server_key [32], const char *endpoint)
{
    s_used = true;
    void *dealer = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!dealer)
        return NULL;
    if (s_link_options (dealer)
    ||  zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, server_key, 32)
    ||  zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, identity_box_pk (self->id), 32)
    ||  zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, identity_box_sk (self->id), 32)
    ||  s_setint (dealer, ZMQ_SNDHWM, LINK_HWM)
    ||  s_setint (dealer, ZMQ_RCVHWM, LINK_HWM)
    ||  s_setint (dealer, ZMQ_RECONNECT_IVL, RECONNECT_IVL_MS)
    ||  s_setint (dealer, ZMQ_RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    ||  zmq_connect (dealer, endpoint) != 0) {
        log_warn ("cannot connect to %s: %s", endpoint, zmq_strerror (errno));
        zmq_close (dealer);
        return NULL;
    }
    return dealer;
}

void
transport_disconnect (void **dealer_p)
{
    s_used = true;
    if (dealer_p && *dealer_p) {
        zmq_close (*dealer_p);
        *dealer_p = NULL;
    }
}

static void
s_free (void *data, void *hint)
{
    free (data);
}

int
transport_send_owned (void *dealer, uint8_t **data_p, size_t len)
{
    s_used = true;
    zmq_msg_t msg;
    if (zmq_msg_init_data (&msg, *data_p, len, s_free, NULL) != 0) {
        free (*data_p);
        *data_p = NULL;
        return SC_ENOMEM;
    }
    *data_p = NULL;             //  transferred: ZeroMQ frees it once sent
    if (zmq_msg_send (&msg, dealer, ZMQ_DONTWAIT) >= 0)
        return 0;
    int rc = errno == EAGAIN? SC_EAGAIN: SC_ENET;
    zmq_msg_close (&msg);
    return rc;
}

int
transport_reply_owned (transport_t *self, const uint8_t *rid, size_t rid_len,
                       uint8_t **data_p, size_t len)
{
    s_used = true;
    //  With ROUTER_MANDATORY the routing id part fails when the link is
    //  gone (EHOSTUNREACH) or full (EAGAIN); then nothing was queued
    if (zmq_send (self->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        free (*data_p);
        *data_p = NULL;
        return errno == EAGAIN? SC_EAGAIN: SC_ENET;
    }
    return transport_send_owned (self->router, data_p, len);
}

int
transport_send (void *dealer, const void *data, size_t len)
{
    s_used = true;
    if (zmq_send (dealer, data, len, ZMQ_DONTWAIT) >= 0)
        return 0;
    return errno == EAGAIN? SC_EAGAIN: SC_ENET;
}

int
transport_poll (zmq_pollitem_t *items, int count, long timeout_ms)
{
    enum { STACK = 128 };
    struct pollfd stack [STACK], *fds = stack;
    if (count > STACK && !(fds = malloc (count * sizeof *fds))) {
        errno = ENOMEM;
        return -1;
    }
    bool ask = s_used;
    s_used = false;
    int ready = 0;
    for (int i = 0; i < count; i++) {
        zmq_pollitem_t *it = &items [i];
        it->revents = 0;
        fds [i] = (struct pollfd) { .fd = it->fd, .events = 0 };
        if (!it->socket) {
            fds [i].events = (it->events & ZMQ_POLLIN? POLLIN: 0)
                           | (it->events & ZMQ_POLLOUT? POLLOUT: 0);
            continue;
        }
        size_t size = sizeof fds [i].fd;
        if (zmq_getsockopt (it->socket, ZMQ_FD, &fds [i].fd, &size) != 0)
            goto fail;
        fds [i].events = POLLIN;
        if (ask) {
            int events;
            size = sizeof events;
            if (zmq_getsockopt (it->socket, ZMQ_EVENTS, &events, &size) != 0)
                goto fail;
            it->revents = (short) (events & it->events);
            ready += it->revents != 0;
        }
    }
    int rc = poll (fds, count, ready? 0: (int) timeout_ms);
    if (rc < 0)
        goto fail;
    for (int i = 0; rc > 0 && i < count; i++) {
        zmq_pollitem_t *it = &items [i];
        if (!fds [i].revents)
            continue;
        if (it->socket) {
            //  The signal says only that something changed
            int events;
            size_t size = sizeof events;
            if (zmq_getsockopt (it->socket, ZMQ_EVENTS, &events, &size) != 0)
                goto fail;
            bool was = it->revents != 0;
            it->revents |= (short) (events & it->events);
            ready += !was && it->revents;
        }
        else {
            bool was = it->revents != 0;
            it->revents |= (fds [i].revents & POLLIN? ZMQ_POLLIN: 0)
                         | (fds [i].revents & POLLOUT? ZMQ_POLLOUT: 0)
                         | (fds [i].revents & ~(POLLIN | POLLOUT)? ZMQ_POLLERR: 0);
            ready += !was && it->revents;
        }
    }
    //  A socket found ready may be left unread (a bounded batch, a link
    //  closed meanwhile): its descriptor will not fire again for it
    for (int i = 0; i < count; i++)
        if (items [i].socket && items [i].revents)
            s_used = true;
    if (fds != stack)
        free (fds);
    return ready;
fail:
    s_used = true;
    if (fds != stack) {
        int saved = errno;
        free (fds);
        errno = saved;
    }
    return -1;
}

/*  transport_poll against zmq_poll's contract, on an inproc pair: a
    message that arrives while nobody used a socket wakes the poll, and a
    socket found ready but left unread is reported again.  */
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "../../node/transport.h"
#include "unit.h"

static void *s_ctx, *s_a, *s_b;

static bool
s_pair (void)
{
    s_ctx = zmq_ctx_new ();
    s_a = zmq_socket (s_ctx, ZMQ_PAIR);
    s_b = zmq_socket (s_ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt (s_a, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (s_b, ZMQ_LINGER, &linger, sizeof linger);
    return s_ctx && s_a && s_b && zmq_bind (s_a, "inproc://poll-test") == 0
        && zmq_connect (s_b, "inproc://poll-test") == 0;
}

static void
s_unpair (void)
{
    zmq_close (s_a);
    zmq_close (s_b);
    zmq_ctx_term (s_ctx);
}

//  Polls s_a for input with the given timeout; its revents.
static int
s_poll_a (long timeout)
{
    zmq_pollitem_t item = { s_a, 0, ZMQ_POLLIN, 0 };
    int rc = transport_poll (&item, 1, timeout);
    return rc < 0? -1: item.revents;
}

static void
test_poll_wakes_on_arrival (void)
{
    CHECK (s_pair ());
    //  Nothing waits: the poll times out, and has asked every socket
    CHECK (s_poll_a (0) == 0);
    CHECK (s_poll_a (10) == 0);
    //  A message sent behind transport's back (as a peer's frame arrives
    //  from ZeroMQ's I/O thread): only its descriptor can tell
    CHECK (zmq_send (s_b, "x", 1, 0) == 1);
    CHECK (s_poll_a (5000) == ZMQ_POLLIN);
    s_unpair ();
}

static void
test_poll_reports_unread_again (void)
{
    CHECK (s_pair ());
    CHECK (s_poll_a (0) == 0);
    CHECK (zmq_send (s_b, "x", 1, 0) == 1);
    CHECK (zmq_send (s_b, "y", 1, 0) == 1);
    CHECK (s_poll_a (5000) == ZMQ_POLLIN);
    //  Not read (a bounded batch, a link closed meanwhile): its descriptor
    //  will not fire again, yet it is still ready
    CHECK (s_poll_a (0) == ZMQ_POLLIN);
    char c;
    CHECK (zmq_recv (s_a, &c, 1, ZMQ_DONTWAIT) == 1);
    CHECK (s_poll_a (0) == ZMQ_POLLIN);
    CHECK (zmq_recv (s_a, &c, 1, ZMQ_DONTWAIT) == 1 && c == 'y');
    CHECK (s_poll_a (0) == 0);
    s_unpair ();
}

static void
test_poll_plain_descriptors (void)
{
    int fds [2];
    CHECK (pipe (fds) == 0);
    zmq_pollitem_t items [2] = { { NULL, fds [0], ZMQ_POLLIN, 0 }, { NULL, -1, ZMQ_POLLIN, 0 } };
    CHECK (transport_poll (items, 2, 0) == 0);
    CHECK (write (fds [1], "z", 1) == 1);
    CHECK (transport_poll (items, 2, 5000) == 1);
    CHECK (items [0].revents == ZMQ_POLLIN && items [1].revents == 0);
    close (fds [1]);
    close (fds [0]);
}

void
transport_tests (void)
{
    unit_run ("transport: a poll wakes when a frame arrives on an unused socket", test_poll_wakes_on_arrival);
    unit_run ("transport: a socket found ready and left unread is ready at the next poll",
              test_poll_reports_unread_again);
    unit_run ("transport: plain descriptors poll as with zmq_poll", test_poll_plain_descriptors);
}

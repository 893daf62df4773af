/*  bench_tracker: securechat-tracker (issue #16).  Each figure beside a
    baseline measured in the same run:
      - two nodes on two subnets joined by a router find each other through
        a tracker and link (start to peer_joined at both, median of 5),
        beside two nodes on one bridge finding each other by beacons, the
        runs alternated.  Network namespaces made here and removed at the
        end (also on failure or a signal); as another user the row says
        "skipped: needs root".
      - registrations and lookups a second with the tracker (its loop and
        ZeroMQ's thread) pinned to one core and 8 links driven from the
        other, beside a bare CURVE ROUTER (the node's own transport) pinned
        the same way that echoes each frame, driven alike: the cost floor
        of the same number of CURVE round trips.  A registration also
        checks the record's signature (its CPU time taken here).  Both are
        counted per second of the server's CPU, since one driving core
        (CURVE at its end too) may not fill the server's; the rate as
        measured and the server's share of its core are shown beside.
      - memory per record: the tracker's RSS before and after 1,000 nodes
        registered, each from an address of its own (127.0.x.y) and still
        linked as nodes stay, beside the same 1,000 links to the bare
        ROUTER plus what the registry says it holds per record.
      - mail put to delivered: a sealed put at the tracker (sc-tracker-client
        with the sender's identity) until the recipient node, registered
        and online but not linked to the sender, shows the message (the
        tracker's MAILNOTE makes it fetch), median of 9; beside /msg to
        the same recipient from the same sender over a direct link.
    Everything else is on loopback.  BENCH_TRACKER_ONLY=1234 (any of the
    digits) runs only those rows; BENCH_VERBOSE=1 says more on stderr.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../discovery/record.h"
#include "../../discovery/udp.h"
#include "../../node/transport.h"
#include "../../node/wire.h"
#include "proc.h"

static const char *s_node, *s_tmp;
static char s_tracker [1024], s_client [1024];
static long s_cores;

//  ---------------------------------------------------------------------
//  Helpers

//  Every process started here until it is stopped, so that none outlives
//  the benchmark (a tracker does not end with its input)
enum { LIVE_MAX = 16 };
static proc_t *s_live [LIVE_MAX];

static void
s_keep (proc_t *p)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (!s_live [i]) {
            s_live [i] = p;
            return;
        }
}

//  Stops p (SIGTERM: a tracker does not end with its input) if it runs.
static void
s_stop (proc_t *p)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (s_live [i] == p)
            s_live [i] = NULL;
    if (p && p->pid > 0) {
        kill (p->pid, SIGTERM);
        proc_stop (p);
        p->pid = 0;
    }
}

static void
s_pin (int cpu)
{
    cpu_set_t set;
    CPU_ZERO (&set);
    if (cpu >= 0)
        CPU_SET (cpu, &set);
    else
        for (int i = 0; i < s_cores && i < CPU_SETSIZE; i++)
            CPU_SET (i, &set);
    if (sched_setaffinity (0, sizeof set, &set) != 0)
        perror ("sched_setaffinity");
}

//  Starts a tracker (--json, home under s_tmp) with extra args; waits for
//  ready; its FP@tcp://HOST:PORT into address.  0 or -1.
static int
s_tracker_start (proc_t *p, const char *home, const char *bind, const char *const *extra,
                 char *address, size_t size)
{
    const char *args [24] = { "--home", home, "--bind", bind, "--port", "0" };
    int n = 6;
    for (int i = 0; extra && extra [i] && n < 23; i++)
        args [n++] = extra [i];
    args [n] = NULL;
    if (proc_spawn (p, s_tracker, args) != 0)
        return -1;
    s_keep (p);
    if (proc_until (p, "\"event\":\"ready\"", 10000) != 0)
        return -1;
    char *a = strstr (p->line, "\"address\":\"");
    char *port = strstr (p->line, "\"port\":");
    if (!a || !port)
        return -1;
    a += 11;
    size_t len = strcspn (a, "\"");
    if (len >= size)
        return -1;
    memcpy (address, a, len);
    address [len] = 0;
    p->port = atoi (port + 7);
    return 0;
}

//  The tracker's record, asked over UDP at host:port.  0 or -1.
static int
s_tracker_record (const char *host, int port, record_t *rec)
{
    int udp = udp_open ("0.0.0.0", 0, false);
    struct sockaddr_in to;
    if (udp < 0 || udp_resolve (host, port, &to) != 0)
        return -1;
    uint8_t req [RECORD_REQ_SIZE], buf [512];
    record_request (req);
    int rc = -1;
    for (int64_t end = now_ns () + 10000000000LL; rc != 0 && now_ns () < end; ) {
        udp_send (udp, &to, req, sizeof req);
        struct pollfd p = { .fd = udp, .events = POLLIN };
        if (poll (&p, 1, 200) == 1) {
            struct sockaddr_in from;
            int n = udp_recv (udp, buf, sizeof buf, &from);
            if (n > 0 && record_decode (buf, (size_t) n, rec) == 0)
                rc = 0;
        }
    }
    close (udp);
    return rc;
}

//  A DEALER on ctx for identity id, pinned to the server's key, connected
//  to endpoint ("tcp://SRC:0;HOST:PORT" connects from SRC).  NULL on failure.
static void *
s_dealer (void *ctx, const uint8_t server_key [32], const identity_t *id, const char *endpoint)
{
    void *d = zmq_socket (ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    if (!d || zmq_setsockopt (d, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (d, ZMQ_RCVHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (d, ZMQ_CURVE_SERVERKEY, server_key, 32)
    ||  zmq_setsockopt (d, ZMQ_CURVE_PUBLICKEY, identity_box_pk (id), 32)
    ||  zmq_setsockopt (d, ZMQ_CURVE_SECRETKEY, identity_box_sk (id), 32)
    ||  zmq_connect (d, endpoint) != 0) {
        if (d)
            zmq_close (d);
        return NULL;
    }
    return d;
}

static int
s_send_frame (void *d, const wire_frame_t *f)
{
    uint8_t *buf;
    size_t len;
    if (wire_encode (f, &buf, &len) != 0)
        return -1;
    int rc = zmq_send (d, buf, len, ZMQ_DONTWAIT) == (int) len? 0: -1;
    free (buf);
    return rc;
}

//  Reads one frame waiting on d without blocking: its type (and the frame
//  in *f, valid while buf lives), or -1 when none.
static int
s_recv_frame (void *d, uint8_t *buf, size_t size, wire_frame_t *f)
{
    int n = zmq_recv (d, buf, size, ZMQ_DONTWAIT);
    if (n < 0 || (size_t) n > size || wire_decode (buf, (size_t) n, f) != 0)
        return -1;
    return (int) f->type;
}

//  The counter name of a T_STATS frame, or -1.
static long long
s_counter (const wire_frame_t *f, const char *name)
{
    wire_counter_t c [WIRE_COUNTERS_MAX];
    size_t n;
    if (f->type != WIRE_T_STATS
    ||  wire_counters_decode (f->t_stats.counters, f->t_stats.counters_len, c, WIRE_COUNTERS_MAX, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (c [i].name_len == strlen (name) && memcmp (c [i].name, name, c [i].name_len) == 0)
            return (long long) c [i].value;
    return -1;
}

//  Asks for T_STATUS on d and waits for the answer (other frames are
//  counted into *other).  0 and the frame's bytes in buf, or -1.
static int
s_status (void *d, uint8_t *buf, size_t size, wire_frame_t *f, long *other)
{
    static uint64_t tag = 1000000;
    wire_frame_t q = { .type = WIRE_T_STATUS, .t_status = { .tag = ++tag } };
    if (s_send_frame (d, &q) != 0)
        return -1;
    int64_t end = now_ns () + 10000000000LL;
    while (now_ns () < end) {
        zmq_pollitem_t item = { d, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        int type;
        while ((type = s_recv_frame (d, buf, size, f)) >= 0) {
            if (type == WIRE_T_STATS)
                return 0;
            if (other)
                (*other)++;
        }
    }
    return -1;
}

//  ---------------------------------------------------------------------
//  Network namespaces (row 1)

enum { NS_SW, NS_R, NS_A, NS_B, NS_C, NS_T, NS_COUNT };
static char s_ns [NS_COUNT][48];
static bool s_ns_made [NS_COUNT];
static int s_home_ns = -1;

static int
s_ip (const char *fmt, ...)
{
    char args [512], cmd [600];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (args, sizeof args, fmt, ap);
    va_end (ap);
    snprintf (cmd, sizeof cmd, "ip %s", args);
    int rc = system (cmd);
    if (rc != 0)
        fprintf (stderr, "bench_tracker: '%s' failed\n", cmd);
    return rc == 0? 0: -1;
}

//  Kills what still runs and removes the namespaces (also at exit).
static void
s_lab_down (void)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (s_live [i] && s_live [i]->pid > 0) {
            kill (s_live [i]->pid, SIGKILL);
            waitpid (s_live [i]->pid, NULL, 0);
            s_live [i]->pid = 0;
            s_live [i] = NULL;
        }
    for (int i = NS_COUNT; i-- > 0; )
        if (s_ns_made [i]) {
            char cmd [128];
            snprintf (cmd, sizeof cmd, "ip netns del %s 2>/dev/null", s_ns [i]);
            if (system (cmd) != 0)
                fprintf (stderr, "bench_tracker: could not remove namespace %s\n", s_ns [i]);
            s_ns_made [i] = false;
        }
}

//  SIGINT, SIGTERM: exit, so that the atexit handler kills what runs and
//  removes the namespaces (not async-signal-safe; a benchmark's last act)
static void
s_on_signal (int sig)
{
    exit (128 + sig);
}

//  Moves this thread into namespace i (its children start there), or
//  back home with i < 0.  0 or -1.
static int
s_enter (int i)
{
    int fd = s_home_ns;
    if (i >= 0) {
        char path [128];
        snprintf (path, sizeof path, "/var/run/netns/%s", s_ns [i]);
        fd = open (path, O_RDONLY | O_CLOEXEC);
    }
    int rc = fd >= 0 && setns (fd, CLONE_NEWNET) == 0? 0: -1;
    if (i >= 0 && fd >= 0)
        close (fd);
    return rc;
}

//  A host namespace with eth0 on bridge br of the switch.
static int
s_host (int i, const char *name, const char *tag, const char *br, const char *cidr)
{
    snprintf (s_ns [i], sizeof s_ns [i], "sc-%s-%s", name, tag);
    if (s_ip ("netns add %s", s_ns [i]) != 0)
        return -1;
    s_ns_made [i] = true;
    char port [32];
    snprintf (port, sizeof port, "v%s%s", name, tag);
    return s_ip ("link add %.15s netns %s type veth peer name eth0 netns %s", port, s_ns [NS_SW], s_ns [i])
         | s_ip ("-n %s link set %.15s master %s up", s_ns [NS_SW], port, br)
         | s_ip ("-n %s addr add %s dev eth0", s_ns [i], cidr)
         | s_ip ("-n %s link set eth0 up", s_ns [i])
         | s_ip ("-n %s link set lo up", s_ns [i]);
}

//  br0 (10.213.1.0/24: a, c, the tracker's host t, router r) and br1
//  (10.213.2.0/24: b), joined by r with ip_forward, as
//  tests/netns/test_tracker_subnets.py builds them.  0 or -1.
static int
s_lab_up (void)
{
    char tag [10];
    snprintf (tag, sizeof tag, "tb%u", (unsigned) getpid () % 100000);
    s_home_ns = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    snprintf (s_ns [NS_SW], sizeof s_ns [0], "sc-sw-%s", tag);
    if (s_home_ns < 0 || s_ip ("netns add %s", s_ns [NS_SW]) != 0)
        return -1;
    s_ns_made [NS_SW] = true;
    char wport [24];
    snprintf (wport, sizeof wport, "w%s", tag);
    if (s_ip ("-n %s link set lo up", s_ns [NS_SW])
    ||  s_ip ("-n %s link add br0 type bridge", s_ns [NS_SW])
    ||  s_ip ("-n %s link set br0 up", s_ns [NS_SW])
    ||  s_ip ("-n %s link add br1 type bridge", s_ns [NS_SW])
    ||  s_ip ("-n %s link set br1 up", s_ns [NS_SW])
    ||  s_host (NS_R, "r", tag, "br0", "10.213.1.1/24")
    ||  s_ip ("link add %s netns %s type veth peer name eth1 netns %s", wport, s_ns [NS_SW], s_ns [NS_R])
    ||  s_ip ("-n %s link set %s master br1 up", s_ns [NS_SW], wport)
    ||  s_ip ("-n %s addr add 10.213.2.1/24 dev eth1", s_ns [NS_R])
    ||  s_ip ("-n %s link set eth1 up", s_ns [NS_R])
    ||  s_ip ("netns exec %s sysctl -qw net.ipv4.ip_forward=1", s_ns [NS_R])
    ||  s_host (NS_A, "a", tag, "br0", "10.213.1.2/24")
    ||  s_host (NS_T, "t", tag, "br0", "10.213.1.3/24")
    ||  s_host (NS_C, "c", tag, "br0", "10.213.1.4/24")
    ||  s_host (NS_B, "b", tag, "br1", "10.213.2.2/24")
    ||  s_ip ("-n %s route add default via 10.213.1.1", s_ns [NS_A])
    ||  s_ip ("-n %s route add default via 10.213.1.1", s_ns [NS_T])
    ||  s_ip ("-n %s route add default via 10.213.1.1", s_ns [NS_C])
    ||  s_ip ("-n %s route add default via 10.213.2.1", s_ns [NS_B]))
        return -1;
    return 0;
}

//  Starts a node in namespace ns.  0 or -1.
static int
s_spawn_in (int ns, proc_t *p, const char *const *args)
{
    if (s_enter (ns) != 0)
        return -1;
    int rc = proc_spawn (p, s_node, args);
    if (rc == 0)
        s_keep (p);
    return s_enter (-1) == 0? rc: -1;
}

//  Reads both nodes until each has a linked peer_joined; ms from t0, or -1.
static double
s_both_joined (proc_t *p, proc_t *q, int64_t t0, int timeout_ms)
{
    proc_t *ps [2] = { p, q };
    bool seen [2] = { false, false };
    int64_t end = t0 + (int64_t) timeout_ms * 1000000, last = 0;
    while (!(seen [0] && seen [1]) && now_ns () < end) {
        struct pollfd pfd [2] = { { p->out, POLLIN, 0 }, { q->out, POLLIN, 0 } };
        if (poll (pfd, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(pfd [i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t r = read (ps [i]->out, ps [i]->buf + ps [i]->len, sizeof ps [i]->buf - ps [i]->len);
            if (r <= 0)
                return -1;
            ps [i]->len += (size_t) r;
            int64_t t = now_ns ();
            while (proc_line (ps [i], 0) == 0)
                if (!seen [i] && strstr (ps [i]->line, "\"event\":\"peer_joined\"")
                &&  strstr (ps [i]->line, "\"online\":true")) {
                    seen [i] = true;
                    last = t > last? t: last;
                }
        }
    }
    return seen [0] && seen [1]? (double) (last - t0) / 1e6: -1;
}

//  One start of two fresh nodes in namespaces na and nb (extra_opt and
//  extra_val, or NULL: one more option for both); ms from the first spawn
//  until both saw the other, or -1.
static double
s_pair (int na, int nb, const char *extra_opt, const char *extra_val, int run)
{
    char ha [512], hb [512];
    snprintf (ha, sizeof ha, "%s/sub%d-%d-a", s_tmp, (int) getpid (), run);
    snprintf (hb, sizeof hb, "%s/sub%d-%d-b", s_tmp, (int) getpid (), run);
    const char *aa [] = { "--home", ha, "--name", "ann", extra_opt, extra_val, NULL };
    const char *ab [] = { "--home", hb, "--name", "ben", extra_opt, extra_val, NULL };
    proc_t *p = calloc (1, sizeof *p), *q = calloc (1, sizeof *q);
    double ms = -1;
    int64_t t0 = now_ns ();
    if (p && q && s_spawn_in (na, p, aa) == 0 && s_spawn_in (nb, q, ab) == 0)
        ms = s_both_joined (p, q, t0, 20000);
    s_stop (p);
    s_stop (q);
    free (p);
    free (q);
    return ms;
}

static void
s_row_subnets (void)
{
    const char *what = "two nodes on two subnets (a router between) linked via a tracker, "
                       "start to peer_joined at both (median of 5)";
    if (geteuid () != 0) {
        proc_row (what, "skipped: needs root (network namespaces)", "-", 0, "(for scale)", 1);
        return;
    }
    enum { RUNS = 5 };
    double via [RUNS], lan [RUNS];
    int got = 0;
    proc_t *t = calloc (1, sizeof *t);
    char home [512], address [256];
    snprintf (home, sizeof home, "%s/sub-tracker-%d", s_tmp, (int) getpid ());
    if (!t || s_lab_up () != 0 || s_enter (NS_T) != 0) {
        s_enter (-1);
        s_lab_down ();
        proc_row (what, "skipped: the network namespaces could not be made", "-", 0, "(for scale)", 1);
        free (t);
        return;
    }
    int rc = s_tracker_start (t, home, "10.213.1.3", NULL, address, sizeof address);
    s_enter (-1);
    //  Alternated, so the machine's other load falls on both alike
    for (int r = 0; rc == 0 && r < RUNS; r++) {
        via [r] = s_pair (NS_A, NS_B, "--tracker", address, 2 * r);
        lan [r] = s_pair (NS_A, NS_C, NULL, NULL, 2 * r + 1);
        if (via [r] < 0 || lan [r] < 0)
            break;
        got++;
    }
    s_stop (t);
    free (t);
    s_lab_down ();
    if (got < RUNS) {
        proc_row (what, "failed: not linked within 20 s", "-", 0, "links", 0);
        return;
    }
    double worst_via = 0, worst_lan = 0;
    for (int i = 0; i < RUNS; i++) {
        worst_via = via [i] > worst_via? via [i]: worst_via;
        worst_lan = lan [i] > worst_lan? lan [i]: worst_lan;
    }
    double mv = quantile (via, RUNS, 0.5), ml = quantile (lan, RUNS, 0.5);
    char ours [128], base [200];
    snprintf (ours, sizeof ours, "%.0f ms (worst %.0f)", mv, worst_via);
    snprintf (base, sizeof base, "two nodes on one bridge by beacons (LAN discovery), "
              "start to peer_joined at both: %.0f ms (worst %.0f)", ml, worst_lan);
    proc_row (what, ours, base, mv / ml, "links (times for scale)", 1);
}

//  ---------------------------------------------------------------------
//  Rates on one core (row 2)

enum { LINKS = 8, WINDOW = 16 };

//  Sends n frames (frames [i] on dealer i, each encoded once) on k
//  dealers, at most WINDOW waiting per dealer; counts the answers of type
//  want (0: any frame is an answer) into *ok and the others into *other
//  (pushed notices are not answers).  Returns answers a second (first
//  send to last answer), or -1.
static double
s_drive (void **d, int k, uint8_t **frames, size_t *lens, long n, int want, long *ok, long *other)
{
    long sent = 0, answered = 0, out [LINKS] = { 0 };
    uint8_t buf [4096];
    *ok = *other = 0;
    int64_t t0 = now_ns (), end = t0 + 60000000000LL;
    while (answered < n && now_ns () < end) {
        for (int i = 0; i < k; i++)
            while (out [i] < WINDOW && sent < n) {
                if (zmq_send (d [i], frames [i], lens [i], ZMQ_DONTWAIT) != (int) lens [i])
                    break;
                out [i]++;
                sent++;
            }
        zmq_pollitem_t items [LINKS];
        for (int i = 0; i < k; i++)
            items [i] = (zmq_pollitem_t) { d [i], 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (items, k, 100) <= 0)
            continue;
        for (int i = 0; i < k; i++) {
            int got;
            while ((got = zmq_recv (d [i], buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) {
                wire_frame_t f;
                bool decoded = want != 0 && wire_decode (buf, (size_t) got, &f) == 0;
                if (decoded && f.type == WIRE_T_NOTICE)
                    continue;           //  a join pushed to us, not an answer
                if (want == 0 || (decoded && (int) f.type == want))
                    (*ok)++;
                else
                    (*other)++;
                out [i]--;
                answered++;
            }
        }
    }
    if (getenv ("BENCH_VERBOSE"))
        fprintf (stderr, "drive: %ld sent, %ld answered (%ld as wanted) in %.0f ms\n", sent,
                 answered, *ok, (double) (now_ns () - t0) / 1e6);
    return answered >= n? (double) n / ((double) (now_ns () - t0) / 1e9): -1;
}

//  s_drive, and the CPU process pid used meanwhile as a fraction of a
//  core into *cpu.
static double
s_timed (pid_t pid, void **d, uint8_t **frames, size_t *lens, long n, int want, long *other,
         double *cpu)
{
    long ok;
    double c0 = proc_cpu_s (pid);
    int64_t t0 = now_ns ();
    double rate = s_drive (d, LINKS, frames, lens, n, want, &ok, other);
    *cpu = (proc_cpu_s (pid) - c0) / ((double) (now_ns () - t0) / 1e9);
    return *cpu > 0? rate: -1;
}

//  The bare CURVE ROUTER, in a child pinned to cpu: echoes each frame until
//  ctl closes.  Says its port on portfd.
static void
s_echo_child (int cpu, int ctl, int portfd)
{
    if (cpu >= 0)
        s_pin (cpu);
    identity_t *id = identity_generate ();
    int err;
    transport_t *t = id? transport_new (id, "127.0.0.1", 0, &err): NULL;
    int port = t? transport_port (t): -1;
    if (write (portfd, &port, sizeof port) != sizeof port || !t)
        _exit (1);
    if (write (portfd, identity_box_pk (id), 32) != 32)
        _exit (1);
    while (1) {
        zmq_pollitem_t items [] = { { transport_router (t), 0, ZMQ_POLLIN, 0 },
                                    { transport_zap (t), 0, ZMQ_POLLIN, 0 },
                                    { NULL, ctl, ZMQ_POLLIN, 0 } };
        if (transport_poll (items, 3, 1000) < 0 && errno != EINTR)
            break;
        if (items [2].revents)
            break;
        while (transport_zap_handle (t) == 0)
            ;
        transport_rx_t rx;
        while (transport_recv (t, &rx) == 0) {
            size_t len = zmq_msg_size (&rx.msg);
            uint8_t *copy = malloc (len);
            if (copy) {
                memcpy (copy, zmq_msg_data (&rx.msg), len);
                transport_reply_owned (t, rx.rid, rx.rid_len, &copy, len);
            }
            zmq_msg_close (&rx.msg);
        }
    }
    transport_destroy (&t);
    _exit (0);
}

typedef struct {
    pid_t pid;
    int ctl;
    int port;
    uint8_t key [32];
} s_echo_t;

static int
s_echo_start (s_echo_t *e, int cpu)
{
    int ctl [2], portp [2];
    if (pipe2 (ctl, O_CLOEXEC) != 0 || pipe2 (portp, O_CLOEXEC) != 0)
        return -1;
    e->pid = fork ();
    if (e->pid == 0) {
        close (ctl [1]);
        close (portp [0]);
        s_echo_child (cpu, ctl [0], portp [1]);
    }
    close (ctl [0]);
    close (portp [1]);
    e->ctl = ctl [1];
    int ok = e->pid > 0 && read (portp [0], &e->port, sizeof e->port) == sizeof e->port
          && e->port > 0 && read (portp [0], e->key, 32) == 32;
    close (portp [0]);
    return ok? 0: -1;
}

static void
s_echo_stop (s_echo_t *e)
{
    close (e->ctl);
    if (e->pid > 0)
        waitpid (e->pid, NULL, 0);
    e->pid = 0;
}

//  Microseconds of CPU one record's signature check takes.
static double
s_verify_us (void)
{
    identity_t *id = identity_generate ();
    uint8_t buf [RECORD_SIZE];
    record_t rec;
    if (!id || record_make (id, "floor", 1, 0, 1, buf) != 0)
        return -1;
    enum { K = 5000 };
    //  CPU time, as the rates are counted per second of the server's CPU
    struct timespec a, b;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &a);
    for (int i = 0; i < K; i++)
        if (record_decode (buf, sizeof buf, &rec) != 0)
            return -1;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &b);
    identity_destroy (&id);
    return ((double) (b.tv_sec - a.tv_sec) * 1e9 + (double) (b.tv_nsec - a.tv_nsec)) / 1e3 / K;
}

static void
s_rows_rates (void)
{
    const char *what_reg = "tracker registrations a second, one core (8 links, 16 in flight each; "
                           "each a signed record checked)";
    const char *what_look = "tracker lookups by key a second, one core (8 links, 16 in flight each; found)";
    bool pinned = s_cores >= 2;
    int cpu = pinned? 0: -1;
    identity_t *ids [LINKS] = { 0 };
    void *ctx = NULL, *d [LINKS] = { 0 }, *e [LINKS] = { 0 };
    uint8_t *reg [LINKS] = { 0 }, *look [LINKS] = { 0 };
    size_t reg_len [LINKS], look_len [LINKS];
    proc_t *t = calloc (1, sizeof *t);
    s_echo_t echo = { 0 };
    char home [512], address [256], endpoint [128];
    snprintf (home, sizeof home, "%s/rate-tracker-%d", s_tmp, (int) getpid ());
    const char *extra [] = { "--register-rate", "1000000", "--lookup-rate", "1000000", NULL };
    //  The tracker and the echo server start pinned (their threads inherit
    //  it); then this process moves to the other core
    if (pinned)
        s_pin (0);
    int rc = t && s_tracker_start (t, home, "127.0.0.1", extra, address, sizeof address) == 0
             && s_echo_start (&echo, cpu) == 0? 0: -1;
    if (pinned)
        s_pin (1);
    double verify_us = s_verify_us ();
    record_t trec;
    if (rc == 0)
        rc = s_tracker_record ("127.0.0.1", t->port, &trec);
    ctx = zmq_ctx_new ();
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", t? t->port: 0);
    char echo_ep [64];
    snprintf (echo_ep, sizeof echo_ep, "tcp://127.0.0.1:%d", echo.port);
    for (int i = 0; rc == 0 && i < LINKS; i++) {
        uint8_t rec [RECORD_SIZE];
        ids [i] = identity_generate ();
        if (!ids [i] || record_make (ids [i], "rate", (uint16_t) (40000 + i), 0, 1000, rec) != 0
        ||  !(d [i] = s_dealer (ctx, trec.box_pk, ids [i], endpoint))
        ||  !(e [i] = s_dealer (ctx, echo.key, ids [i], echo_ep))) {
            rc = -1;
            break;
        }
        //  A registration refreshes a key held: the same record each time
        //  (its time may repeat, not go back), checked every time
        wire_frame_t f = { .type = WIRE_T_REGISTER, .t_register = {
            .tag = 1, .record = rec, .record_len = RECORD_SIZE } };
        if (wire_encode (&f, &reg [i], &reg_len [i]) != 0)
            rc = -1;
    }
    for (int i = 0; rc == 0 && i < LINKS; i++) {
        //  Each link looks up the next one's key (registered: found)
        wire_frame_t f = { .type = WIRE_T_LOOKUP, .t_lookup = {
            .tag = 2, .key = identity_sign_pk (ids [(i + 1) % LINKS]), .key_len = 32 } };
        if (wire_encode (&f, &look [i], &look_len [i]) != 0)
            rc = -1;
    }
    long ok, other;
    //  Every key registered once (and the links made) before timing
    if (rc == 0 && s_drive (d, LINKS, reg, reg_len, LINKS * WINDOW, WIRE_T_REGISTERED, &ok, &other) < 0)
        rc = -1;
    if (rc == 0 && s_drive (e, LINKS, reg, reg_len, LINKS * WINDOW, 0, &ok, &other) < 0)
        rc = -1;
    //  Each rate with the CPU its server used meanwhile (fraction of a core)
    double reg_s = -1, look_s = -1, echo_s = -1, cpu_reg = 0, cpu_look = 0, cpu_echo = 0;
    long reg_other = 0, look_other = 0;
    enum { N_REG = 30000, N_LOOK = 200000, N_ECHO = 200000 };
    if (rc == 0) {
        reg_s = s_timed (t->pid, d, reg, reg_len, N_REG, WIRE_T_REGISTERED, &reg_other, &cpu_reg);
        echo_s = s_timed (echo.pid, e, reg, reg_len, N_ECHO, 0, &other, &cpu_echo);
        look_s = s_timed (t->pid, d, look, look_len, N_LOOK, WIRE_T_FOUND, &look_other, &cpu_look);
    }
    for (int i = 0; i < LINKS; i++) {
        if (d [i])
            zmq_close (d [i]);
        if (e [i])
            zmq_close (e [i]);
        free (reg [i]);
        free (look [i]);
        identity_destroy (&ids [i]);
    }
    if (ctx)
        zmq_ctx_term (ctx);
    if (echo.pid > 0)
        s_echo_stop (&echo);
    s_stop (t);
    free (t);
    if (pinned)
        s_pin (-1);
    if (reg_s < 0 || look_s < 0 || echo_s < 0) {
        fprintf (stderr, "bench_tracker: rates failed (setup %d: %.0f %.0f %.0f)\n", rc, reg_s,
                 look_s, echo_s);
        proc_row (what_reg, "failed", "-", 0, "-", 0);
        proc_row (what_look, "failed", "-", 0, "-", 0);
        return;
    }
    //  Per second of the server's core: the driver (one core, CURVE at its
    //  end too) may not fill the server's.  The floor of a registration:
    //  the CPU of a bare CURVE round trip plus one signature check.
    double echo_core = echo_s / cpu_echo, reg_core = reg_s / cpu_reg, look_core = look_s / cpu_look;
    double floor_core = 1e6 / (1e6 / echo_core + verify_us);
    char ours [300], base [400];
    snprintf (ours, sizeof ours, "%.0f a second of its core (%.0f/s with the tracker at %.0f %% of "
              "its core; %ld refused)", reg_core, reg_s, 100 * cpu_reg, reg_other);
    snprintf (base, sizeof base, "a bare CURVE ROUTER echoing the same frames, pinned alike: "
              "%.0f a second of its core (%.0f/s at %.0f %%), with a record's signature check "
              "(%.1f µs) added to each: %.0f a second%s", echo_core, echo_s, 100 * cpu_echo,
              verify_us, floor_core, pinned? "": " (one core: nothing pinned)");
    proc_row (what_reg, ours, base, reg_core / floor_core, "≥ 0.50", reg_core / floor_core >= 0.5);
    snprintf (ours, sizeof ours, "%.0f a second of its core (%.0f/s with the tracker at %.0f %% "
              "of its core; %ld not found or refused)", look_core, look_s, 100 * cpu_look, look_other);
    snprintf (base, sizeof base, "the bare CURVE ROUTER echoing, pinned alike: %.0f a second of "
              "its core (%.0f/s at %.0f %%)", echo_core, echo_s, 100 * cpu_echo);
    proc_row (what_look, ours, base, look_core / echo_core, "≥ 0.50", look_core / echo_core >= 0.5);
}

//  ---------------------------------------------------------------------
//  Memory per record (row 3)

enum { NREC = 1000 };

//  Links NREC dealers (identities ids, each from 127.0.x.y of its own)
//  to key at port, each sending its frame; waits for every answer,
//  reading (and counting in *pushed) whatever else comes, and the events
//  server (when not NULL) prints, so it never waits on its stdout.  0 or -1.
static int
s_link_many (void *ctx, void **d, identity_t **ids, const uint8_t key [32], int port,
             uint8_t **frames, size_t *lens, long *pushed, proc_t *server)
{
    bool *answered = calloc (NREC, sizeof *answered);
    zmq_pollitem_t *items = calloc (NREC, sizeof *items);
    int got = 0, started = 0;
    uint8_t buf [4096];
    int64_t end = now_ns () + 120000000000LL, shown = now_ns ();
    while (answered && items && got < NREC && now_ns () < end) {
        if (getenv ("BENCH_VERBOSE") && now_ns () - shown > 2000000000LL) {
            shown = now_ns ();
            fprintf (stderr, "  %d answered, %d started, %ld pushed\n", got, started, *pushed);
        }
        //  32 handshakes at a time, as sc-tracker-client's flood
        while (started < NREC && started - got < 32) {
            char ep [96];
            int i = started++;
            snprintf (ep, sizeof ep, "tcp://127.0.%d.%d:0;127.0.0.1:%d", 1 + i / 250, 1 + i % 250, port);
            if (!(d [i] = s_dealer (ctx, key, ids [i], ep))
            ||  zmq_send (d [i], frames [i], lens [i], 0) != (int) lens [i])
                goto out;
        }
        for (int i = 0; i < started; i++)
            items [i] = (zmq_pollitem_t) { d [i], 0, ZMQ_POLLIN, 0 };
        zmq_poll (items, started, 50);
        if (server)
            proc_drain (server);
        for (int i = 0; i < started; i++) {
            if (!items [i].revents)
                continue;
            while (zmq_recv (d [i], buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
                if (!answered [i]) {
                    answered [i] = true;
                    got++;
                }
                else
                    (*pushed)++;
            }
        }
    }
out:
    if (getenv ("BENCH_VERBOSE") || got < NREC)
        fprintf (stderr, "bench_tracker: %d of %d links answered (%d started)\n", got, NREC, started);
    free (answered);
    free (items);
    return got == NREC? 0: -1;
}

//  Reads what the NREC dealers were pushed until *pushed reaches want, or
//  10 s (and what server prints).
static void
s_drain_many (void **d, long *pushed, long want, proc_t *server)
{
    uint8_t buf [4096];
    zmq_pollitem_t *items = calloc (NREC, sizeof *items);
    int64_t end = now_ns () + 10000000000LL;
    while (items && *pushed < want && now_ns () < end) {
        for (int i = 0; i < NREC; i++)
            items [i] = (zmq_pollitem_t) { d [i], 0, ZMQ_POLLIN, 0 };
        zmq_poll (items, NREC, 50);
        proc_drain (server);
        for (int i = 0; i < NREC; i++)
            while (items [i].revents && zmq_recv (d [i], buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
                (*pushed)++;
    }
    free (items);
}

static void
s_row_memory (void)
{
    const char *what = "tracker memory per record, 1,000 nodes registered from 1,000 addresses "
                       "(127.0.x.y) and still linked";
    identity_t **ids = calloc (NREC, sizeof *ids);
    void **d = calloc (NREC, sizeof *d);
    uint8_t **frames = calloc (NREC, sizeof *frames);
    size_t *lens = calloc (NREC, sizeof *lens);
    proc_t *t = calloc (1, sizeof *t);
    s_echo_t echo = { 0 };
    void *ctx = zmq_ctx_new ();
    char home [512], address [256];
    snprintf (home, sizeof home, "%s/mem-tracker-%d", s_tmp, (int) getpid ());
    int rc = ids && d && frames && lens && t && ctx? 0: -1;
    if (rc == 0)
        zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, 4 * NREC);
    for (int i = 0; rc == 0 && i < NREC; i++) {
        uint8_t rec [RECORD_SIZE];
        char name [16];
        snprintf (name, sizeof name, "m%d", i);
        ids [i] = identity_generate ();
        wire_frame_t f = { .type = WIRE_T_REGISTER, .t_register = {
            .tag = 1, .record = rec, .record_len = RECORD_SIZE } };
        if (!ids [i] || record_make (ids [i], name, (uint16_t) (40000 + i), 0, 1000, rec) != 0
        ||  wire_encode (&f, &frames [i], &lens [i]) != 0)
            rc = -1;
    }
    //  The bare ROUTER first: the same links, each saying one frame
    long pushed = 0, rss_e0 = -1, rss_e1 = -1;
    if (rc == 0 && (rc = s_echo_start (&echo, -1)) == 0) {
        rss_e0 = proc_rss_kb (echo.pid);
        rc = s_link_many (ctx, d, ids, echo.key, echo.port, frames, lens, &pushed, NULL);
        rss_e1 = proc_rss_kb (echo.pid);
    }
    for (int i = 0; i < NREC; i++)
        if (d [i])
            zmq_close (d [i]), d [i] = NULL;
    if (echo.pid > 0)
        s_echo_stop (&echo);
    //  Then the tracker
    long rss0 = -1, rss1 = -1, rss2 = -1, hwm = -1;
    long long mem0 = -1, mem1 = -1, records = -1, notices = -1, links = -1;
    record_t trec;
    uint8_t buf [8192];
    wire_frame_t st;
    void *probe = NULL;
    identity_t *pid = identity_generate ();
    //  The probe's status requests count as lookups from 127.0.0.1
    const char *extra [] = { "--lookup-rate", "1000", NULL };
    char ep [64];
    if (rc == 0)
        rc = s_tracker_start (t, home, "127.0.0.1", extra, address, sizeof address);
    if (rc == 0)
        rc = s_tracker_record ("127.0.0.1", t->port, &trec);
    if (rc == 0) {
        //  A link of its own asks for the counters (it does not register)
        snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", t->port);
        probe = pid? s_dealer (ctx, trec.box_pk, pid, ep): NULL;
        rc = probe && s_status (probe, buf, sizeof buf, &st, NULL) == 0? 0: -1;
        mem0 = rc == 0? s_counter (&st, "registry_memory"): -1;
        rss0 = proc_rss_kb (t->pid);
    }
    pushed = 0;
    if (rc == 0)
        rc = s_link_many (ctx, d, ids, trec.box_pk, t->port, frames, lens, &pushed, t);
    if (rc == 0 && (rc = s_status (probe, buf, sizeof buf, &st, NULL)) == 0) {
        records = s_counter (&st, "records");
        mem1 = s_counter (&st, "registry_memory");
        notices = s_counter (&st, "notices_sent");
        links = s_counter (&st, "links");
        //  Each join was pushed to every node registered before it: read
        //  them all before the RSS is taken
        s_drain_many (d, &pushed, notices, t);
        rss1 = proc_rss_kb (t->pid);
        hwm = proc_status_kb (t->pid, "VmHWM:");
    }
    //  The links close; the records stay (until their time to live)
    for (int i = 0; i < NREC; i++)
        if (d [i])
            zmq_close (d [i]), d [i] = NULL;
    int64_t end = now_ns () + 10000000000LL;
    while (rc == 0 && now_ns () < end && s_status (probe, buf, sizeof buf, &st, NULL) == 0
       &&  s_counter (&st, "links") > 0)
        proc_drain (t);
    if (rc == 0)
        rss2 = proc_rss_kb (t->pid);
    if (probe)
        zmq_close (probe);
    identity_destroy (&pid);
    for (int i = 0; ids && i < NREC; i++) {
        identity_destroy (&ids [i]);
        free (frames [i]);
    }
    zmq_ctx_term (ctx);
    s_stop (t);
    free (t), free (ids), free (d), free (frames), free (lens);
    if (rc != 0 || records != NREC || rss1 < 0 || rss_e1 < 0) {
        fprintf (stderr, "bench_tracker: memory: rc %d, records %lld, RSS %ld, bare %ld\n", rc,
                 records, rss1, rss_e1);
        proc_row (what, "failed", "-", 0, "-", 0);
        return;
    }
    double per = (double) (rss1 - rss0) * 1024 / NREC;
    double link = (double) (rss_e1 - rss_e0) * 1024 / NREC;
    double table = (double) (mem1 - mem0) / NREC;
    char ours [300], base [300];
    snprintf (ours, sizeof ours, "%.1f KiB (RSS %.1f MB idle, %.1f MB with the 1,000, peak %.1f MB; "
              "%lld notices pushed to them, %ld read; links %lld; after the links closed: "
              "%.1f MB, %.1f KiB a record)", per / 1024, rss0 / 1024.0, rss1 / 1024.0,
              hwm / 1024.0, notices, pushed, links, rss2 / 1024.0,
              (double) (rss2 - rss0) / NREC);
    snprintf (base, sizeof base, "the bare CURVE ROUTER with the same 1,000 links: %.1f KiB a link, "
              "+ the registry's own table (its count) %.0f B a record (the record itself is %d B) "
              "= %.1f KiB", link / 1024, table, RECORD_SIZE, (link + table) / 1024);
    proc_row (what, ours, base, per / (link + table), "(for scale)", 1);
}

//  ---------------------------------------------------------------------
//  Mail put to delivered (row 4)

//  ms to write a 512-byte file in dir and sync it and the directory, as
//  the mailbox does before it answers a put (median of 9), or -1.
static double
s_sync_ms (const char *dir)
{
    enum { K = 9 };
    double v [K];
    char path [600], data [512] = { 0 };
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < K; i++) {
        snprintf (path, sizeof path, "%s/bench-sync-%d", dir, i);
        int64_t t0 = now_ns ();
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dfd < 0 || write (fd, data, sizeof data) != sizeof data || fsync (fd) != 0
        ||  fsync (dfd) != 0) {
            if (fd >= 0)
                close (fd);
            if (dfd >= 0)
                close (dfd);
            return -1;
        }
        close (fd);
        v [i] = (double) (now_ns () - t0) / 1e6;
        unlink (path);
    }
    close (dfd);
    return quantile (v, K, 0.5);
}

static void
s_row_mail (void)
{
    const char *what = "mail put to delivered: a sealed put at the tracker until the recipient "
                       "(registered, online, not linked to the sender) shows it (median of 9)";
    enum { N = 9 };
    proc_t *t = calloc (1, sizeof *t), *a = calloc (1, sizeof *a), *b = calloc (1, sizeof *b);
    proc_t *c = calloc (1, sizeof *c);
    char ht [512], ha [512], hb [512], address [256], peer [160], line [256];
    snprintf (ht, sizeof ht, "%s/mail-tracker-%d", s_tmp, (int) getpid ());
    snprintf (ha, sizeof ha, "%s/mail-a-%d", s_tmp, (int) getpid ());
    snprintf (hb, sizeof hb, "%s/mail-b-%d", s_tmp, (int) getpid ());
    double direct [N], mail [N];
    int nd = 0, nm = 0;
    int rc = t && a && b && c? s_tracker_start (t, ht, "127.0.0.1", NULL, address, sizeof address): -1;
    const char *ab [] = { "--home", hb, "--name", "bea", "--no-discovery", "--tracker", address, NULL };
    if (rc == 0 && (s_keep (b), rc = proc_start (b, s_node, ab)) == 0)
        rc = proc_until (b, "\"event\":\"tracker_registered\"", 10000);
    //  The sender meets the recipient over a direct link first (mail from
    //  a key never met is deleted unread), and the baseline is taken there
    snprintf (peer, sizeof peer, "%s@tcp://127.0.0.1:%d", b->id, b->port);
    const char *aa [] = { "--home", ha, "--name", "abe", "--no-discovery", "--peer", peer, NULL };
    if (rc == 0 && (s_keep (a), rc = proc_start (a, s_node, aa)) == 0)
        rc = proc_until (b, "\"event\":\"peer_joined\"", 10000) == 0
             && proc_until (a, "\"event\":\"peer_joined\"", 10000) == 0? 0: -1;
    for (int i = 0; rc == 0 && i < N + 1; i++) {
        char text [64];
        snprintf (text, sizeof text, "direct-%d", i);
        snprintf (line, sizeof line, "/msg %.16s %s", b->id, text);
        int64_t t0 = now_ns ();
        proc_send (a, line);
        if (proc_until (b, text, 10000) != 0)
            rc = -1;
        else if (i > 0)         //  the first one wakes what sleeps
            direct [nd++] = (double) (now_ns () - t0) / 1e6;
        proc_until (a, "\"event\":\"delivered\"", 10000);
    }
    s_stop (a);
    if (rc == 0)
        rc = proc_until (b, "\"event\":\"peer_left\"", 10000);
    //  The sender's identity comes back as a tracker client: it registers
    //  (only a registered link may leave mail) but never links to b
    const char *ac [] = { s_client, "--home", ha, "--name", "abe", address, NULL };
    if (rc == 0 && (s_keep (c), rc = proc_exec (c, ac)) == 0)
        rc = proc_until (c, "\"answer\":\"ready\"", 10000);
    if (rc == 0) {
        proc_send (c, "register");
        rc = proc_until (c, "\"answer\":\"registered\"", 10000);
    }
    if (rc == 0) {
        snprintf (line, sizeof line, "lookup prefix %.16s", b->id);
        proc_send (c, line);
        rc = proc_until (c, "\"answer\":\"found\"", 10000);
    }
    for (int i = 0; rc == 0 && i < N + 1; i++) {
        char text [64];
        snprintf (text, sizeof text, "mail-%d", i);
        snprintf (line, sizeof line, "put %.16s %s", b->id, text);
        proc_drain (c);
        int64_t t0 = now_ns ();
        proc_send (c, line);
        if (proc_until (b, text, 10000) != 0 || !strstr (b->line, "\"mailbox\":true"))
            rc = -1;
        else if (i > 0)
            mail [nm++] = (double) (now_ns () - t0) / 1e6;
    }
    s_stop (c);
    s_stop (b);
    s_stop (t);
    free (t), free (a), free (b), free (c);
    if (rc != 0 || nm < N || nd < N) {
        proc_row (what, "failed", "-", 0, "-", 0);
        return;
    }
    double worst_m = 0, worst_d = 0;
    for (int i = 0; i < N; i++) {
        worst_m = mail [i] > worst_m? mail [i]: worst_m;
        worst_d = direct [i] > worst_d? direct [i]: worst_d;
    }
    double mm = quantile (mail, N, 0.5), md = quantile (direct, N, 0.5);
    double sync = s_sync_ms (ht);
    char ours [160], base [300];
    snprintf (ours, sizeof ours, "%.1f ms (worst %.1f; the put is on disk, synced, before the note)",
              mm, worst_m);
    snprintf (base, sizeof base, "/msg from the same sender to the same node over a direct link, "
              "command to message: %.1f ms (worst %.1f); the disk alone, a small file written "
              "and synced with its directory as the mailbox does: %.1f ms", md, worst_d, sync);
    proc_row (what, ours, base, mm / md, "(for scale)", 1);
}

int
main (int argc, char **argv)
{
    s_node = argc > 1? argv [1]: "build-bench/securechat-node";
    s_tmp = argc > 2? argv [2]: "/tmp";
    const char *slash = strrchr (s_node, '/');
    int dir = slash? (int) (slash - s_node + 1): 0;
    snprintf (s_tracker, sizeof s_tracker, "%.*ssecurechat-tracker", dir, s_node);
    snprintf (s_client, sizeof s_client, "%.*ssc-tracker-client", dir, s_node);
    if (sodium_init () < 0)
        return 1;
    s_cores = sysconf (_SC_NPROCESSORS_ONLN);
    //  1,000 links at each end need descriptors (the children inherit this)
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192? rl.rlim_max: 8192;
        setrlimit (RLIMIT_NOFILE, &rl);
    }
    atexit (s_lab_down);
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
    const char *only = getenv ("BENCH_TRACKER_ONLY");
    if (!only || strchr (only, '1'))
        s_row_subnets ();
    if (!only || strchr (only, '2'))
        s_rows_rates ();
    if (!only || strchr (only, '3'))
        s_row_memory ();
    if (!only || strchr (only, '4'))
        s_row_mail ();
    return 0;
}

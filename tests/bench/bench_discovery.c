/*  bench_discovery: how fast nodes on one host find each other by beacons.
      - N nodes started at once: time from the last start until every node
        has seen every other (peer_joined), median and worst of several runs
      - a newcomer joining a mesh of 29: time until all 29 have seen it
    Baseline in the same run: the CPU the work itself needs, spread over
    every core: one CURVE link per pair (both ends, as two nodes make it),
    two record signature checks per pair, and each node's start-up and
    exit, each measured here.  Timed from the last start, a run can come
    in under it: the first nodes start and link while the last are spawned.
    Beacons go to 127.255.255.255 only, on a port of the benchmark's own.  */
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../discovery/record.h"
#include "../../node/transport.h"
#include "proc.h"

#define MAX_NODES 32

static const char *s_node, *s_tmp;
static char s_port [16];

//  Node i (a fresh identity per run number, so no run meets an earlier one's keys).
static int
s_spawn (proc_t *p, int i)
{
    static int run;
    char home [512], name [16];
    snprintf (home, sizeof home, "%s/r%d-n%d", s_tmp, run++, i);
    snprintf (name, sizeof name, "n%d", i);
    const char *args [] = { "--home", home, "--name", name, "--beacon-port", s_port,
                            "--beacon-addr", "127.255.255.255", NULL };
    return proc_spawn (p, s_node, args);
}

typedef struct {
    char id [65];
    int64_t t;
} s_join_t;

static s_join_t s_joins [MAX_NODES][MAX_NODES * 4];
static int s_njoins [MAX_NODES];

//  Reads every node's lines until every pair that need marks (n x n,
//  "i must see j") is met or timeout.  Joins are kept with their arrival
//  time and matched to ids once the ready lines carrying them are read
//  (pipes are read in any order).  Returns the time of the last needed
//  join, or -1.  ids [i] and ready_at [i] come from ready lines.
static int64_t
s_collect (proc_t *procs, int n, bool *need, char ids [][65], int64_t *ready_at, int timeout_ms,
           int running)
{
    int64_t end = now_ns () + (int64_t) timeout_ms * 1000000;
    while (now_ns () < end) {
        int64_t last = 0;
        int missing = 0;
        for (int i = 0; i < running; i++)
            missing += ids [i][0] == 0;     //  every running node's ready, too
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                if (!need [i * n + j])
                    continue;
                int64_t t = -1;
                for (int k = 0; ids [j][0] && k < s_njoins [i]; k++)
                    if (strcmp (s_joins [i][k].id, ids [j]) == 0)
                        t = s_joins [i][k].t;
                if (t < 0)
                    missing++;
                else if (t > last)
                    last = t;
            }
        if (missing == 0)
            return last;
        struct pollfd pfds [MAX_NODES];
        for (int i = 0; i < running; i++)
            pfds [i] = (struct pollfd) { procs [i].out, POLLIN, 0 };
        if (poll (pfds, (nfds_t) running, 100) <= 0)
            continue;
        for (int i = 0; i < running; i++) {
            if (!(pfds [i].revents & POLLIN))
                continue;
            ssize_t r = read (procs [i].out, procs [i].buf + procs [i].len,
                              sizeof procs [i].buf - procs [i].len);
            if (r <= 0)
                continue;
            procs [i].len += (size_t) r;
            int64_t t = now_ns ();
            while (proc_line (&procs [i], 0) == 0) {
                char *line = procs [i].line, *id = strstr (line, "\"id\":\"");
                if (!id)
                    continue;
                if (strstr (line, "\"event\":\"ready\"")) {
                    memcpy (ids [i], id + 6, 64);
                    ids [i][64] = 0;
                    ready_at [i] = t;
                }
                else if (strstr (line, "\"event\":\"peer_joined\"")
                     &&  s_njoins [i] < MAX_NODES * 4) {
                    s_join_t *jn = &s_joins [i][s_njoins [i]++];
                    memcpy (jn->id, id + 6, 64);
                    jn->id [64] = 0;
                    jn->t = t;
                }
            }
        }
    }
    return -1;
}

static void
s_stop_all (proc_t *procs, int n)
{
    memset (s_njoins, 0, sizeof s_njoins);
    for (int i = 0; i < n; i++)
        close (procs [i].in);
    for (int i = 0; i < n; i++) {
        procs [i].in = open ("/dev/null", 1);
        proc_stop (&procs [i]);
    }
}

//  One run of n nodes started together.  Returns ms from the last spawn to
//  all joins (-1 on timeout), and from the first spawn in *from_first_ms.
static double
s_run (int n, double *from_first_ms)
{
    proc_t *procs = calloc (MAX_NODES, sizeof *procs);
    bool need [MAX_NODES * MAX_NODES];
    char ids [MAX_NODES][65] = { { 0 } };
    int64_t ready_at [MAX_NODES] = { 0 }, t_last = 0, t_first = now_ns ();
    for (int i = 0; i < n; i++) {
        s_spawn (&procs [i], i);
        t_last = now_ns ();
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            need [i * n + j] = i != j;
    //  Ids come from ready lines, which s_collect reads as they arrive;
    //  a join seen before its ready is matched when ready arrives, since
    //  nodes print ready before any join
    int64_t done = s_collect (procs, n, need, ids, ready_at, 10000, n);
    *from_first_ms = (double) (done - t_first) / 1e6;
    s_stop_all (procs, n);
    free (procs);
    return done < 0? -1: (double) (done - t_last) / 1e6;
}

//  A mesh of n - 1, then one more, trials times (each leaves before the
//  next comes): ms from its spawn (and from its ready) until all others
//  saw it, into v [] and from_ready [].  Returns the runs measured, or -1.
static int
s_newcomers (int n, int trials, double *v, double *from_ready)
{
    proc_t *procs = calloc (MAX_NODES, sizeof *procs);
    bool need [MAX_NODES * MAX_NODES];
    char ids [MAX_NODES][65] = { { 0 } };
    int64_t ready_at [MAX_NODES] = { 0 };
    for (int i = 0; i < n - 1; i++)
        s_spawn (&procs [i], i);
    for (int i = 0; i < n * n; i++)
        need [i] = false;
    for (int i = 0; i < n - 1; i++)
        for (int j = 0; j < n - 1; j++)
            need [i * n + j] = i != j;
    //  s_collect indexes need by n, so the first n - 1 rows/columns are used
    if (s_collect (procs, n, need, ids, ready_at, 15000, n - 1) < 0) {
        s_stop_all (procs, n - 1);
        return -1;
    }
    for (int i = 0; i < n - 1; i++)
        need [i * n + n - 1] = true;
    int done_runs = 0;
    for (int t = 0; t < trials; t++) {
        ids [n - 1][0] = 0;
        s_njoins [n - 1] = 0;
        int64_t t0 = now_ns ();
        s_spawn (&procs [n - 1], n - 1);
        int64_t done = s_collect (procs, n, need, ids, ready_at, 10000, n);
        if (done < 0)
            break;
        v [t] = (double) (done - t0) / 1e6;
        if (getenv ("BENCH_VERBOSE"))
            fprintf (stderr, "newcomer %d: %.1f ms\n", t, v [t]);
        from_ready [t] = (double) (done - ready_at [n - 1]) / 1e6;
        done_runs++;
        //  It leaves; the mesh keeps the join lines, matched by id
        close (procs [n - 1].in);
        procs [n - 1].in = open ("/dev/null", 1);
        proc_stop (&procs [n - 1]);
    }
    s_stop_all (procs, n - 1);
    free (procs);
    return done_runs == trials? done_runs: -1;
}

//  ---------------------------------------------------------------------
//  The floor

static double
s_cpu_ms (const struct rusage *ru)
{
    return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3
         + (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

static double
s_self_cpu_ms (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return s_cpu_ms (&ru);
}

//  CPU ms one link costs, both ends together, as two nodes make it: a
//  child process's ROUTER takes k DEALERs of ours, each of which says one
//  frame, received with its ZAP check.  -1 on failure.
static double
s_link_cpu_ms (int k)
{
    identity_t *a = identity_generate (), *b = identity_generate ();
    int ctl [2];
    if (!a || !b || pipe (ctl) != 0)
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        //  The server: says its port, then its CPU once all k frames came
        int err, got = 0;
        transport_t *server = transport_new (a, "127.0.0.1", 0, &err);
        int port = server? transport_port (server): -1;
        if (write (ctl [1], &port, sizeof port) != sizeof port || !server)
            _exit (1);
        double start = s_self_cpu_ms ();
        int64_t end = now_ns () + 10000000000LL;
        while (got < k && now_ns () < end) {
            zmq_pollitem_t items [] = { { transport_zap (server), 0, ZMQ_POLLIN, 0 },
                                        { transport_router (server), 0, ZMQ_POLLIN, 0 } };
            zmq_poll (items, 2, 100);
            while (transport_zap_handle (server) == 0)
                ;
            transport_rx_t rx;
            while (transport_recv (server, &rx) == 0) {
                zmq_msg_close (&rx.msg);
                got++;
            }
        }
        double cpu = got == k? s_self_cpu_ms () - start: -1;
        if (write (ctl [1], &cpu, sizeof cpu) != sizeof cpu)
            _exit (1);
        _exit (0);
    }
    close (ctl [1]);
    int err, port = -1;
    double cpu = -1, server_cpu = -1;
    transport_t *client = transport_new (b, "127.0.0.1", 0, &err);
    void **dealers = calloc ((size_t) k, sizeof *dealers);
    if (pid > 0 && client && dealers && read (ctl [0], &port, sizeof port) == sizeof port && port > 0) {
        char endpoint [64];
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        double start = s_self_cpu_ms ();
        bool ok = true;
        for (int i = 0; i < k && ok; i++)
            ok = (dealers [i] = transport_connect (client, identity_box_pk (a), endpoint))
                 && transport_send (dealers [i], "x", 1) == 0;
        //  The DEALERs' handshakes run in our I/O thread until the server is done
        if (ok && read (ctl [0], &server_cpu, sizeof server_cpu) == sizeof server_cpu
        &&  server_cpu >= 0)
            cpu = (s_self_cpu_ms () - start + server_cpu) / k;
    }
    for (int i = 0; dealers && i < k; i++)
        transport_disconnect (&dealers [i]);
    free (dealers);
    transport_destroy (&client);
    close (ctl [0]);
    if (pid > 0)
        waitpid (pid, NULL, 0);
    identity_destroy (&a);
    identity_destroy (&b);
    return cpu;
}

//  CPU ms of one record's signature check.
static double
s_verify_cpu_ms (void)
{
    identity_t *id = identity_generate ();
    uint8_t buf [RECORD_SIZE];
    record_t rec;
    if (!id || record_make (id, "floor", 1, 0, 1, buf) != 0)
        return -1;
    enum { K = 200 };
    double start = s_self_cpu_ms ();
    for (int i = 0; i < K; i++)
        if (record_decode (buf, sizeof buf, &rec) != 0)
            return -1;
    identity_destroy (&id);
    return (s_self_cpu_ms () - start) / K;
}

//  CPU ms of a node's whole life when it has nothing to do: start, ready,
//  end of input, exit (median of 5).
static double
s_node_cpu_ms (void)
{
    double v [5];
    for (int i = 0; i < 5; i++) {
        char home [512];
        snprintf (home, sizeof home, "%s/floor%d", s_tmp, i);
        const char *args [] = { "--home", home, "--name", "floor", "--no-discovery", NULL };
        proc_t *p = calloc (1, sizeof *p);
        if (!p || proc_spawn (p, s_node, args) != 0)
            return -1;
        close (p->in);
        char sink [4096];
        while (read (p->out, sink, sizeof sink) > 0)
            ;
        close (p->out);
        int status;
        struct rusage ru;
        if (wait4 (p->pid, &status, 0, &ru) != p->pid)
            return -1;
        v [i] = s_cpu_ms (&ru);
        free (p);
    }
    return quantile (v, 5, 0.5);
}

static double s_link_ms, s_verify_ms, s_node_ms;
static long s_cores;

//  ms of CPU that pairs links and n nodes need, spread over every core;
//  what it is made of into text.
static double
s_floor_ms (int pairs, int n, char *text, size_t size)
{
    snprintf (text, size, "work on %ld cores: %d links x %.2f, %d record checks x %.2f, "
              "%d node%s x %.1f ms CPU =", s_cores, pairs, s_link_ms, 2 * pairs, s_verify_ms, n,
              n > 1? "s": "", s_node_ms);
    return (pairs * (s_link_ms + 2 * s_verify_ms) + n * s_node_ms) / (double) s_cores;
}

static void
s_row (const char *what, double ours, double base, const char *base_what,
       const char *target, int ok, const char *extra)
{
    printf ("| %s | %.0f ms%s | %s %.0f ms | %.2f | %s | %s |\n", what, ours, extra, base_what,
            base, base > 0? ours / base: 0, target, ok? "yes": "**no**");
}

int
main (int argc, char **argv)
{
    s_node = argc > 1? argv [1]: "build-bench/securechat-node";
    s_tmp = argc > 2? argv [2]: "/tmp";
    snprintf (s_port, sizeof s_port, "%d", 48000 + getpid () % 1000);
    if (sodium_init () < 0)
        return 1;
    s_cores = sysconf (_SC_NPROCESSORS_ONLN);
    //  29 links at a time, as a node of 30 has; more in one process cost
    //  each more (every secure buffer ZeroMQ takes maps pages of its own)
    double links [7];
    for (int i = 0; i < 7; i++)
        links [i] = s_link_cpu_ms (29);
    s_link_ms = quantile (links, 7, 0.5);
    s_verify_ms = s_verify_cpu_ms ();
    s_node_ms = s_node_cpu_ms ();
    char base_what [160];
    int sizes [2] = { 10, 30 };
    if (getenv ("BENCH_ONLY_NEWCOMER"))
        sizes [0] = sizes [1] = 0;
    for (int k = 0; k < 2 && sizes [k]; k++) {
        int n = sizes [k], runs = n == 30? 7: 5;
        double v [8], from_first [8], worst = 0;
        for (int r = 0; r < runs; r++) {
            v [r] = s_run (n, &from_first [r]);
            if (v [r] < 0)
                v [r] = 1e9;
            if (v [r] > worst)
                worst = v [r];
        }
        double med = quantile (v, runs, 0.5);
        char what [96], extra [96];
        snprintf (what, sizeof what, "%d nodes on one host all see each other (median of %d)", n, runs);
        snprintf (extra, sizeof extra, " (worst %.0f; %.0f from the first start)", worst,
                  quantile (from_first, runs, 0.5));
        double work = s_floor_ms (n * (n - 1) / 2, n, base_what, sizeof base_what);
        s_row (what, med, work, base_what,
               n == 30? "< 300 ms, none over 1 s": "-",
               n == 30? med < 300 && worst < 1000: 1, extra);
    }
    enum { TRIALS = 5 };
    double v [TRIALS], from_ready [TRIALS];
    int got = s_newcomers (30, TRIALS, v, from_ready);
    double t = got > 0? quantile (v, got, 0.5): -1, worst = got > 0? v [got - 1]: -1;
    char extra [96];
    snprintf (extra, sizeof extra, " (worst %.0f; %.0f ms from its ready)", worst,
              got > 0? quantile (from_ready, got, 0.5): -1);
    double work = s_floor_ms (29, 1, base_what, sizeof base_what);
    s_row ("a newcomer seen by all of a mesh of 29 (median of 5)", t, work, base_what, "< 50 ms", t >= 0 && t < 50, extra);
    return 0;
}

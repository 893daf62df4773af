/*  bench_hostile: the attacks of issue 13 against a node, each figure beside
    a baseline measured in the same run, on a calm node with no attack:
      - HOME/transfers after 100 hostile offers of 1 TiB from 4 throwaway
        keys (sc-evil-files, above --accept-max)  vs  the calm node's
        HOME/transfers holding one ordinary offer from a real peer that
        waits for /accept
      - the node's steady RSS after the offer flood and the HELLO flood  vs
        the calm node's RSS at the same moment
      - restart (quit, start again with the same home: command to "ready")
        of that node after the offer flood  vs  restart of a node whose
        home is clean (only its identity)
      - a real newcomer links (its start to peer_joined at both ends) while
        1,000 throwaway keys keep saying HELLO from 127.0.0.2, and a /msg +
        receipt round trip between two real nodes meanwhile (median)  vs
        the same two figures with no flood
    The HELLO flood runs in a child process: 1,000 fresh identities, each a
    raw DEALER that completes the CURVE handshake with the node from
    127.0.0.2 and sends HELLO with its signed record; every FLOOD_HOLD_MS
    all are closed and connected again (the same keys trying again), until
    the bench says stop.  Its handshakes share the host's cores with the
    nodes, as an attacker on the same host would.  Beside the figures the
    rows say what explains them: the node's CPU and the flood's over the
    flood, the host's TCP ListenOverflows (SYNs dropped at a full accept
    queue: a dropped SYN is sent again 1 s later), the node's descriptors.
    BENCH_VERBOSE=1 tells more on stderr (round trips over 20 ms, the
    newcomer's steps); BENCH_HOSTILE_MS=N floods for N ms instead of
    RTT_MS.  Nodes run with --no-discovery.  Prints markdown rows.  */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "../../crypto/identity.h"
#include "../../discovery/record.h"
#include "../../discovery/udp.h"
#include "../../node/wire.h"
#include "proc.h"

#define FLOOD_KEYS 1000
#define FLOOD_HOLD_MS 1500
#define RTT_MIN 200             //  round trips at least, and
#define RTT_MS 3000             //  for at least this long
#define RESTARTS 3
#define EVIL_KEYS 4
#define EVIL_OFFERS 25          //  per key: 100 in all
#define TIB (1ULL << 40)

static const char *s_node, *s_tmp;
static char s_evil [1024];

static int64_t
s_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Bytes in the regular files under path (recursively), and their count.
static long long
s_dir_bytes (const char *path, int *files)
{
    DIR *dir = opendir (path);
    long long sum = 0;
    struct dirent *e;
    while (dir && (e = readdir (dir))) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
            continue;
        char sub [2048];
        struct stat st;
        snprintf (sub, sizeof sub, "%s/%s", path, e->d_name);
        if (lstat (sub, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode))
            sum += s_dir_bytes (sub, files);
        else if (S_ISREG (st.st_mode)) {
            sum += st.st_size;
            (*files)++;
        }
    }
    if (dir)
        closedir (dir);
    return sum;
}

//  ns of CPU used so far by every thread of pid (schedstat), or -1.
static int64_t
s_cpu_ns (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    int64_t sum = 0;
    int threads = 0;
    struct dirent *e;
    while (dir && (e = readdir (dir))) {
        char file [340];
        long long ns;
        snprintf (file, sizeof file, "%s/%s/schedstat", path, e->d_name);
        FILE *f = e->d_name [0] == '.'? NULL: fopen (file, "r");
        if (f && fscanf (f, "%lld", &ns) == 1) {
            sum += ns;
            threads++;
        }
        if (f)
            fclose (f);
    }
    if (dir)
        closedir (dir);
    return threads? sum: -1;
}

//  The host's TcpExt ListenOverflows (SYNs dropped at full accept queues), or -1.
static long long
s_listen_overflows (void)
{
    FILE *f = fopen ("/proc/net/netstat", "r");
    char names [8192], values [8192];
    long long v = -1;
    while (f && fgets (names, sizeof names, f) && fgets (values, sizeof values, f)) {
        if (strncmp (names, "TcpExt:", 7) != 0)
            continue;
        char *sn, *sv;
        char *n = strtok_r (names, " \n", &sn), *x = strtok_r (values, " \n", &sv);
        while (n && x) {
            if (strcmp (n, "ListenOverflows") == 0)
                v = atoll (x);
            n = strtok_r (NULL, " \n", &sn);
            x = strtok_r (NULL, " \n", &sv);
        }
    }
    if (f)
        fclose (f);
    return v;
}

//  Open descriptors of pid.
static int
s_fds (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
    DIR *dir = opendir (path);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir (dir)))
        n += e->d_name [0] != '.';
    if (dir)
        closedir (dir);
    return n;
}

//  Reads and discards the nodes' output for ms.
static void
s_idle (proc_t **ps, int n, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        usleep (100000);
        for (int i = 0; i < n; i++)
            proc_drain (ps [i]);
    }
}

//  Occurrences of needle in s.
static int
s_count (const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr (p, needle)); p += strlen (needle))
        n++;
    return n;
}

//  Sends cmd and returns 0 once an event of that kind comes (in p->line).
static int
s_ask (proc_t *p, const char *cmd, const char *event)
{
    char needle [64];
    snprintf (needle, sizeof needle, "\"event\":\"%s\"", event);
    proc_send (p, cmd);
    return proc_until (p, needle, 10000);
}

//  A number field of a JSON line, or -1.
static long long
s_num (const char *line, const char *name)
{
    char key [64];
    snprintf (key, sizeof key, "\"%s\":", name);
    const char *s = strstr (line, key);
    return s? atoll (s + strlen (key)): -1;
}

static void
s_home (char *out, size_t size, const char *name)
{
    snprintf (out, size, "%s/hostile-%s", s_tmp, name);
}

//  Starts a node named name in its own home under s_tmp, linked to peer's
//  port when peer_port > 0.  0 or -1.
static int
s_start (proc_t *p, const char *name, int peer_port, bool spawn_only)
{
    char home [512], dl [600], peer [64];
    s_home (home, sizeof home, name);
    snprintf (dl, sizeof dl, "%s/dl", home);
    mkdir (home, 0700);
    mkdir (dl, 0700);
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", peer_port);
    const char *args [] = { "--home", home, "--name", name, "--no-discovery", "--accept", "known",
                            "--accept-max", "1M", "--downloads", dl,
                            peer_port > 0? "--peer": NULL, peer, NULL };
    return spawn_only? proc_spawn (p, s_node, args): proc_start (p, s_node, args);
}

//  Reads p's lines until one holds both a and b; 0 or -1.
static int
s_until2 (proc_t *p, const char *a, const char *b, int timeout_ms)
{
    int64_t end = now_ns () + (int64_t) timeout_ms * 1000000;
    while (now_ns () < end)
        if (proc_line (p, (int) ((end - now_ns ()) / 1000000) + 1) == 0
        &&  strstr (p->line, a) && strstr (p->line, b))
            return 0;
    return -1;
}

//  ms from spawning a newcomer (linked to node by --peer) until both show
//  the other as joined; the newcomer is left running in nc.  -1 on failure.
static double
s_newcomer (proc_t *node, proc_t *nc, const char *name)
{
    int64_t t0 = now_ns ();
    if (s_start (nc, name, node->port, false) != 0)
        return -1;
    int64_t t1 = now_ns ();
    if (s_until2 (nc, "\"event\":\"peer_joined\"", node->id, 20000) != 0)
        return -1;
    int64_t t2 = now_ns ();
    if (s_until2 (node, "\"event\":\"peer_joined\"", nc->id, 20000) != 0)
        return -1;
    if (getenv ("BENCH_VERBOSE"))
        fprintf (stderr, "%s: ready %.0f ms, joined at its end %.0f ms, at the node's %.0f ms\n",
                 name, (t1 - t0) / 1e6, (t2 - t0) / 1e6, (now_ns () - t0) / 1e6);
    return (double) (now_ns () - t0) / 1e6;
}

//  /msg + receipt round trips from a to b (named to), at least RTT_MIN and
//  for at least RTT_MS; samples (µs) into v (room for max).  Count or -1.
static int
s_rtt (proc_t *a, proc_t *b, const char *to, double *v, int max)
{
    char text [256];
    snprintf (text, sizeof text, "/msg %s %.64s", to,
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    //  BENCH_HOSTILE_MS: a longer window (and so a longer flood)
    const char *env = getenv ("BENCH_HOSTILE_MS");
    int64_t end = now_ns () + (int64_t) (env? atoi (env): RTT_MS) * 1000000;
    int n = 0;
    while (n < max && (n < RTT_MIN || now_ns () < end)) {
        int64_t t0 = now_ns ();
        proc_send (a, text);
        if (proc_until (a, "\"event\":\"delivered\"", 10000) != 0) {
            fprintf (stderr, "bench_hostile: no receipt after %d; last: %s\n", n, a->line);
            return -1;
        }
        v [n++] = (double) (now_ns () - t0) / 1000.0;
        proc_drain (b);
        if (v [n - 1] > 20000 && getenv ("BENCH_VERBOSE"))
            fprintf (stderr, "round trip %d: %.1f ms\n", n - 1, v [n - 1] / 1000);
    }
    return n;
}

//  ---------------------------------------------------------------------
//  The HELLO flood, in a child process

typedef struct {
    pid_t pid;
    int ctl;                    //  write: closing it stops the flood
    int back;                   //  read: "r" once the first round is out, then the totals
} s_flood_t;

//  The node's record, by a UDP record request to its port.  0 or -1.
static int
s_record_of (int port, record_t *rec)
{
    int udp = udp_open ("127.0.0.1", 0, false);
    struct sockaddr_in to;
    uint8_t req [RECORD_REQ_SIZE], buf [512];
    if (udp < 0 || udp_resolve ("127.0.0.1", port, &to) != 0)
        return -1;
    record_request (req);
    int rc = -1;
    for (int64_t end = s_wall_ms () + 10000; rc != 0 && s_wall_ms () < end; ) {
        udp_send (udp, &to, req, sizeof req);
        struct pollfd p = { .fd = udp, .events = POLLIN };
        if (poll (&p, 1, 300) == 1) {
            struct sockaddr_in from;
            int n = udp_recv (udp, buf, sizeof buf, &from);
            if (n > 0 && record_decode (buf, (size_t) n, rec) == 0)
                rc = 0;
        }
    }
    close (udp);
    return rc;
}

static void
s_flood_child (int port, int ctl, int back)
{
    record_t node;
    if (s_record_of (port, &node) != 0)
        _exit (1);
    static identity_t *ids [FLOOD_KEYS];
    static uint8_t *hellos [FLOOD_KEYS];
    static size_t lens [FLOOD_KEYS];
    for (int i = 0; i < FLOOD_KEYS; i++) {
        uint8_t rec [RECORD_SIZE];
        char name [16];
        snprintf (name, sizeof name, "t%d", i);
        ids [i] = identity_generate ();
        if (!ids [i] || record_make (ids [i], name, 9, 0, s_wall_ms (), rec) != 0)
            _exit (1);
        wire_frame_t f = { .type = WIRE_HELLO, .hello = { .record = rec, .record_len = RECORD_SIZE,
                           .session = randombytes_random () | 1, .seen = 0 } };
        if (wire_encode (&f, &hellos [i], &lens [i]) != 0)
            _exit (1);
    }
    void *ctx = zmq_ctx_new ();
    //  Closed sockets are reaped later: room for a few rounds
    zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, 4 * FLOOD_KEYS + 64);
    char ep [64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.2:0;127.0.0.1:%d", port);
    static void *socks [FLOOD_KEYS];
    long rounds = 0, hellos_sent = 0;
    bool stop = false;
    while (!stop) {
        for (int i = 0; i < FLOOD_KEYS; i++) {
            void *s = socks [i] = zmq_socket (ctx, ZMQ_DEALER);
            if (!s)
                continue;
            int zero = 0;
            zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
            zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, node.box_pk, 32);
            zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, identity_box_pk (ids [i]), 32);
            zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, identity_box_sk (ids [i]), 32);
            if (zmq_connect (s, ep) == 0 && zmq_send (s, hellos [i], lens [i], ZMQ_DONTWAIT) >= 0)
                hellos_sent++;
        }
        if (rounds++ == 0 && write (back, "r", 1) != 1)
            _exit (1);
        //  Hold them, answering nothing, until the next round or stop
        struct pollfd p = { ctl, POLLIN, 0 };
        char c;
        if (poll (&p, 1, FLOOD_HOLD_MS) > 0 && read (ctl, &c, 1) <= 0)
            stop = true;
        for (int i = 0; i < FLOOD_KEYS; i++)
            if (socks [i])
                zmq_close (socks [i]);
    }
    zmq_ctx_term (ctx);
    char out [64];
    int n = snprintf (out, sizeof out, "%ld %ld\n", rounds, hellos_sent);
    if (write (back, out, (size_t) n) != n)
        _exit (1);
    _exit (0);
}

static int
s_flood_start (s_flood_t *fl, int port)
{
    int ctl [2], back [2];
    if (pipe2 (ctl, O_CLOEXEC) || pipe2 (back, O_CLOEXEC))
        return -1;
    fl->pid = fork ();
    if (fl->pid == 0) {
        close (ctl [1]);
        close (back [0]);
        s_flood_child (port, ctl [0], back [1]);
    }
    close (ctl [0]);
    close (back [1]);
    fl->ctl = ctl [1];
    fl->back = back [0];
    char c;
    struct pollfd p = { fl->back, POLLIN, 0 };
    if (fl->pid < 0 || poll (&p, 1, 20000) != 1 || read (fl->back, &c, 1) != 1)
        return -1;
    return 0;
}

//  Stops the flood; its rounds and HELLOs sent.
static void
s_flood_stop (s_flood_t *fl, long *rounds, long *sent)
{
    close (fl->ctl);
    char buf [64] = "";
    struct pollfd p = { fl->back, POLLIN, 0 };
    ssize_t n = poll (&p, 1, 20000) == 1? read (fl->back, buf, sizeof buf - 1): -1;
    buf [n > 0? n: 0] = 0;
    *rounds = *sent = -1;
    sscanf (buf, "%ld %ld", rounds, sent);
    close (fl->back);
    kill (fl->pid, SIGKILL);
    waitpid (fl->pid, NULL, 0);
}

//  ---------------------------------------------------------------------
//  The offer flood: sc-evil-files

typedef struct {
    pid_t pid;
    int in, out;
} s_evil_t;

//  4 throwaway keys, 25 offers of 1 TiB each in 256 KiB chunks; waits
//  until node has shown every key's "evil-done".  ms it took, or -1.
static double
s_evil_start (s_evil_t *e, proc_t *node)
{
    int to [2], from [2];
    if (pipe2 (to, O_CLOEXEC) || pipe2 (from, O_CLOEXEC))
        return -1;
    int64_t t0 = now_ns ();
    e->pid = fork ();
    if (e->pid == 0) {
        dup2 (to [0], 0);
        dup2 (from [1], 1);
        char port [16], keys [16], offers [16], size [32];
        snprintf (port, sizeof port, "%d", node->port);
        snprintf (keys, sizeof keys, "%d", EVIL_KEYS);
        snprintf (offers, sizeof offers, "%d", EVIL_OFFERS);
        snprintf (size, sizeof size, "%llu", (unsigned long long) TIB);
        execl (s_evil, s_evil, port, keys, offers, size, "262144", (char *) NULL);
        _exit (127);
    }
    close (to [0]);
    close (from [1]);
    e->in = to [1];
    e->out = from [0];
    if (e->pid < 0)
        return -1;
    int done = 0;
    while (done < EVIL_KEYS && proc_until (node, "evil-done", 30000) == 0)
        done += strstr (node->line, "\"event\":\"message\"") != NULL;
    return done == EVIL_KEYS? (double) (now_ns () - t0) / 1e6: -1;
}

static void
s_evil_stop (s_evil_t *e)
{
    close (e->in);
    int status;
    int64_t end = now_ns () + 5000000000LL;
    while (waitpid (e->pid, &status, WNOHANG) == 0 && now_ns () < end)
        usleep (20000);
    kill (e->pid, SIGKILL);
    waitpid (e->pid, NULL, 0);
    close (e->out);
}

//  ---------------------------------------------------------------------

//  ms from spawning a node on home name to its "ready".
static double
s_restart (proc_t *p, const char *name)
{
    int64_t t0 = now_ns ();
    if (s_start (p, name, 0, false) != 0)
        return -1;
    return (double) (now_ns () - t0) / 1e6;
}

static void
s_fail (const char *what)
{
    fprintf (stderr, "bench_hostile: %s\n", what);
    char row [256];
    snprintf (row, sizeof row, "bench_hostile failed: %s", what);
    proc_row (row, "-", "-", 0, "-", 0);
    exit (1);
}

int
main (int argc, char **argv)
{
    s_node = argc > 1? argv [1]: "build-bench/securechat-node";
    s_tmp = argc > 2? argv [2]: "/tmp";
    char dir [1024];
    snprintf (dir, sizeof dir, "%s", s_node);
    snprintf (s_evil, sizeof s_evil, "%s/sc-evil-files", dirname (dir));
    signal (SIGPIPE, SIG_IGN);
    if (sodium_init () < 0)
        return 1;

    //  The calm node and the victim, each with one real peer linked
    proc_t calm, calm_peer, victim, peer;
    if (s_start (&calm, "calm", 0, false) || s_start (&victim, "victim", 0, false)
    ||  s_start (&calm_peer, "calmpeer", calm.port, false) || s_start (&peer, "peer", victim.port, false)
    ||  proc_until (&calm, "peer_joined", 10000) || proc_until (&calm_peer, "peer_joined", 10000)
    ||  proc_until (&victim, "peer_joined", 10000) || proc_until (&peer, "peer_joined", 10000))
        s_fail ("the nodes did not start and link");

    //  Baseline 1: one ordinary offer (2 MiB, above --accept-max 1M) from
    //  a real peer, waiting for /accept at the calm node
    char file [512], cmd [700];
    snprintf (file, sizeof file, "%s/hostile-ordinary.bin", s_tmp);
    FILE *f = fopen (file, "w");
    for (int i = 0; f && i < 2 * 1024; i++) {
        char kib [1024];
        randombytes_buf (kib, sizeof kib);
        fwrite (kib, 1, sizeof kib, f);
    }
    if (f)
        fclose (f);
    snprintf (cmd, sizeof cmd, "/send calm %s", file);
    proc_send (&calm_peer, cmd);
    if (proc_until (&calm, "\"state\":\"offered\"", 10000) != 0)
        s_fail ("the ordinary offer did not come");
    usleep (300000);            //  let it be saved

    //  Baseline 4: a newcomer and chat with no flood
    proc_t calm_nc, victim_nc;
    double *rtt_calm = malloc (100000 * sizeof (double)), *rtt_flood = malloc (100000 * sizeof (double));
    double join_calm = s_newcomer (&calm, &calm_nc, "newcomer1");
    int n_calm = s_rtt (&calm_peer, &calm, "calm", rtt_calm, 100000);
    if (join_calm < 0 || n_calm < 0)
        s_fail ("the calm newcomer or chat failed");

    //  The offer flood
    s_evil_t evil;
    double evil_ms = s_evil_start (&evil, &victim);
    if (evil_ms < 0)
        s_fail ("the offer flood did not end (no evil-done from every key)");
    usleep (500000);            //  let the offers be saved
    char path [600];
    int files_v = 0, files_c = 0;
    s_home (path, sizeof path, "victim");
    strcat (path, "/transfers");
    long long bytes_v = s_dir_bytes (path, &files_v);
    s_home (path, sizeof path, "calm");
    strcat (path, "/transfers");
    long long bytes_c = s_dir_bytes (path, &files_c);
    int offered = -1;
    if (s_ask (&victim, "/transfers", "transfers") == 0)
        offered = s_count (victim.line, "\"state\":\"offered\"");
    long long refused = -1;
    if (s_ask (&victim, "/stats", "stats") == 0)
        refused = s_num (victim.line, "offers_refused");

    long rss_offers = proc_rss_kb (victim.pid), rss_calm0 = proc_rss_kb (calm.pid);
    int fds0 = s_fds (victim.pid);
    long long udp0 = -1;
    if (s_ask (&victim, "/stats", "stats") == 0)
        udp0 = s_num (victim.line, "udp_dropped");

    //  The HELLO flood; a newcomer and chat meanwhile
    s_flood_t flood;
    int64_t f0 = now_ns ();
    long long lo0 = s_listen_overflows ();
    if (s_flood_start (&flood, victim.port) != 0)
        s_fail ("the HELLO flood did not start");
    int64_t cpu_v0 = s_cpu_ns (victim.pid), cpu_f0 = s_cpu_ns (flood.pid), c0 = now_ns ();
    double join_flood = s_newcomer (&victim, &victim_nc, "newcomer2");
    int n_flood = s_rtt (&peer, &victim, "victim", rtt_flood, 100000);
    long rounds, hellos;
    double flood_s = (double) (now_ns () - f0) / 1e9;
    double span = (double) (now_ns () - c0);
    long long overflows = s_listen_overflows () - lo0;
    double cpu_v = 100.0 * (double) (s_cpu_ns (victim.pid) - cpu_v0) / span;
    double cpu_f = 100.0 * (double) (s_cpu_ns (flood.pid) - cpu_f0) / span;
    s_flood_stop (&flood, &rounds, &hellos);
    int fds1 = s_fds (victim.pid);
    long long peers_refused = -1, peers = -1, udp1 = -1;
    if (s_ask (&victim, "/stats", "stats") == 0) {
        peers_refused = s_num (victim.line, "peers_refused");
        peers = s_num (victim.line, "peers");
        udp1 = s_num (victim.line, "udp_dropped");
    }
    if (join_flood < 0 || n_flood < 0)
        fprintf (stderr, "bench_hostile: under the flood the newcomer %s, the chat %s\n",
                 join_flood < 0? "did not link": "linked", n_flood < 0? "failed": "went on");

    //  Steady RSS: both nodes idle a while after the floods
    proc_t *all [] = { &victim, &calm, &peer, &calm_peer, &victim_nc, &calm_nc };
    s_idle (all, 6, 2000);
    long rss_v = proc_rss_kb (victim.pid), rss_c = proc_rss_kb (calm.pid);
    int fds2 = s_fds (victim.pid);
    s_idle (all, 6, 5000);
    long rss_v7 = proc_rss_kb (victim.pid), rss_c7 = proc_rss_kb (calm.pid);
    long hwm_v = proc_status_kb (victim.pid, "VmHWM:"), hwm_c = proc_status_kb (calm.pid, "VmHWM:");
    int fds3 = s_fds (victim.pid);
    if (getenv ("BENCH_VERBOSE"))
        fprintf (stderr, "victim: descriptors %d after the offer flood, %d as the HELLO flood ended, "
                 "%d 2 s later, %d 7 s later; udp_dropped %lld before the HELLO flood, %lld after\n",
                 fds0, fds1, fds2, fds3, udp0, udp1);

    //  Restarts: the victim's home (after the offer flood) and a clean one
    s_evil_stop (&evil);
    proc_stop (&victim_nc);
    proc_stop (&calm_nc);
    proc_stop (&peer);
    proc_stop (&calm_peer);
    proc_stop (&calm);
    proc_t clean;
    if (s_start (&clean, "clean", 0, false) != 0)
        s_fail ("the clean node did not start");
    proc_stop (&clean);
    proc_stop (&victim);
    double rv [RESTARTS], rc [RESTARTS];
    int offered_after = -1;
    for (int i = 0; i < RESTARTS; i++) {
        proc_t p;
        rv [i] = s_restart (&p, "victim");
        if (rv [i] >= 0 && s_ask (&p, "/transfers", "transfers") == 0)
            offered_after = s_count (p.line, "\"state\":\"offered\"");
        proc_stop (&p);
        rc [i] = s_restart (&p, "clean");
        proc_stop (&p);
        if (rv [i] < 0 || rc [i] < 0)
            s_fail ("a restart failed");
    }

    //  The rows
    char ours [512], base [384];
    snprintf (ours, sizeof ours, "%.1f KiB in %d files (%d offers wait for /accept, %lld refused; "
              "the flood took %.0f ms)", bytes_v / 1024.0, files_v, offered, refused, evil_ms);
    snprintf (base, sizeof base, "the calm node's, one ordinary 2 MiB offer from a real peer "
              "waiting for /accept: %.1f KiB in %d files", bytes_c / 1024.0, files_c);
    proc_row ("HOME/transfers after 100 hostile offers of 1 TiB (4 throwaway keys, --accept known, "
           "--accept-max 1M)", ours, base, bytes_c > 0? (double) bytes_v / bytes_c: 0, "< 1 MiB",
           bytes_v < 1024 * 1024);

    snprintf (ours, sizeof ours, "%.1f MB 2 s after, %.1f MB 7 s after (peak %.1f MB; %.1f MB after "
              "the offer flood alone; descriptors %d before the HELLO flood, %d 7 s after)",
              rss_v / 1024.0, rss_v7 / 1024.0, hwm_v / 1024.0, rss_offers / 1024.0, fds0, fds3);
    snprintf (base, sizeof base, "the calm node (one peer, one newcomer, one offer waiting), same "
              "moments: %.1f MB, %.1f MB (peak %.1f MB; %.1f MB)", rss_c / 1024.0, rss_c7 / 1024.0,
              hwm_c / 1024.0, rss_calm0 / 1024.0);
    proc_row ("steady RSS of the node after the offer flood and the HELLO flood", ours, base,
           (double) rss_v7 / rss_c7, "< 20 MB", rss_v7 > 0 && rss_v7 < 20 * 1024);

    double rv_med = quantile (rv, RESTARTS, 0.5), rc_med = quantile (rc, RESTARTS, 0.5);
    snprintf (ours, sizeof ours, "%.0f ms (median of %d, worst %.0f; %d offers wait after it)",
              rv_med, RESTARTS, rv [RESTARTS - 1], offered_after);
    snprintf (base, sizeof base, "a node with a clean home (its identity only): %.0f ms (worst %.0f)",
              rc_med, rc [RESTARTS - 1]);
    proc_row ("restart after the offer flood: command to ready", ours, base, rv_med / rc_med,
           "(for scale)", 1);

    snprintf (ours, sizeof ours, "%.0f ms (flood: %d keys from 127.0.0.2, %ld HELLOs in %ld rounds "
              "over %.1f s; peers_refused %lld, peers %lld; CPU meanwhile: the node %.0f %% of a core, "
              "the flood %.0f %%; the host's TCP ListenOverflows +%lld)", join_flood, FLOOD_KEYS, hellos,
              rounds, flood_s, peers_refused, peers, cpu_v, cpu_f, overflows);
    snprintf (base, sizeof base, "no flood: %.0f ms", join_calm);
    proc_row ("a real newcomer linked at both ends (its start to peer_joined) while 1,000 throwaway "
           "keys say HELLO", ours, base, join_calm > 0? join_flood / join_calm: 0,
           "links (times for scale)", join_flood >= 0);

    double med_c = quantile (rtt_calm, n_calm, 0.5), p99_c = quantile (rtt_calm, n_calm, 0.99);
    double med_f = n_flood > 0? quantile (rtt_flood, n_flood, 0.5): -1;
    double p99_f = n_flood > 0? quantile (rtt_flood, n_flood, 0.99): -1;
    snprintf (ours, sizeof ours, "%.0f µs (p99 %.0f, worst %.0f; %d round trips during the flood)",
              med_f, p99_f, n_flood > 0? rtt_flood [n_flood - 1]: -1, n_flood);
    snprintf (base, sizeof base, "no flood: %.0f µs (p99 %.0f, worst %.0f; %d)", med_c, p99_c,
              rtt_calm [n_calm - 1], n_calm);
    proc_row ("/msg + receipt round trip between two real nodes during the HELLO flood, median", ours,
           base, med_c > 0? med_f / med_c: 0, "goes on (times for scale)", n_flood > 0);
    free (rtt_calm);
    free (rtt_flood);
    return 0;
}

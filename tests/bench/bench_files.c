/*  bench_files: a 1 GiB file sent by /send, and fetched by /get, between
    two nodes on loopback: from the command to the receiver's "done" (the
    checksum at both ends and the disk write included), and to the
    receiver's first progress with bytes written (the offer and the accept
    included), beside the same bytes in the same run over raw TCP and over
    a plain ZeroMQ CURVE stream of 256 KiB messages.  The CPU seconds each
    node spent per GiB stand beside those of the bare CURVE stream's ends
    and of XXH3-128 alone.  */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <xxhash.h>
#include <unistd.h>
#include <zmq.h>
#include "proc.h"

#define TOTAL (1024LL * 1024 * 1024)
#define CHUNK (256 * 1024)

static double
s_raw_tcp (void)
{
    int lfd = socket (AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (bind (lfd, (struct sockaddr *) &a, sizeof a) || listen (lfd, 1)
    ||  getsockname (lfd, (struct sockaddr *) &a, &alen))
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        int c = accept (lfd, NULL, NULL);
        char *buf = malloc (CHUNK);
        long long got = 0;
        ssize_t n;
        while ((n = read (c, buf, CHUNK)) > 0)
            got += n;
        _exit (got == TOTAL? 0: 1);
    }
    close (lfd);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (connect (fd, (struct sockaddr *) &a, sizeof a))
        return -1;
    char *buf = malloc (CHUNK);
    memset (buf, 'x', CHUNK);
    int64_t t0 = now_ns ();
    for (long long sent = 0; sent < TOTAL; ) {
        ssize_t n = write (fd, buf, CHUNK);
        if (n <= 0)
            return -1;
        sent += n;
    }
    close (fd);
    int status;
    waitpid (pid, &status, 0);
    free (buf);
    return TOTAL / ((double) (now_ns () - t0) / 1e9) / 1e6;
}

static double s_curve_tx_cpu, s_curve_rx_cpu;   //  CPU seconds of each end, per GiB

static double
s_cpu_self (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double
s_cpu_children (void)
{
    struct rusage ru;
    getrusage (RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

//  CPU seconds of XXH3-128 over 1 GiB in memory.
static double
s_xxh3_cpu (const char *block, size_t len)
{
    struct timespec a, b;
    XXH3_state_t *st = XXH3_createState ();
    XXH3_128bits_reset (st);
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &a);
    for (long long done = 0; done < TOTAL; done += (long long) len)
        XXH3_128bits_update (st, block, len);
    volatile XXH128_hash_t h = XXH3_128bits_digest (st);
    (void) h;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &b);
    XXH3_freeState (st);
    return (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
}

static double
s_curve_stream (void)
{
    double self0 = s_cpu_self (), child0 = s_cpu_children ();
    char spk [41], ssk [41], cpk [41], csk [41];
    zmq_curve_keypair (spk, ssk);
    zmq_curve_keypair (cpk, csk);
    //  The server binds any free port and says which (a guessed one may be taken)
    char ep [64] = "";
    int ready [2];
    if (pipe (ready))
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        void *ctx = zmq_ctx_new (), *r = zmq_socket (ctx, ZMQ_ROUTER);
        int one = 1;
        size_t size = sizeof ep;
        zmq_setsockopt (r, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt (r, ZMQ_CURVE_SECRETKEY, ssk, 40);
        if (zmq_bind (r, "tcp://127.0.0.1:*") || zmq_getsockopt (r, ZMQ_LAST_ENDPOINT, ep, &size))
            _exit (1);
        if (write (ready [1], ep, sizeof ep) != sizeof ep)
            _exit (1);
        long long got = 0;
        zmq_msg_t id, body;
        while (got < TOTAL) {
            zmq_msg_init (&id);
            zmq_msg_init (&body);
            zmq_msg_recv (&id, r, 0);
            zmq_msg_recv (&body, r, 0);
            got += (long long) zmq_msg_size (&body);
            if (got < TOTAL)
                zmq_msg_close (&id);
            zmq_msg_close (&body);
        }
        zmq_msg_send (&id, r, ZMQ_SNDMORE);
        zmq_send (r, "k", 1, 0);
        zmq_close (r);
        zmq_ctx_term (ctx);
        _exit (0);
    }
    //  Our copy of the write end goes, so a server that failed ends the read
    close (ready [1]);
    char c;
    ssize_t got = read (ready [0], ep, sizeof ep);
    close (ready [0]);
    if (got != (ssize_t) sizeof ep) {
        waitpid (pid, NULL, 0);
        return -1;
    }
    void *ctx = zmq_ctx_new (), *d = zmq_socket (ctx, ZMQ_DEALER);
    zmq_setsockopt (d, ZMQ_CURVE_SERVERKEY, spk, 40);
    zmq_setsockopt (d, ZMQ_CURVE_PUBLICKEY, cpk, 40);
    zmq_setsockopt (d, ZMQ_CURVE_SECRETKEY, csk, 40);
    zmq_connect (d, ep);
    char *buf = malloc (CHUNK);
    memset (buf, 'x', CHUNK);
    int64_t t0 = now_ns ();
    for (long long sent = 0; sent < TOTAL; sent += CHUNK)
        zmq_send (d, buf, CHUNK, 0);
    zmq_recv (d, &c, 1, 0);
    double rate = TOTAL / ((double) (now_ns () - t0) / 1e9) / 1e6;
    zmq_close (d);
    zmq_ctx_term (ctx);
    waitpid (pid, NULL, 0);
    free (buf);
    s_curve_tx_cpu = s_cpu_self () - self0;
    s_curve_rx_cpu = s_cpu_children () - child0;
    return rate;
}

//  The disk alone: 1 GiB written to a new file in 256 KiB pwrites, then
//  fsync, as the receiver writes.  MB/s.  On this machine kind (a VM whose
//  host backs guest memory at first touch and takes freed pages back
//  within seconds) the first fresh GiB of page cache costs about 1 s of
//  kernel time, 4x the next: measured right before each transfer, this
//  pays that, as the writes before any transfer on a real machine would.
static double
s_disk_write (const char *tmp)
{
    char path [600];
    snprintf (path, sizeof path, "%s/disk.bin", tmp);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *buf = malloc (CHUNK);
    if (fd < 0 || !buf)
        return -1;
    memset (buf, 'd', CHUNK);
    int64_t t0 = now_ns ();
    for (long long at = 0; at < TOTAL; at += CHUNK)
        if (pwrite (fd, buf, CHUNK, at) != CHUNK)
            return -1;
    if (fsync (fd) != 0)
        return -1;
    double rate = TOTAL / ((double) (now_ns () - t0) / 1e9) / 1e6;
    close (fd);
    unlink (path);
    free (buf);
    return rate;
}

typedef struct {
    double disk;                //  MB/s of the disk alone, just before
    double rate;                //  MB/s, command to saved (0: not done)
    double first_ms;            //  command to the receiver's first bytes written
    double tx_cpu, rx_cpu;      //  CPU seconds of the sending and receiving node
    proc_cpu_t tx, rx;          //  the same by thread kind
} s_run_t;

//  One transfer of path from a to b: by /send (a's command) or /get (b's).
static s_run_t
s_transfer (const char *node, const char *tmp, const char *path, bool get)
{
    s_run_t r = { .disk = s_disk_write (tmp) };
    char home_a [512], home_b [512], dl [512], peer [64], cmd [700];
    const char *tag = get? "get": "send";
    snprintf (home_a, sizeof home_a, "%s/fa-%s", tmp, tag);
    snprintf (home_b, sizeof home_b, "%s/fb-%s", tmp, tag);
    snprintf (dl, sizeof dl, "%s/fdl-%s", tmp, tag);
    proc_t a, b;
    const char *args_a [] = { "--home", home_a, "--name", "alice", "--no-discovery", NULL };
    if (proc_start (&a, node, args_a))
        return r;
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", a.port);
    const char *args_b [] = { "--home", home_b, "--name", "bob", "--no-discovery", "--peer", peer,
                              "--downloads", dl, "--accept", "known", NULL };
    if (proc_start (&b, node, args_b) || proc_until (&a, "peer_joined", 10000)
    ||  proc_until (&b, "peer_joined", 10000))
        return r;
    if (get) {
        snprintf (cmd, sizeof cmd, "/share %s", path);
        proc_send (&a, cmd);
        if (proc_until (&a, "\"shared\"", 10000))
            return r;
    }
    const char *base = strrchr (path, '/');
    base = base? base + 1: path;
    if (get)
        snprintf (cmd, sizeof cmd, "/get alice %s", base);
    else
        snprintf (cmd, sizeof cmd, "/send bob %s", path);
    double cpu_a = proc_cpu_s (a.pid), cpu_b = proc_cpu_s (b.pid);
    proc_cpu_t split_a, split_b;
    proc_cpu_split (a.pid, &split_a);
    proc_cpu_split (b.pid, &split_b);
    int64_t t0 = now_ns ();
    proc_send (get? &b: &a, cmd);
    int64_t end = now_ns () + 120000000000LL;
    int done = 0;
    while (!done && now_ns () < end) {
        proc_drain (&a);
        if (proc_line (&b, 200) != 0 || !strstr (b.line, "\"event\":\"transfer\""))
            continue;
        const char *bytes = strstr (b.line, "\"bytes\":");
        if (!r.first_ms && bytes && strtoll (bytes + 8, NULL, 10) > 0)
            r.first_ms = (double) (now_ns () - t0) / 1e6;
        if (strstr (b.line, "\"state\":\"done\""))
            done = 1;
    }
    int64_t t1 = now_ns ();
    r.tx_cpu = proc_cpu_s (a.pid) - cpu_a;
    r.rx_cpu = proc_cpu_s (b.pid) - cpu_b;
    proc_cpu_split (a.pid, &r.tx);
    proc_cpu_split (b.pid, &r.rx);
    proc_cpu_diff (&r.tx, &split_a);
    proc_cpu_diff (&r.rx, &split_b);
    r.rate = done? TOTAL / ((double) (t1 - t0) / 1e9) / 1e6: 0;
    proc_stop (&b);
    proc_stop (&a);
    char got [600];
    snprintf (got, sizeof got, "%s/%s", dl, base);
    unlink (got);
    return r;
}

int
main (int argc, char **argv)
{
    const char *node = argc > 1? argv [1]: "build-bench/securechat-node";
    const char *tmp = argc > 2? argv [2]: "/tmp";
    char path [512];
    snprintf (path, sizeof path, "%s/gib.bin", tmp);
    //  1 GiB of varied bytes
    FILE *f = fopen (path, "wb");
    char *block = malloc (4 << 20);
    FILE *r = fopen ("/dev/urandom", "rb");
    if (!f || !block || !r || fread (block, 1, 4 << 20, r) != 4 << 20)
        return 1;
    for (int i = 0; i < 256; i++) {
        block [i] ^= (char) i;
        if (fwrite (block, 1, 4 << 20, f) != 4 << 20)
            return 1;
    }
    //  On the disk before anything is timed: its writeback would otherwise
    //  fall on the first transfer (3x the receiver's CPU, measured)
    if (fflush (f) != 0 || fsync (fileno (f)) != 0)
        return 1;
    fclose (f);
    fclose (r);
    double xxh3 = s_xxh3_cpu (block, 4 << 20);
    free (block);
    double tcp = s_raw_tcp (), curve = s_curve_stream ();
    s_run_t send = s_transfer (node, tmp, path, false);
    s_run_t get = s_transfer (node, tmp, path, true);
    unlink (path);

    char ours [200], base [300];
    const char *how [2] = { "/send", "/get" };
    s_run_t *runs [2] = { &send, &get };
    for (int i = 0; i < 2; i++) {
        s_run_t *x = runs [i];
        char what [200];
        snprintf (what, sizeof what, "1 GiB file by %s, command to saved (checksum checked at both ends, disk write)", how [i]);
        snprintf (ours, sizeof ours, "%.0f MB/s", x->rate);
        snprintf (base, sizeof base, "CURVE stream %.0f MB/s; raw TCP %.0f MB/s; the disk alone "
                  "(1 GiB pwrite + fsync, just before) %.0f MB/s", curve, tcp, x->disk);
        proc_row (what, ours, base, x->rate / curve, "≥ 0.60 of CURVE and ≥ 300 MB/s where CURVE ≥ 500",
                  x->rate >= 0.6 * curve && (curve < 500 || x->rate >= 300));
        snprintf (what, sizeof what, "first data at the receiver after %s of 1 GiB (its first progress with bytes written)", how [i]);
        snprintf (ours, sizeof ours, "%.1f ms", x->first_ms);
        snprintf (base, sizeof base, "the whole transfer %.0f ms", TOTAL / x->rate / 1e3);
        proc_row (what, ours, base, x->first_ms / 50, "≤ 50 ms", x->first_ms > 0 && x->first_ms <= 50);
    }
    for (int i = 0; i < 2; i++) {
        s_run_t *x = runs [i];
        char what [200];
        snprintf (what, sizeof what, "sender node CPU per GiB (%s)", how [i]);
        snprintf (ours, sizeof ours, "%.2f s (loop: user %.2f, system %.2f; ZeroMQ threads: user %.2f, "
                  "system %.2f)", x->tx_cpu, x->tx.loop_user, x->tx.loop_sys, x->tx.threads_user,
                  x->tx.threads_sys);
        snprintf (base, sizeof base, "bare CURVE sender %.2f s + XXH3-128 alone %.2f s = %.2f s",
                  s_curve_tx_cpu, xxh3, s_curve_tx_cpu + xxh3);
        proc_row (what, ours, base, x->tx_cpu / (s_curve_tx_cpu + xxh3), "(for scale)", 1);
        snprintf (what, sizeof what, "receiver node CPU per GiB (%s)", how [i]);
        snprintf (ours, sizeof ours, "%.2f s (loop: user %.2f, system %.2f; ZeroMQ threads: user %.2f, "
                  "system %.2f)", x->rx_cpu, x->rx.loop_user, x->rx.loop_sys, x->rx.threads_user,
                  x->rx.threads_sys);
        snprintf (base, sizeof base, "bare CURVE receiver %.2f s + XXH3-128 alone %.2f s = %.2f s",
                  s_curve_rx_cpu, xxh3, s_curve_rx_cpu + xxh3);
        proc_row (what, ours, base, x->rx_cpu / (s_curve_rx_cpu + xxh3), "(for scale)", 1);
    }
    return 0;
}

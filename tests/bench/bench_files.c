/*  bench_files: a 1 GiB file sent by /send between two nodes on loopback,
    from the command to the receiver's "done" (hashing at both ends and the
    disk write included), beside the same bytes in the same run over raw TCP
    and over a plain ZeroMQ CURVE stream of 256 KiB messages.  */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

static double
s_curve_stream (void)
{
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
    return rate;
}

int
main (int argc, char **argv)
{
    const char *node = argc > 1? argv [1]: "build-bench/securechat-node";
    const char *tmp = argc > 2? argv [2]: "/tmp";
    char path [512], home_a [512], home_b [512], dl [512], peer [64], cmd [700];
    snprintf (path, sizeof path, "%s/gib.bin", tmp);
    snprintf (home_a, sizeof home_a, "%s/fa", tmp);
    snprintf (home_b, sizeof home_b, "%s/fb", tmp);
    snprintf (dl, sizeof dl, "%s/fdl", tmp);
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
    fclose (f);
    fclose (r);
    free (block);
    double tcp = s_raw_tcp (), curve = s_curve_stream ();

    proc_t a, b;
    const char *args_a [] = { "--home", home_a, "--name", "alice", "--no-discovery", NULL };
    if (proc_start (&a, node, args_a))
        return 1;
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", a.port);
    const char *args_b [] = { "--home", home_b, "--name", "bob", "--no-discovery", "--peer", peer,
                              "--downloads", dl, "--accept", "known", NULL };
    if (proc_start (&b, node, args_b) || proc_until (&a, "peer_joined", 10000)
    ||  proc_until (&b, "peer_joined", 10000))
        return 1;
    snprintf (cmd, sizeof cmd, "/send bob %s", path);
    int64_t t0 = now_ns ();
    proc_send (&a, cmd);
    int64_t end = now_ns () + 120000000000LL;
    int done = 0;
    while (!done && now_ns () < end) {
        proc_drain (&a);
        if (proc_line (&b, 200) == 0 && strstr (b.line, "\"state\":\"done\""))
            done = 1;
    }
    double ours = done? TOTAL / ((double) (now_ns () - t0) / 1e9) / 1e6: 0;
    proc_stop (&b);
    proc_stop (&a);
    unlink (path);
    char got [600];
    snprintf (got, sizeof got, "%s/gib.bin", dl);
    unlink (got);

    printf ("| 1 GiB file by /send, command to saved (both hashes, disk write) | %.0f MB/s | "
            "CURVE stream %.0f MB/s; raw TCP %.0f MB/s | %.2f of CURVE | ≥ 0.60 of CURVE and ≥ 300 MB/s | %s |\n",
            ours, curve, tcp, ours / curve, ours >= 0.6 * curve && ours >= 300? "yes": "**no**");
    return 0;
}

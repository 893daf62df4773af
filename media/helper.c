/*  helper: the main of securechat-media, the node's helper for everything
    FFmpeg does.  It links media/ and the base helpers (crypto/err, walk,
    bytes) only, never node/ code: its job protocol is media/job.h, the
    bytes it makes and reads media/pack.h.
      securechat-media probe FILE   one line: "video=0|1 audio=0|1
                                    duration=SECONDS streams=N codecs=A,B
                                    tracks=KIND:CODEC:LANG,... skipped=WHAT: WHY; ..."
      securechat-media serve        jobs from the node (media/job.h)  */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
//  ASan reserves terabytes of address space and makes system calls of its
//  own: under it the address-space limit and the filter stay off
#if defined (__SANITIZE_ADDRESS__)
#   define S_ASAN 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define S_ASAN 1
#   endif
#endif
//  The filter when libseccomp is installed (Debian's libseccomp-dev; the
//  Makefile links it when pkg-config finds it)
#if !defined (S_ASAN) && defined (__has_include)
#   if __has_include (<seccomp.h>)
#       include <seccomp.h>
#       define S_SECCOMP 1
#   endif
#endif
#include "../crypto/base/bytes.h"
#include "job.h"
#include "pack.h"
#include "probe.h"
#include "sink.h"
#include "source.h"

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_write_all (int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

//  Returns 1 when all len bytes came, 0 at end of file, -1 on error.
static int
s_read_all (int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read (fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return got? -1: 0;
        got += (size_t) n;
    }
    return 1;
}

static int
s_send (int fd, char kind, const void *body, size_t len)
{
    uint8_t head [MEDIAJOB_HEADER + 1];
    bytes_put_be (head, len + 1, MEDIAJOB_HEADER);
    head [MEDIAJOB_HEADER] = (uint8_t) kind;
    if (s_write_all (fd, head, sizeof head) != 0)
        return -1;
    return len? s_write_all (fd, body, len): 0;
}

static void
s_send_text (int fd, char kind, const char *text)
{
    s_send (fd, kind, text, strlen (text));
}

//  ---------------------------------------------------------------------
//  demux: the owner's side

static int
s_flush (int fd, pack_batch_t *batch)
{
    if (batch->count == 0)
        return 0;
    uint8_t *body;
    size_t len;
    if (pack_batch_finish (batch, &body, &len) != 0)
        return -1;
    int rc = s_send (fd, 'B', body, len);
    free (body);
    return rc;
}

static double
s_seconds (const media_stream_t *s, int64_t ts)
{
    return (double) ts * s->tb_num / s->tb_den;
}

static int
s_demux (int data, int file, int64_t offset_ms, bool paced)
{
    char err [256] = "";
    media_source_t *src = NULL;
    pack_batch_t batch;
    pack_batch_init (&batch);
    if (media_source_open (file, offset_ms, &src, err, sizeof err) != 0)
        goto out;
    const media_header_t *h = media_source_header (src);
    uint8_t *body;
    size_t len;
    if (pack_header_encode (h, &body, &len) != 0) {
        snprintf (err, sizeof err, "cannot encode the stream header");
        goto out;
    }
    int rc = s_send (data, 'H', body, len);
    free (body);
    if (rc != 0)
        goto gone;
    int64_t start = s_now_ms ();
    bool first = true;
    double t0 = 0;
    for (;;) {
        media_packet_t p;
        rc = media_source_read (src, &p, err, sizeof err);
        if (rc < 0)
            goto out;
        if (rc == 0)
            break;
        int64_t ts = p.dts != MEDIA_NOPTS? p.dts: p.pts;
        if (paced && ts != MEDIA_NOPTS) {
            double t = s_seconds (&h->streams [p.stream], ts);
            if (first)
                t0 = t;
            first = false;
            //  Real time, a little ahead so that a player can buffer
            int64_t due = start + (int64_t) ((t - t0) * 1000) - MEDIAJOB_PACE_LEAD_MS;
            int64_t wait = due - s_now_ms ();
            if (wait > 0) {
                //  Sleep a slice past it: what falls due meanwhile goes in
                //  one batch (the lead keeps a player fed)
                wait += MEDIAJOB_PACE_SLICE_MS;
                if (s_flush (data, &batch) != 0)
                    goto gone;
                struct timespec ts_wait = { wait / 1000, (wait % 1000) * 1000000 };
                while (nanosleep (&ts_wait, &ts_wait) != 0 && errno == EINTR)
                    ;
            }
        }
        if (p.size > MEDIA_PART_MAX) {
            //  A large packet (a 4K keyframe) goes in parts, a batch each
            if (s_flush (data, &batch) != 0)
                goto gone;
            for (size_t off = 0; off < p.size; off += MEDIA_PART_MAX) {
                media_packet_t part = p;
                part.data = p.data + off;
                part.size = p.size - off < MEDIA_PART_MAX? p.size - off: MEDIA_PART_MAX;
                part.more = off + part.size < p.size;
                if (pack_batch_add (&batch, &part) != 0) {
                    snprintf (err, sizeof err, "out of memory");
                    goto out;
                }
                if (s_flush (data, &batch) != 0)
                    goto gone;
            }
            continue;
        }
        if (pack_batch_size (&batch) + p.size > MEDIA_BATCH_BYTES && s_flush (data, &batch) != 0)
            goto gone;
        if (pack_batch_add (&batch, &p) != 0) {
            snprintf (err, sizeof err, "out of memory");
            goto out;
        }
        if (pack_batch_size (&batch) >= MEDIA_BATCH_BYTES && s_flush (data, &batch) != 0)
            goto gone;
    }
    if (s_flush (data, &batch) != 0)
        goto gone;
out:
    s_send_text (data, 'E', err);
gone:
    pack_batch_clear (&batch);
    media_source_destroy (&src);
    return err [0]? 1: 0;
}

//  ---------------------------------------------------------------------
//  mux: the viewer's side

typedef struct {
    media_sink_t *sink;
    int data;
    bool first;
    char *err;
    size_t err_size;
} s_mux_t;

static int
s_mux_packet (void *arg, const media_packet_t *p)
{
    s_mux_t *m = arg;
    if (media_sink_write (m->sink, p, m->err, m->err_size) != 0)
        return -1;
    if (!m->first) {
        m->first = true;
        s_send (m->data, 'F', NULL, 0);
    }
    return 0;
}

static int
s_mux (int data, int out, const char *format)
{
    char err [256] = "";
    s_mux_t m = { .data = data, .err = err, .err_size = sizeof err };
    media_header_t h;
    uint8_t *buf = malloc (MEDIAJOB_MAX);
    if (!buf) {
        snprintf (err, sizeof err, "out of memory");
        goto out;
    }
    for (;;) {
        uint8_t head [MEDIAJOB_HEADER];
        int rc = s_read_all (data, head, sizeof head);
        if (rc == 0)
            break;              //  the node says the stream is over
        size_t len = (size_t) bytes_get_be (head, MEDIAJOB_HEADER);
        if (rc < 0 || len < 1 || len > MEDIAJOB_MAX || s_read_all (data, buf, len) != 1) {
            snprintf (err, sizeof err, "the node sent a broken message");
            goto out;
        }
        char kind = (char) buf [0];
        if (kind == 'H' && !m.sink) {
            if (pack_header_decode (buf + 1, len - 1, &h, err, sizeof err) != 0
            ||  media_sink_open (&h, format, out, &m.sink, err, sizeof err) != 0)
                goto out;
            s_send (data, 'S', NULL, 0);
        }
        else if (kind == 'B' && m.sink) {
            if (pack_batch_decode (buf + 1, len - 1, &h, s_mux_packet, &m, err, sizeof err) != 0) {
                if (!err [0])
                    snprintf (err, sizeof err, "a packet could not be muxed");
                goto out;
            }
        }
        else {
            snprintf (err, sizeof err, "the node sent '%c' out of order", kind);
            goto out;
        }
    }
    if (!m.sink)
        snprintf (err, sizeof err, "the stream ended before its header");
out:
    //  What arrived is kept: the file gets its trailer even after an error
    if (m.sink) {
        char why [256];
        if (media_sink_close (&m.sink, true, why, sizeof why) != 0 && !err [0])
            snprintf (err, sizeof err, "%s", why);
    }
    if (err [0])
        s_send_text (data, 'E', err);
    else
        s_send (data, 'D', NULL, 0);
    free (buf);
    return err [0]? 1: 0;
}

//  ---------------------------------------------------------------------
//  A job's confinement (job.h)

#ifdef S_SECCOMP
//  Reading and writing the descriptors the job has, memory that is never
//  executable, the clock, randomness, its own end; everything else fails.
static int
s_filter (void)
{
    static const int calls [] = {
        SCMP_SYS (read), SCMP_SYS (write), SCMP_SYS (readv), SCMP_SYS (writev),
        SCMP_SYS (pread64), SCMP_SYS (lseek), SCMP_SYS (fstat), SCMP_SYS (newfstatat),
        SCMP_SYS (fcntl), SCMP_SYS (close), SCMP_SYS (shutdown),
        SCMP_SYS (brk), SCMP_SYS (munmap), SCMP_SYS (mremap), SCMP_SYS (madvise),
        SCMP_SYS (nanosleep), SCMP_SYS (clock_nanosleep), SCMP_SYS (clock_gettime),
        SCMP_SYS (gettimeofday), SCMP_SYS (getrandom), SCMP_SYS (futex), SCMP_SYS (sched_yield),
        SCMP_SYS (rt_sigreturn), SCMP_SYS (rt_sigprocmask), SCMP_SYS (restart_syscall),
        SCMP_SYS (getpid), SCMP_SYS (gettid), SCMP_SYS (exit), SCMP_SYS (exit_group),
    };
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
    int rc = ctx? 0: -1;
    for (size_t i = 0; rc == 0 && i < sizeof calls / sizeof calls [0]; i++)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, calls [i], 0);
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mmap), 1,
                               SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mprotect), 1,
                               SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    //  abort () signals itself
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (tgkill), 1,
                               SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t) getpid ()));
    if (rc == 0)
        rc = seccomp_load (ctx);
    seccomp_release (ctx);
    return rc == 0? 0: -1;
}
#endif

//  Confines the job in this child before it reads a byte.  Returns 0, or
//  -1 with a sentence in err.
static int
s_confine (char *err, size_t err_size)
{
    //  What the helper maps already (FFmpeg and its libraries), read while
    //  files can still be opened
    unsigned long long pages = 0;
    FILE *statm = fopen ("/proc/self/statm", "r");
    if (statm) {
        if (fscanf (statm, "%llu", &pages) != 1)
            pages = 0;
        fclose (statm);
    }
    struct rlimit cpu = { MEDIAJOB_CPU_S, MEDIAJOB_CPU_S + 5 }, files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_max > MEDIAJOB_FILES)
        files.rlim_cur = files.rlim_max = MEDIAJOB_FILES;
    if (setrlimit (RLIMIT_CPU, &cpu) != 0 || setrlimit (RLIMIT_NOFILE, &files) != 0) {
        snprintf (err, err_size, "the media helper cannot limit its job: %s", strerror (errno));
        return -1;
    }
#ifndef S_ASAN
    rlim_t bytes = (rlim_t) (pages * (unsigned long long) sysconf (_SC_PAGESIZE) + MEDIAJOB_AS_MORE);
    struct rlimit space = { bytes, bytes };
    if (setrlimit (RLIMIT_AS, &space) != 0) {
        snprintf (err, err_size, "the media helper cannot limit its job: %s", strerror (errno));
        return -1;
    }
#endif
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf (err, err_size, "the media helper cannot confine its job: %s", strerror (errno));
        return -1;
    }
#ifdef S_SECCOMP
    if (s_filter () != 0) {
        snprintf (err, err_size, "the media helper cannot load its seccomp filter");
        return -1;
    }
#endif
    return 0;
}

//  ---------------------------------------------------------------------
//  serve: one child per job

static int
s_serve (int control)
{
    //  Children are not waited for: each one ends with its stream
    signal (SIGCHLD, SIG_IGN);
    signal (SIGPIPE, SIG_IGN);
    for (;;) {
        char line [256];
        int fds [2] = { -1, -1 };
        struct iovec iov = { line, sizeof line - 1 };
        union {
            char buf [CMSG_SPACE (sizeof fds)];
            struct cmsghdr align;
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        ssize_t n = recvmsg (control, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;           //  the node is gone
        line [n] = 0;
        struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
        &&  c->cmsg_len == CMSG_LEN (sizeof fds))
            memcpy (fds, CMSG_DATA (c), sizeof fds);
        else {
            //  Whatever came, close it
            for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
                if (c->cmsg_type == SCM_RIGHTS)
                    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
                        close (((int *) CMSG_DATA (c)) [i]);
            continue;
        }
        pid_t pid = fork ();
        if (pid == 0) {
            close (control);
            char err [256], *end = NULL;
            int paced = 0;
            char format [16];
            int rc = 2;
            errno = 0;
            long long offset = strncmp (line, "demux ", 6) == 0? strtoll (line + 6, &end, 10): -1;
            bool demux = end && errno == 0 && offset >= 0 && sscanf (end, " %d", &paced) == 1;
            if (s_confine (err, sizeof err) != 0)
                s_send_text (fds [0], 'E', err);
            else if (demux)
                rc = s_demux (fds [0], fds [1], offset, paced != 0);
            else if (sscanf (line, "mux %15s", format) == 1
                 &&  (strcmp (format, "matroska") == 0 || strcmp (format, "mpegts") == 0))
                rc = s_mux (fds [0], fds [1], format);
            else
                s_send_text (fds [0], 'E', "the media helper did not understand the job");
            _exit (rc);
        }
        if (pid < 0)
            s_send_text (fds [0], 'E', "the media helper cannot start a job");
        close (fds [0]);
        close (fds [1]);
    }
}

int
main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv [1], "probe") == 0) {
        probe_info_t info;
        if (probe_file (argv [2], &info) != 0)
            return 1;
        printf ("video=%d audio=%d duration=%.3f streams=%d codecs=%s tracks=%s skipped=%s\n",
                info.video, info.audio, info.duration, info.streams, info.codecs, info.tracks,
                info.skipped);
        return 0;
    }
    if (argc == 2 && strcmp (argv [1], "serve") == 0)
        return s_serve (STDIN_FILENO);
    fprintf (stderr, "usage: securechat-media probe FILE\n"
                     "       securechat-media serve    (started by securechat-node)\n");
    return 2;
}

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "proc.h"

int64_t
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

double
quantile (double *v, int n, double q)
{
    qsort (v, (size_t) n, sizeof *v, s_cmp);
    int i = (int) (q * (n - 1) + 0.5);
    return v [i];
}

int
proc_exec (proc_t *p, const char *const *argv)
{
    memset (p, 0, sizeof *p);
    int to [2], from [2];
    //  Close-on-exec: a node must not inherit the pipes of the others
    if (pipe2 (to, O_CLOEXEC) || pipe2 (from, O_CLOEXEC))
        return -1;
    p->pid = fork ();
    if (p->pid == 0) {
        dup2 (to [0], 0);
        dup2 (from [1], 1);
        close (to [1]);
        close (from [0]);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (to [0]);
    close (from [1]);
    p->in = to [1];
    p->out = from [0];
    return p->pid > 0? 0: -1;
}

int
proc_spawn (proc_t *p, const char *node, const char *const *args)
{
    const char *argv [32] = { node, "--json" };
    int n = 2;
    for (int i = 0; args [i] && n < 31; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
    return proc_exec (p, argv);
}

int
proc_start (proc_t *p, const char *node, const char *const *args)
{
    if (proc_spawn (p, node, args) != 0
    ||  proc_until (p, "\"event\":\"ready\"", 10000) != 0)
        return -1;
    char *id = strstr (p->line, "\"id\":\"");
    char *port = strstr (p->line, "\"port\":");
    if (!id || !port)
        return -1;
    memcpy (p->id, id + 6, 64);
    p->port = atoi (port + 7);
    return 0;
}

int
proc_line (proc_t *p, int timeout_ms)
{
    int64_t end = now_ns () + (int64_t) timeout_ms * 1000000;
    while (1) {
        char *nl = memchr (p->buf, '\n', p->len);
        if (nl) {
            size_t n = (size_t) (nl - p->buf);
            memcpy (p->line, p->buf, n);
            p->line [n] = 0;
            memmove (p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            return 0;
        }
        int left = (int) ((end - now_ns ()) / 1000000);
        if (left <= 0 || p->len == sizeof p->buf)
            return -1;
        struct pollfd pfd = { p->out, POLLIN, 0 };
        if (poll (&pfd, 1, left) <= 0)
            continue;
        ssize_t r = read (p->out, p->buf + p->len, sizeof p->buf - p->len);
        if (r <= 0)
            return -1;
        p->len += (size_t) r;
    }
}

int
proc_until (proc_t *p, const char *needle, int timeout_ms)
{
    int64_t end = now_ns () + (int64_t) timeout_ms * 1000000;
    while (now_ns () < end)
        if (proc_line (p, (int) ((end - now_ns ()) / 1000000) + 1) == 0 && strstr (p->line, needle))
            return 0;
    return -1;
}

void
proc_drain (proc_t *p)
{
    char sink [65536];
    struct pollfd pfd = { p->out, POLLIN, 0 };
    while (poll (&pfd, 1, 0) > 0 && read (p->out, sink, sizeof sink) > 0)
        ;
}

void
proc_send (proc_t *p, const char *line)
{
    size_t n = strlen (line);
    char buf [8192];
    memcpy (buf, line, n);
    buf [n] = '\n';
    if (write (p->in, buf, n + 1) != (ssize_t) n + 1)
        perror ("write");
}

void
proc_stop (proc_t *p)
{
    close (p->in);
    int status;
    int64_t end = now_ns () + 5000000000LL;
    while (waitpid (p->pid, &status, WNOHANG) == 0) {
        if (now_ns () > end) {
            kill (p->pid, SIGKILL);
            waitpid (p->pid, &status, 0);
            break;
        }
        char sink [4096];
        struct pollfd pfd = { p->out, POLLIN, 0 };
        if (poll (&pfd, 1, 50) > 0 && read (p->out, sink, sizeof sink) <= 0)
            continue;
    }
    close (p->out);
}

long
proc_status_kb (pid_t pid, const char *field)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    long kb = -1;
    size_t n = strlen (field);
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, field, n) == 0)
            kb = atol (line + n);
    if (f)
        fclose (f);
    return kb;
}

long
proc_rss_kb (pid_t pid)
{
    return proc_status_kb (pid, "VmRSS:");
}

double
proc_cpu_s (pid_t pid)
{
    char path [64], text [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text [n] = 0;
    //  Fields after the command (which may hold spaces): state is the 3rd,
    //  utime and stime the 14th and 15th
    char *p = strrchr (text, ')');
    unsigned long long ut, st;
    if (!p || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double) (ut + st) / (double) sysconf (_SC_CLK_TCK);
}

//  utime and stime of /proc/PID/task/TID/stat (or /proc/PID/stat), in s.
static int
s_stat_times (const char *path, double *user, double *sys)
{
    char text [1024];
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text [n] = 0;
    char *p = strrchr (text, ')');
    unsigned long long ut, st;
    if (!p || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *user = (double) ut / (double) sysconf (_SC_CLK_TCK);
    *sys = (double) st / (double) sysconf (_SC_CLK_TCK);
    return 0;
}

int
proc_cpu_split (pid_t pid, proc_cpu_t *cpu)
{
    memset (cpu, 0, sizeof *cpu);
    char path [96];
    snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *d = opendir (path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name [0] == '.')
            continue;
        char stat [300];
        double u, s;
        snprintf (stat, sizeof stat, "/proc/%d/task/%s/stat", (int) pid, e->d_name);
        if (s_stat_times (stat, &u, &s) != 0)
            continue;
        if (atoi (e->d_name) == (int) pid)
            cpu->loop_user += u, cpu->loop_sys += s;
        else
            cpu->threads_user += u, cpu->threads_sys += s;
    }
    closedir (d);
    return 0;
}

void
proc_cpu_diff (proc_cpu_t *after, const proc_cpu_t *before)
{
    after->loop_user -= before->loop_user;
    after->loop_sys -= before->loop_sys;
    after->threads_user -= before->threads_user;
    after->threads_sys -= before->threads_sys;
}

void
proc_row (const char *what, const char *ours, const char *base, double ratio,
          const char *target, int ok)
{
    printf ("| %s | %s | %s | %.2f | %s | %s |\n", what, ours, base, ratio, target,
            ok? "yes": "**no**");
    fflush (stdout);
}

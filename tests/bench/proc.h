/*  proc: starts a securechat-node with pipes and reads its JSON lines, for
    the benchmarks (which must not add a scripting language's overhead to
    what they time).  */
#ifndef SC_BENCH_PROC_H
#define SC_BENCH_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int in, out;            //  our ends: write commands, read events
    char buf [1 << 16];
    size_t len;
    char line [1 << 16];
    char id [65];
    int port;
} proc_t;

//  Starts argv [0] with argv (NULL-terminated) as it is, stdin and
//  stdout on pipes, without waiting.  0 or -1.
int proc_exec (proc_t *p, const char *const *argv);
//  Starts node --json with args (NULL-terminated) without waiting.  0 or -1.
int proc_spawn (proc_t *p, const char *node, const char *const *args);
//  Starts node with args (NULL-terminated); waits for "ready". 0 or -1.
int proc_start (proc_t *p, const char *node, const char *const *args);
//  Reads the next line into p->line within timeout_ms; 0, or -1 on timeout/EOF.
int proc_line (proc_t *p, int timeout_ms);
//  Reads lines until one contains needle; 0 or -1.
int proc_until (proc_t *p, const char *needle, int timeout_ms);
//  Reads and discards whatever output is waiting, without blocking.
void proc_drain (proc_t *p);
//  Writes a command line (adds the newline).
void proc_send (proc_t *p, const char *line);
//  Closes stdin and waits for the process.
void proc_stop (proc_t *p);
//  Resident set size in kB from /proc.
long proc_rss_kb (pid_t pid);
//  A kB field of /proc/PID/status ("VmRSS:", "VmHWM:"), or -1.
long proc_status_kb (pid_t pid, const char *field);
//  CPU seconds (user + system, all threads) the process has used, or -1.
double proc_cpu_s (pid_t pid);
//  CPU seconds of a process by thread kind: its main thread (the node's
//  loop) and the others (ZeroMQ's), user and system.
typedef struct {
    double loop_user, loop_sys, threads_user, threads_sys;
} proc_cpu_t;
//  Reads them from /proc/PID/task.  0 or -1.
int proc_cpu_split (pid_t pid, proc_cpu_t *cpu);
//  after -= before, field by field.
void proc_cpu_diff (proc_cpu_t *after, const proc_cpu_t *before);
//  Prints one row of the bench table (flushed, so rows show as they come).
void proc_row (const char *what, const char *ours, const char *base, double ratio,
               const char *target, int ok);
//  Monotonic time in ns.
int64_t now_ns (void);
//  Sorts and returns the q-quantile (0..1) of n samples.
double quantile (double *v, int n, double q);

#endif

/*  The child module with /bin/sh: pipes both ways, a descriptor passed in,
    a process group killed as one, a program that cannot run, and no
    zombie left behind.  Waits are on descriptors (poll), never sleeps.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../node/child.h"
#include "unit.h"

//  Reads from fd until a newline, EOF or 5 s; returns the bytes read.
static ssize_t
s_read_line (int fd, char *buf, size_t size)
{
    size_t len = 0;
    buf [0] = 0;
    while (len + 1 < size && !strchr (buf, '\n')) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll (&p, 1, 5000) != 1)
            return -1;
        ssize_t n = read (fd, buf + len, size - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        len += (size_t) n;
        buf [len] = 0;
    }
    return (ssize_t) len;
}

//  A reaped process is gone; a zombie would still answer kill (pid, 0).
static bool
s_gone (pid_t pid)
{
    return kill (pid, 0) != 0 && errno == ESRCH;
}

static void
s_its_pipe_is_read_then_it_is_killed_and_reaped (void)
{
    const char *argv [] = { "sh", "-c", "echo hello; exec sleep 30", NULL };
    child_opts_t o = { .file = "/bin/sh", .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE,
                       .err = CHILD_KEEP, .nonblock = true };
    child_t *c = child_new (&o);
    CHECK (c);
    pid_t pid = child_pid (c);
    CHECK (pid > 0);
    CHECK (fcntl (child_fd (c), F_GETFL) & O_NONBLOCK);
    char line [64];
    CHECK (s_read_line (child_fd (c), line, sizeof line) == 6 && strcmp (line, "hello\n") == 0);
    CHECK (!child_reap (c, NULL));          //  still sleeping
    child_destroy (&c);                     //  killed and reaped
    CHECK (c == NULL);
    CHECK (s_gone (pid));
    child_destroy (&c);                     //  NULL is fine
}

static void
s_a_pipe_to_its_stdin_and_a_descriptor_for_its_stdout (void)
{
    int out [2];
    CHECK (pipe2 (out, O_CLOEXEC) == 0);
    const char *argv [] = { "sh", "-c", "read x; echo \"got $x\"", NULL };
    child_opts_t o = { .file = "/bin/sh", .argv = argv, .in = CHILD_PIPE, .out = out [1],
                       .err = CHILD_NULL };
    child_t *c = child_new (&o);
    close (out [1]);                        //  the child has its copy
    CHECK (c);
    pid_t pid = child_pid (c);
    CHECK (write (child_fd (c), "abc\n", 4) == 4);
    char line [64];
    CHECK (s_read_line (out [0], line, sizeof line) == 8 && strcmp (line, "got abc\n") == 0);
    //  It ends by itself (its stdout closes): reaped within the grace
    CHECK (s_read_line (out [0], line, sizeof line) == 0);
    child_stop (&c, SIGKILL, 5000);
    CHECK (s_gone (pid));
    close (out [0]);
}

static void
s_a_group_is_killed_as_one (void)
{
    const char *argv [] = { "sh", "-c", "sleep 30 & echo started; wait", NULL };
    child_opts_t o = { .file = "/bin/sh", .argv = argv, .in = CHILD_NULL, .out = CHILD_PIPE,
                       .err = CHILD_NULL, .group = true };
    child_t *c = child_new (&o);
    CHECK (c);
    pid_t pid = child_pid (c);
    CHECK (getpgid (pid) == pid);
    int fd = child_take_fd (c);
    CHECK (fd >= 0 && child_fd (c) == -1);
    char line [64];
    CHECK (s_read_line (fd, line, sizeof line) == 8);
    //  The sleep holds the pipe too: end of file means both are gone
    CHECK (child_kill (c, SIGTERM) == 0);
    CHECK (s_read_line (fd, line, sizeof line) == 0);
    child_stop (&c, SIGKILL, 5000);
    CHECK (s_gone (pid));
    close (fd);
}

static void
s_a_program_that_cannot_run_exits_127 (void)
{
    const char *argv [] = { "nothing-here", NULL };
    child_opts_t o = { .file = "/nonexistent/nothing-here", .argv = argv, .in = CHILD_NULL,
                       .out = CHILD_PIPE, .err = CHILD_NULL };
    child_t *c = child_new (&o);
    CHECK (c);
    char line [8];
    CHECK (s_read_line (child_fd (c), line, sizeof line) == 0);
    //  Waits for the exit without reaping it, so that child_reap finds it
    siginfo_t info;
    CHECK (waitid (P_PID, (id_t) child_pid (c), &info, WEXITED | WNOWAIT) == 0);
    int status = -1;
    CHECK (child_reap (c, &status));
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 127);
    CHECK (child_kill (c, SIGTERM) != 0);   //  reaped: nothing to signal
    child_destroy (&c);
}

void
child_tests (void)
{
    unit_run ("child: its pipe is read, then it is killed and reaped (no zombie)",
              s_its_pipe_is_read_then_it_is_killed_and_reaped);
    unit_run ("child: a pipe to its stdin, a descriptor of ours as its stdout",
              s_a_pipe_to_its_stdin_and_a_descriptor_for_its_stdout);
    unit_run ("child: a process group is killed as one", s_a_group_is_killed_as_one);
    unit_run ("child: a program that cannot run exits 127", s_a_program_that_cannot_run_exits_127);
}

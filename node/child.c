#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "child.h"

struct _child_t {
    pid_t pid;                  //  0 once reaped
    int fd;                     //  the node's end of the pipe, -1 when none
    bool group;
};

//  In the child, between fork and exec: only async-signal-safe calls.
static void
s_exec (const child_opts_t *opts, int pipe_end)
{
    const int want [3] = { opts->in, opts->out, opts->err };
    int src [3];
    int null = -1;
    for (int i = 0; i < 3; i++) {
        src [i] = want [i];
        if (want [i] == CHILD_NULL) {
            if (null < 0)
                null = open ("/dev/null", O_RDWR | O_CLOEXEC);
            src [i] = null;
        }
        else if (want [i] == CHILD_PIPE)
            src [i] = pipe_end;
        //  A source among 0-2 moves up first, so that no dup2 below
        //  overwrites a source still to be used
        if (src [i] >= 0 && src [i] < 3 && src [i] != i)
            src [i] = fcntl (src [i], F_DUPFD_CLOEXEC, 3);
    }
    for (int i = 0; i < 3; i++) {
        if (want [i] == CHILD_KEEP || src [i] < 0)
            continue;
        if (src [i] == i)
            fcntl (i, F_SETFD, 0);      //  already there: keep it open across exec
        else
            dup2 (src [i], i);
    }
    if (opts->group)
        setpgid (0, 0);
    execv (opts->file, (char *const *) opts->argv);
    _exit (127);
}

child_t *
child_new (const child_opts_t *opts)
{
    child_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->group = opts->group;
    //  p [0] reads, p [1] writes; the child gets one end, the node the other
    int p [2] = { -1, -1 };
    bool to_child = opts->in == CHILD_PIPE;
    if ((to_child || opts->out == CHILD_PIPE || opts->err == CHILD_PIPE)
    &&  pipe2 (p, O_CLOEXEC) != 0) {
        free (self);
        return NULL;
    }
    pid_t pid = fork ();
    if (pid == 0)
        s_exec (opts, to_child? p [0]: p [1]);
    int saved = errno;
    if (p [0] >= 0) {
        close (to_child? p [0]: p [1]);
        self->fd = to_child? p [1]: p [0];
    }
    if (pid < 0) {
        if (self->fd >= 0)
            close (self->fd);
        free (self);
        errno = saved;
        return NULL;
    }
    //  Also here, so that a signal sent at once finds the group
    if (opts->group)
        setpgid (pid, pid);
    if (self->fd >= 0 && opts->nonblock)
        fcntl (self->fd, F_SETFL, fcntl (self->fd, F_GETFL) | O_NONBLOCK);
    self->pid = pid;
    return self;
}

bool
child_reap (child_t *self, int *status)
{
    if (self->pid > 0) {
        int st = 0;
        pid_t rc;
        while ((rc = waitpid (self->pid, &st, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (rc == 0)
            return false;
        //  rc < 0 (ECHILD): someone else reaped it; it is gone all the same
        self->pid = 0;
        if (status)
            *status = rc > 0? st: 0;
    }
    return true;
}

int
child_kill (child_t *self, int sig)
{
    if (self->pid <= 0)
        return SC_ENOENT;
    kill (self->group? -self->pid: self->pid, sig);
    return 0;
}

void
child_stop (child_t **self_p, int sig, int grace_ms)
{
    if (!self_p || !*self_p)
        return;
    child_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    for (int i = 0; !child_reap (self, NULL) && i < grace_ms; i++)
        usleep (1000);
    if (self->pid > 0) {
        child_kill (self, sig);
        while (waitpid (self->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free (self);
    *self_p = NULL;
}

void
child_release (child_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->fd >= 0)
        close ((*self_p)->fd);
    free (*self_p);
    *self_p = NULL;
}

void
child_destroy (child_t **self_p)
{
    child_stop (self_p, SIGKILL, 0);
}

int
child_fd (child_t *self)
{
    return self->fd;
}

int
child_take_fd (child_t *self)
{
    int fd = self->fd;
    self->fd = -1;
    return fd;
}

pid_t
child_pid (child_t *self)
{
    return self->pid;
}

#define LOG_MODULE "streams"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "../crypto/base/log.h"
#include "child.h"
#include "jobs.h"

#define SOCKET_BUFFER (1024 * 1024) //  for the data sockets to the jobs
#define STOP_GRACE_MS 50            //  the helper's time to leave by itself

struct _jobs_t {
    char *path;                 //  of securechat-media, NULL when none
    int ctl;                    //  control socket to `securechat-media serve`, -1
    child_t *helper;            //  NULL while not running
};

bool
jobs_find_helper (const char *exe, char *out, size_t size)
{
    const char *slash = strrchr (exe, '/');
    if (!slash) {               //  not a path: nothing to look beside
        snprintf (out, size, "securechat-media");
        return false;
    }
    //  A build tree: the helper was built beside the node
    int dir = (int) (slash - exe);
    snprintf (out, size, "%.*s/securechat-media", dir, exe);
    if (access (out, X_OK) == 0)
        return true;
    //  An install: PREFIX/bin/securechat-node and
    //  PREFIX/libexec/securechat/securechat-media (for /securechat-node, /)
    int parent = dir;
    while (parent > 0 && exe [parent - 1] != '/')
        parent--;
    snprintf (out, size, "%.*slibexec/securechat/securechat-media", parent? parent: 1, exe);
    return access (out, X_OK) == 0;
}

jobs_t *
jobs_new (const char *path)
{
    jobs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctl = -1;
    if (path && !(self->path = strdup (path))) {
        free (self);
        return NULL;
    }
    return self;
}

static bool
s_helper_start (jobs_t *self)
{
    if (!self->path || access (self->path, X_OK) != 0)
        return false;
    int sv [2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    const char *argv [] = { self->path, "serve", NULL };
    child_opts_t o = { .file = self->path, .argv = argv, .in = sv [1], .out = CHILD_NULL,
                       .err = CHILD_KEEP };
    self->helper = child_new (&o);
    close (sv [1]);
    if (!self->helper) {
        close (sv [0]);
        return false;
    }
    self->ctl = sv [0];
    log_debug ("media helper started (pid %d)", (int) child_pid (self->helper));
    return true;
}

static void
s_helper_stop (jobs_t *self)
{
    if (self->ctl >= 0)
        close (self->ctl);      //  the helper ends when it reads the end
    self->ctl = -1;
    child_stop (&self->helper, SIGKILL, STOP_GRACE_MS);
}

void
jobs_destroy (jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jobs_t *self = *self_p;
    s_helper_stop (self);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
jobs_start (jobs_t *self, const char *line, int fd, int *data)
{
    int sv [2] = { -1, -1 };
    int rc = SC_EIO;
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        goto out;
    int size = SOCKET_BUFFER;
    setsockopt (sv [1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (self->ctl < 0 && !s_helper_start (self)) {
            rc = SC_ENOENT;
            goto out;
        }
        int fds [2] = { sv [1], fd };
        union {
            char buf [CMSG_SPACE (sizeof fds)];
            struct cmsghdr align;
        } u;
        memset (&u, 0, sizeof u);
        struct iovec iov = { (void *) line, strlen (line) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN (sizeof fds);
        memcpy (CMSG_DATA (c), fds, sizeof fds);
        if (sendmsg (self->ctl, &msg, MSG_NOSIGNAL) >= 0) {
            rc = 0;
            break;
        }
        //  The helper died: start another once
        log_warn ("the media helper is gone (%s); starting it again", strerror (errno));
        s_helper_stop (self);
    }
out:
    if (sv [1] >= 0)
        close (sv [1]);
    if (fd >= 0)
        close (fd);
    if (rc == 0) {
        fcntl (sv [0], F_SETFL, fcntl (sv [0], F_GETFL) | O_NONBLOCK);
        setsockopt (sv [0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        *data = sv [0];
    }
    else if (sv [0] >= 0)
        close (sv [0]);
    return rc;
}

void
jobs_tick (jobs_t *self)
{
    if (self->helper && child_reap (self->helper, NULL)) {
        log_warn ("the media helper stopped");
        close (self->ctl);
        self->ctl = -1;
        child_destroy (&self->helper);
    }
}

/*  child: a process the node starts, talks to through one descriptor, and
    ends and reaps, so that no child outlives its owner as a zombie.

    Made for three kinds: the media helper (`securechat-media serve`, with
    a socket of ours as its stdin: node/jobs), a player (`sh -c CMD` in a
    process group of its own, reading a pipe on its stdin: node/viewer),
    and a probe (`securechat-media probe PATH`, writing one line on a pipe
    on its stdout, CHILD_NULL elsewhere, nonblock: node/files_shares).

    Each of stdin, stdout and stderr is /dev/null, the node's own, a new
    pipe (at most one of the three: the node's end is child_fd), or a
    descriptor the caller passes (duplicated into the child: the caller
    keeps it and closes it).  Everything else the node has open is closed
    on exec as long as it was opened with O_CLOEXEC, as the node's are.

    The child_t owns the process and the node's end of the pipe: destroying
    it (or child_stop) closes that end and, while the process runs, kills
    and reaps it.  Nothing here reads the clock beyond child_stop's grace.  */
#ifndef SC_CHILD_H
#define SC_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#define CHILD_NULL (-1)         //  /dev/null
#define CHILD_KEEP (-2)         //  the node's own descriptor
#define CHILD_PIPE (-3)         //  a new pipe; the node's end is child_fd

typedef struct {
    const char *file;           //  the program, a path (no PATH search)
    const char *const *argv;    //  its arguments, argv [0] first, NULL last
    int in, out, err;           //  CHILD_NULL, CHILD_KEEP, CHILD_PIPE or a descriptor
    bool nonblock;              //  the node's end of the pipe does not block
    bool group;                 //  a process group of its own; signals go to the group
} child_opts_t;

typedef struct _child_t child_t;

//  Starts the program; returns the child, or NULL when the pipe, the
//  memory or fork failed (errno says which).  A program that cannot be
//  executed exits with 127 at once.
child_t *child_new (const child_opts_t *opts);
//  Kills (SIGKILL) and reaps it while it runs, closes the node's end of
//  the pipe, frees; accepts NULL, nulls the pointer.
void child_destroy (child_t **self_p);
//  Forgets the process without signalling or reaping it (a player that
//  plays on after its stream ended, when the node leaves); closes the
//  node's end of the pipe, frees; accepts NULL, nulls the pointer.
void child_release (child_t **self_p);
//  Lets it end by itself for up to grace_ms (after the caller closed what
//  it reads, say), then sends sig and waits for it; closes and frees as
//  child_destroy does.  Blocks for at most grace_ms plus the time the
//  process takes to die of sig.
void child_stop (child_t **self_p, int sig, int grace_ms);

//  The node's end of the pipe, or -1 (none, or taken).  Borrowed.
int child_fd (child_t *self);
//  The node's end of the pipe, now the caller's to close; -1 when none.
int child_take_fd (child_t *self);
//  The process id (for logs); 0 once reaped.
pid_t child_pid (child_t *self);
//  Sends sig to the process (its group when opts.group); 0, or SC_ENOENT
//  once it has been reaped.
int child_kill (child_t *self, int sig);
//  Reaps it when it has ended, without blocking; true once it has (its
//  status is then in *status when status is not NULL).
bool child_reap (child_t *self, int *status);

#endif

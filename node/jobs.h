/*  jobs: the media helper, securechat-media, as the node uses it.

    The helper is started (`securechat-media serve`, a child: node/child)
    when the first job needs it, with the node's end of a SOCK_SEQPACKET
    socket as its stdin; a job is one datagram on that socket with two
    descriptors (media/job.h says what the helper does with them).  A
    helper found gone is started again once, by the job that found it;
    jobs_tick notices one that stopped between jobs.  One jobs_t serves
    both roles of video (node/viewer, node/owner), so a node runs one
    helper however many streams it has.  */
#ifndef SC_JOBS_H
#define SC_JOBS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _jobs_t jobs_t;

//  Finds securechat-media for the node whose own path is exe (as
//  /proc/self/exe gives it): beside it (a build tree), else in
//  ../libexec/securechat/ (an install, wherever its tree was moved).  Writes
//  the helper found to out, or when there is none the installed place;
//  returns whether one is there to run.
bool jobs_find_helper (const char *exe, char *out, size_t size);

//  Returns a client for the helper at path (copied; NULL: there is none
//  and every job fails), or NULL when out of memory.  Starts nothing yet.
jobs_t *jobs_new (const char *path);
//  Closes the control socket (the helper ends when it reads that), kills
//  the helper if it is still there 50 ms later, reaps it; accepts NULL.
void jobs_destroy (jobs_t **self_p);

//  Starts a job: line ("mux matroska", "demux 0 1") with fd (the file or
//  the output; taken: closed here, whatever happens).  Returns 0 and the
//  node's end of the job's data socket (non-blocking, the caller's) in
//  *data, SC_ENOENT when the helper cannot be started, or SC_EIO.
int jobs_start (jobs_t *self, const char *line, int fd, int *data);
//  Notices a helper that stopped (the next job starts another); call
//  every tick.
void jobs_tick (jobs_t *self);

#endif

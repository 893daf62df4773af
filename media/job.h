/*  job: how the node talks to its media helper, securechat-media.

    The node never links FFmpeg (it would cost every node 40 ms of start-up
    and 20 MB), and a muxer or demuxer that trips over a file should not
    take the node down.  So the node starts `securechat-media serve` once,
    when it first needs it, with a SOCK_SEQPACKET socket as stdin.  Each
    job is one datagram on that socket, a line of text with two descriptors
    passed along (SCM_RIGHTS):

      "demux OFFSET_MS PACED"  data socket, the shared file (read-only)
      "mux FORMAT"             data socket, the output (file or player pipe)

    The helper forks one child per job (FFmpeg is loaded once, so a job
    starts in about a millisecond) and the child talks on the data socket,
    a SOCK_STREAM socketpair, in messages: a 4-byte big-endian length, then
    that many bytes: one kind byte and a body.

      demux child -> node   'H' stream header (media/pack.h)
                            'B' packet batch (media/pack.h), paced to
                                real time when PACED is 1
                            'E' the end: empty body, or a sentence on error
      node -> mux child     'H' then 'B' ..., as they came from the owner;
                            end of file (shutdown) ends the output cleanly
      mux child -> node     'S' the output has its header, 'F' the first
                            packet is written, 'D' done, 'E' a sentence

    A child exits when its data socket closes; the helper exits when the
    node's end of the control socket closes.

    A child parses what others made (the owner's file, a peer's packets),
    so before it reads a byte it is confined: no new privileges, limits on
    address space, CPU time and open files, and (when built with
    libseccomp) a seccomp filter that leaves it reading and writing the
    descriptors it has, memory (never executable) and the clock; any other
    system call fails with EPERM.  A child that cannot be confined runs no
    job.  In ASan builds the address-space limit and the filter stay off
    (ASan reserves terabytes and makes calls of its own).  */
#ifndef SC_MEDIA_JOB_H
#define SC_MEDIA_JOB_H

#define MEDIAJOB_HEADER 4                       //  length prefix
#define MEDIAJOB_MAX (1024 * 1024)              //  largest message, kind included
#define MEDIAJOB_PACE_LEAD_MS 1000              //  a paced stream runs this far ahead
#define MEDIAJOB_PACE_SLICE_MS 100              //  and wakes up this often, not per packet
#define MEDIAJOB_AS_MORE (768ULL * 1024 * 1024)  //  address space a job may add to the helper's
#define MEDIAJOB_CPU_S 1800                     //  CPU seconds a job may use (a film needs far less)
#define MEDIAJOB_FILES 16                       //  open files a job may have (it opens none)

#endif

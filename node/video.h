/*  video: what the two roles of a video stream share (node/viewer: our
    /watches; node/owner: the videos we serve), and what the node gives them.

    A stream goes viewer -> owner as WATCH, owner -> viewer as STREAM (the
    header) and BATCHes, viewer -> owner as SCREDIT, and either way as SEND
    (the end, with why).  Credit is cumulative: the viewer grants "up to
    batch N" (seq < N), so a lost, late or repeated grant can neither shrink
    nor inflate the window.  Each side hands its file or output to a job
    of the media helper (node/jobs, media/job.h): the node never links
    FFmpeg and never feeds peer bytes to a demuxer.

    Either side ending (SEND, the peer leaving, /stop, an error) ends the
    stream on both with an event that says why.  No sockets to peers here:
    the node gives a host.

    A video_t holds what both roles use and the node owns: the host, the
    options, the helper's job client (one helper for all streams), the
    queue of ends and refusals that met a full link (ctlq), and the /stats
    counters.  The viewer_t and owner_t borrow it; it outlives them.  The
    video_stream_t and the functions below the line are for viewer.c and
    owner.c only.  */
#ifndef SC_VIDEO_H
#define SC_VIDEO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "wire.h"
#include "xfer.h"

#define VIDEO_STALL_MS 60000        //  no progress this long on a live link ends a stream
//  What a stream says when its job ends without a word (the helper and the
//  other streams' jobs go on: each job is a process of its own)
#define VIDEO_JOB_GONE "the media helper's job for this stream stopped (it crashed or was killed)"

typedef struct {
    //  Sends a frame to the peer; returns 0 or SC_EAGAIN (link full or down).
    int (*send) (void *arg, const uint8_t peer [32], const wire_frame_t *frame);
    //  Reports an event (taken).
    void (*event) (void *arg, json_t *event);
    //  The peer's display name (NULL if unknown).
    const char *(*peer_name) (void *arg, const uint8_t peer [32]);
    //  Finds a share by name: 0 with its path and video flag, or SC_ENOENT.
    int (*find_share) (void *arg, const char *name, char *path, size_t path_size, bool *video);
    void *arg;
} video_host_t;

typedef struct {
    const char *helper;         //  path of securechat-media
    const char *player;         //  --player CMD; NULL: ffplay or mpv when installed
    int64_t stall_ms;           //  no progress this long on a live link ends a stream (0: 60 s)
    int served_max;             //  streams served at once (0: OWNER_SERVED_MAX)
    int64_t pause_max_ms;       //  a served stream paused this long ends (0: OWNER_PAUSE_MAX_MS)
} video_opts_t;

//  What flow control saw (for /stats), both roles together.
typedef struct {
    uint64_t credit_clamped;    //  grants past our own window, held to it
    uint64_t credit_stale;      //  grants lower than one already seen, ignored
    uint64_t grants_repeated;   //  grants sent again because nothing came
    uint64_t stalls;            //  streams ended by the stall timeout
    uint64_t ctl_queued;        //  control frames that met a full link and waited
    uint64_t ctl_dropped;       //  control frames given up
} video_stats_t;

typedef struct _video_t video_t;

//  Returns what the two roles share (opts and host copied; the strings in
//  opts borrowed, and must outlive it), or NULL when out of memory.
video_t *video_new (const video_opts_t *opts, const video_host_t *host);
//  Sends what still waits for the links, stops the helper; accepts NULL.
//  Destroy the viewer and the owner first (their ends go out here).
void video_destroy (video_t **self_p);
//  Ends and refusals that waited for the link, a helper that stopped;
//  call every tick.
void video_tick (video_t *self, int64_t now_ms);
//  Counters for /stats.
video_stats_t video_stats (video_t *self);

//  ---------------------------------------------------------------------
//  For node/viewer.c and node/owner.c

//  What a stream of either role has.
typedef struct {
    uint8_t sid [WIRE_ID_SIZE];
    char idhex [33];
    uint8_t peer [32];
    char name [XFER_NAME_MAX + 1];
    int64_t offset_ms;
    int64_t started;            //  monotonic ms of /watch or WATCH
    int64_t last_heard;         //  monotonic ms of the peer's last frame for this stream
    uint64_t bytes;             //  payload bytes forwarded
    int fd;                     //  data socket to the media job, -1 once closed
    uint8_t *in;                //  messages from the job
    size_t in_len, in_cap;
    bool eof;                   //  the job closed its end (all it said is in `in`)
} video_stream_t;

//  The options with their defaults filled in.
const video_opts_t *video_opts (video_t *self);
//  The counters the roles add to.
video_stats_t *video_counters (video_t *self);
//  The time (monotonic ms) of the call being handled.
int64_t video_now (video_t *self);
//  Sets that time: each entry point of viewer and owner calls it with the
//  `now` it was given (nothing below the loop reads the clock).
void video_at (video_t *self, int64_t now_ms);

//  Fills s for a new stream, with room for in_cap bytes from its job;
//  returns 0 or SC_ENOMEM.
int video_stream_init (video_stream_t *s, const uint8_t peer [32],
                       const uint8_t sid [WIRE_ID_SIZE], const char *name, size_t in_cap, int64_t now_ms);
//  Closes the job's socket, frees the buffer.
void video_stream_free (video_stream_t *s);
//  Reads what the job wrote into s->in (once: one read only); at the end
//  of file sets s->eof and closes the socket.
void video_stream_read (video_stream_t *s, bool once);

//  A "stream" event with the fields both roles have (the caller's).
json_t *video_event (video_t *self, const video_stream_t *s, const char *role, const char *state);
//  Adds "stalled" to ev when stuck (owed batches or waiting for a grant)
//  with nothing heard for 3 s.
void video_event_stalled (json_t *ev, const video_stream_t *s, bool stuck, int64_t now_ms);
//  Reports an event (taken; NULL is ignored).
void video_emit (video_t *self, json_t *ev);
//  Reports an error event with a sentence.
void video_error (video_t *self, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  The peer's name, or "the peer".
const char *video_peer (video_t *self, const uint8_t peer [32]);
//  Finds a share by name: 0 with its path and video flag, or SC_ENOENT.
int video_find_share (video_t *self, const char *name, char *path, size_t path_size, bool *video);
//  Sends a frame now; 0 or SC_EAGAIN.
int video_send (video_t *self, const uint8_t peer [32], const wire_frame_t *f);
//  Sends SEND (the end, or a refusal) for stream sid to peer, now or when
//  the link takes it; returns 0 or SC_ENOMEM.
int video_tell (video_t *self, const uint8_t peer [32], const uint8_t sid [WIRE_ID_SIZE],
                bool ok, const char *why);
//  Tells the peer that s ended (logged when it cannot).
void video_tell_end (video_t *self, const video_stream_t *s, bool ok, const char *why);
//  Starts a media job (fd taken); see jobs_start.
int video_job (video_t *self, const char *line, int fd, int *data);

#endif

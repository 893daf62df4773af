/*  bench_video: /watch between two nodes on loopback, for a 720p H.264 +
    AAC clip made with ffmpeg:
      - time from /watch to the first packet written at the viewer (the
        "started" event), warm (the media helper running) and cold (the
        first /watch of a node), beside opening the file, demuxing its first
        packet and muxing it in one process (the floor for any design);
      - unpaced throughput with --out, beside demuxing the same file in
        process;
      - the owner's CPU while 10 paced viewers watch, beside one
        `ffmpeg -re -c copy` remux of the same clip.  */
#include <libavformat/avformat.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proc.h"

#define VIEWERS 10
#define WINDOW_S 8

static double
s_ms (int64_t ns)
{
    return ns / 1e6;
}

//  Reads /proc/PID/stat into buf; returns the text after the command
//  name's ")" (state, ppid, ...), or NULL.  *comm gets the name's start.
static const char *
s_stat (pid_t pid, char *buf, size_t size, const char **comm)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    size_t n = fread (buf, 1, size - 1, f);
    fclose (f);
    buf [n] = 0;
    char *open = strchr (buf, '('), *close = strrchr (buf, ')');
    if (!open || !close || close [1] != ' ')
        return NULL;
    *comm = open + 1;
    return close + 2;
}

//  CPU seconds (user + system) of a process from /proc.
static double
s_cpu (pid_t pid)
{
    char buf [1024];
    const char *comm, *p = s_stat (pid, buf, sizeof buf, &comm);
    unsigned long long ut = 0, st = 0;
    //  fields after ")": state ppid ... utime (14) stime (15)
    if (p && sscanf (p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        return (double) (ut + st) / sysconf (_SC_CLK_TCK);
    return 0;
}

//  Fills pids with up to max children of ppid, those whose name starts
//  with prefix (NULL: all); returns how many.
static int
s_children (pid_t ppid, const char *prefix, pid_t *pids, int max)
{
    DIR *d = opendir ("/proc");
    struct dirent *e;
    int count = 0;
    while (d && count < max && (e = readdir (d))) {
        int pid = atoi (e->d_name), parent = 0;
        char buf [512];
        const char *comm, *p = pid > 0? s_stat (pid, buf, sizeof buf, &comm): NULL;
        if (p && sscanf (p, "%*c %d", &parent) == 1 && parent == ppid
        &&  (!prefix || strncmp (comm, prefix, strlen (prefix)) == 0))
            pids [count++] = pid;
    }
    if (d)
        closedir (d);
    return count;
}

//  CPU seconds of every process whose parent is ppid.
static double
s_children_cpu (pid_t ppid)
{
    pid_t pids [256];
    int n = s_children (ppid, NULL, pids, 256);
    double total = 0;
    for (int i = 0; i < n; i++)
        total += s_cpu (pids [i]);
    return total;
}

//  The pid of ppid's child running the media helper, or 0.
static pid_t
s_helper_pid (pid_t ppid)
{
    pid_t pid = 0;
    //  The kernel keeps 15 bytes of the name
    return s_children (ppid, "securechat-med", &pid, 1) == 1? pid: 0;
}

static int
s_run (const char *cmd)
{
    int rc = system (cmd);
    return WIFEXITED (rc)? WEXITSTATUS (rc): -1;
}

static int
s_write_packet (void *opaque, uint8_t *buf, int size)
{
    return size;
}

//  In process: open the file, demux the first packet, mux it to Matroska
//  (to nowhere).  Returns ms.
static double
s_first_packet_in_process (const char *path)
{
    int64_t t0 = now_ns ();
    AVFormatContext *in = NULL, *out = NULL;
    //  MP4 says all a muxer needs in its header (no avformat_find_stream_info)
    if (avformat_open_input (&in, path, NULL, NULL))
        return -1;
    avformat_alloc_output_context2 (&out, NULL, "matroska", NULL);
    uint8_t *buf = av_malloc (65536);
    out->pb = avio_alloc_context (buf, 65536, 1, NULL, NULL, s_write_packet, NULL);
    for (unsigned i = 0; i < in->nb_streams; i++) {
        AVStream *st = avformat_new_stream (out, NULL);
        avcodec_parameters_copy (st->codecpar, in->streams [i]->codecpar);
        st->codecpar->codec_tag = 0;
        st->time_base = in->streams [i]->time_base;
    }
    if (avformat_write_header (out, NULL) < 0)
        return -1;
    AVPacket *pkt = av_packet_alloc ();
    if (av_read_frame (in, pkt) < 0)
        return -1;
    av_packet_rescale_ts (pkt, in->streams [pkt->stream_index]->time_base,
                          out->streams [pkt->stream_index]->time_base);
    av_interleaved_write_frame (out, pkt);
    double ms = s_ms (now_ns () - t0);
    av_packet_free (&pkt);
    avio_context_free (&out->pb);
    avformat_free_context (out);
    avformat_close_input (&in);
    return ms;
}

//  In process: demux every packet.  Returns MB/s of packet bytes; *bytes.
static double
s_demux_in_process (const char *path, long long *bytes)
{
    int64_t t0 = now_ns ();
    AVFormatContext *in = NULL;
    if (avformat_open_input (&in, path, NULL, NULL) || avformat_find_stream_info (in, NULL) < 0)
        return -1;
    AVPacket *pkt = av_packet_alloc ();
    *bytes = 0;
    while (av_read_frame (in, pkt) >= 0) {
        *bytes += pkt->size;
        av_packet_unref (pkt);
    }
    double mbs = *bytes / ((now_ns () - t0) / 1e9) / 1e6;
    av_packet_free (&pkt);
    avformat_close_input (&in);
    return mbs;
}

//  Sends a /watch and waits for the viewer's started (first packet) event;
//  returns ms, or -1.  With wait_end, also waits for the end.
static double
s_watch (proc_t *v, const char *line, bool wait_end, double *end_ms)
{
    proc_drain (v);
    int64_t t0 = now_ns ();
    proc_send (v, line);
    if (proc_until (v, "\"state\":\"started\"", 20000))
        return -1;
    double first = s_ms (now_ns () - t0);
    if (wait_end) {
        if (proc_until (v, "\"state\":\"ended\"", 120000))
            return -1;
        if (end_ms)
            *end_ms = s_ms (now_ns () - t0);
    }
    return first;
}

int
main (int argc, char **argv)
{
    const char *node = argc > 1? argv [1]: "build-bench/securechat-node";
    const char *tmp = argc > 2? argv [2]: "/tmp";
    char clip [512], home_a [512], home_b [512], peer [64], line [1024], cmd [1400];
    snprintf (clip, sizeof clip, "%s/clip720.mp4", tmp);
    snprintf (home_a, sizeof home_a, "%s/va", tmp);
    snprintf (home_b, sizeof home_b, "%s/vb", tmp);
    av_log_set_level (AV_LOG_QUIET);
    snprintf (cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 "
              "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 20 -c:v libx264 -preset veryfast "
              "-b:v 6M -g 60 -c:a aac '%s'", clip);
    if (s_run (cmd) != 0)
        return 1;
    double floor_ms [5];
    for (int i = 0; i < 5; i++)
        floor_ms [i] = s_first_packet_in_process (clip);
    long long bytes = 0;
    double read_mbs = s_demux_in_process (clip, &bytes);

    proc_t a, b;
    const char *args_a [] = { "--home", home_a, "--name", "alice", "--no-discovery", NULL };
    if (proc_start (&a, node, args_a))
        return 1;
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", a.port);
    const char *args_b [] = { "--home", home_b, "--name", "bob", "--no-discovery", "--peer", peer,
                              "--player", "cat > /dev/null", NULL };
    if (proc_start (&b, node, args_b) || proc_until (&a, "peer_joined", 10000)
    ||  proc_until (&b, "peer_joined", 10000))
        return 1;
    snprintf (line, sizeof line, "/share %s", clip);
    proc_send (&a, line);
    if (proc_until (&a, "\"shared\"", 10000))
        return 1;

    //  Cold: neither node has its media helper yet
    snprintf (line, sizeof line, "/watch alice clip720.mp4 --out %s/cold.mkv", tmp);
    double cold = s_watch (&b, line, true, NULL);
    //  Warm, to a file, as fast as credit allows
    double first [9], total [9], steady [9];
    int n = 0;
    for (int i = 0; i < 9; i++) {
        snprintf (line, sizeof line, "/watch alice clip720.mp4 --out %s/w%d.mkv", tmp, i);
        double end_ms = 0;
        first [n] = s_watch (&b, line, true, &end_ms);
        if (first [n] >= 0 && end_ms > first [n]) {
            total [n] = bytes / (end_ms / 1e3) / 1e6;
            steady [n] = bytes / ((end_ms - first [n]) / 1e3) / 1e6;
            n++;
        }
        snprintf (line, sizeof line, "%s/w%d.mkv", tmp, i);
        unlink (line);
    }
    double warm = n? quantile (first, n, 0.5): -1;
    //  Throughput from the first packet written to the end (the start is
    //  the row above); and, for the record, from the command on
    double stream_mbs = n? quantile (steady, n, 0.5): 0;
    double total_mbs = n? quantile (total, n, 0.5): 0;

    //  10 paced viewers (10 nodes whose players read and discard), the
    //  owner's CPU over a window in the middle of the clip
    static proc_t v [VIEWERS];
    int started = 0, nv = 0;
    for (int i = 0; i < VIEWERS; i++) {
        char home [600];
        snprintf (home, sizeof home, "%s/viewer%d", tmp, i);
        const char *args_v [] = { "--home", home, "--name", "viewer", "--no-discovery", "--peer", peer,
                                  "--player", "cat > /dev/null", NULL };
        if (proc_start (&v [i], node, args_v) || proc_until (&v [i], "peer_joined", 10000))
            break;
        nv++;
        proc_send (&v [i], "/watch alice clip720.mp4");
    }
    for (int i = 0; i < nv; i++)
        if (proc_until (&v [i], "\"state\":\"started\"", 20000) == 0)
            started++;
    proc_drain (&a);
    usleep (1500 * 1000);           //  past the first second's lead
    pid_t helper = s_helper_pid (a.pid);
    double node0 = s_cpu (a.pid), jobs0 = helper? s_children_cpu (helper) + s_cpu (helper): 0;
    int64_t w0 = now_ns ();
    sleep (WINDOW_S);
    double wall = (now_ns () - w0) / 1e9;
    double node_cpu = (s_cpu (a.pid) - node0) / wall * 100;
    double jobs_cpu = helper? (s_children_cpu (helper) + s_cpu (helper) - jobs0) / wall * 100: -1;
    //  Still running at the end of the window?
    proc_drain (&a);
    proc_send (&a, "/streams");
    int running = 0;
    if (proc_until (&a, "\"event\":\"streams\"", 5000) == 0)
        for (char *r = a.line; (r = strstr (r, "\"state\":\"running\"")); r++)
            running++;
    for (int i = 0; i < nv; i++)
        proc_stop (&v [i]);
    //  Baseline: ffmpeg's own paced remux of the same clip, same window
    struct rusage ru0, ru1;
    getrusage (RUSAGE_CHILDREN, &ru0);
    snprintf (cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -re -i '%s' -t %d -c copy -f matroska -y /dev/null",
              clip, WINDOW_S);
    int64_t f0 = now_ns ();
    s_run (cmd);
    double fwall = (now_ns () - f0) / 1e9;
    getrusage (RUSAGE_CHILDREN, &ru1);
    double ff_cpu = ((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec)
                   + ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / 1e6)
                   / fwall * 100;
    proc_stop (&b);
    proc_stop (&a);
    unlink (clip);

    double floor = quantile (floor_ms, 5, 0.5);
    printf ("| /watch to first packet written at the viewer, median of %d (media helper running) | %.1f ms | "
            "in-process open + demux + mux of the first packet %.1f ms | %.1fx | < 50 ms | %s |\n",
            n, warm, floor, warm / floor, warm >= 0 && warm < 50? "yes": "**no**");
    printf ("| the same, first /watch of a fresh node (starts the helper on both sides) | %.1f ms | "
            "in-process %.1f ms | %.1fx | (for scale) | |\n", cold, floor, cold / floor);
    printf ("| unpaced /watch --out of a 20 s 720p clip (%.1f MB of packets), median of %d, first "
            "packet to end (from the command: %.0f MB/s, %.2f) | %.0f MB/s | in-process demux %.0f MB/s "
            "| %.2f | ≥ 0.25 | %s |\n", bytes / 1e6, n, total_mbs, total_mbs / read_mbs, stream_mbs,
            read_mbs, stream_mbs / read_mbs, stream_mbs >= 0.25 * read_mbs? "yes": "**no**");
    printf ("| owner node CPU, %d paced viewers of the 720p clip (%d started, %d still running "
            "after %d s) | %.1f%% of a core (its helper's demux jobs: %.1f%%) | one `ffmpeg -re -c copy` "
            "%.1f%% | %.1fx | < 10%% | %s |\n",
            VIEWERS, started, running, WINDOW_S, node_cpu, jobs_cpu, ff_cpu, ff_cpu > 0? node_cpu / ff_cpu: 0,
            node_cpu < 10 && started == VIEWERS && running == VIEWERS? "yes": "**no**");
    return 0;
}

/*  cmd: turns a typed line into a command.  Pure parsing, no side effects,
    so tests and fuzzers can call it directly.

    A line that does not start with '/' is CMD_SAY (to every peer).  "//x"
    sends the text "/x".  Arguments are separated by spaces; the last
    argument of commands that take text (/msg PEER TEXT) is the rest of the
    line, verbatim.  */
#ifndef SC_CMD_H
#define SC_CMD_H

#include <stddef.h>
#include <stdint.h>

#define CMD_ARGS_MAX 4
#define CMD_LINE_MAX 4096

/*  The slash commands, one row each, in the order /help lists them:

        X (TYPE, name, min, max, rest, usage, help)

    TYPE makes CMD_TYPE; name is the word after '/'; min and max count the
    arguments and rest says the last one is the rest of the line, verbatim;
    usage and help are the command's line in /help.  The node runs a
    command with its handler s_cmd_<name> (node/node.c), so a new command is
    a row here and that one function there.  */
#define CMD_TABLE(X) \
    X (MSG, msg, 2, 2, 1, "/msg PEER TEXT", "send a private, end-to-end sealed message") \
    X (PEERS, peers, 0, 1, 0, "/peers", "list peers: name, fingerprint, address, verified") \
    X (WHOAMI, whoami, 0, 0, 0, "/whoami", "show your name, fingerprint, safety number and address") \
    X (VERIFY, verify, 1, 2, 0, "/verify PEER [yes]", "show safety numbers; 'yes' marks the peer verified") \
    X (HISTORY, history, 0, 1, 0, "/history [PEER]", "show recent messages (all, or with one peer)") \
    X (SEND, send, 2, 2, 1, "/send PEER PATH", "send a file, encrypted end to end (resumes if cut)") \
    X (SHARE, share, 1, 1, 1, "/share PATH", "offer a file to peers by its name") \
    X (UNSHARE, unshare, 1, 1, 1, "/unshare NAME", "withdraw a shared file") \
    X (FILES, files, 1, 1, 0, "/files PEER", "list the files a peer shares") \
    X (GET, get, 2, 2, 1, "/get PEER NAME", "fetch a file a peer shares") \
    X (VIDEOS, videos, 1, 1, 0, "/videos PEER", "list the videos a peer shares (duration, codecs)") \
    X (WATCH, watch, 2, 2, 1, "/watch PEER NAME [OFFSET] [--out FILE]", \
       "stream a peer's video to the player, or save it (.mkv, or .ts for MPEG-TS); " \
       "OFFSET is SECONDS, MM:SS or HH:MM:SS") \
    X (STOP, stop, 0, 1, 0, "/stop [ID]", "stop watching (every stream, or the one whose id starts with ID)") \
    X (STREAMS, streams, 0, 0, 0, "/streams", "list the video streams running, both ways") \
    X (TRANSFERS, transfers, 0, 0, 0, "/transfers", "list transfers with their progress") \
    X (ACCEPT, accept, 1, 1, 0, "/accept ID", "accept an offered file, or resume a paused one") \
    X (REJECT, reject, 1, 1, 0, "/reject ID", "decline an offered file") \
    X (CANCEL, cancel, 1, 1, 0, "/cancel ID", "stop a transfer (its partial file is removed)") \
    X (TRACKERS, trackers, 0, 0, 0, "/trackers", "list the trackers: linked, registered, time to live left, refusals") \
    X (STATS, stats, 0, 0, 0, "/stats", "counts of what was dropped: beacons, frames, messages") \
    X (HELP, help, 0, 1, 0, "/help", "show this help") \
    X (QUIT, quit, 0, 0, 0, "/quit", "leave (peers are told)")

typedef enum {
    CMD_EMPTY = 0,              //  nothing but blanks: nothing to do
    CMD_SAY,                    //  argv: TEXT, to every online peer
#define CMD_ENUM(type, name, min, max, rest, usage, help) CMD_##type,
    CMD_TABLE (CMD_ENUM)
#undef CMD_ENUM
    CMD_TYPES                   //  how many types there are
} cmd_type_t;

typedef struct {
    cmd_type_t type;
    int argc;
    const char *argv [CMD_ARGS_MAX];    //  point into buf
    const char *offset;                 //  /watch: OFFSET, or NULL (into buf)
    const char *out;                    //  /watch: --out FILE, or NULL (into buf)
    char buf [CMD_LINE_MAX + 1];
} cmd_t;

//  Parses line.  Returns 0, or SC_EINVAL with a sentence in err (unknown
//  command, wrong arguments: the usage is included), or SC_ETOOBIG.
int cmd_parse (const char *line, cmd_t *cmd, char *err, size_t err_size);

//  Parses a video offset "SECONDS", "MM:SS" or "HH:MM:SS" (the last part
//  may have a fraction).  Returns 0 and *ms, or SC_EINVAL.
int cmd_parse_offset (const char *text, int64_t *ms);

//  Returns the help text: one line per command (static).
const char *cmd_help (void);

#endif

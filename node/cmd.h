/*  cmd: turns a typed line into a command.  Pure parsing, no side effects,
    so tests and fuzzers can call it directly.

    A line that does not start with '/' is CMD_SAY (to every peer).  "//x"
    sends the text "/x".  Arguments are separated by spaces; the last
    argument of commands that take text (/msg PEER TEXT) is the rest of the
    line, verbatim.  */
#ifndef SC_CMD_H
#define SC_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_ARGS_MAX 4
#define CMD_LINE_MAX 4096

/*  The slash commands, one row each, in the order /help lists them:

        X (TYPE, name, min, max, rest, usage, help, example, detail)

    TYPE makes CMD_TYPE; name is the word after '/'; min and max count the
    arguments and rest says the last one is the rest of the line, verbatim;
    usage and help are the command's line in /help (help: at most 55
    characters, so that /help fits 80 columns); example and detail are what
    /help NAME adds.  The words of usage name the arguments' kinds, which
    completion follows: PEER, NAME (a share of that peer), PATH, ID.  The
    node runs a command with its handler s_cmd_<name> (node/commands.c), so
    a new command is a row here and that one function there.  */
#define CMD_TABLE(X) \
    X (MSG, msg, 2, 2, 1, "/msg PEER TEXT", "send a private, end-to-end sealed message", \
       "/msg bob see you at six", \
       "Seals TEXT to PEER's key and signs it with yours; only PEER can read it. When " \
       "PEER is away it waits here, or in a tracker's mailbox, and goes when it is back.") \
    X (PEERS, peers, 0, 1, 0, "/peers", "list peers: name, fingerprint, address, verified", \
       "/peers", \
       "Every peer met in this session, online or not, with the short fingerprint that " \
       "names it when two share a display name.") \
    X (WHOAMI, whoami, 0, 0, 0, "/whoami", "your name, fingerprint, safety number, address", \
       "/whoami", \
       "The address printed is what others give --peer to reach you with your key pinned.") \
    X (VERIFY, verify, 1, 2, 0, "/verify PEER [yes]", "compare safety numbers; 'yes' marks verified", \
       "/verify bob yes", \
       "Shows PEER's safety number and yours. Compare them with PEER by voice or in " \
       "person; when they match, /verify PEER yes marks PEER verified for good.") \
    X (HISTORY, history, 0, 1, 0, "/history [PEER]", "recent messages (all, or with one peer)", \
       "/history bob", \
       "Messages are kept encrypted under the node's home; this shows the last ones.") \
    X (SEND, send, 2, 2, 1, "/send PEER PATH", "send a file, encrypted (resumes if cut)", \
       "/send bob ~/notes.pdf", \
       "Offers the file to PEER, who accepts or not; it travels on the encrypted link " \
       "and resumes where it stopped after a lost link or a restart.") \
    X (SHARE, share, 1, 1, 1, "/share PATH", "offer a file to peers by its name", \
       "/share ~/Videos/talk.mp4", \
       "Peers list it with /files and fetch it with /get; videos can be watched with " \
       "/watch. Only what you share can be fetched, and only by its name.") \
    X (UNSHARE, unshare, 1, 1, 1, "/unshare NAME", "withdraw a shared file", \
       "/unshare talk.mp4", \
       "Transfers already running finish; no new ones start.") \
    X (FILES, files, 1, 1, 0, "/files PEER", "list the files a peer shares", \
       "/files bob", \
       "Asks PEER for its list; its names then complete after /get PEER and /watch PEER.") \
    X (GET, get, 2, 2, 1, "/get PEER NAME", "fetch a file a peer shares", \
       "/get bob notes.pdf", \
       "Fetches the shared file NAME (as /files PEER lists it) into the download folder.") \
    X (VIDEOS, videos, 1, 1, 0, "/videos PEER", "list a peer's videos (duration, codecs)", \
       "/videos bob", \
       "Lists the playable files PEER shares, each track, and what will not be carried.") \
    X (WATCH, watch, 2, 2, 1, "/watch PEER NAME [OFFSET] [--out FILE]", \
       "stream a peer's video to the player, or save it", \
       "/watch bob talk.mp4 12:30 --out talk.mkv", \
       "Plays NAME in ffplay or mpv (--player), or with --out saves it to FILE (.mkv, or " \
       ".ts for MPEG-TS). OFFSET is SECONDS, MM:SS or HH:MM:SS. /stop ends it.") \
    X (STOP, stop, 0, 1, 0, "/stop [ID]", "stop watching (all, or the stream whose id is ID)", \
       "/stop 3fa9", \
       "Without ID every stream stops; with ID, the one whose id starts with it.") \
    X (STREAMS, streams, 0, 0, 0, "/streams", "list the video streams running, both ways", \
       "/streams", \
       "What you watch and what peers watch of yours, with their ids for /stop.") \
    X (TRANSFERS, transfers, 0, 0, 0, "/transfers", "list transfers with their progress", \
       "/transfers", \
       "Each with its id (for /accept, /reject, /cancel), state, progress and rate.") \
    X (ACCEPT, accept, 1, 1, 0, "/accept ID", "accept an offered file, or resume a paused one", \
       "/accept 9c1e", \
       "ID is the start of the transfer's id, as the offer and /transfers show it.") \
    X (REJECT, reject, 1, 1, 0, "/reject ID", "decline an offered file", \
       "/reject 9c1e", \
       "The sender is told; nothing of the file was written here.") \
    X (CANCEL, cancel, 1, 1, 0, "/cancel ID", "stop a transfer (its partial file is removed)", \
       "/cancel 9c1e", \
       "Either end may cancel; a paused transfer is resumed with /accept instead.") \
    X (TRACKERS, trackers, 0, 0, 0, "/trackers", "list trackers: linked, registered, time left", \
       "/trackers", \
       "The trackers given with --tracker: linked or not, registered, the time to live " \
       "left, and the answers refused.") \
    X (STATS, stats, 0, 0, 0, "/stats", "counts of what was dropped: beacons, frames", \
       "/stats", \
       "Beacons, frames, messages, credits and offers dropped or refused, by reason.") \
    X (HELP, help, 0, 1, 0, "/help [COMMAND]", "list the commands, or explain one", \
       "/help watch", \
       "COMMAND with or without its slash. Tab completes commands, peers, their " \
       "shares and paths.") \
    X (QUIT, quit, 0, 0, 0, "/quit", "leave (peers are told)", \
       "/quit", \
       "Peers see you leave at once; transfers resume when you are back.")

typedef enum {
    CMD_EMPTY = 0,              //  nothing but blanks: nothing to do
    CMD_SAY,                    //  argv: TEXT, to every online peer
#define CMD_ENUM(type, name, min, max, rest, usage, help, example, detail) CMD_##type,
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

//  Returns the help text: one line per command, none over 80 columns
//  (static).
const char *cmd_help (void);

//  Explains one command (name with or without its slash): usage, what it
//  does, an example, in lines of at most 80 columns, into out.  Returns 0,
//  or SC_EINVAL with a sentence in out when there is no such command.
int cmd_help_one (const char *name, char *out, size_t size);

//  What a command's argument is, from its usage (arg counts from 0).
typedef enum { CMD_ARG_OTHER, CMD_ARG_PEER, CMD_ARG_SHARE, CMD_ARG_PATH, CMD_ARG_ID } cmd_arg_t;
cmd_arg_t cmd_arg_kind (const char *name, int arg);
//  True when that argument is the rest of the line (taken verbatim).
bool cmd_arg_is_rest (const char *name, int arg);

//  The name of command i (without its slash), or NULL past the last.
const char *cmd_name (size_t i);

#endif

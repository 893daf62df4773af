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

typedef enum {
    CMD_EMPTY = 0,
    CMD_SAY,
    CMD_MSG,
    CMD_PEERS,
    CMD_WHOAMI,
    CMD_VERIFY,
    CMD_HISTORY,
    CMD_STATS,
    CMD_SEND,
    CMD_SHARE,
    CMD_UNSHARE,
    CMD_FILES,
    CMD_GET,
    CMD_VIDEOS,
    CMD_WATCH,                  //  argv: PEER, NAME; and offset, out (or NULL)
    CMD_STOP,
    CMD_STREAMS,
    CMD_TRANSFERS,
    CMD_ACCEPT,
    CMD_REJECT,
    CMD_CANCEL,
    CMD_HELP,
    CMD_QUIT,
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

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "cmd.h"

typedef struct {
    const char *name;
    cmd_type_t type;
    int min, max;           //  arguments
    int rest;               //  the last argument is the rest of the line
    const char *usage;
    const char *help;
    const char *example;
    const char *detail;
} s_spec_t;

static const s_spec_t s_specs [] = {
#define S_SPEC(type, name, min, max, rest, usage, help, example, detail) \
    { #name, CMD_##type, min, max, rest, usage, help, example, detail },
    CMD_TABLE (S_SPEC)
#undef S_SPEC
};
#define SPECS (sizeof s_specs / sizeof s_specs [0])

int
cmd_parse_offset (const char *text, int64_t *ms)
{
    double parts [3];
    int n = 0;
    const char *p = text;
    if (!*text || strspn (text, "0123456789.:") != strlen (text) || strlen (text) > 16)
        return SC_EINVAL;
    while (n < 3) {
        char *end;
        if (*p < '0' || *p > '9')
            return SC_EINVAL;
        parts [n++] = strtod (p, &end);
        if (*end == 0)
            break;
        const char *dot = strchr (p, '.');
        if (*end != ':' || (dot && dot < end))
            return SC_EINVAL;   //  only the last part has a fraction
        p = end + 1;
        if (n == 3)
            return SC_EINVAL;
    }
    double seconds = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && parts [i] >= 60)
            return SC_EINVAL;
        seconds = seconds * 60 + parts [i];
    }
    if (seconds < 0 || seconds > 1e7)
        return SC_EINVAL;
    *ms = (int64_t) (seconds * 1000 + 0.5);
    return 0;
}

#define HELP_COL 24          //  the help of a usage that is longer goes on its own line

const char *
cmd_help (void)
{
    static char text [8192];
    if (!text [0]) {
        size_t used = (size_t) snprintf (text, sizeof text, "%-*s %s\n", HELP_COL, "TEXT",
                                         "a line to every peer, each copy sealed to it");
        for (size_t i = 0; i < SPECS; i++)
            used += (size_t) snprintf (text + used, sizeof text - used, "%-*s%s%*s %s\n",
                                       HELP_COL, s_specs [i].usage,
                                       strlen (s_specs [i].usage) > HELP_COL? "\n": "",
                                       strlen (s_specs [i].usage) > HELP_COL? HELP_COL: 0, "",
                                       s_specs [i].help);
        snprintf (text + used, sizeof text - used,
                  "PEER is a display name or a prefix (4+ hex digits) of a fingerprint;\n"
                  "type /help COMMAND for one command; Tab completes commands and names");
    }
    return text;
}

static const s_spec_t *
s_find (const char *name)
{
    for (size_t i = 0; i < SPECS; i++)
        if (strcmp (s_specs [i].name, name) == 0)
            return &s_specs [i];
    return NULL;
}

//  Appends text to out at *used, words wrapped at 80 columns, each line
//  indented by two spaces.
static void
s_wrap (char *out, size_t size, size_t *used, const char *text)
{
    const char *p = text;
    while (*p && *used + 4 < size) {
        size_t len = strlen (p), cut = len;
        if (len > 78) {
            cut = 78;
            while (cut > 0 && p [cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 78;
        }
        int n = snprintf (out + *used, size - *used, "  %.*s\n", (int) cut, p);
        *used += n > 0 && (size_t) n < size - *used? (size_t) n: size - *used - 1;
        p += cut;
        while (*p == ' ')
            p++;
    }
}

int
cmd_help_one (const char *name, char *out, size_t size)
{
    const s_spec_t *spec = s_find (name [0] == '/'? name + 1: name);
    if (!spec) {
        snprintf (out, size, "no command /%.32s: /help lists them", name [0] == '/'? name + 1: name);
        return SC_EINVAL;
    }
    size_t used = (size_t) snprintf (out, size, "usage: %s\n", spec->usage);
    if (used >= size)
        return 0;
    s_wrap (out, size, &used, spec->detail);
    char example [256];
    snprintf (example, sizeof example, "example: %s", spec->example);
    s_wrap (out, size, &used, example);
    if (used > 0 && out [used - 1] == '\n')
        out [used - 1] = 0;     //  the event's lines: no empty last one
    return 0;
}

bool
cmd_arg_is_rest (const char *name, int arg)
{
    const s_spec_t *spec = s_find (name);
    return spec && spec->rest && arg == spec->max - 1;
}

const char *
cmd_name (size_t i)
{
    return i < SPECS? s_specs [i].name: NULL;
}

cmd_arg_t
cmd_arg_kind (const char *name, int arg)
{
    const s_spec_t *spec = s_find (name);
    if (!spec || arg < 0)
        return CMD_ARG_OTHER;
    const char *p = spec->usage + strcspn (spec->usage, " ");
    bool after_peer = false;
    for (int k = 0; *p; k++) {
        p += strspn (p, " [");
        size_t len = strcspn (p, " ]");
        bool peer = len == 4 && strncmp (p, "PEER", 4) == 0;
        if (k == arg) {
            if (peer)
                return CMD_ARG_PEER;
            if (len == 4 && strncmp (p, "NAME", 4) == 0 && after_peer)
                return CMD_ARG_SHARE;
            if (len == 4 && strncmp (p, "PATH", 4) == 0)
                return CMD_ARG_PATH;
            if (len == 2 && strncmp (p, "ID", 2) == 0)
                return CMD_ARG_ID;
            return CMD_ARG_OTHER;
        }
        after_peer = peer;
        p += len;
        p += strspn (p, "]");
    }
    return CMD_ARG_OTHER;
}

//  "NAME [OFFSET] [--out FILE]" -> argv [1], offset, out; FILE is the rest
//  of the line, and OFFSET is the last word before it when it reads as one.
static int
s_split_watch (cmd_t *cmd, const s_spec_t *spec, char *err, size_t err_size)
{
    char *rest = (char *) cmd->argv [1];
    char *out = NULL;
    if (strncmp (rest, "--out", 5) == 0 && (rest [5] == ' ' || !rest [5]))
        out = rest;
    else if ((out = strstr (rest, " --out ")) || (out = strstr (rest, " --out")))
        if (out [6] && out [6] != ' ')
            out = NULL;         //  "--outside" is part of a name
    if (out) {
        char *file = out + (out == rest? 5: 6);
        while (*file == ' ')
            file++;
        if (!*file) {
            snprintf (err, err_size, "--out needs a file: usage %s", spec->usage);
            return SC_EINVAL;
        }
        cmd->out = file;
        *out = 0;
    }
    size_t len = strlen (rest);
    while (len && rest [len - 1] == ' ')
        rest [--len] = 0;
    char *last = strrchr (rest, ' ');
    int64_t ms;
    if (last && cmd_parse_offset (last + 1, &ms) == 0) {
        cmd->offset = last + 1;
        *last = 0;
        len = strlen (rest);
        while (len && rest [len - 1] == ' ')
            rest [--len] = 0;
    }
    if (!*rest) {
        snprintf (err, err_size, "missing the video's name: usage %s", spec->usage);
        return SC_EINVAL;
    }
    return 0;
}

int
cmd_parse (const char *line, cmd_t *cmd, char *err, size_t err_size)
{
    memset (cmd, 0, sizeof *cmd);
    err [0] = 0;
    size_t len = strlen (line);
    if (len > CMD_LINE_MAX) {
        snprintf (err, err_size, "line too long (%zu bytes, at most %d)", len, CMD_LINE_MAX);
        return SC_ETOOBIG;
    }
    memcpy (cmd->buf, line, len + 1);
    char *p = cmd->buf;
    if (line [0] != '/' || line [1] == '/') {
        if (line [0] == '/')
            p++;
        //  Nothing but blanks is nothing to send
        if (strspn (p, " \t") == strlen (p))
            return 0;
        cmd->type = CMD_SAY;
        cmd->argc = 1;
        cmd->argv [0] = p;
        return 0;
    }
    p++;
    char *name = p;
    p += strcspn (p, " ");
    if (*p)
        *p++ = 0;
    const s_spec_t *spec = s_find (name);
    if (!spec) {
        snprintf (err, err_size, "unknown command /%.32s: type /help for the list", name);
        return SC_EINVAL;
    }
    cmd->type = spec->type;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (cmd->argc == spec->max) {
            snprintf (err, err_size, "too many arguments: usage %s", spec->usage);
            return SC_EINVAL;
        }
        cmd->argv [cmd->argc++] = p;
        if (spec->rest && cmd->argc == spec->max)
            break;          //  the rest of the line, verbatim
        p += strcspn (p, " ");
        if (*p)
            *p++ = 0;
    }
    if (cmd->argc < spec->min) {
        snprintf (err, err_size, "missing arguments: usage %s", spec->usage);
        return SC_EINVAL;
    }
    if (cmd->type == CMD_WATCH)
        return s_split_watch (cmd, spec, err, err_size);
    return 0;
}

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
} s_spec_t;

static const s_spec_t s_specs [] = {
#define S_SPEC(type, name, min, max, rest, usage, help) { #name, CMD_##type, min, max, rest, usage, help },
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

const char *
cmd_help (void)
{
    static char text [8192];
    if (!text [0]) {
        size_t used = (size_t) snprintf (text, sizeof text, "%-24s %s\n", "TEXT",
                                         "send a line to every peer (each copy sealed to its recipient)");
        for (size_t i = 0; i < SPECS; i++)
            used += (size_t) snprintf (text + used, sizeof text - used, "%-24s %s\n",
                                       s_specs [i].usage, s_specs [i].help);
        snprintf (text + used, sizeof text - used,
                  "PEER is a display name or a prefix (4+ hex digits) of a fingerprint");
    }
    return text;
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
    const s_spec_t *spec = NULL;
    for (size_t i = 0; i < SPECS; i++)
        if (strcmp (s_specs [i].name, name) == 0)
            spec = &s_specs [i];
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

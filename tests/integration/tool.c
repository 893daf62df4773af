#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tool.h"

int64_t
tool_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tool_print (json_t *j)
{
    char *text = json_dumps (j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf ("%s\n", text? text: "{}");
    fflush (stdout);
    free (text);
    json_decref (j);
}

json_t *
tool_hexj (const uint8_t *bin, size_t len)
{
    char hex [2 * 256 + 1];
    sodium_bin2hex (hex, sizeof hex, bin, len > 256? 256: len);
    return json_string (hex);
}

bool
tool_read_lines (tool_input_t *in, bool (*command) (void *arg, char *line), void *arg)
{
    ssize_t n = read (STDIN_FILENO, in->line + in->have, sizeof in->line - 1 - in->have);
    if (n <= 0)
        return false;
    in->have += (size_t) n;
    char *nl;
    while ((nl = memchr (in->line, '\n', in->have))) {
        *nl = 0;
        if (!command (arg, in->line))
            return false;
        in->have -= (size_t) (nl + 1 - in->line);
        memmove (in->line, nl + 1, in->have);
    }
    if (in->have == sizeof in->line - 1)
        in->have = 0;
    return true;
}

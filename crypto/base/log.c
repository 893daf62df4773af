#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "log.h"

static int s_level = LOG_LEVEL_WARN;
static const char *s_names [] = { "error", "warning", "info", "debug" };

void
log_set_level (int level)
{
    s_level = level < LOG_LEVEL_ERROR? LOG_LEVEL_ERROR: level > LOG_LEVEL_DEBUG? LOG_LEVEL_DEBUG: level;
}

int
log_enabled (int level)
{
    return level <= s_level;
}

void
log_write (int level, const char *module, const char *fmt, ...)
{
    if (level > s_level)
        return;
    char line [1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    if (s_level >= LOG_LEVEL_DEBUG) {
        //  With -vv every line carries monotonic milliseconds, for timelines
        struct timespec ts;
        clock_gettime (CLOCK_MONOTONIC, &ts);
        fprintf (stderr, "%lld.%03ld %s: %s: %s\n", (long long) ts.tv_sec, ts.tv_nsec / 1000000,
                 module, s_names [level], line);
    }
    else
        fprintf (stderr, "%s: %s: %s\n", module, s_names [level], line);
}

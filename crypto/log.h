/*  log: one logging family for every module, to stderr only.

    Quiet by default (warnings and errors); -v gives info, -vv debug.
    Each file defines LOG_MODULE before including this header.  */
#ifndef SC_LOG_H
#define SC_LOG_H

//  Levels (not LOG_INFO and the like, which <syslog.h> defines)
enum { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

#ifndef LOG_MODULE
#define LOG_MODULE "sc"
#endif

//  Sets the most verbose level that is printed.
void log_set_level (int level);
//  Returns nonzero when level would be printed.
int log_enabled (int level);
//  Prints one line to stderr: "module: level: message".
void log_write (int level, const char *module, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#define log_error(...) log_write (LOG_LEVEL_ERROR, LOG_MODULE, __VA_ARGS__)
#define log_warn(...)  log_write (LOG_LEVEL_WARN, LOG_MODULE, __VA_ARGS__)
#define log_info(...)  log_write (LOG_LEVEL_INFO, LOG_MODULE, __VA_ARGS__)
#define log_debug(...) log_write (LOG_LEVEL_DEBUG, LOG_MODULE, __VA_ARGS__)

#endif

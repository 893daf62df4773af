/*  tool: what the JSON-speaking test tools (sc-tracker-client,
    sc-evil-tracker) share: the wall clock, one JSON line out, hex.  */
#ifndef SC_TOOL_H
#define SC_TOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Milliseconds since the epoch.
int64_t tool_now_ms (void);
//  Prints j (taken) as one compact JSON line on stdout, flushed.
void tool_print (json_t *j);
//  bin (up to 256 bytes) as a hex JSON string.
json_t *tool_hexj (const uint8_t *bin, size_t len);

//  Lines typed on stdin, a buffer of them (a line too long is dropped)
typedef struct {
    char line [4096];
    size_t have;
} tool_input_t;

//  Reads what stdin has and runs command (arg, line) on each whole line
//  until it returns false.  false at the end of input or when a command
//  said to stop.
bool tool_read_lines (tool_input_t *in, bool (*command) (void *arg, char *line), void *arg);

#endif

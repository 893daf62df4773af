//  libFuzzer harness: typed command lines, peer addresses and UTF-8 cleaning.
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/utf8.h"
#include "../../discovery/record.h"
#include "../../node/cmd.h"
#include "../../node/opts.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *line = malloc (size + 1);
    if (!line)
        return 0;
    memcpy (line, data, size);
    line [size] = 0;
    static cmd_t cmd;
    char err [256];
    if (cmd_parse (line, &cmd, err, sizeof err) == 0) {
        for (int i = 0; i < cmd.argc; i++)
            if (!cmd.argv [i] || strlen (cmd.argv [i]) > size)
                abort ();
        //  /watch: a name is left, and an offset given is one that parses
        int64_t ms;
        if (cmd.type == CMD_WATCH && (cmd.argc != 2 || !*cmd.argv [1]
                                  ||  (cmd.offset && cmd_parse_offset (cmd.offset, &ms) != 0)
                                  ||  (cmd.out && !*cmd.out)))
            abort ();
    }
    char host [64];
    int port;
    unsigned char fp [32];
    bool pinned;
    if (opts_parse_peer (line, host, sizeof host, &port, fp, &pinned, err, sizeof err) == 0
    &&  (port < 1 || port > 65535 || strlen (host) == 0))
        abort ();
    (void) record_name_ok (line);
    char *clean = utf8_sanitize ((const char *) data, size);
    if (clean) {
        //  The cleaned text is valid UTF-8 with no NUL inside
        size_t n = strlen (clean);
        for (size_t i = 0; i < n; ) {
            uint32_t cp;
            size_t k = utf8_decode ((const uint8_t *) clean + i, n - i, &cp);
            if (k == 0)
                abort ();
            i += k;
        }
        free (clean);
    }
    free (line);
    return 0;
}

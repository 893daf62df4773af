/*  sc-forge: writes validly signed peer records of throwaway identities to
    stdout, for tests that need real signatures (stale, leave, floods of
    new keys).  Usage: sc-forge COUNT PORT TS_OFFSET_MS [leave]  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "../../discovery/record.h"

int
main (int argc, char **argv)
{
    if (argc < 4 || sodium_init () < 0) {
        fprintf (stderr, "usage: sc-forge COUNT PORT TS_OFFSET_MS [leave|start]\n");
        return 2;
    }
    int count = atoi (argv [1]), port = atoi (argv [2]);
    long long offset = atoll (argv [3]);
    uint8_t flags = argc > 4 && strcmp (argv [4], "leave") == 0? RECORD_FLAG_LEAVE
                  : argc > 4 && strcmp (argv [4], "start") == 0? RECORD_FLAG_START: 0;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    long long now = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int i = 0; i < count; i++) {
        identity_t *id = identity_generate ();
        uint8_t rec [RECORD_SIZE];
        char name [24];
        snprintf (name, sizeof name, "forged%d", i);
        if (!id || record_make (id, name, (uint16_t) port, flags, now + offset, rec) != 0
        ||  fwrite (rec, 1, sizeof rec, stdout) != sizeof rec)
            return 1;
        identity_destroy (&id);
    }
    return 0;
}

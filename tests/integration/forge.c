/*  sc-forge: writes validly signed peer records of throwaway identities to
    stdout, for tests that need real signatures (stale, leave, floods of
    new keys, a key claimed by another identity).
    Usage: sc-forge COUNT PORT TS_OFFSET_MS [leave|start|-] [claim=HOME|secret]
    With claim=HOME each record carries, signed by its throwaway identity,
    the X25519 key of the identity under HOME (a key it cannot prove).
    With secret each record is followed by its X25519 secret key (32 bytes),
    so a test can complete the CURVE handshake as that identity.  */
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
    identity_t *victim = NULL;
    if (argc > 5 && strncmp (argv [5], "claim=", 6) == 0) {
        char path [4096];
        snprintf (path, sizeof path, "%s/identity", argv [5] + 6);
        if (identity_load (path, NULL, &victim) != 0) {
            fprintf (stderr, "sc-forge: cannot load %s\n", path);
            return 1;
        }
    }
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    long long now = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int i = 0; i < count; i++) {
        identity_t *id = identity_generate ();
        uint8_t rec [RECORD_SIZE];
        char name [24];
        snprintf (name, sizeof name, "forged%d", i);
        if (!id || record_make (id, name, (uint16_t) port, flags, now + offset, rec) != 0)
            return 1;
        //  The layout of discovery/record.h: the X25519 key at 40, the
        //  signature over the first 113 bytes at 113
        if (victim) {
            memcpy (rec + 40, identity_box_pk (victim), 32);
            if (identity_sign (id, "securechat record v1", rec, 113, rec + 113) != 0)
                return 1;
        }
        if (fwrite (rec, 1, sizeof rec, stdout) != sizeof rec)
            return 1;
        if (argc > 5 && strcmp (argv [5], "secret") == 0
        &&  fwrite (identity_box_sk (id), 1, 32, stdout) != 32)
            return 1;
        identity_destroy (&id);
    }
    identity_destroy (&victim);
    return 0;
}

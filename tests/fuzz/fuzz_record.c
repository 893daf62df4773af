//  libFuzzer harness: signed peer records and record requests.
#include <stdlib.h>
#include <string.h>
#include "../../discovery/record.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    record_t rec;
    if (record_decode (data, size, &rec) == 0) {
        //  A record that decodes has a valid, terminated name and a port
        if (!record_name_ok (rec.name) || rec.port == 0)
            abort ();
    }
    //  The path that trusts a record seen before parses without verifying:
    //  it must check the layout as strictly, and keep the bytes
    if (record_decode_known (data, size, size == RECORD_SIZE? data: NULL, &rec) == 0) {
        if (!record_name_ok (rec.name) || rec.port == 0 || memcmp (rec.raw, data, RECORD_SIZE) != 0)
            abort ();
    }
    (void) record_is_request (data, size);
    return 0;
}

//  libFuzzer harness: file offers, share lists and received file names.
#include <stdlib.h>
#include <string.h>
#include "../../crypto/base/utf8.h"
#include "../../node/wire.h"
#include "../../node/xfer.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    wire_offer_t o;
    if (wire_offer_decode (data, size, &o) == 0 && xfer_check_offer (&o, NULL, 0) == 0) {
        //  An accepted offer never asks for more than the limits
        if (o.size > XFER_SIZE_MAX || o.chunk_size > XFER_CHUNK_MAX
        ||  o.chunk_count > XFER_COUNT_MAX)
            abort ();
        char name [XFER_NAME_MAX + 1];
        xfer_safe_name (o.name, o.name_len, name);
    }
    wire_share_t e [64];
    size_t n;
    (void) wire_shares_decode (data, size, e, 64, &n);
    //  Any bytes as a name: the result is a safe, valid, non-empty base name
    char name [XFER_NAME_MAX + 1];
    xfer_safe_name ((const char *) data, size, name);
    size_t len = strlen (name);
    if (len == 0 || len > XFER_NAME_MAX || strchr (name, '/') || strchr (name, '\\')
    ||  name [0] == '.' || strcmp (name, "..") == 0)
        abort ();
    for (size_t i = 0; i < len; ) {
        uint32_t cp;
        size_t k = utf8_decode ((const uint8_t *) name + i, len - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x202a && cp <= 0x202e))
            abort ();
        i += k;
    }
    return 0;
}

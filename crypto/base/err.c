#include "err.h"

static const struct {
    const char *name;
    const char *text;
} s_errors [] = {
    { "ok", "success" },
    { "no_memory", "out of memory" },
    { "io", "a file could not be read or written" },
    { "not_found", "no such file or entry" },
    { "invalid", "invalid argument" },
    { "wrong_passphrase", "wrong passphrase: the identity could not be decrypted" },
    { "need_passphrase", "the identity is encrypted: give --passphrase-file or run on a terminal" },
    { "corrupt", "a stored file is damaged" },
    { "malformed", "malformed data" },
    { "truncated", "data ends early" },
    { "too_big", "a declared size or count is over the limit" },
    { "too_deep", "data is nested too deeply" },
    { "bad_version", "unsupported format version" },
    { "bad_type", "unknown frame type" },
    { "bad_box", "sealed box does not open with our key" },
    { "bad_signature", "signature does not verify" },
    { "not_for_me", "addressed to another identity" },
    { "unknown_sender", "sender is not a known peer" },
    { "wrong_sender", "signed sender does not match the link it came on" },
    { "replay", "message was seen before (replay)" },
    { "stale", "timestamp is outside the accepted window" },
    { "crypto", "a cryptographic operation failed" },
    { "no_peer", "no peer by that name or fingerprint" },
    { "ambiguous", "several peers match that name: use a fingerprint prefix" },
    { "key_changed", "this name now comes with a different key" },
    { "again", "not possible right now: try again later" },
    { "network", "a network operation failed" },
    { "exists", "already exists" },
    { "not_permitted", "not permitted" },
    { "offline", "the peer is not online now" },
    { "queue_full", "a queue is full: try again later" },
};

const char *
sc_strerror (int rc)
{
    if (rc > 0 || rc <= SC_ELAST)
        return "unknown error";
    return s_errors [-rc].text;
}

const char *
sc_errname (int rc)
{
    if (rc > 0 || rc <= SC_ELAST)
        return "unknown";
    return s_errors [-rc].name;
}

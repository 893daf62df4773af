/*  securechat-tracker: options, home, identity, signals, then the
    tracker's loop (node/tracker.c).  */
#define LOG_MODULE "tracker"
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "../crypto/identity.h"
#include "../crypto/base/log.h"
#include "opts.h"
#include "tracker.h"

#define CLOCK_ENV "SC_TRACKER_CLOCK_OFFSET_MS"

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    s_stop = 1;
}

static void
s_usage (const char *argv0)
{
    printf (
"Usage: %s [OPTION]...\n"
"A securechat tracker: nodes register their signed records, look each other\n"
"up (by key, fingerprint prefix or name) and leave sealed envelopes for peers\n"
"that are away.  It never carries chat, files or video between linked peers\n"
"and never sees a plaintext.  Prints FP@tcp://HOST:PORT for nodes' --tracker.\n"
"\n"
"  --home DIR               identity, mailbox and records snapshot (made 0700;\n"
"                           default: $XDG_CONFIG_HOME/securechat-tracker)\n"
"  --bind HOST              address to listen on (default: all)\n"
"  --port PORT              TCP port of the CURVE ROUTER, and UDP for the record\n"
"                           request (default %d)\n"
"  --json                   one JSON event per line on stdout (ready, registered,\n"
"                           left, mail_stored, mail_delivered, refused)\n"
"Limits (each counted in the status a node can ask for):\n"
"  --records-max N          records held in all (default %d)\n"
"  --keys-per-address N     distinct keys registered from one address (default %d)\n"
"  --register-rate N        registrations a second per address, after a burst of\n"
"                           8 x N (default %d, burst %d)\n"
"  --lookup-rate N          lookups, mail fetches and status requests a second per\n"
"                           address, after a burst of 3 x N (default %d, burst %d)\n"
"  --ttl SECS               time to live granted to a record (default %d)\n"
"  --mail-ttl-days N        longest time mail is kept (default %d)\n"
"  --mail-per-recipient N   items waiting for one recipient (default %d)\n"
"  --mail-per-sender N      items one sender has waiting (default %d)\n"
"  --mail-total N           items in all (default %d)\n"
"  --put-rate N             mailbox puts a second per sender, after a burst of\n"
"                           16 x N (default %d, burst %d)\n"
"  --push-rate N            join/leave notices pushed a second, over all links\n"
"                           (one notice to each registered link; default %d)\n"
"For tests only:\n"
"  --ttl-ms MS              time to live of a record, in milliseconds\n"
"  " CLOCK_ENV "=MS (environment) moves the tracker's clock by MS\n"
"\n"
"  -v, --verbose            more diagnostics on stderr (-vv for debug)\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n",
        argv0, TRACKER_PORT, REGISTRY_RECORDS, REGISTRY_KEYS_PER_SOURCE, REGISTRY_REGISTER_PER_S,
        REGISTRY_REGISTER_BURST, REGISTRY_LOOKUP_PER_S, REGISTRY_LOOKUP_BURST,
        REGISTRY_TTL_MS / 1000, MAILBOX_TTL_DAYS, MAILBOX_RECIPIENT_ITEMS, MAILBOX_SENDER_ITEMS,
        MAILBOX_TOTAL_ITEMS, MAILBOX_PUT_PER_S, MAILBOX_PUT_BURST, TRACKER_PUSHES_PER_S);
}

//  A whole number from min to max.  0, or SC_EINVAL with a sentence in err.
static int
s_number (const char *opt, const char *text, long long min, long long max, long long *out,
          char *err, size_t err_size)
{
    char *end;
    long long v = strtoll (text, &end, 10);
    if (!*text || *end || v < min || v > max) {
        snprintf (err, err_size, "--%s '%s' is not usable: give a whole number from %lld to %lld",
                  opt, text, min, max);
        return SC_EINVAL;
    }
    *out = v;
    return 0;
}

//  Parses argv into opts and home.  0, 1 (help or version shown), or
//  SC_EINVAL with a sentence in err.
static int
s_parse (int argc, char **argv, tracker_opts_t *o, const char **home, int *verbose,
         char *err, size_t err_size)
{
    enum { O_HOME = 256, O_BIND, O_PORT, O_JSON, O_RECORDS, O_KEYS, O_REG_RATE, O_LOOKUP_RATE,
           O_TTL, O_TTL_MS, O_MAIL_TTL, O_MAIL_RCPT, O_MAIL_SENDER, O_MAIL_TOTAL, O_PUT_RATE, O_PUSH_RATE };
    static const struct option longopts [] = {
        { "home", required_argument, NULL, O_HOME },
        { "bind", required_argument, NULL, O_BIND },
        { "port", required_argument, NULL, O_PORT },
        { "json", no_argument, NULL, O_JSON },
        { "records-max", required_argument, NULL, O_RECORDS },
        { "keys-per-address", required_argument, NULL, O_KEYS },
        { "register-rate", required_argument, NULL, O_REG_RATE },
        { "lookup-rate", required_argument, NULL, O_LOOKUP_RATE },
        { "ttl", required_argument, NULL, O_TTL },
        { "ttl-ms", required_argument, NULL, O_TTL_MS },
        { "mail-ttl-days", required_argument, NULL, O_MAIL_TTL },
        { "mail-per-recipient", required_argument, NULL, O_MAIL_RCPT },
        { "mail-per-sender", required_argument, NULL, O_MAIL_SENDER },
        { "mail-total", required_argument, NULL, O_MAIL_TOTAL },
        { "put-rate", required_argument, NULL, O_PUT_RATE },
        { "push-rate", required_argument, NULL, O_PUSH_RATE },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    registry_limits_t rl = REGISTRY_LIMITS_DEFAULT;
    mailbox_limits_t ml = MAILBOX_LIMITS_DEFAULT;
    *o = (tracker_opts_t) { .bind = "*", .port = TRACKER_PORT, .registry = rl, .mailbox = ml,
                           .push_rate = TRACKER_PUSHES_PER_S };
    *home = NULL;
    const char *offset = getenv (CLOCK_ENV);
    if (offset && *offset) {
        long long v;
        if (s_number (CLOCK_ENV, offset, -(1LL << 50), 1LL << 50, &v, err, err_size) != 0)
            return SC_EINVAL;
        o->clock_offset_ms = v;
    }
    opterr = 0;
    int c;
    long long v = 0;
    while ((c = getopt_long (argc, argv, ":vhV", longopts, NULL)) != -1) {
        const char *name = NULL;
        for (int i = 0; longopts [i].name; i++)
            if (longopts [i].val == c)
                name = longopts [i].name;
        int rc = 0;
        switch (c) {
            case O_HOME: *home = optarg; break;
            case O_BIND: o->bind = optarg; break;
            case O_JSON: o->json = true; break;
            case 'v': (*verbose)++; break;
            case 'h': s_usage (argv [0]); return 1;
            case 'V': printf ("securechat-tracker %s\n", SC_VERSION); return 1;
            case O_PORT:
                if ((rc = s_number (name, optarg, 0, 65535, &v, err, err_size)) == 0)
                    o->port = (int) v;
                break;
            case O_RECORDS:
                if ((rc = s_number (name, optarg, 1, 10000000, &v, err, err_size)) == 0)
                    o->registry.records = (size_t) v;
                break;
            case O_KEYS:
                if ((rc = s_number (name, optarg, 1, 10000000, &v, err, err_size)) == 0)
                    o->registry.keys_per_source = (size_t) v;
                break;
            case O_REG_RATE:
                if ((rc = s_number (name, optarg, 1, 1000000, &v, err, err_size)) == 0) {
                    o->registry.register_per_s = (uint32_t) v;
                    o->registry.register_burst = (uint32_t) v * 8;
                }
                break;
            case O_LOOKUP_RATE:
                if ((rc = s_number (name, optarg, 1, 1000000, &v, err, err_size)) == 0) {
                    o->registry.lookup_per_s = (uint32_t) v;
                    o->registry.lookup_burst = (uint32_t) v * 3;
                }
                break;
            case O_PUSH_RATE:
                if ((rc = s_number (name, optarg, 1, 100000000, &v, err, err_size)) == 0)
                    o->push_rate = v;
                break;
            case O_TTL:
                if ((rc = s_number (name, optarg, 1, 86400 * 30, &v, err, err_size)) == 0)
                    o->registry.ttl_ms = v * 1000;
                break;
            case O_TTL_MS:
                if ((rc = s_number (name, optarg, 1, 86400000LL * 30, &v, err, err_size)) == 0)
                    o->registry.ttl_ms = v;
                break;
            case O_MAIL_TTL:
                if ((rc = s_number (name, optarg, 1, 365, &v, err, err_size)) == 0)
                    o->mailbox.ttl_days = (uint32_t) v;
                break;
            case O_MAIL_RCPT:
                if ((rc = s_number (name, optarg, 1, 10000000, &v, err, err_size)) == 0)
                    o->mailbox.recipient_items = (size_t) v;
                break;
            case O_MAIL_SENDER:
                if ((rc = s_number (name, optarg, 1, 10000000, &v, err, err_size)) == 0)
                    o->mailbox.sender_items = (size_t) v;
                break;
            case O_MAIL_TOTAL:
                if ((rc = s_number (name, optarg, 1, 10000000, &v, err, err_size)) == 0)
                    o->mailbox.total_items = (size_t) v;
                break;
            case O_PUT_RATE:
                if ((rc = s_number (name, optarg, 1, 1000000, &v, err, err_size)) == 0) {
                    o->mailbox.put_per_s = (uint32_t) v;
                    o->mailbox.put_burst = (uint32_t) v * 16;
                }
                break;
            case ':':
                snprintf (err, err_size, "%s needs a value (see --help)", argv [optind - 1]);
                return SC_EINVAL;
            default:
                snprintf (err, err_size, "unknown option %s (see --help)", argv [optind - 1]);
                return SC_EINVAL;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc) {
        snprintf (err, err_size, "unexpected argument '%s' (see --help)", argv [optind]);
        return SC_EINVAL;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    tracker_opts_t opts;
    const char *home_opt;
    int verbose = 0;
    char err [512];
    int rc = s_parse (argc, argv, &opts, &home_opt, &verbose, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf (stderr, "securechat-tracker: %s\n", err);
        return 2;
    }
    log_set_level (LOG_LEVEL_WARN + verbose);
    if (sodium_init () < 0) {
        fprintf (stderr, "securechat-tracker: libsodium could not start\n");
        return 1;
    }
    char home [PATH_MAX];
    if (home_opt)
        snprintf (home, sizeof home, "%s", home_opt);
    else if (getenv ("XDG_CONFIG_HOME") && *getenv ("XDG_CONFIG_HOME"))
        snprintf (home, sizeof home, "%s/securechat-tracker", getenv ("XDG_CONFIG_HOME"));
    else if (getenv ("HOME"))
        snprintf (home, sizeof home, "%s/.config/securechat-tracker", getenv ("HOME"));
    else {
        fprintf (stderr, "securechat-tracker: no home directory: give --home DIR\n");
        return 2;
    }
    identity_t *id = NULL;
    bool created;
    rc = identity_open_home (home, NULL, &id, &created);
    if (rc != 0) {
        fprintf (stderr, "securechat-tracker: cannot open the identity in %s: %s%s\n", home,
                 sc_strerror (rc), rc == SC_ENEEDPASS
                 ? " (a tracker runs unattended: give it a home of its own)": "");
        return 1;
    }
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    tracker_t *tracker = tracker_new (&opts, home, &id, &rc);
    if (!tracker) {
        identity_destroy (&id);
        fprintf (stderr, "securechat-tracker: cannot start on %s port %d: %s\n",
                 opts.bind, opts.port, rc == SC_EEXIST
                 ? "the port is in use (another tracker? give --port)": sc_strerror (rc));
        return 1;
    }
    if (!opts.json) {
        printf ("%s\n", tracker_address (tracker));
        fflush (stdout);
    }
    rc = tracker_run (tracker, &s_stop);
    tracker_destroy (&tracker);
    return rc;
}

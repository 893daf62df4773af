#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../crypto/base/err.h"
#include "opts.h"

void
opts_usage (const char *argv0)
{
    printf (
"Usage: %s [OPTION]...\n"
"A peer-to-peer chat: every message is signed and sealed end to end, every\n"
"link is CurveZMQ; no server sees anything.\n"
"\n"
"  --name NAME            display name (default: the name used last, else $USER)\n"
"  --home DIR             identity and state (default: $XDG_CONFIG_HOME/securechat);\n"
"                         a separate home per node lets several run on one machine\n"
"  --port PORT            TCP port to listen on, and UDP for record requests\n"
"                         (default 0: any free port)\n"
"  --bind HOST            address to listen on (default: all)\n"
"  --peer [FP@]tcp://HOST:PORT\n"
"                         connect to a peer (repeatable); with FP (the peer's full\n"
"                         fingerprint, as /whoami prints) its key is pinned\n"
"                         instead of trusted on first use\n"
"  --tracker FP@tcp://HOST:PORT\n"
"                         use a tracker (repeatable, at most 8; FP as\n"
"                         securechat-tracker prints it): register there, find\n"
"                         peers beyond the LAN, leave mail for peers away\n"
"  --no-discovery         do not send or listen for LAN beacons\n"
"  --beacon-port PORT     UDP port for beacons (default 47470)\n"
"  --beacon-addr ADDR     send beacons only to this broadcast address (repeatable;\n"
"                         default: every interface's broadcast address and\n"
"                         127.255.255.255)\n"
"  --beacon-iface NAME    send beacons only on this interface (repeatable)\n"
"  --downloads DIR        where received files go (default:\n"
"                         $XDG_DOWNLOAD_DIR/securechat or ~/Downloads/securechat)\n"
"  --accept POLICY        files offered to you: 'verified' (taken at once from\n"
"                         peers you verified, the others asked about with\n"
"                         /accept ID: the default), 'known' (taken from any\n"
"                         peer linked with you: anyone who can reach your port)\n"
"                         or 'ask' (always /accept ID)\n"
"  --accept-max SIZE      larger offers are asked about (default 2G; K, M, G)\n"
"  --max-rate SIZE        send files at most this many bytes a second (K, M, G)\n"
"  --stall-timeout SECS   a transfer that makes no progress this long on a live\n"
"                         link is paused, a stream ended (default 60)\n"
"  --player CMD           shell command that plays a video fed on its stdin, for\n"
"                         /watch (default: ffplay, else mpv, when installed)\n"
"  --serve-max N          videos streamed to peers at once (default 16, at most 64;\n"
"                         2 to one peer; your own /watches do not count)\n"
"  --pause-max SECS       a video streamed to a peer whose player stays paused\n"
"                         this long ends (default 600)\n"
"  --passphrase-file FILE encrypt the identity with the passphrase in FILE\n"
"                         (asked on the terminal when the identity is encrypted)\n"
"  --json                 read commands from stdin, write one JSON event per line\n"
"                         (the default when stdin or stdout is not a terminal)\n"
"  --whoami               print name, fingerprint and safety number, then exit\n"
"  -v, --verbose          more diagnostics on stderr (-vv for debug)\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Commands once running: type /help (/help COMMAND explains one; Tab completes).\n"
"Environment: NO_COLOR (not empty) turns colours off; so does TERM=dumb, which\n"
"also has no status line for transfers.\n", argv0);
}

int
opts_parse (int argc, char **argv, opts_t *o, char *err, size_t err_size)
{
    enum { O_NAME = 256, O_HOME, O_PORT, O_BIND, O_PEER, O_TRACKER, O_PASS, O_JSON, O_WHOAMI,
           O_NODISC, O_BPORT, O_BADDR, O_BIFACE, O_DOWNLOADS, O_ACCEPT, O_ACCEPT_MAX, O_RATE, O_PLAYER,
           O_STALL, O_SERVE_MAX, O_PAUSE_MAX };
    static const struct option longopts [] = {
        { "name", required_argument, NULL, O_NAME },
        { "home", required_argument, NULL, O_HOME },
        { "port", required_argument, NULL, O_PORT },
        { "bind", required_argument, NULL, O_BIND },
        { "peer", required_argument, NULL, O_PEER },
        { "tracker", required_argument, NULL, O_TRACKER },
        { "passphrase-file", required_argument, NULL, O_PASS },
        { "json", no_argument, NULL, O_JSON },
        { "no-discovery", no_argument, NULL, O_NODISC },
        { "downloads", required_argument, NULL, O_DOWNLOADS },
        { "accept", required_argument, NULL, O_ACCEPT },
        { "accept-max", required_argument, NULL, O_ACCEPT_MAX },
        { "max-rate", required_argument, NULL, O_RATE },
        { "stall-timeout", required_argument, NULL, O_STALL },
        { "player", required_argument, NULL, O_PLAYER },
        { "serve-max", required_argument, NULL, O_SERVE_MAX },
        { "pause-max", required_argument, NULL, O_PAUSE_MAX },
        { "beacon-port", required_argument, NULL, O_BPORT },
        { "beacon-addr", required_argument, NULL, O_BADDR },
        { "beacon-iface", required_argument, NULL, O_BIFACE },
        { "whoami", no_argument, NULL, O_WHOAMI },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    memset (o, 0, sizeof *o);
    o->bind = "*";
    o->accept_max = 2ULL << 30;
    o->accept_policy = 1;       //  verified: a link alone costs an attacker one key pair
    o->stall_s = 60;
    o->serve_max = 16;          //  OWNER_SERVED_MAX
    o->pause_max_s = 600;       //  OWNER_PAUSE_MAX_MS
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, ":vhV", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
            case O_NAME: o->name = optarg; break;
            case O_HOME: o->home = optarg; break;
            case O_BIND: o->bind = optarg; break;
            case O_PASS: o->passphrase_file = optarg; break;
            case O_JSON: o->json = true; break;
            case O_WHOAMI: o->whoami = true; break;
            case 'v': o->verbose++; break;
            case O_NODISC: o->no_discovery = true; break;
            case O_DOWNLOADS: o->downloads = optarg; break;
            case O_PLAYER: o->player = optarg; break;
            case O_ACCEPT:
                if (strcmp (optarg, "known") == 0)
                    o->accept_policy = 0;
                else if (strcmp (optarg, "verified") == 0)
                    o->accept_policy = 1;
                else if (strcmp (optarg, "ask") == 0)
                    o->accept_policy = 2;
                else {
                    snprintf (err, err_size, "--accept takes known, verified or ask, not '%s'", optarg);
                    return SC_EINVAL;
                }
                break;
            case O_ACCEPT_MAX:
            case O_RATE: {
                unsigned long long v = strtoull (optarg, &end, 10);
                unsigned long long mult = *end == 'K' || *end == 'k'? 1ULL << 10: *end == 'M' || *end == 'm'
                                        ? 1ULL << 20: *end == 'G' || *end == 'g'? 1ULL << 30: 1;
                if (mult > 1)
                    end++;
                if (*optarg == 0 || *optarg == '-' || *end || v == 0 || v > (1ULL << 50) / mult) {
                    snprintf (err, err_size, "%s takes a size such as 500M or 2G, not '%s'",
                              c == O_RATE? "--max-rate": "--accept-max", optarg);
                    return SC_EINVAL;
                }
                if (c == O_RATE)
                    o->max_rate = v * mult;
                else
                    o->accept_max = v * mult;
                break;
            }
            case O_STALL: {
                long secs = strtol (optarg, &end, 10);
                if (*optarg == 0 || *end || secs < 1 || secs > 86400) {
                    snprintf (err, err_size, "--stall-timeout needs seconds from 1 to 86400, not '%s'",
                              optarg);
                    return SC_EINVAL;
                }
                o->stall_s = (int) secs;
                break;
            }
            case O_SERVE_MAX:
            case O_PAUSE_MAX: {
                long v = strtol (optarg, &end, 10);
                long max = c == O_SERVE_MAX? 64: 86400;
                if (*optarg == 0 || *end || v < 1 || v > max) {
                    snprintf (err, err_size, "%s needs a number from 1 to %ld, not '%s'",
                              c == O_SERVE_MAX? "--serve-max": "--pause-max seconds", max, optarg);
                    return SC_EINVAL;
                }
                if (c == O_SERVE_MAX)
                    o->serve_max = (int) v;
                else
                    o->pause_max_s = (int) v;
                break;
            }
            case O_PORT:
            case O_BPORT: {
                long port = strtol (optarg, &end, 10);
                long min = c == O_PORT? 0: 1;
                if (*optarg == 0 || *end || port < min || port > 65535) {
                    snprintf (err, err_size, "%s needs a number from %ld to 65535, not '%s'",
                              c == O_PORT? "--port": "--beacon-port", min, optarg);
                    return SC_EINVAL;
                }
                if (c == O_PORT)
                    o->port = (int) port;
                else
                    o->beacon_port = (int) port;
                break;
            }
            case O_BADDR:
            case O_BIFACE: {
                bool addr = c == O_BADDR;
                int *n = addr? &o->nbeacon_addrs: &o->nbeacon_ifaces;
                if (*n == OPTS_PEERS_MAX || !*optarg || strlen (optarg) > 63) {
                    snprintf (err, err_size, "%s: at most %d, each 1 to 63 characters",
                              addr? "--beacon-addr": "--beacon-iface", OPTS_PEERS_MAX);
                    return SC_EINVAL;
                }
                (addr? o->beacon_addrs: o->beacon_ifaces) [(*n)++] = optarg;
                break;
            }
            case O_PEER: {
                if (o->npeers == OPTS_PEERS_MAX) {
                    snprintf (err, err_size, "at most %d --peer options", OPTS_PEERS_MAX);
                    return SC_EINVAL;
                }
                char host [64], why [256];
                int port;
                unsigned char fp [32];
                bool pinned;
                if (opts_parse_peer (optarg, host, sizeof host, &port, fp, &pinned,
                                     why, sizeof why) != 0) {
                    snprintf (err, err_size, "--peer %s", why);
                    return SC_EINVAL;
                }
                o->peers [o->npeers++] = optarg;
                break;
            }
            case O_TRACKER: {
                char host [64], why [256];
                int port;
                unsigned char fp [32];
                bool pinned;
                if (o->ntrackers == OPTS_TRACKERS_MAX) {
                    snprintf (err, err_size, "at most %d --tracker options", OPTS_TRACKERS_MAX);
                    return SC_EINVAL;
                }
                int rc = opts_parse_peer (optarg, host, sizeof host, &port, fp, &pinned,
                                          why, sizeof why);
                if (rc != 0 || !pinned) {
                    snprintf (err, err_size, "--tracker %s", rc != 0? why
                              : "needs the tracker's fingerprint: FP@tcp://HOST:PORT, as "
                                "securechat-tracker prints it at start");
                    return SC_EINVAL;
                }
                o->trackers [o->ntrackers++] = optarg;
                break;
            }
            case 'h':
                opts_usage (argv [0]);
                return 1;
            case 'V':
                printf ("securechat-node %s\n", SC_VERSION);
                return 1;
            case ':':
                snprintf (err, err_size, "option %s needs a value (see --help)", argv [optind - 1]);
                return SC_EINVAL;
            default:
                snprintf (err, err_size, "unknown option %s (see --help)", argv [optind - 1]);
                return SC_EINVAL;
        }
    }
    if (optind < argc) {
        snprintf (err, err_size, "unexpected argument '%s' (see --help)", argv [optind]);
        return SC_EINVAL;
    }
    return 0;
}

int
opts_parse_peer (const char *text, char *host, size_t host_size, int *port,
                 unsigned char fp [32], bool *pinned, char *err, size_t err_size)
{
    *pinned = false;
    const char *p = text;
    const char *at = strchr (text, '@');
    if (at) {
        if (at - text != 64 || sodium_hex2bin (fp, 32, text, 64, NULL, NULL, NULL) != 0) {
            snprintf (err, err_size, "'%.80s': the part before @ must be a full fingerprint "
                      "(64 hex digits, as /whoami prints)", text);
            return SC_EINVAL;
        }
        *pinned = true;
        p = at + 1;
    }
    if (strncmp (p, "tcp://", 6) != 0) {
        snprintf (err, err_size, "'%.80s': a peer address looks like tcp://HOST:PORT", text);
        return SC_EINVAL;
    }
    p += 6;
    const char *colon = strrchr (p, ':');
    size_t hlen = colon? (size_t) (colon - p): 0;
    char *end;
    long value = colon? strtol (colon + 1, &end, 10): 0;
    if (!colon || hlen == 0 || hlen >= host_size || !colon [1] || *end
    ||  value < 1 || value > 65535) {
        snprintf (err, err_size, "'%.80s': a peer address looks like tcp://HOST:PORT "
                  "with PORT from 1 to 65535", text);
        return SC_EINVAL;
    }
    for (size_t i = 0; i < hlen; i++)
        if (!isalnum ((unsigned char) p [i]) && p [i] != '.' && p [i] != '-') {
            snprintf (err, err_size, "'%.80s': bad host name", text);
            return SC_EINVAL;
        }
    memcpy (host, p, hlen);
    host [hlen] = 0;
    *port = (int) value;
    return 0;
}

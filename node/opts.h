/*  opts: the node's command line.  Parsing only: no files are touched.  */
#ifndef SC_OPTS_H
#define SC_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define OPTS_PEERS_MAX 64
#define OPTS_TRACKERS_MAX 8             //  TCLIENT_TRACKERS_MAX
#define SC_VERSION "0.1.0"

typedef struct {
    const char *name;           //  NULL: the name saved in home, else $USER
    const char *home;           //  NULL: $XDG_CONFIG_HOME/securechat
    const char *bind;           //  host for the ROUTER and UDP sockets
    int port;                   //  0 = ephemeral
    const char *peers [OPTS_PEERS_MAX];
    int npeers;
    const char *trackers [OPTS_TRACKERS_MAX];     //  --tracker FP@tcp://HOST:PORT
    int ntrackers;
    bool no_discovery;
    int beacon_port;            //  0 = BEACON_PORT
    const char *beacon_addrs [OPTS_PEERS_MAX];
    int nbeacon_addrs;
    const char *beacon_ifaces [OPTS_PEERS_MAX];
    int nbeacon_ifaces;
    const char *downloads;      //  NULL: $XDG_DOWNLOAD_DIR/securechat or ~/Downloads/securechat
    int accept_policy;          //  files_policy_t (default: FILES_ACCEPT_VERIFIED)
    unsigned long long accept_max;
    unsigned long long max_rate;
    int stall_s;                //  no progress this long on a live link: paused / ended
    const char *player;         //  NULL: ffplay or mpv when installed
    int serve_max;              //  videos streamed to peers at once
    int pause_max_s;            //  a served stream paused this long ends
    const char *passphrase_file;
    bool json;
    bool whoami;
    int verbose;
} opts_t;

//  Parses argv.  Returns 0 to run, 1 when --help or --version was printed
//  (exit 0), or SC_EINVAL with a sentence in err (exit 2).
int opts_parse (int argc, char **argv, opts_t *opts, char *err, size_t err_size);

//  Parses a peer address "[FP@]tcp://HOST:PORT".  Returns 0 and fills host,
//  port and (when given) the 32-byte fingerprint with *pinned set, or
//  SC_EINVAL with a sentence in err.
int opts_parse_peer (const char *text, char *host, size_t host_size, int *port,
                     unsigned char fp [32], bool *pinned, char *err, size_t err_size);

//  Prints the usage text to stdout.
void opts_usage (const char *argv0);

#endif

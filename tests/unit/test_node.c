#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../../crypto/base/err.h"
#include "../../crypto/base/utf8.h"
#include "../../node/cmd.h"
#include "../../node/history.h"
#include "../../node/known.h"
#include "../../node/node.h"
#include "../../node/opts.h"
#include "../../node/peers.h"
#include "unit.h"

static void
s_cmd (void)
{
    cmd_t c;
    char err [256];
    CHECK_RC (cmd_parse ("hello  world ", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_SAY && strcmp (c.argv [0], "hello  world ") == 0);
    CHECK_RC (cmd_parse ("//etc/passwd is a path", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_SAY && strcmp (c.argv [0], "/etc/passwd is a path") == 0);
    CHECK_RC (cmd_parse ("   ", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_EMPTY);
    CHECK_RC (cmd_parse ("/msg bob  hi   there ", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_MSG && c.argc == 2);
    CHECK (strcmp (c.argv [0], "bob") == 0 && strcmp (c.argv [1], "hi   there ") == 0);
    CHECK_RC (cmd_parse ("/msg bob", &c, err, sizeof err), SC_EINVAL);
    CHECK (strstr (err, "/msg PEER TEXT"));
    CHECK_RC (cmd_parse ("/peers extra more", &c, err, sizeof err), SC_EINVAL);
    CHECK_RC (cmd_parse ("/nope", &c, err, sizeof err), SC_EINVAL);
    CHECK (strstr (err, "unknown command /nope"));
    CHECK_RC (cmd_parse ("/verify a1b2 yes", &c, err, sizeof err), 0);
    CHECK (c.type == CMD_VERIFY && c.argc == 2);
    char *big = malloc (CMD_LINE_MAX + 2);
    memset (big, 'x', CMD_LINE_MAX + 1);
    big [CMD_LINE_MAX + 1] = 0;
    CHECK_RC (cmd_parse (big, &c, err, sizeof err), SC_ETOOBIG);
    free (big);
    CHECK (strstr (cmd_help (), "/history [PEER]"));
}

//  The command table, /help and the node agree: every row has help text,
//  a line of its own in /help, parses to its type and has a handler; /help
//  lists no command that is not in the table.
static void
s_cmd_table (void)
{
    static const struct {
        cmd_type_t type;
        const char *name, *usage, *help;
        int min;
    } rows [] = {
#define ROW(type, name, min, max, rest, usage, help, example, detail) { CMD_##type, #name, usage, help, min },
        CMD_TABLE (ROW)
#undef ROW
    };
    size_t count = sizeof rows / sizeof rows [0];
    CHECK (count == CMD_TYPES - 2);     //  all but CMD_EMPTY and CMD_SAY
    CHECK (node_handles (CMD_EMPTY) && node_handles (CMD_SAY));
    const char *help = cmd_help ();
    for (size_t i = 0; i < count; i++) {
        CHECK (rows [i].help && *rows [i].help);
        char line [512];
        snprintf (line, sizeof line, "/%s", rows [i].name);
        CHECK (strncmp (rows [i].usage, line, strlen (line)) == 0);
        if (strlen (rows [i].usage) > 24)
            snprintf (line, sizeof line, "\n%s\n%24s %s\n", rows [i].usage, "", rows [i].help);
        else
            snprintf (line, sizeof line, "\n%-24s %s\n", rows [i].usage, rows [i].help);
        CHECK (strstr (help, line));
        //  /help NAME, with or without the slash: usage, example, 80 columns
        char one [2048], slashed [2048];
        CHECK_RC (cmd_help_one (rows [i].name, one, sizeof one), 0);
        snprintf (line, sizeof line, "/%s", rows [i].name);
        CHECK_RC (cmd_help_one (line, slashed, sizeof slashed), 0);
        CHECK (strcmp (one, slashed) == 0);
        snprintf (line, sizeof line, "usage: %s\n", rows [i].usage);
        CHECK (strncmp (one, line, strlen (line)) == 0);
        snprintf (line, sizeof line, "  example: /%s", rows [i].name);
        CHECK (strstr (one, line));
        for (const char *p = one; p; p = strchr (p, '\n'), p = p? p + 1: NULL)
            CHECK (strcspn (p, "\n") <= 80);
        //  The command with its fewest arguments is that command
        snprintf (line, sizeof line, "/%s", rows [i].name);
        for (int k = 0; k < rows [i].min; k++)
            strcat (line, " x");
        cmd_t c;
        char err [256];
        CHECK_RC (cmd_parse (line, &c, err, sizeof err), 0);
        CHECK (c.type == rows [i].type);
        CHECK (node_handles (rows [i].type));
    }
    //  Every command /help names is a row of the table
    size_t listed = 0;
    for (const char *p = help; p && *p; p = strchr (p, '\n'), p = p? p + 1: NULL)
        if (*p == '/') {
            listed++;
            char word [64];
            snprintf (word, sizeof word, "%.*s", (int) strcspn (p, " \n"), p);
            bool found = false;
            for (size_t i = 0; i < count; i++)
                found = found || strcmp (word + 1, rows [i].name) == 0;
            CHECK (found);
        }
    CHECK (listed == count);
    for (const char *p = help; p; p = strchr (p, '\n'), p = p? p + 1: NULL)
        CHECK (strcspn (p, "\n") <= 80);
    char err [256];
    CHECK_RC (cmd_help_one ("/nope", err, sizeof err), SC_EINVAL);
    CHECK (strstr (err, "no command /nope"));
    //  Completion reads the arguments' kinds from the usage
    CHECK (cmd_arg_kind ("msg", 0) == CMD_ARG_PEER && cmd_arg_kind ("msg", 1) == CMD_ARG_OTHER);
    CHECK (cmd_arg_kind ("get", 1) == CMD_ARG_SHARE && cmd_arg_kind ("watch", 1) == CMD_ARG_SHARE);
    CHECK (cmd_arg_kind ("send", 1) == CMD_ARG_PATH && cmd_arg_kind ("share", 0) == CMD_ARG_PATH);
    CHECK (cmd_arg_kind ("history", 0) == CMD_ARG_PEER && cmd_arg_kind ("cancel", 0) == CMD_ARG_ID);
    CHECK (cmd_arg_kind ("unshare", 0) == CMD_ARG_OTHER && cmd_arg_kind ("nope", 0) == CMD_ARG_OTHER);
    CHECK (cmd_arg_kind ("peers", 0) == CMD_ARG_OTHER && strcmp (cmd_name (0), "msg") == 0);
    CHECK (cmd_name (count) == NULL);
}

static void
s_peer_addresses (void)
{
    char host [64], err [256];
    int port;
    unsigned char fp [32];
    bool pinned;
    CHECK_RC (opts_parse_peer ("tcp://127.0.0.1:4000", host, sizeof host, &port, fp, &pinned,
                               err, sizeof err), 0);
    CHECK (strcmp (host, "127.0.0.1") == 0 && port == 4000 && !pinned);
    char text [200];
    snprintf (text, sizeof text, "%s@tcp://host-1.lan:9", "0123456789abcdef0123456789abcdef"
              "0123456789abcdef0123456789abcdef");
    CHECK_RC (opts_parse_peer (text, host, sizeof host, &port, fp, &pinned, err, sizeof err), 0);
    CHECK (pinned && fp [0] == 0x01 && fp [31] == 0xef && strcmp (host, "host-1.lan") == 0);
    const char *bad [] = { "tcp://h", "tcp://:1", "tcp://h:0", "tcp://h:65536", "tcp://h:1x",
                           "udp://h:1", "abc@tcp://h:1", "tcp://h;rm -rf:1", "", "tcp://h:" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        CHECK_RC (opts_parse_peer (bad [i], host, sizeof host, &port, fp, &pinned,
                                   err, sizeof err), SC_EINVAL);
    opts_t o;
    char *argv [] = { "node", "--port", "5", "--peer", "tcp://a:1", "--json", "-v", "-v", NULL };
    CHECK_RC (opts_parse (8, argv, &o, err, sizeof err), 0);
    CHECK (o.port == 5 && o.npeers == 1 && o.json && o.verbose == 2);
    char *argv2 [] = { "node", "--peer", "tcp://a", NULL };
    CHECK_RC (opts_parse (3, argv2, &o, err, sizeof err), SC_EINVAL);
    CHECK (strstr (err, "--peer"));
}

static void
s_record_for (identity_t *id, const char *name, record_t *rec)
{
    uint8_t buf [RECORD_SIZE];
    record_make (id, name, 1000, 0, 1, buf);
    record_decode (buf, sizeof buf, rec);
}

static void
s_known_and_resolve (void)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/known_peers.json", unit_tmpdir ());
    int err;
    known_t *known = known_new (path, &err);
    CHECK (known);
    identity_t *bob = identity_generate (), *bob2 = identity_generate (), *carol = identity_generate ();
    record_t rb, rb2, rc;
    s_record_for (bob, "bob", &rb);
    s_record_for (bob2, "bob", &rb2);
    s_record_for (carol, "carol", &rc);
    char clash [IDENTITY_FP_HEX_SIZE];
    CHECK (known_observe (known, rb.sign_pk, rb.box_pk, "bob", true, 1, clash) == KNOWN_NEW);
    CHECK (known_observe (known, rb.sign_pk, rb.box_pk, "bob", true, 2, clash) == KNOWN_SAME);
    CHECK (known_observe (known, rc.sign_pk, rc.box_pk, "carol", true, 3, clash) == KNOWN_NEW);
    int k = known_observe (known, rb2.sign_pk, rb2.box_pk, "bob", true, 4, clash);
    CHECK (k == (KNOWN_NEW | KNOWN_NAME_CLASH));
    char bob_id [IDENTITY_FP_HEX_SIZE];
    identity_fingerprint_hex (rb.sign_pk, bob_id);
    CHECK (strcmp (clash, bob_id) == 0);
    CHECK (known_name_conflict (known, rb2.sign_pk, "bob"));
    //  A claim not proven by a handshake (a beacon, a tracker) holds no
    //  name: a later proven identity with that name is not refused for it,
    //  while the claim itself clashes with the proven one
    identity_t *dave = identity_generate (), *dave2 = identity_generate ();
    record_t rd, rd2;
    s_record_for (dave, "dave", &rd);
    s_record_for (dave2, "dave", &rd2);
    CHECK (known_observe (known, rd2.sign_pk, rd2.box_pk, "dave", false, 5, clash) == KNOWN_NEW);
    CHECK (known_observe (known, rd.sign_pk, rd.box_pk, "dave", true, 6, clash) == KNOWN_NEW);
    CHECK (!known_name_conflict (known, rd.sign_pk, "dave"));
    CHECK (known_name_conflict (known, rd2.sign_pk, "dave"));
    CHECK (known_observe (known, rd2.sign_pk, rd2.box_pk, "dave", false, 7, clash) == KNOWN_NAME_CLASH);
    //  proven later (its HELLO came): the first proven keeps the name, the
    //  claim stays a claim (a key that completes a handshake cannot make
    //  the real owner's name ambiguous)
    CHECK (known_observe (known, rd2.sign_pk, rd2.box_pk, "dave", true, 8, clash) == KNOWN_NAME_CLASH);
    CHECK (!known_name_conflict (known, rd.sign_pk, "dave"));
    CHECK (known_name_conflict (known, rd2.sign_pk, "dave"));
    //  nor can a proven key take a held name by renaming itself to it
    CHECK (known_observe (known, rc.sign_pk, rc.box_pk, "dave", true, 9, clash) == (KNOWN_RENAMED | KNOWN_NAME_CLASH));
    CHECK (!known_name_conflict (known, rd.sign_pk, "dave") && known_name_conflict (known, rc.sign_pk, "dave"));
    identity_destroy (&dave);
    identity_destroy (&dave2);
    //  Nothing is written until a flush (or destroy)
    struct stat st0;
    CHECK (stat (path, &st0) != 0);
    CHECK_RC (known_flush (known), 0);
    CHECK (stat (path, &st0) == 0);
    //  The store survives a reload
    known_destroy (&known);
    known = known_new (path, &err);
    CHECK (known && !known_verified (known, rb.sign_pk));
    CHECK_RC (known_set_verified (known, rb.sign_pk, true), 0);
    known_destroy (&known);
    known = known_new (path, &err);
    CHECK (known_verified (known, rb.sign_pk));
    struct stat st;
    CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);

    peers_t *peers = peers_new ();
    peer_t *pb2 = peers_add (peers, &rb2), *pc = peers_add (peers, &rc), *got;
    char cands [256];
    CHECK_RC (peers_resolve (peers, known, "carol", false, &got, cands, sizeof cands), 0);
    CHECK (got == pc);
    CHECK_RC (peers_resolve (peers, known, "dave", false, &got, cands, sizeof cands), SC_ENOPEER);
    //  bob2 took a name that the known bob had: refused by name...
    CHECK_RC (peers_resolve (peers, known, "bob", false, &got, cands, sizeof cands), SC_EKEYCHANGED);
    CHECK_RC (peers_resolve (peers, known, "bob", true, &got, cands, sizeof cands), 0);
    //  ... but its fingerprint prefix works, in either case
    char prefix [9];
    snprintf (prefix, sizeof prefix, "%.8s", pb2->id);
    for (int i = 0; prefix [i]; i++)
        if (prefix [i] >= 'a')
            prefix [i] = (char) (prefix [i] - 32);
    CHECK_RC (peers_resolve (peers, known, prefix, false, &got, cands, sizeof cands), 0);
    CHECK (got == pb2);
    //  With the old bob online too, the name is ambiguous and both are listed
    peer_t *pb = peers_add (peers, &rb);
    CHECK_RC (peers_resolve (peers, known, "bob", false, &got, cands, sizeof cands), SC_EAMBIGUOUS);
    CHECK (strstr (cands, pb->id + 0) == NULL && strstr (cands, "bob (") != NULL);
    //  A fingerprint prefix beats a display name that looks like one
    record_t rn;
    identity_t *sneaky = identity_generate ();
    char fake [9];
    snprintf (fake, sizeof fake, "%.8s", pc->id);
    s_record_for (sneaky, fake, &rn);
    peers_add (peers, &rn);
    CHECK_RC (peers_resolve (peers, known, fake, false, &got, cands, sizeof cands), 0);
    CHECK (got == pc);
    peers_destroy (&peers);
    known_destroy (&known);
    //  A damaged store is an error, not an empty trust list
    FILE *f = fopen (path, "w");
    fputs ("{\"peers\": [{\"name\": 1}]}", f);
    fclose (f);
    CHECK (known_new (path, &err) == NULL && err == SC_ECORRUPT);
    identity_destroy (&bob);
    identity_destroy (&bob2);
    identity_destroy (&carol);
    identity_destroy (&sneaky);
}

static void
s_history (void)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/history", unit_tmpdir ());
    uint8_t key [32], other [32];
    randombytes_buf (key, sizeof key);
    randombytes_buf (other, sizeof other);
    history_t *h = history_new (path, key, NULL);
    for (int i = 0; i < 5; i++) {
        json_t *e = json_pack ("{s:s, s:i}", "peer", i % 2? "p1": "p2", "n", i);
        CHECK_RC (history_append (h, e), 0);
        json_decref (e);
    }
    json_t *all = history_read (h, NULL, 50), *p1 = history_read (h, "p1", 50);
    json_t *last = history_read (h, NULL, 2);
    CHECK (json_array_size (all) == 5 && json_array_size (p1) == 2 && json_array_size (last) == 2);
    CHECK (json_integer_value (json_object_get (json_array_get (last, 1), "n")) == 4);
    json_decref (all);
    json_decref (p1);
    json_decref (last);
    //  A torn tail is skipped; another key reads nothing
    FILE *f = fopen (path, "ab");
    fwrite ("\x00\x00\x10\x00garbage", 1, 11, f);
    fclose (f);
    all = history_read (h, NULL, 50);
    CHECK (json_array_size (all) == 5);
    json_decref (all);
    history_t *h2 = history_new (path, other, NULL);
    all = history_read (h2, NULL, 50);
    CHECK (json_array_size (all) == 0);
    json_decref (all);
    history_destroy (&h);
    history_destroy (&h2);
    CHECK (h == NULL);
}

static int
s_append_n (history_t *h, const char *peer, int n, size_t text_len)
{
    char *text = malloc (text_len + 1);
    if (!text)
        return SC_ENOMEM;
    memset (text, 'x', text_len);
    text [text_len] = 0;
    json_t *e = json_pack ("{s:s, s:i, s:s}", "peer", peer, "n", n, "text", text);
    int rc = e? history_append (h, e): SC_ENOMEM;
    json_decref (e);
    free (text);
    return rc;
}

static long
s_n (json_t *entries, size_t i)
{
    return (long) json_integer_value (json_object_get (json_array_get (entries, i), "n"));
}

static uint64_t
s_size (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0? (uint64_t) st.st_size: 0;
}

//  Once a history grew without bound (at 248 MiB /history held the loop
//  4.2 s; past 256 MiB it showed nothing).  Now two files of at most
//  file_max, and a read looks at no more than read_max bytes from the end.
static void
s_history_bounded (void)
{
    char path [PATH_MAX], path1 [PATH_MAX + 2];
    snprintf (path, sizeof path, "%s/history", unit_tmpdir ());
    snprintf (path1, sizeof path1, "%s.1", path);
    uint8_t key [32];
    randombytes_buf (key, sizeof key);
    history_limits_t limits = { .file_max = 1024 * 1024, .read_max = 256 * 1024 };
    history_t *h = history_new (path, key, &limits);
    //  3.5 MiB of entries: "cc" only at first, "aa" every 7th, "bb" the rest
    for (int i = 0; i < 10; i++)
        CHECK_RC (s_append_n (h, "cc", i, 300), 0);
    for (int i = 10; i < 10000; i++)
        CHECK_RC (s_append_n (h, i % 7? "bb": "aa", i, 300), 0);
    CHECK (s_size (path) <= limits.file_max && s_size (path1) <= limits.file_max);
    CHECK (s_size (path) + s_size (path1) > limits.file_max);
    json_t *all = history_read (h, NULL, 50);
    CHECK (json_array_size (all) == 50 && s_n (all, 0) == 9950 && s_n (all, 49) == 9999);
    CHECK (history_read_bytes (h) <= limits.read_max);
    json_decref (all);
    json_t *aa = history_read (h, "aa", 50);
    CHECK (json_array_size (aa) == 50 && s_n (aa, 49) == 9996 && s_n (aa, 0) == 9996 - 49 * 7);
    json_decref (aa);
    //  Long gone, or beyond what a read looks at: nothing, and quickly
    json_t *cc = history_read (h, "cc", 50);
    CHECK (json_array_size (cc) == 0 && history_read_bytes (h) <= limits.read_max);
    json_decref (cc);
    //  Records of any size are found, across chunks
    history_t *big = history_new (path, key, NULL);
    for (int i = 0; i < 10; i++)
        CHECK_RC (s_append_n (big, "dd", 20000 + i, 120 * 1024), 0);
    for (int i = 0; i < 10; i++)
        CHECK_RC (s_append_n (big, "bb", 30000 + i, 10), 0);
    all = history_read (big, NULL, 20);
    CHECK (json_array_size (all) == 20 && s_n (all, 0) == 20000 && s_n (all, 9) == 20009
           && s_n (all, 10) == 30000 && s_n (all, 19) == 30009);
    json_decref (all);
    history_destroy (&big);
    //  A torn tail, and more written after it: all but the torn one are read
    FILE *f = fopen (path, "ab");
    fwrite ("\x00\x00\x10\x00garbage", 1, 11, f);
    fclose (f);
    for (int i = 0; i < 5; i++)
        CHECK_RC (s_append_n (h, "bb", 40000 + i, 10), 0);
    all = history_read (h, NULL, 7);
    CHECK (json_array_size (all) == 7 && s_n (all, 0) == 30008 && s_n (all, 1) == 30009
           && s_n (all, 2) == 40000 && s_n (all, 6) == 40004);
    json_decref (all);
    history_destroy (&h);
}

//  A history written past the bound before it existed: read from its end
//  all the same, and turned over at the first append.
static void
s_history_big_old (void)
{
    char path [PATH_MAX], path1 [PATH_MAX + 2];
    snprintf (path, sizeof path, "%s/history", unit_tmpdir ());
    snprintf (path1, sizeof path1, "%s.1", path);
    uint8_t key [32];
    randombytes_buf (key, sizeof key);
    history_limits_t unbounded = { .file_max = SIZE_MAX, .read_max = SIZE_MAX };
    history_limits_t limits = { .file_max = 1024 * 1024, .read_max = 256 * 1024 };
    history_t *h = history_new (path, key, &unbounded);
    for (int i = 0; i < 8000; i++)
        CHECK_RC (s_append_n (h, "bb", i, 400), 0);
    json_t *whole = history_read (h, NULL, 8000);
    CHECK (json_array_size (whole) == 8000 && s_n (whole, 7999) == 7999);
    json_decref (whole);
    history_destroy (&h);
    CHECK (s_size (path) > 3 * limits.file_max);
    h = history_new (path, key, &limits);
    json_t *all = history_read (h, NULL, 50);
    CHECK (json_array_size (all) == 50 && s_n (all, 0) == 7950 && s_n (all, 49) == 7999);
    CHECK (history_read_bytes (h) <= limits.read_max);
    json_decref (all);
    CHECK_RC (s_append_n (h, "bb", 8000, 400), 0);
    CHECK (s_size (path) < 1024 && s_size (path1) > 3 * limits.file_max);
    all = history_read (h, NULL, 50);
    CHECK (json_array_size (all) == 50 && s_n (all, 0) == 7951 && s_n (all, 49) == 8000);
    json_decref (all);
    history_destroy (&h);
}

//  The number at the start of a queued text
static long
s_seq (const peers_out_t *m)
{
    return m? strtol (m->text, NULL, 10): -1;
}

//  The outbox: bounded by bytes, not messages; oldest first; at most
//  PEERS_WINDOW on the wire; a lost link sends it all again in order.
static void
s_outbox (void)
{
    identity_t *bob = identity_generate ();
    record_t rb;
    s_record_for (bob, "bob", &rb);
    peers_t *peers = peers_new ();
    peer_t *p = peers_add (peers, &rb);
    peers_out_t *m;
    char text [4097];
    memset (text, 'a', 4096);
    text [4096] = 0;
    //  4 KiB texts up to the byte bound, and not one more
    size_t cost = 4096 + PEERS_OUT_COST, fit = PEERS_OUTBOX_BYTES / cost;
    for (size_t i = 0; i < fit; i++) {
        int n = snprintf (text, 16, "%zu", i);
        text [n] = ' ';
        CHECK_RC (peers_outbox_add (p, 0, text, &m), 0);
        CHECK (m && m->sent_at == 0 && strlen (m->text) == 4096);
    }
    CHECK_RC (peers_outbox_add (p, 0, text, &m), SC_EAGAIN);
    CHECK (m == NULL && peers_outbox_len (p) == fit && peers_outbox_bytes (p) == fit * cost);
    //  What is left takes a shorter text, to the byte
    size_t left = PEERS_OUTBOX_BYTES - fit * cost;
    CHECK (left > PEERS_OUT_COST);
    char *rest = calloc (1, left);
    memset (rest, '9', left - PEERS_OUT_COST);
    CHECK_RC (peers_outbox_add (p, 0, rest, &m), 0);
    CHECK_RC (peers_outbox_add (p, 0, "", &m), SC_EAGAIN);
    CHECK (peers_outbox_bytes (p) == PEERS_OUTBOX_BYTES);
    free (rest);
    //  The window: the oldest first, PEERS_WINDOW of them, then no more
    for (long i = 0; i < PEERS_WINDOW; i++) {
        CHECK (s_seq (peers_outbox_next (p)) == i);
        peers_outbox_mark_sent (p, 1000 + i);
    }
    CHECK (peers_outbox_next (p) == NULL && peers_outbox_in_flight (p) == PEERS_WINDOW);
    //  A receipt frees one place, and the next in line takes it
    uint8_t id [ENVELOPE_ID_SIZE], unsent [ENVELOPE_ID_SIZE];
    memcpy (id, peers_outbox_at (p, 3)->msg_id, sizeof id);
    memcpy (unsent, peers_outbox_at (p, PEERS_WINDOW + 1)->msg_id, sizeof unsent);
    CHECK (peers_outbox_remove (p, id));
    CHECK (!peers_outbox_remove (p, id));
    CHECK (!peers_outbox_remove (p, unsent));       //  never sent: no receipt for it
    CHECK (peers_outbox_in_flight (p) == PEERS_WINDOW - 1);
    CHECK (peers_outbox_bytes (p) == PEERS_OUTBOX_BYTES - cost);
    CHECK (s_seq (peers_outbox_at (p, 2)) == 2 && s_seq (peers_outbox_at (p, 3)) == 4);
    CHECK (s_seq (peers_outbox_next (p)) == PEERS_WINDOW);
    //  The link is lost: everything goes again, from the oldest
    peers_outbox_rewind (p);
    CHECK (peers_outbox_in_flight (p) == 0 && s_seq (peers_outbox_next (p)) == 0);
    CHECK (peers_outbox_at (p, 0)->sent_at == 0);
    //  A late receipt for one sent before still counts
    peers_outbox_mark_sent (p, 2000);
    memcpy (id, peers_outbox_at (p, 5)->msg_id, sizeof id);
    CHECK (peers_outbox_remove (p, id) && peers_outbox_in_flight (p) == 1);
    CHECK (s_seq (peers_outbox_next (p)) == 1);
    peers_destroy (&peers);

    //  A long run against a model: messages added while others are in
    //  flight, receipts in any order; each goes out first in the order it
    //  was queued and leaves exactly once
    peers = peers_new ();
    p = peers_add (peers, &rb);
    long added = 0, first_sent = 0, removed = 0;
    for (int round = 0; round < 20000; round++) {
        for (uint32_t k = randombytes_uniform (4); k > 0; k--) {
            snprintf (text, sizeof text, "%ld", added);
            if (peers_outbox_add (p, 1, text, &m) == 0)
                added++;
        }
        for (uint32_t k = randombytes_uniform (8); k > 0 && peers_outbox_next (p); k--) {
            //  A first send is the next never sent; anything older is a
            //  re-send after a rewind
            CHECK (s_seq (peers_outbox_next (p)) <= first_sent);
            if (s_seq (peers_outbox_next (p)) == first_sent)
                first_sent++;
            peers_outbox_mark_sent (p, round + 1);
        }
        CHECK (peers_outbox_in_flight (p) <= PEERS_WINDOW);
        size_t flight = peers_outbox_in_flight (p);
        if (flight && randombytes_uniform (3)) {
            memcpy (id, peers_outbox_at (p, randombytes_uniform ((uint32_t) flight))->msg_id,
                    sizeof id);
            CHECK (peers_outbox_remove (p, id));
            removed++;
        }
        if (randombytes_uniform (500) == 0)
            peers_outbox_rewind (p);
        for (size_t i = 1; round % 1000 == 0 && i < peers_outbox_len (p); i++)
            CHECK (s_seq (peers_outbox_at (p, i - 1)) < s_seq (peers_outbox_at (p, i)));
    }
    CHECK ((long) peers_outbox_len (p) == added - removed);
    //  Receipts for the rest empty it
    while (peers_outbox_len (p)) {
        while (peers_outbox_next (p))
            peers_outbox_mark_sent (p, 1);
        memcpy (id, peers_outbox_at (p, 0)->msg_id, sizeof id);
        CHECK (peers_outbox_remove (p, id));
    }
    CHECK (peers_outbox_bytes (p) == 0 && peers_outbox_in_flight (p) == 0);
    //  Receipts owed are bounded
    for (int i = 0; i < PEERS_WINDOW; i++)
        CHECK (peers_receipt_owe (p, id));
    CHECK (!peers_receipt_owe (p, id) && p->owed_len == PEERS_WINDOW);
    peers_destroy (&peers);
    identity_destroy (&bob);
}

static void
s_utf8 (void)
{
    char *s = utf8_sanitize ("ok\xff\xc0\xaf\0z\xe2\x82\xac", 10);
    CHECK (s && strcmp (s, "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xe2\x82\xac") == 0);
    free (s);
}


static bool
s_keep_k4 (const uint8_t sign_pk [32], void *arg)
{
    (void) arg;
    uint32_t i;
    memcpy (&i, sign_pk, 4);
    return i == 4;
}

//  known_peers is bounded: past KNOWN_MAX the unverified keys the user
//  never wrote to, unseen longest, go; verified and messaged ones stay
static void
s_known_bounded (void)
{
    char path [512];
    snprintf (path, sizeof path, "%s/known_peers.json", unit_tmpdir ());
    int err;
    known_t *k = known_new (path, &err);
    CHECK (k);
    uint8_t sign [32] = { 0 }, box [32] = { 0 };
    for (uint32_t i = 0; i < KNOWN_MAX; i++) {
        memcpy (sign, &i, 4);
        memcpy (box, &i, 4);
        char name [32];
        snprintf (name, sizeof name, "k%u", i);
        CHECK ((known_observe (k, sign, box, name, true, 1000 + i, NULL) & KNOWN_FULL) == 0);
    }
    uint32_t first = 0, second = 1, third = 2;
    memcpy (sign, &first, 4);
    CHECK (known_set_verified (k, sign, true) == 0);
    memcpy (sign, &second, 4);
    CHECK (known_set_messaged (k, sign) == 0);
    //  A newcomer evicts the oldest that is neither: k2
    uint32_t fresh = 999999;
    memcpy (sign, &fresh, 4);
    CHECK ((known_observe (k, sign, box, "newcomer", true, 99999, NULL) & (KNOWN_NEW | KNOWN_FULL)) == KNOWN_NEW);
    memcpy (sign, &first, 4);
    CHECK (known_verified (k, sign));
    memcpy (sign, &second, 4);
    CHECK (known_messaged (k, sign));
    memcpy (sign, &third, 4);
    CHECK (!known_messaged (k, sign) && (known_observe (k, sign, box, "k2", true, 100000, NULL) & KNOWN_NEW));
    //  A key in use now (a peer online) is not evicted: the next one is
    known_set_in_use (k, s_keep_k4, NULL);
    //  (k3 went when k2 came back: k4 is the oldest now)
    uint32_t fresh2 = 999998, four = 4, five = 5;
    memcpy (sign, &fresh2, 4);
    CHECK ((known_observe (k, sign, box, "newcomer2", true, 100001, NULL) & KNOWN_FULL) == 0);
    memcpy (sign, &four, 4);
    CHECK ((known_observe (k, sign, box, "k4", true, 100002, NULL) & KNOWN_NEW) == 0);
    memcpy (sign, &five, 4);
    CHECK (known_observe (k, sign, box, "k5", true, 100003, NULL) & KNOWN_NEW);
    known_set_in_use (k, NULL, NULL);
    //  It survives a save and a load, bound and marks alike
    CHECK (known_flush (k) == 0);
    known_destroy (&k);
    k = known_new (path, &err);
    CHECK (k);
    memcpy (sign, &second, 4);
    CHECK (known_messaged (k, sign));
    known_destroy (&k);
}

void
node_tests (void)
{
    unit_run ("cmd: parsing, usage errors, limits", s_cmd);
    unit_run ("cmd: every command in the table has help and a handler", s_cmd_table);
    unit_run ("opts: peer addresses and options", s_peer_addresses);
    unit_run ("known + peers: TOFU, name clashes, resolution", s_known_and_resolve);
    unit_run ("known: bounded, verified and messaged keys kept", s_known_bounded);
    unit_run ("peers outbox: bytes bound, order, window, rewind", s_outbox);
    unit_run ("history: encrypted, filtered, torn tail", s_history);
    unit_run ("history: two files of bounded size, read from the end", s_history_bounded);
    unit_run ("history: a big one from before is read from its end", s_history_big_old);
    unit_run ("utf8: invalid bytes and NUL replaced", s_utf8);
}

/*  Where the node finds its media helper (jobs_find_helper): beside it in
    a build tree, in ../libexec/securechat/ in an install wherever it was
    moved, and what it says when neither is there.  */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../node/jobs.h"
#include "unit.h"

//  Makes path (and its directories) a file with mode; 0 or -1.
static int
s_touch (const char *path, mode_t mode)
{
    char dir [512];
    snprintf (dir, sizeof dir, "%s", path);
    for (char *p = strchr (dir + 1, '/'); p; p = strchr (p + 1, '/')) {
        *p = 0;
        mkdir (dir, 0700);
        *p = '/';
    }
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    return fd < 0? -1: close (fd);
}

static void
s_the_helper_is_found_beside_the_node_or_in_libexec (void)
{
    const char *root = unit_tmpdir ();
    char exe [256], beside [256], installed [256], out [512];
    snprintf (exe, sizeof exe, "%s/usr/bin/securechat-node", root);
    snprintf (beside, sizeof beside, "%s/usr/bin/securechat-media", root);
    snprintf (installed, sizeof installed, "%s/usr/libexec/securechat/securechat-media", root);
    //  Neither: the installed place is named, for the error
    CHECK (!jobs_find_helper (exe, out, sizeof out));
    CHECK (strcmp (out, installed) == 0);
    //  A file that is not executable is no helper
    CHECK (s_touch (installed, 0600) == 0);
    CHECK (!jobs_find_helper (exe, out, sizeof out));
    CHECK (chmod (installed, 0755) == 0);
    CHECK (jobs_find_helper (exe, out, sizeof out));
    CHECK (strcmp (out, installed) == 0);
    //  One beside the node (a build tree) comes first
    CHECK (s_touch (beside, 0755) == 0);
    CHECK (jobs_find_helper (exe, out, sizeof out));
    CHECK (strcmp (out, beside) == 0);
}

static void
s_odd_paths_give_a_path_and_no_helper (void)
{
    char out [512];
    CHECK (!jobs_find_helper ("securechat-node", out, sizeof out));
    CHECK (strcmp (out, "securechat-media") == 0);
    CHECK (!jobs_find_helper ("/nonexistent-sc/securechat-node", out, sizeof out));
    CHECK (strcmp (out, "/libexec/securechat/securechat-media") == 0);
    char tiny [8];
    CHECK (!jobs_find_helper ("/usr/bin/securechat-node", tiny, sizeof tiny));
    CHECK (strlen (tiny) == sizeof tiny - 1);       //  cut, still a string
}

void
jobs_tests (void)
{
    unit_run ("jobs: the helper is found beside the node, else in ../libexec/securechat",
              s_the_helper_is_found_beside_the_node_or_in_libexec);
    unit_run ("jobs: odd paths give a path and no helper", s_odd_paths_give_a_path_and_no_helper);
}

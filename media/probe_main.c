/*  securechat-probe FILE: prints what a media file holds, one line:
    "video=0|1 audio=0|1 duration=SECONDS streams=N".  The node runs it for
    each /share, so that only this small process loads FFmpeg (which costs
    the node 40 ms and 20 MB otherwise) and any trouble parsing a file stays
    out of the node.  Exit 0 on success, 1 when the file cannot be read.  */
#include <stdio.h>
#include "probe.h"

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: securechat-probe FILE\n");
        return 2;
    }
    probe_info_t info;
    if (probe_file (argv [1], &info) != 0)
        return 1;
    printf ("video=%d audio=%d duration=%.3f streams=%d\n", info.video, info.audio,
            info.duration, info.streams);
    return 0;
}

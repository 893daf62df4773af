//  fault: see fault.h.
#include <errno.h>
#include <sys/stat.h>
#include "fault.h"

int __real_fsync (int fd);
int __wrap_fsync (int fd);

static int s_dir_fsync_fails;

void
fault_dir_fsync (int n)
{
    s_dir_fsync_fails = n;
}

int
__wrap_fsync (int fd)
{
    struct stat st;
    if (s_dir_fsync_fails > 0 && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode)) {
        s_dir_fsync_fails--;
        errno = EIO;
        return -1;
    }
    return __real_fsync (fd);
}

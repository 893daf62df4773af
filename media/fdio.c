#include <errno.h>
#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fdio.h"

int64_t
fdio_seek (void *opaque, int64_t offset, int whence)
{
    int fd = *(const int *) opaque;
    if (whence == AVSEEK_SIZE) {
        struct stat st;
        return fstat (fd, &st) == 0? (int64_t) st.st_size: AVERROR (errno);
    }
    off_t at = lseek (fd, (off_t) offset, whence & ~AVSEEK_FORCE);
    return at < 0? AVERROR (errno): (int64_t) at;
}

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "err.h"
#include "fileio.h"

int
fileio_mkdir_private (const char *dir)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path)
        return SC_EINVAL;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir (path, 0700) != 0 && errno != EEXIST)
            return SC_EIO;
        *p = '/';
    }
    if (mkdir (path, 0700) != 0 && errno != EEXIST)
        return SC_EIO;
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISDIR (st.st_mode))
        return SC_EIO;
    return 0;
}

static int
s_write_full (int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SC_EIO;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

int
fileio_write_atomic (const char *path, const void *data, size_t len)
{
    char tmp [PATH_MAX];
    if (snprintf (tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int) sizeof tmp)
        return SC_EINVAL;
    int rc = SC_EIO;
    int fd = mkostemp (tmp, O_CLOEXEC);
    if (fd < 0)
        return SC_EIO;
    if (fchmod (fd, 0600) != 0
    ||  s_write_full (fd, data, len) != 0
    ||  fsync (fd) != 0)
        goto out;
    if (close (fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename (tmp, path) != 0)
        goto out;
    //  Make the rename itself durable: until the directory is synced, a
    //  crash can bring the old file back.  A file system that cannot sync
    //  a directory at all (EINVAL) has nothing more to give.
    char dir [PATH_MAX];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy (dir, ".");
    int dfd = open (*dir? dir: "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return SC_EIO;
    int synced = fsync (dfd) == 0 || errno == EINVAL;
    close (dfd);
    return synced? 0: SC_EIO;
out:
    if (fd >= 0)
        close (fd);
    unlink (tmp);
    return rc;
}

int
fileio_read_all (const char *path, size_t max, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT? SC_ENOENT: SC_EIO;
    int rc = SC_EIO;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
        goto out;
    if ((uint64_t) st.st_size > max) {
        rc = SC_ETOOBIG;
        goto out;
    }
    size_t size = (size_t) st.st_size;
    buf = malloc (size + 1);
    if (!buf) {
        rc = SC_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read (fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t) n;
    }
    buf [size] = 0;
    *data = buf;
    *len = size;
    buf = NULL;     //  transferred
    rc = 0;
out:
    free (buf);
    close (fd);
    return rc;
}

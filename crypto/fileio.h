/*  fileio: small, careful file helpers shared by every module that keeps
    state on disk (identity, known peers, history).  Bottom layer.  */
#ifndef SC_FILEIO_H
#define SC_FILEIO_H

#include <stddef.h>
#include <stdint.h>

//  Creates dir (and missing parents) with mode 0700; 0 if it exists or was made.
int fileio_mkdir_private (const char *dir);

//  Writes data to path by a temporary file, fsync, rename and an fsync of
//  the directory, file mode 0600: 0 means the new contents survive a crash.
//  Returns 0 or SC_EIO.  SC_EIO before the rename leaves the old file
//  intact; when only the directory could not be synced the new contents
//  are in place, but a crash may still bring back the old file (or none).
int fileio_write_atomic (const char *path, const void *data, size_t len);

//  Reads a whole regular file of at most max bytes into *data (caller frees).
//  Returns 0, SC_ENOENT, SC_ETOOBIG or SC_EIO.
int fileio_read_all (const char *path, size_t max, uint8_t **data, size_t *len);

#endif

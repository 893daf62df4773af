/*  fdio: libavformat I/O callbacks over a plain descriptor, for the source
    and the sink, which are handed descriptors (never paths) by the node.  */
#ifndef SC_FDIO_H
#define SC_FDIO_H

#include <stdint.h>

//  AVIOContext seek callback; opaque points at the descriptor (an int, the
//  first member of the caller's struct).  Returns the new offset, the size
//  for AVSEEK_SIZE, or an AVERROR.
int64_t fdio_seek (void *opaque, int64_t offset, int whence);

#endif

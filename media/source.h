/*  source: demuxes a local media file into the packets of its playable
    streams (media.h), from the start or from the keyframe at or before an
    offset.  No network code; it reads the owner's own shared file from a
    descriptor the node opened.  */
#ifndef SC_SOURCE_H
#define SC_SOURCE_H

#include "media.h"

typedef struct _media_source_t media_source_t;

//  Opens the file on fd (borrowed, must be seekable) and seeks to the
//  keyframe at or before offset_ms.  Returns 0 and *out, or an SC_E* code (crypto/base/err.h) with a
//  sentence in err (not media, no playable video, an offset negative or past
//  MEDIA_OFFSET_MAX_MS or past the end, cannot seek).
int media_source_open (int fd, int64_t offset_ms, media_source_t **out, char *err, size_t err_size);

//  The header of the streams that will be sent (borrowed from the source).
const media_header_t *media_source_header (const media_source_t *self);

//  Reads the next packet into *packet (its data is valid until the next
//  call).  Returns 1, 0 at the end of the file, or an SC_E* code with err.
int media_source_read (media_source_t *self, media_packet_t *packet, char *err, size_t err_size);

//  Closes the source (not the descriptor); accepts NULL, nulls the pointer.
void media_source_destroy (media_source_t **self_p);

#endif

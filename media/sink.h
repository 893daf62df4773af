/*  sink: rebuilds streams from a stream header and muxes packets, as they
    are, to Matroska or MPEG-TS on a descriptor (a file or a player's
    stdin).  It never demuxes: the bytes it is given only ever reach a
    muxer, as codec parameters checked by media_header_check and as packet
    payloads.  */
#ifndef SC_SINK_H
#define SC_SINK_H

#include "media.h"

typedef struct _media_sink_t media_sink_t;

//  Checks the header, creates the streams and writes the container header
//  to fd (borrowed; a regular file is seeked to finish the index, a pipe is
//  written straight through).  format is "matroska" or "mpegts".  Returns 0
//  and *out, or an SC_E* code (crypto/base/err.h) with a sentence in err.
int media_sink_open (const media_header_t *header, const char *format, int fd,
                     media_sink_t **out, char *err, size_t err_size);

//  Checks and muxes one packet.  Returns 0, or an SC_E* code with err.
int media_sink_write (media_sink_t *self, const media_packet_t *packet, char *err, size_t err_size);

//  Writes the trailer (when write is true) and frees the sink; accepts
//  NULL, nulls the pointer.  Returns 0, or an SC_E* code with err.
int media_sink_close (media_sink_t **self_p, bool write, char *err, size_t err_size);

#endif

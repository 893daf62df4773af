/*  pack: the stream header and packet batches as bytes, the one layout
    that the media helper's jobs (media/job.h: 'H' and 'B' messages) and
    the node's STREAM and BATCH frames (node/wire.h) both carry.  The
    demux job makes these bytes, the owner's node forwards them unopened,
    the viewer's node checks them (node/viewer.c) and its mux job reads
    them.  Plain C and msgpack-c, no FFmpeg and nothing from node/, so the
    helper securechat-media links no node code.

    Body of a stream header: [duration_ms: uint, start_ms: uint, streams: array,
    chapters: array] with each stream [kind (0 video, 1 audio, 2 subtitle),
    codec: str, tb_num, tb_den, extradata: bin, width,
    height, sar_num, sar_den, field_order, color_range, color_primaries,
    color_trc, color_space, chroma_location, sample_rate, channels,
    channel_mask, frame_size, initial_padding, trailing_padding, seek_preroll,
    block_align, bits_per_coded_sample, profile: int, level: int, bit_rate,
    video_delay, language: str] and each chapter [start_ms: int, end_ms: int,
    title: str] (media/media.h says what each is; media_header_check bounds
    them).  Older owners send neither chapters nor the last two stream
    fields: they read as none, 0 and "".
    Body of a batch: [[stream: uint, pts: int|nil, dts: int|nil,
    duration: uint, key: bool, data: bin (<= MEDIA_PART_MAX), more: bool], ...]
    A packet larger than MEDIA_PART_MAX goes as parts in consecutive records
    (each in a batch of its own), all but the last with more = true (absent
    means false); the viewer joins them, up to MEDIA_PACKET_MAX.

    Decoding never trusts a declared length: crypto/base/walk.h's walk_check
    walks the bytes first, before libmsgpack-c is given them.  */
#ifndef SC_PACK_H
#define SC_PACK_H

#include <stddef.h>
#include <stdint.h>
#include "media.h"

//  The largest header or batch body made: it fits one STREAM or BATCH frame
//  (node/wire.h checks that it is within WIRE_MAX_CHUNK)
#define PACK_MAX_BODY (1024 * 1024 - 1024)

//  Encodes a stream header.  Returns 0 and a malloc'd buffer, or an error.
int pack_header_encode (const media_header_t *header, uint8_t **out, size_t *len);
//  Decodes a stream header (extradata borrows from buf) and checks it with
//  media_header_check.  Returns 0, or an error with a sentence in err.
int pack_header_decode (const uint8_t *buf, size_t len, media_header_t *header,
                        char *err, size_t err_size);

//  Builds a batch body packet by packet (the data is copied).
typedef struct {
    void *buf;                  //  packed packets so far (msgpack_sbuffer)
    size_t count;
} pack_batch_t;
void pack_batch_init (pack_batch_t *batch);
int pack_batch_add (pack_batch_t *batch, const media_packet_t *packet);
//  Bytes packed so far.
size_t pack_batch_size (const pack_batch_t *batch);
//  Returns 0 and the body (malloc'd, caller frees), and empties the batch.
int pack_batch_finish (pack_batch_t *batch, uint8_t **out, size_t *len);
void pack_batch_clear (pack_batch_t *batch);

//  Decodes a batch body and calls fn for each packet (its data borrows from
//  buf), in order, checked against header; stops at the first fn that does
//  not return 0.  Returns 0, that value, or an error with a sentence in err.
int pack_batch_decode (const uint8_t *buf, size_t len, const media_header_t *header,
                       int (*fn) (void *arg, const media_packet_t *packet), void *arg,
                       char *err, size_t err_size);

#endif

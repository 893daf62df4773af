/*  media: the plain description of a packet stream, shared by the demuxing
    source, the muxing sink and the wire codec.  No FFmpeg types here, so
    the node (which does not link FFmpeg) can check what a peer sends.

    A stream header lists each stream's codec (by FFmpeg's codec name, which
    is stable across versions, unlike codec ids), time base and the codec
    parameters a muxer needs.  A packet is one demuxed packet as it is: no
    transcoding.  media_header_check bounds everything a peer could use to
    make a muxer allocate or misbehave: codecs outside the allowlist,
    extradata, dimensions, sample rates, channel counts, time bases,
    languages and chapter titles.

    Text subtitles (SubRip, ASS/SSA, WebVTT) travel as streams of their
    own; chapters travel in the header.  MP4's timed text (mov_text) is
    not in the allowlist: neither Matroska nor MPEG-TS can hold it as it
    is, and nothing is transcoded.  */
#ifndef SC_MEDIA_H
#define SC_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_STREAMS_MAX 8
#define MEDIA_CODEC_MAX 32              //  codec name, with its NUL
#define MEDIA_EXTRADATA_MAX (64 * 1024)
#define MEDIA_DIM_MAX 8192              //  width and height
#define MEDIA_RATE_MAX 384000           //  audio sample rate
#define MEDIA_CHANNELS_MAX 16
#define MEDIA_PART_MAX (900 * 1024)     //  the most one packet record carries (a wire frame is 1 MiB)
#define MEDIA_PACKET_MAX (16 * 1024 * 1024)     //  a whole packet, sent in parts when larger
#define MEDIA_BATCH_BYTES (64 * 1024)   //  a batch is flushed once it holds this much
#define MEDIA_NOPTS INT64_MIN           //  no timestamp
#define MEDIA_LANG_MAX 4                //  an ISO 639-2 code ("eng"), with its NUL
#define MEDIA_DELAY_MAX 16              //  video_delay: frames of reordering
#define MEDIA_CHAPTERS_MAX 64
#define MEDIA_TITLE_MAX 64              //  a chapter's title, with its NUL (longer is cut)
#define MEDIA_OFFSET_MAX_MS 10000000000LL       //  where a stream may start: 1e7 s, as /watch takes

typedef enum {
    MEDIA_VIDEO = 0,
    MEDIA_AUDIO = 1,
    MEDIA_SUBTITLE = 2,                 //  text subtitles
} media_kind_t;

typedef struct {
    int kind;                           //  media_kind_t
    char codec [MEDIA_CODEC_MAX];       //  "h264", "aac", ...
    int tb_num, tb_den;                 //  time base of pts, dts and duration
    const uint8_t *extradata;           //  borrowed
    size_t extradata_size;
    int width, height, sar_num, sar_den;        //  video
    int field_order, color_range, color_primaries, color_trc, color_space, chroma_location;
    int sample_rate, channels;                  //  audio
    uint64_t channel_mask;                      //  0 = default order for the count
    int frame_size, initial_padding, trailing_padding, seek_preroll, block_align;
    int bits_per_coded_sample, profile, level;
    int64_t bit_rate;
    int video_delay;                    //  frames of reordering (B-frames), 0 to MEDIA_DELAY_MAX
    char language [MEDIA_LANG_MAX];     //  "" when the file says none; else 2 or 3 letters a-z
} media_stream_t;

typedef struct {
    int64_t start_ms, end_ms;           //  from the file's start (not the offset)
    char title [MEDIA_TITLE_MAX];       //  UTF-8, no control characters
} media_chapter_t;

typedef struct {
    int64_t duration_ms;                //  0 when unknown
    int64_t start_ms;                   //  where the stream starts (after a seek)
    int nstreams;
    media_stream_t streams [MEDIA_STREAMS_MAX];
    int nchapters;
    media_chapter_t chapters [MEDIA_CHAPTERS_MAX];
} media_header_t;

typedef struct {
    int stream;                         //  index into the header's streams
    int64_t pts, dts, duration;         //  in the stream's time base; MEDIA_NOPTS
    bool key;
    const uint8_t *data;                //  borrowed
    size_t size;
    bool more;                          //  a part: the packet goes on in the next record
} media_packet_t;

//  Returns true when the codec name is one a viewer will mux (kind set).
bool media_codec_allowed (const char *codec, int *kind);

//  The word for a kind: "video", "audio", "subtitle".
const char *media_kind_name (int kind);

//  Checks a header against the allowlist and the bounds above.  Returns 0,
//  or SC_EMALFORMED (crypto/base/err.h) with a sentence in err.
int media_header_check (const media_header_t *header, char *err, size_t err_size);

//  Checks where a stream is asked to start (a WATCH's offset, any 64-bit
//  number): returns 0, or SC_EINVAL with a sentence in err past MEDIA_OFFSET_MAX_MS.
int media_offset_check (uint64_t offset_ms, char *err, size_t err_size);

//  Checks one packet record (a whole packet or a part) against its header.
//  Returns 0 or SC_EMALFORMED with err.
int media_packet_check (const media_header_t *header, const media_packet_t *packet,
                        char *err, size_t err_size);

#endif

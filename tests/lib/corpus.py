"""A small corpus of the files people keep, made with ffmpeg once and kept
in build/corpus/ (each shape at most 320x240 and 2 s, fast presets).

shape(name) returns the file's path, or raises Skip with the reason when
this ffmpeg lacks an encoder the shape needs.  Each file is written under a
temporary name and renamed, so a run cut short never leaves half a file;
its name carries a hash of how it is made, so a changed recipe (or ffmpeg
version) makes it again."""
import hashlib
import os
import subprocess

from harness import ROOT, Skip

DIR = os.path.join(ROOT, "build", "corpus")
SECS = "2"
VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
TONE2 = ["-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100"]
X264_B = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "3",
          "-g", "25", "-x264-params", "open-gop=1"]
X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=3:keyint=25"]

SRT = """1
00:00:00,200 --> 00:00:00,900
Hello from the corpus

2
00:00:01,000 --> 00:00:01,700
A second line, with <i>style</i>
"""

CHAPTERS = """;FFMETADATA1
[CHAPTER]
TIMEBASE=1/1000
START=0
END=1000
title=Opening
[CHAPTER]
TIMEBASE=1/1000
START=1000
END=2000
title=Second part
"""

# name: (file name, encoders needed, inputs, codec and map options)
SHAPES = {
    "mkv-h264": ("h264-b-2audio-srt-chapters.mkv", ["libx264", "libopus"],
                 VIDEO + TONE + TONE2 + ["-i", "{srt}", "-i", "{chapters}"],
                 ["-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map_chapters", "4"]
                 + X264_B + ["-c:a:0", "aac", "-c:a:1", "libopus", "-c:s", "srt",
                             "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                             "-metadata:s:s:0", "language=eng"]),
    "mkv-hevc8": ("hevc8-ass.mkv", ["libx265"], VIDEO + TONE + ["-i", "{srt}"],
                  ["-map", "0:v", "-map", "1:a", "-map", "2:s"] + X265 + ["-c:a", "aac", "-c:s", "ass"]),
    "mkv-hevc10": ("hevc10.mkv", ["libx265"], VIDEO + TONE,
                   X265 + ["-pix_fmt", "yuv420p10le", "-c:a", "libopus"]),
    "mp4-hevc10-ac3": ("hevc10-ac3.mp4", ["libx265", "ac3"], VIDEO + TONE,
                       X265 + ["-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-c:a", "ac3"]),
    "mp4-vfr": ("vfr.mp4", ["libx264"],
                ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30,"
                 "setpts='N/30/TB+if(eq(mod(N\\,3)\\,2)\\,0.02/TB\\,0)'"] + TONE,
                ["-vsync", "vfr", "-c:v", "libx264", "-preset", "veryfast", "-g", "25",
                 "-c:a", "aac", "-video_track_timescale", "1000"]),
    "mp4-movtext": ("h264-movtext.mp4", ["libx264"], VIDEO + TONE + ["-i", "{srt}"],
                    ["-map", "0:v", "-map", "1:a", "-map", "2:s"] + X264_B
                    + ["-c:a", "aac", "-c:s", "mov_text"]),
    "avi-mpeg4": ("mpeg4-asp.avi", ["mpeg4", "mp2"], VIDEO + TONE,
                  ["-c:v", "mpeg4", "-vtag", "XVID", "-bf", "2", "-g", "25", "-q:v", "5",
                   "-c:a", "mp2"]),
    "flv": ("h264.flv", ["libx264"], VIDEO + TONE, X264_B + ["-c:a", "aac", "-ar", "44100"]),
    "ogg": ("theora.ogv", ["libtheora", "libvorbis"], VIDEO + TONE,
            ["-c:v", "libtheora", "-g", "25", "-q:v", "5", "-c:a", "libvorbis"]),
    "ts-h264": ("h264-b.ts", ["libx264"], VIDEO + TONE, X264_B + ["-c:a", "aac"]),
    "webm-vp9": ("vp9-opus-vtt.webm", ["libvpx-vp9", "libopus"], VIDEO + TONE + ["-i", "{srt}"],
                 ["-map", "0:v", "-map", "1:a", "-map", "2:s", "-c:s", "webvtt", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "25",
                  "-c:a", "libopus"]),
    "webm-av1": ("av1-opus.webm", ["libsvtav1", "libopus"], VIDEO + TONE,
                 ["-c:v", "libsvtav1", "-preset", "12", "-g", "25", "-c:a", "libopus"]),
}

_encoders = None
_ffmpeg_version = None


def _version():
    global _ffmpeg_version
    if _ffmpeg_version is None:
        _ffmpeg_version = subprocess.run(["ffmpeg", "-version"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True).stdout.split("\n")[0]
    return _ffmpeg_version


def _have(encoder):
    global _encoders
    if _encoders is None:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        _encoders = {line.split()[1] for line in out.splitlines()
                     if len(line.split()) > 1 and len(line.split()[0]) == 6}
    return encoder in _encoders


def shape(name):
    """The corpus file of a shape, made on first use."""
    fname, needs, inputs, opts = SHAPES[name]
    missing = [e for e in needs if not _have(e)]
    if missing:
        raise Skip("this ffmpeg has no %s encoder: the %s shape is not made" % (", ".join(missing), name))
    recipe = repr((inputs, opts, SECS, SRT, CHAPTERS, _version())).encode()
    stem, ext = os.path.splitext(fname)
    path = os.path.join(DIR, "%s-%s%s" % (stem, hashlib.sha256(recipe).hexdigest()[:8], ext))
    if os.path.exists(path):
        return path
    os.makedirs(DIR, exist_ok=True)
    srt, chapters = os.path.join(DIR, "subs.srt"), os.path.join(DIR, "chapters.txt")
    for p, text in ((srt, SRT), (chapters, CHAPTERS)):
        with open(p, "w") as f:
            f.write(text)
    inputs = [x.format(srt=srt, chapters=chapters) for x in inputs]
    tmp = os.path.join(DIR, "tmp-" + fname)
    #  (SVT-AV1 prints its banner whatever the log level: kept unless it fails)
    r = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + inputs
                       + ["-t", SECS] + opts + [tmp], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("making the %s shape failed: %s" % (name, r.stderr.strip()))
    os.replace(tmp, path)
    return path

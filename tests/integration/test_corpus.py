"""The files people keep (tests/lib/corpus.py), each through /watch --out:
every video and audio packet arrives, subtitles and chapters too, and a
/watch from an offset starts where `ffmpeg -ss OFFSET -i X -c copy` does."""
import json
import os
import subprocess

import corpus
from harness import Cluster, Skip

#  Shapes whose packets the Matroska muxer repackages (ADTS to raw AAC,
#  Annex B to length-prefixed NAL units): their decoded frames are compared
REPACKAGED = {"ts-h264"}
#  What each shape's tracks are, as /videos lists them
TRACKS = {
    "mkv-h264": [("video", "h264", ""), ("audio", "aac", "eng"), ("audio", "opus", "fra"),
                 ("subtitle", "subrip", "eng")],
    "mkv-hevc8": [("video", "hevc", ""), ("audio", "aac", ""), ("subtitle", "ass", "")],
    "webm-vp9": [("video", "vp9", ""), ("audio", "opus", ""), ("subtitle", "webvtt", "")],
}
OFFSET = 1.3            # inside the second GOP of every shape (a keyframe each 25 frames)
#  FFmpeg's own MPEG-TS seek finds no keyframe after 1.2 s of this file (its
#  last GOP starts at 1.02 s): there the offset is one ffmpeg -ss can serve
OFFSETS = {"ts-h264": 1.1}


def _ffmpeg(args):
    return subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"] + args,
                          check=True, stdout=subprocess.PIPE, text=True).stdout


def _md5s(text):
    """framemd5 lines to {stream: [(size, md5), ...]} (timestamps left out:
    each container scales its own)."""
    streams = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = [x.strip() for x in line.split(",")]
        streams.setdefault(int(f[0]), []).append((int(f[4]), f[5]))
    return streams


def packets(path, ss=None):
    pre = ["-ss", str(ss)] if ss is not None else []
    return _md5s(_ffmpeg(pre + ["-i", path, "-map", "0", "-c", "copy", "-f", "framemd5", "-"]))


def decoded(path):
    return _md5s(_ffmpeg(["-i", path, "-map", "0:v", "-map", "0:a", "-f", "framemd5", "-"]))


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_chapters", "-of", "json",
                          path], check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def _kinds(info):
    return [s["codec_type"] for s in info["streams"]]


def _watch(viewer, line, timeout=30):
    req = viewer.ask(line, "stream", state="requested")
    return viewer.wait("stream", timeout=timeout, stream_id=req["stream_id"],
                       pred=lambda e: e["state"] in ("ended", "failed"))


def _check_shape(c, a, b, name, src):
    """Returns a list of what went wrong with one shape."""
    bad = []
    base = os.path.basename(src)
    out = c.dir.sub(name + ".mkv")
    end = _watch(b, "/watch alice %s --out %s" % (base, out))
    if end["state"] != "ended":
        return ["/watch failed: %s" % end.get("message")]
    want_info, got_info = probe(src), probe(out)
    want_kinds = [k for k in _kinds(want_info) if k in ("video", "audio", "subtitle")]
    if name == "mp4-movtext":           # MP4 timed text: said, not carried
        want_kinds = [k for k in want_kinds if k != "subtitle"]
    if _kinds(got_info) != want_kinds:
        bad.append("streams %s, not %s" % (_kinds(got_info), want_kinds))
    if name in REPACKAGED:
        want, got = decoded(src), decoded(out)
    else:
        want, got = packets(src), packets(out)
        want = {i: p for i, p in want.items() if i < len(want_kinds)}
    for i in sorted(want):
        if got.get(i) != want[i]:
            bad.append("stream %d (%s): %d packets differ from the source's %d" % (
                i, want_kinds[i] if i < len(want_kinds) else "?", len(got.get(i, [])), len(want[i])))
    titles = [ch.get("tags", {}).get("title") for ch in want_info["chapters"]]
    got_titles = [ch.get("tags", {}).get("title") for ch in got_info["chapters"]]
    if got_titles != titles:
        bad.append("chapters %s, not %s" % (got_titles, titles))
    langs = [s.get("tags", {}).get("language") for s in want_info["streams"][:len(want_kinds)]]
    got_langs = [s.get("tags", {}).get("language") for s in got_info["streams"]]
    if [x or "und" for x in got_langs] != [x or "und" for x in langs]:
        bad.append("languages %s, not %s" % (got_langs, langs))
    # from an offset: the keyframe ffmpeg -ss starts at, and every packet after it
    offset = OFFSETS.get(name, OFFSET)
    out2 = c.dir.sub(name + "-from.mkv")
    end = _watch(b, "/watch alice %s %s --out %s" % (base, offset, out2))
    if end["state"] != "ended":
        return bad + ["/watch from %s s failed: %s" % (offset, end.get("message"))]
    full, ss, got = packets(src), packets(src, offset), packets(out2)
    assert ss.get(0), "ffmpeg -ss %s -i %s gives no video" % (offset, src)
    if name not in REPACKAGED:
        first = ss[0][0]
        at = full[0].index(first)
        if not got.get(0) or got[0] != full[0][at:]:
            have = full[0].index(got[0][0]) if got.get(0) and got[0][0] in full[0] else None
            bad.append("from %s s: video starts at packet %s, not %d as with ffmpeg -ss" % (
                offset, have, at))
    elif len(got.get(0, [])) != len(ss[0]):
        bad.append("from %s s: %d video packets, ffmpeg -ss gives %d" % (
            offset, len(got.get(0, [])), len(ss[0])))
    return bad


def test_every_shape_of_the_corpus_arrives_whole_with_subtitles_and_chapters():
    shapes, skipped = {}, []
    for name in corpus.SHAPES:
        try:
            shapes[name] = corpus.shape(name)
        except Skip as e:
            skipped.append(str(e))
    for why in skipped:
        print("      skip shape: " + why)
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob")
        a.wait_peers(b)
        b.wait_peers(a)
        for src in shapes.values():
            a.ask("/share " + src, "shared", name=os.path.basename(src), timeout=20)
        videos = {v["name"]: v for v in b.ask("/videos alice", "videos")["videos"]}
        failures = {}
        for name, src in shapes.items():
            v = videos.get(os.path.basename(src))
            if not v:
                failures[name] = ["not listed by /videos"]
                continue
            bad = []
            if name in TRACKS:
                tracks = [(t.get("kind"), t.get("codec"), t.get("language", ""))
                          for t in v.get("tracks", [])]
                if tracks != TRACKS[name]:
                    bad.append("/videos tracks %s, not %s" % (tracks, TRACKS[name]))
            if name == "mp4-movtext" and not any("mov_text" in x for x in v.get("not_carried", [])):
                bad.append("/videos does not say the timed text stays home: %s" % v)
            bad += _check_shape(c, a, b, name, src)
            if bad:
                failures[name] = bad
        assert not failures, "\n".join("%s: %s" % (n, "; ".join(b)) for n, b in failures.items())
        # MPEG-TS output: subtitles and chapters left out, the rest whole;
        # a codec it cannot hold is refused, not written as data no player reads
        out = c.dir.sub("h264.ts")
        end = _watch(b, "/watch alice %s --out %s" % (os.path.basename(shapes["mkv-h264"]), out))
        assert end["state"] == "ended", end
        assert _kinds(probe(out)) == ["video", "audio", "audio"] and not probe(out)["chapters"]
        assert len(decoded(out)[0]) == len(decoded(shapes["mkv-h264"])[0])
        if "ogg" in shapes:
            out = c.dir.sub("theora.ts")
            end = _watch(b, "/watch alice %s --out %s" % (os.path.basename(shapes["ogg"]), out))
            assert end["state"] == "failed" and "MPEG-TS cannot hold theora video" in end["message"], end
            assert not os.path.exists(out)

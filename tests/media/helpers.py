"""Shared helpers for media tests: re-encoding like a platform would, byte flips, remuxing."""

from __future__ import annotations

from pathlib import Path

import av


def transcode(src: str | Path, dst: str | Path, crf: int, preset: str = "medium") -> None:
    """Re-encode the video like `ffmpeg -i src -crf N dst` would: YUV in, YUV out, no RGB round trip."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=vs.average_rate)
        stream.width, stream.height, stream.pix_fmt = (
            vs.codec_context.width,
            vs.codec_context.height,
            "yuv420p",
        )
        stream.options = {"crf": str(crf), "preset": preset}
        for frame in inp.decode(vs):
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def remux(src: str | Path, dst: str | Path) -> None:
    """Copy the streams into a new MP4 without re-encoding (what strips a C2PA manifest)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        mapping = {}
        for stream in inp.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = out.add_stream_from_template(stream)
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in mapping:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def mdat_offset(path: str | Path) -> tuple[int, int]:
    """(start, size) of the media data box, to flip a byte of the pictures themselves."""
    data = Path(path).read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        if kind == b"mdat":
            return pos + header, size - header
        if size < 8:
            break
        pos += size
    raise AssertionError("no mdat box")

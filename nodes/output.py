"""Output nodes: the preview the timeline reads, and saving a clip to a file."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, node
from studio.values import Video


@node(
    "studio.Preview",
    title="Preview",
    category="Output",
    inputs=[PortSpec("video", "VIDEO", "the clip to show in the timeline")],
    outputs=[PortSpec("video", "VIDEO", "the same clip, passed through")],
    is_output=True,
)
def preview(ctx, video: Video) -> Video:
    """Shows a clip in the timeline and viewer."""
    return video


@node(
    "studio.SaveVideo",
    title="Save Video",
    category="Output",
    inputs=[PortSpec("video", "VIDEO", "the clip to save")],
    outputs=[PortSpec("path", "ANY", "the file written")],
    params=[
        ParamSpec("path", "path", "clip.mp4", help="Where to write the MP4 (relative to the graph file).",
                  file_filter="MP4 video (*.mp4)", output_file=True),
        ParamSpec("crf", "int", 18, minimum=0, maximum=51,
                  help="H.264 quality: 0 is lossless, 18 looks lossless, 23 is the usual default, 51 worst."),
    ],
    is_output=True,
)
def save_video(ctx, video: Video, path: str, crf: int) -> str:
    """Writes the clip as an H.264 MP4, atomically (never a half-written file)."""
    from studio.errors import NodeError
    from studio.fileio import atomic_path
    from studio.media.encode import EncodeSettings, encode_video

    if not path:
        raise NodeError("no output file chosen", hint="set 'path' to a .mp4 file")
    dest = ctx.resolve_path(path)
    total = video.num_frames
    with atomic_path(dest, suffix=".mp4") as tmp:
        encode_video(video.frames, video.fps, tmp, settings=EncodeSettings(crf=crf),
                     on_progress=lambda done, _n: ctx.progress(done, total, message="encoding"),
                     is_cancelled=ctx.is_cancelled)
    return str(dest)

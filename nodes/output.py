"""Output nodes: the preview the timeline reads, and saving a clip to a file."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, Roles, node
from studio.values import Video


@node(
    "studio.Preview",
    title="Preview",
    category="Output",
    inputs=[PortSpec("video", "VIDEO", "the clip to show in the timeline")],
    outputs=[PortSpec("video", "VIDEO", "the same clip, passed through")],
    is_output=True,
    roles=Roles(preview=True),
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
        ParamSpec("path", "path", "clip.mp4", help="The MP4's file name inside the graph's output folder (renders/ beside the graph); an "
                  "existing file is never replaced: the clip takes the next version (clip_0002.mp4).",
                  file_filter="MP4 video (*.mp4)", output_file=True),
        ParamSpec("crf", "int", 18, minimum=0, maximum=51,
                  help="H.264 quality: 0 is lossless, 18 looks lossless, 23 is the usual default, 51 worst."),
    ],
    is_output=True,
)
def save_video(ctx, video: Video, path: str, crf: int) -> str:
    """Writes the clip as an H.264 MP4, atomically (never a half-written file), never replacing another file."""
    from studio.media.export import ExportOptions, export_clip

    options = ExportOptions(
        format="mp4", crf=crf, watermark=False, sign=False,
        overwrite=ctx.outputs.overwrite, draft=ctx.outputs.draft,
    )
    result = export_clip(
        video.frames, video.fps, ctx.output_path(path), options=options,
        on_progress=lambda done, total: ctx.progress(done, total, message="encoding"),
        is_cancelled=ctx.is_cancelled,
    )
    return str(result.path)

"""Video input: a clip from disk as a guide (video-to-video), a first frame, or frames to continue from."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, node
from studio.values import Picture, Video

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.m4v)"
MAX_FRAMES = 2000
READ_SECONDS = 120.0  # a clip that takes longer to decode than this is cut there, with a warning


@node(
    "studio.LoadVideo",
    title="Load Video",
    category="Inputs",
    outputs=[
        PortSpec("video", "VIDEO", "the clip: a guide for video-to-video, or to watch and export"),
        PortSpec("first_frame", "IMAGE", "its first frame, to start a new clip from (image-to-video)"),
        PortSpec("last_frame", "IMAGE", "its last frame, to continue the clip from"),
    ],
    params=[
        ParamSpec("path", "path", "", help="An MP4, MOV, MKV or WebM file (H.264, HEVC, VP8/9, AV1, ProRes, FFV1); "
                  "drop one on the canvas to make this node.", file_filter=VIDEO_FILTER),
        ParamSpec("start", "int", 0, minimum=0, maximum=1_000_000, help="The first frame to read (0: the start)."),
        ParamSpec("frames", "int", 81, minimum=1, maximum=MAX_FRAMES,
                  help="How many frames to read at most (a model's window is 17 to 121 frames)."),
        ParamSpec("fps", "float", 0.0, minimum=0, maximum=240,
                  help="The clip's frame rate; 0 takes the file's own."),
    ],
)
def load_video(ctx, path: str, start: int, frames: int, fps: float):
    """Decode a clip within bounds (codecs, picture size, memory, time) from a file anyone may have made."""
    import time

    from studio.errors import NodeError
    from studio.media.video_read import UntrustedVideo

    if not path:
        raise NodeError("no video file chosen", port="path", hint="choose a file, or drop a clip on the canvas")
    file = ctx.resolve_path(path)
    if not file.is_file():
        raise NodeError(f"the video file {file} does not exist", port="path", hint="choose another file")
    with UntrustedVideo(file) as clip:
        pixels = clip.rgb(start=start, max_frames=frames, deadline=time.monotonic() + READ_SECONDS)
        rate = fps or clip.fps or 16.0
        if clip.stopped:
            ctx.warn(f"read {len(pixels)} frames of {file.name}: stopped at {clip.stopped}")
    if not len(pixels):
        raise NodeError(f"{file.name} has no frames from frame {start} on", port="start",
                        hint="choose an earlier start frame")
    source = str(file)
    return {
        "video": Video(pixels, rate),
        "first_frame": Picture(pixels[0].copy(), source=source),
        "last_frame": Picture(pixels[-1].copy(), source=source),
    }

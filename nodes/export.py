"""The signed export: a watermarked, C2PA-signed MP4 (or a lossless master) with its sound."""

from __future__ import annotations

from studio.graph import Exporter, ParamSpec, PortSpec, Roles, node
from studio.values import Sound, Video

THUMBNAIL_PIXELS = {"small": 256, "none": 0, "large": 1024}


@node(
    "studio.Export",
    title="Export",
    category="Output",
    inputs=[
        PortSpec("video", "VIDEO", "the clip to export"),
        PortSpec("audio", "AUDIO", "a soundtrack, muxed in sync (AAC)", optional=True),
    ],
    outputs=[PortSpec("path", "ANY", "the file written")],
    params=[
        ParamSpec(
            "path",
            "path",
            "clip.mp4",
            help="The clip's file name inside the graph's output folder (renders/ beside the graph). An existing "
            "file is never replaced: the clip takes the next version (clip_0002.mp4).",
            file_filter="Video (*.mp4 *.mkv *.webm)",
            output_file=True,
        ),
        ParamSpec(
            "format",
            "enum",
            "mp4",
            choices=("mp4", "mkv-ffv1", "webm"),
            help="mp4: H.264 + AAC, signed. mkv-ffv1: lossless master. webm: VP9 + Opus. "
            "Only MP4 carries Content Credentials.",
        ),
        ParamSpec(
            "crf",
            "int",
            23,
            minimum=0,
            maximum=51,
            help="H.264 quality: 18 looks lossless, 23 is the usual default, 51 is worst.",
        ),
        ParamSpec("in_frame", "int", 0, minimum=0, maximum=1_000_000, help="First frame to export."),
        ParamSpec(
            "out_frame",
            "int",
            0,
            minimum=0,
            maximum=1_000_000,
            help="Frame to stop before; 0 exports to the end.",
        ),
        ParamSpec(
            "watermark", "bool", True, help="Hide the clip's identity in its pixels (survives re-encodes)."
        ),
        ParamSpec(
            "sign",
            "bool",
            True,
            help="Attach C2PA Content Credentials signed by your signing identity (MP4 only).",
        ),
        ParamSpec(
            "certificate",
            "path",
            "",
            file_filter="PEM certificate chain (*.pem *.crt)",
            help="Your own signing certificate chain; empty uses Studio's local signing identity.",
        ),
        ParamSpec(
            "private_key",
            "path",
            "",
            file_filter="PEM private key (*.pem *.key)",
            help="The private key of that certificate.",
        ),
        ParamSpec("timestamp_url", "string", "", help="A timestamp authority URL (optional)."),
        ParamSpec(
            "timeline",
            "bool",
            False,
            help="Also write an editor timeline (.otio) beside the clip, for DaVinci Resolve, Hiero or "
            "RV: the clip and its sound, prompt sections and beats as markers.",
        ),
        ParamSpec(
            "timeline_clips",
            "enum",
            "shots",
            choices=("shots", "whole"),
            help="The editor timeline of a sequence: one clip per shot (its name, and its prompt and seed in "
            "the clip's metadata; all cut from the one signed clip, so an editor can re-cut them), or the "
            "whole clip as one with its shots as markers.",
        ),
        ParamSpec(
            "thumbnail",
            "enum",
            "small",
            choices=tuple(THUMBNAIL_PIXELS),
            help="The reference picture's thumbnail stored in the signed clip's Content Credentials: small "
            "(256 px), none, or large (1024 px). The picture's file name is recorded either way.",
        ),
    ],
    is_output=True,
    roles=Roles(exporter=Exporter(path="path", in_frame="in_frame", out_frame="out_frame", format="format")),
)
def export(
    ctx,
    video: Video,
    audio: Sound | None,
    path: str,
    format: str,
    crf: int,
    in_frame: int,
    out_frame: int,
    watermark: bool,
    sign: bool,
    certificate: str,
    private_key: str,
    timestamp_url: str,
    timeline: bool,
    thumbnail: str = "small",
    timeline_clips: str = "shots",
) -> str:
    """Watermark the frames, encode once, sign last; the file appears only when complete."""
    from studio.errors import NodeError
    from studio.media import ExportOptions, export_video
    from studio.media.signing import identity_for

    dest = ctx.output_path(path)
    sign = sign and format == "mp4"
    identity = None
    if sign:
        if bool(certificate) != bool(private_key):
            raise NodeError(
                "a signing certificate needs its private key, and the other way round",
                hint="set both 'certificate' and 'private_key', or neither to use the local identity",
            )
        identity = identity_for(
            ctx.resolve_path(certificate) if certificate else None,
            ctx.resolve_path(private_key) if private_key else None,
            timestamp_url,
        )
    options = ExportOptions(
        format=format,
        crf=crf,
        in_frame=in_frame,
        out_frame=out_frame or None,
        watermark=watermark,
        sign=sign,
        timeline=timeline,
        timeline_shots=timeline_clips == "shots",
        overwrite=ctx.outputs.overwrite,
        draft=ctx.outputs.draft,
        thumbnail=THUMBNAIL_PIXELS[thumbnail],
    )
    result = export_video(
        video,
        dest,
        audio=audio,
        options=options,
        graph_hash=ctx.graph_hash,
        graph_document=ctx.graph_document(),
        identity=identity,
        on_progress=lambda done, total: ctx.progress(done, total, message="exporting"),
        is_cancelled=ctx.is_cancelled,
    )
    return str(result.path)

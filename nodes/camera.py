"""Camera nodes: a camera path (presets or keyframes, shake, parallax, signal-driven zoom and shake)."""

from __future__ import annotations

from studio.graph import Column, ParamSpec, PortSpec, Roles, node

# Kept in step with studio.directing.camera (not imported here: node modules load at editor start-up).
PRESET_CHOICES = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "dolly_in",
                  "dolly_out", "orbit_left", "orbit_right", "crane_up", "crane_down", "handheld", "keyframes")
EASE_CHOICES = ("linear", "ease_in", "ease_out", "ease_in_out", "smooth", "hold")
PREVIEW_SIDE = 512
# Camera Adherence warns below this direction agreement, or when the clip moves less than this share of the path
MIN_AGREEMENT = 0.5
STILL_SHARE = 0.25
EXAMPLE_KEYFRAMES = [
    {"time": 0.0, "pan_x": 0.0, "zoom": 1.0},
    {"time": 1.0, "pan_x": -0.2, "zoom": 1.1, "ease": "smooth"},
    {"time": 2.5, "pan_x": -0.3, "zoom": 1.4, "roll": 3.0, "ease": "ease_in_out"},
]


KEYFRAME_COLUMNS = (
    Column("time", "float", help="seconds from the clip's start"),
    Column("pan_x", "float", help="share of the frame width; + moves the view right"),
    Column("pan_y", "float", help="share of the frame height; + moves the view up"),
    Column("zoom", "float", help="1 is as framed; 2 twice as close"),
    Column("roll", "float", help="degrees"),
    Column("dolly", "float", help="toward the subject, 0..0.9"),
    Column("orbit", "float", help="degrees around the subject"),
    Column("crane", "float", help="share of the frame height; + rises"),
    Column("ease", "enum", choices=EASE_CHOICES, help="how the segment arriving here moves"),
)


@node(
    "studio.CameraPath",
    title="Camera Path",
    category="Directing",
    roles=Roles(camera_source="keyframes"),
    inputs=[
        PortSpec("zoom_signal", "SIGNAL", "pulses the zoom: zoom x (1 + zoom pulse x signal), e.g. on every beat",
                 optional=True),
        PortSpec("shake_signal", "SIGNAL", "scales the handheld shake frame by frame", optional=True),
    ],
    outputs=[PortSpec("camera", "CAMERA", "the camera path; Generate Video samples it at its own length and fps")],
    params=[
        ParamSpec("preset", "enum", "pan_right", choices=PRESET_CHOICES,
                  help="A ready-made move over the whole clip, or 'keyframes' to use the keyframe list below."),
        ParamSpec("amount", "float", 0.25, minimum=0, maximum=1,
                  help="How far a preset goes: pans a share of the frame, zoom 1 + 2 x amount, orbit 60 x amount "
                       "degrees, handheld shake strength."),
        ParamSpec("ease", "enum", "ease_in_out", choices=EASE_CHOICES,
                  help="How a preset starts and stops: linear, ease in/out, smooth spline, or hold (a cut)."),
        ParamSpec("keyframes", "json", EXAMPLE_KEYFRAMES, columns=KEYFRAME_COLUMNS,
                  help="With preset 'keyframes': a list of {time (seconds), pan_x, pan_y, zoom, roll, dolly, "
                       "orbit, crane, ease}. A field left out keeps the previous keyframe's value; 'ease' shapes "
                       "the segment arriving at that keyframe (linear, ease_in, ease_out, ease_in_out, smooth, hold)."),
        ParamSpec("shake", "float", 0.0, minimum=0, maximum=1, animatable=True,
                  help="Handheld shake added to any path (0 is a locked-off camera). Link a signal here to "
                       "change it frame by frame."),
        ParamSpec("shake_seed", "seed", 0, minimum=0, maximum=2**31 - 1, help="Which shake: same seed, same wobble."),
        ParamSpec("parallax", "float", 0.0, minimum=0, maximum=1,
                  help="Depth for dolly, orbit and crane: near things (bottom of the picture) move more than far "
                       "ones (top). 0 moves the picture as a flat card."),
        ParamSpec("zoom_pulse", "float", 0.15, minimum=-1, maximum=1,
                  help="With a zoom signal: how much the zoom swells when the signal is 1."),
    ],
)
def camera_path(ctx, zoom_signal, shake_signal, preset: str, amount: float, ease: str, keyframes, shake: float,
                shake_seed: int, parallax: float, zoom_pulse: float):
    """Where the camera goes over the clip: pan, tilt, zoom, roll, dolly, orbit, crane, handheld shake."""
    from studio.directing.camera import build_path
    from studio.values import Signal, as_signal

    shake_by = as_signal(shake_signal)
    if isinstance(shake, Signal):  # driven frame by frame: its peak is the strength, its shape the envelope
        peak = float(shake.values.max())
        envelope = Signal(shake.values / peak if peak > 0 else shake.values * 0.0, shake.fps, label=shake.label)
        if shake_by is not None:
            envelope = Signal(envelope.values * shake_by.for_frames(envelope.num_frames, envelope.fps), envelope.fps)
        shake, shake_by = peak, envelope
    return build_path(preset, keyframes, amount=amount, ease=ease, shake=shake, shake_seed=shake_seed,
                      parallax=parallax, zoom_signal=as_signal(zoom_signal), zoom_pulse=zoom_pulse,
                      shake_signal=shake_by)


@node(
    "studio.CameraGuide",
    title="Camera Guide",
    category="Directing",
    inputs=[
        PortSpec("camera", "CAMERA", "the camera path"),
        PortSpec("image", "IMAGE", "the picture the camera looks at (it takes the place of Generate Video's "
                 "image); without one, Generate Video first draws a frame from its prompt", optional=True),
        PortSpec("audio", "AUDIO", "a soundtrack: Generate Video (num_frames 0) then lasts as long as the sound",
                 optional=True),
    ],
    outputs=[
        PortSpec("guide", "CAMERA_GUIDE", "connect to Generate Video's 'camera_guide': the move, remade there at "
                 "the clip's own size, length and fps"),
        PortSpec("preview", "VIDEO", "the move as a clip: the picture (or a grid) seen through the camera"),
    ],
    params=[
        ParamSpec("steer", "enum", "guide", choices=("guide", "noise", "none"),
                  help="guide: warp the picture along the path and render video-to-video from it (at Generate "
                       "Video's strength); works with every model. noise: move the starting noise with the camera "
                       "and keep the picture as the first frame (image-to-video); gentler, model permitting. "
                       "none: no camera, only the picture as first frame and the soundtrack's length."),
        ParamSpec("num_frames", "int", 0, minimum=0, maximum=1025, soft_maximum=161,
                  help="Length of the preview; 0 follows the audio, else 33. Generate Video remakes the move at "
                       "its own length, size and fps."),
        ParamSpec("width", "int", 0, minimum=0, maximum=4096,
                  help="Preview width; 0 keeps the picture's shape within 512 pixels (or 256 without one)."),
        ParamSpec("height", "int", 0, minimum=0, maximum=4096,
                  help="Preview height; 0 keeps the picture's shape within 512 pixels (or 144 without one)."),
        ParamSpec("fps", "float", 16.0, minimum=1, maximum=120, help="Frame rate of the preview."),
    ],
)
def camera_guide(ctx, camera, image, audio, steer: str, num_frames: int, width: int, height: int, fps: float):
    """Steer Generate Video along a camera path: a guide clip of the picture (or the prompt's first frame)."""
    from studio.directing.warp import grid_picture, guide_clip
    from studio.media.image import fit_image
    from studio.values import CameraGuide, Generation, Video

    if image is not None:
        pixels = image.pixels
        if not (width or height):
            # only a preview: a 24-megapixel photo need not be warped 33 times at full size
            shrink = min(1.0, PREVIEW_SIDE / max(pixels.shape[:2]))
            width, height = round(pixels.shape[1] * shrink), round(pixels.shape[0] * shrink)
        pixels = fit_image(pixels, width or pixels.shape[1], height or pixels.shape[0], image.fit)
    else:
        pixels = grid_picture(width or 256, height or 144)
    seconds = audio.seconds if audio is not None else None
    count = num_frames or (max(1, round(seconds * fps)) if seconds else 33)
    frames = guide_clip(pixels, camera.track(count, fps), is_cancelled=ctx.is_cancelled)
    made = Generation(mode="camera-guide", camera=camera.label, camera_mode=steer,
                      reference_image=image.source if image is not None else None)
    guide = CameraGuide(camera, picture=None if image is None else image.pixels,
                        fit=image.fit if image is not None else "crop", steer=steer, seconds=seconds,
                        source=image.source if image is not None else None)
    return {"guide": guide, "preview": Video(frames, fps, made)}


@node(
    "studio.CameraAdherence",
    title="Camera Adherence",
    category="Directing",
    inputs=[
        PortSpec("video", "VIDEO", "the rendered clip"),
        PortSpec("guide", "CAMERA_GUIDE", "the Camera Guide the clip was asked to follow"),
    ],
    outputs=[
        PortSpec("error", "FLOAT", "mean error between measured and requested motion, pixels per frame"),
        PortSpec("signal", "SIGNAL", "the error frame by frame, 0..1 (1 = as far off as the requested motion)"),
    ],
    params=[
        ParamSpec("method", "enum", "similarity", choices=("similarity", "phase"),
                  help="similarity: shift, zoom, roll and perspective (tracked corners and image alignment); "
                       "phase: shift only (phase correlation), faster."),
    ],
    is_output=True,
)
def camera_adherence(ctx, video, guide, method: str):
    """How closely a render followed its camera path, measured on the frames."""
    from studio.directing.motion import adherence, judged_adherence
    from studio.errors import NodeError
    from studio.values import Signal

    camera = guide.camera
    if video.num_frames < 2:
        raise NodeError("the clip has a single frame: there is no motion to measure", port="video")
    ctx.progress(0, 1, message="measuring motion")
    track = camera.track(video.num_frames, video.fps)
    result = adherence(video.frames, track, method=method)  # frame by frame: the error signal
    judged = judged_adherence(video.frames, track, method=method)  # over spans: whether it follows
    figures = (f"{judged.mean_error_px:.2f} px/frame off (requested {judged.requested_px:.2f}, measured "
               f"{judged.measured_px:.2f} px/frame, direction agreement {judged.direction_agreement:+.2f})")
    # A warning is for a clip that does not follow: moving another way, or hardly at all where the path moves.
    # A clip that follows gets its figures as a message (a model that holds each picture for several frames
    # never matches frame by frame, and warning on every such render taught people to ignore the warning).
    stands_still = judged.measured_px < STILL_SHARE * judged.requested_px
    if judged.requested_px > 0 and (judged.direction_agreement < MIN_AGREEMENT or stands_still):
        ctx.warn(f"the clip does not follow its camera path: {figures}")
    else:
        ctx.progress(1, 1, message=f"camera adherence: {figures}")
    per_frame = result.per_step / max(result.requested_px, 1e-6)
    values = [0.0, *[min(1.0, float(v)) for v in per_frame]]
    return {"error": result.mean_error_px, "signal": Signal(values, video.fps, label="camera adherence error")}

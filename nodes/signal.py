"""Signal nodes: shape a per-frame signal (smooth, scale, offset, threshold, invert, clamp)."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, node


@node(
    "studio.SignalMath",
    title="Signal Math",
    category="Directing",
    inputs=[PortSpec("signal", "SIGNAL", "the signal to shape")],
    outputs=[PortSpec("signal", "SIGNAL", "the shaped signal")],
    params=[
        ParamSpec("smooth", "float", 0.0, minimum=0, maximum=10,
                  help="Seconds of smoothing (applied first); 0 keeps every wiggle."),
        ParamSpec("scale", "float", 1.0, minimum=-100, maximum=100, animatable=True,
                  help="Multiply by this (a linked signal multiplies frame by frame: one signal gates another)."),
        ParamSpec("offset", "float", 0.0, minimum=-100, maximum=100, animatable=True,
                  help="Then add this (a linked signal adds frame by frame)."),
        ParamSpec("threshold", "float", 0.0, minimum=0, maximum=1,
                  help="Then, above 0: values at or over it become 1, the rest 0 (a gate)."),
        ParamSpec("invert", "bool", False, help="Then turn v into 1 - v."),
        ParamSpec("clamp", "bool", True, help="Finally keep values within 0..1."),
    ],
)
def signal_math(ctx, signal, smooth: float, scale: float, offset: float, threshold: float, invert: bool,
                clamp: bool):
    """Smooth, scale, offset, gate, invert and clamp a signal, in that order."""
    from studio.directing.signal import apply_op
    from studio.errors import NodeError
    from studio.values import Signal, as_signal

    value = as_signal(signal)
    if value is None:
        raise NodeError("no signal connected", port="signal")
    if smooth > 0:
        value = apply_op(value, "smooth", smooth)
    if isinstance(scale, Signal):
        value = apply_op(value, "scale", scale.for_frames(value.num_frames, value.fps))
    elif scale != 1.0:
        value = apply_op(value, "scale", scale)
    if isinstance(offset, Signal):
        value = apply_op(value, "offset", offset.for_frames(value.num_frames, value.fps))
    elif offset:
        value = apply_op(value, "offset", offset)
    if threshold > 0:
        value = apply_op(value, "threshold", threshold)
    if invert:
        value = apply_op(value, "invert", 0.0)
    if clamp:
        value = apply_op(value, "clamp", 0.0)
    return value

"""Where a loaded pipeline's weights live while it renders: all on the GPU, or offloaded to host memory by
component (model), by block group (group, with CUDA streams) or by layer (sequential); and picking one from the
free GPU memory and the model's size (``auto``)."""

from __future__ import annotations

from dataclasses import dataclass

OFFLOAD_MODES = ("none", "model", "group", "sequential")
OFFLOAD_CHOICES = ("auto", *OFFLOAD_MODES)
GB = 1024**3
# What a render needs beside the weights: activations, the latents, the VAE decode's buffers. Measured figures
# for Wan 2.1 1.3B at 480x832x81 (8.2 GB in all for about 2.8 GB of transformer weights, Wan's README) leave
# about 3 GB at that size; a quarter of the weights covers larger models, whose activations grow with them.
MIN_HEADROOM = 3 * GB


@dataclass(frozen=True)
class OffloadChoice:
    mode: str
    reason: str  # a sentence for the run's log


def headroom(total_bytes: int) -> int:
    return max(MIN_HEADROOM, total_bytes // 4)


def pick_offload(free_bytes: int | None, component_bytes: dict[str, int], *, device: str,
                 has_streams: bool = True) -> OffloadChoice:
    """The offload mode for a model of ``component_bytes`` (weights per component) on ``device`` with
    ``free_bytes`` of its memory free (None: not known). Pure, so the rule is tested with figures:

    - not a CUDA device: none (the weights are in host memory already, or MPS shares it);
    - everything fits with headroom: none (fastest);
    - the largest component fits with headroom: model (each component moves to the GPU while it runs);
    - else group offloading by blocks (the transformer streams through, overlapped with compute where CUDA
      streams exist); sequential only when even that cannot be done (no streams and very little memory).
    """
    if not device.startswith("cuda"):
        return OffloadChoice("none", f"on {device} there is nothing to offload to (the weights stay where they are)")
    total = sum(component_bytes.values())
    if free_bytes is None:
        return OffloadChoice("none", "the free GPU memory is not known: no offloading")
    largest_name, largest = max(component_bytes.items(), key=lambda kv: kv[1], default=("", 0))
    free_text = f"{free_bytes / GB:.1f} GB free"
    if total + headroom(total) <= free_bytes:
        return OffloadChoice("none", f"{free_text} holds the whole model ({total / GB:.1f} GB) and its work")
    if largest + headroom(largest) <= free_bytes:
        return OffloadChoice("model", f"{free_text} cannot hold the whole model ({total / GB:.1f} GB) but holds "
                                      f"its largest part ({largest_name}, {largest / GB:.1f} GB) at a time")
    if has_streams or free_bytes >= MIN_HEADROOM:
        return OffloadChoice("group", f"{free_text} cannot hold the largest part ({largest_name}, "
                                      f"{largest / GB:.1f} GB): its blocks stream through the GPU")
    return OffloadChoice("sequential", f"only {free_text} and no CUDA streams: layer by layer (slowest)")


def free_memory(device: str) -> int | None:
    """Free bytes on a CUDA device (None elsewhere)."""
    if not device.startswith("cuda"):
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(torch.device(device))
    return int(free)


def place(pipe, device: str, mode: str) -> None:
    """Put ``pipe`` on ``device`` with offload ``mode`` (which must be none off CUDA)."""
    import torch

    if mode == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif mode == "group":
        # One block per group with streams: the next block's weights copy while this one computes; the VAE
        # and text encoder are offloaded the same way (diffusers applies it to every component).
        pipe.enable_group_offload(onload_device=torch.device(device), offload_device=torch.device("cpu"),
                                  offload_type="block_level", num_blocks_per_group=1,
                                  use_stream=torch.cuda.is_available(), record_stream=False)
    else:
        pipe.to(device)

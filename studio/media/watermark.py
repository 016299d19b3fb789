"""Invisible video watermark: a short payload in low-frequency luma that survives H.264, read blind.

Scheme (``lumaqim-1``): the luma plane is cut into a grid of cells; each cell's mean luma is moved onto
one of two interleaved lattices (quantization index modulation with a keyed dither per cell), which
says one coded bit. The change is shaped by a smooth window inside the cell (no block edges), is the
same in every frame (so P-frames inherit it from the reference instead of re-coding it), and is cheap
for the codec to keep because it is almost pure DC per transform block. The 32-bit payload plus a
CRC-16 makes 48 coded bits, each repeated over every cell a keyed permutation gives it. The detector
needs no original: per cell it scores how close the mean sits to each lattice (a complex soft value),
averages the scores over frames weighted by how well each frame kept the pattern, undoes any global
brightness shift, sums per bit, then checks the CRC and an F test against chance, so clean video
reads as "no watermark".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from scipy.stats import f as f_dist

from studio.errors import MediaError

SCHEME = "lumaqim-1"
PAYLOAD_BITS = 32
CRC_BITS = 16
CODED_BITS = PAYLOAD_BITS + CRC_BITS
DEFAULT_KEY = 0x5354_5544  # "STUD": the scheme is public; a private key only changes the layout
DEFAULT_STEP = 8.0  # lattice step in 8-bit luma levels; strength/visibility trade-off, measured in the bench
# p-value below which the bit groups are too coherent to be chance; with the CRC, false positives ~1e-10.
DETECT_P_VALUE = 1e-4
MIN_CELLS = 64  # fewer cells than this cannot carry 48 coded bits
CHANGE_LEVELS = 16  # Embedder.mark_i420 rounds each cell's change of mean to 1/16 of a luma level
_LIMITED = 219.0 / 255.0  # limited-range (video) luma levels per full-range level


@dataclass(frozen=True)
class Layout:
    """Where the cells are for a frame size; the detector recomputes it from the decoded size."""

    height: int
    width: int
    cell: int
    rows: int
    cols: int
    top: int
    left: int

    @property
    def cells(self) -> int:
        return self.rows * self.cols


@dataclass
class Detection:
    """What the detector found: ``found`` only when the CRC checks and the evidence is far beyond chance."""

    found: bool
    payload: bytes | None
    confidence: float  # 1 - p-value of the coherence test against chance, 0..1
    p_value: float
    bit_margin: float  # mean |soft vote| per coded bit, 0 (noise) .. 1 (perfect)
    frames: int
    crc_ok: bool
    soft_bits: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def payload_hex(self) -> str | None:
        return self.payload.hex() if self.payload is not None else None

    def describe(self) -> str:
        if self.found:
            return f"watermark found, payload {self.payload_hex} (confidence {self.confidence:.6f})"
        if self.p_value < DETECT_P_VALUE:
            return "a watermark is present but its payload is damaged (CRC mismatch)"
        return "no watermark"


def layout_for(height: int, width: int) -> Layout:
    """Cells of 1/15 of the short side in multiples of 4 px, 8 px at least, centred.

    Big cells are what survive a re-encode (the codec keeps block averages far better than detail);
    about 15 cell rows keeps a few hundred cells for the 48 bits. Frames under 120 px use 8 px cells
    (64x64: 64 cells), under 64 px 4 px cells; below 32x32 there is no room.
    """
    short = min(height, width)
    cell = max(8, int(round(short / 15 / 4)) * 4)
    if (height // cell) * (width // cell) < MIN_CELLS:
        cell = 4
    rows, cols = height // cell, width // cell
    if rows * cols < MIN_CELLS:
        raise MediaError(
            f"a {width}x{height} frame is too small to carry the watermark",
            hint="the smallest size is 32x32 pixels; turn the watermark off for smaller clips",
        )
    return Layout(height, width, cell, rows, cols, (height - rows * cell) // 2, (width - cols * cell) // 2)


@lru_cache(maxsize=16)
def _plan(cells: int, key: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Keyed assignment of cells to coded bits (balanced) and a dither per cell."""
    rng = np.random.default_rng([key, cells])
    order = rng.permutation(cells)
    bit_of_cell = np.empty(cells, np.int64)
    bit_of_cell[order] = np.arange(cells) % CODED_BITS
    dither = rng.uniform(0.0, step, cells).astype(np.float32)
    return bit_of_cell, dither


@lru_cache(maxsize=16)
def _taper(cell: int) -> np.ndarray:
    """One side of the cell window: a Tukey taper normalised to mean 1."""
    x = (np.arange(cell) + 0.5) / cell
    taper = 0.35
    w = np.ones(cell)
    edge = x < taper / 2
    w[edge] = 0.5 - 0.5 * np.cos(2 * np.pi * x[edge] / taper)
    edge = x > 1 - taper / 2
    w[edge] = 0.5 - 0.5 * np.cos(2 * np.pi * (1 - x[edge]) / taper)
    return (w / w.mean()).astype(np.float32)


@lru_cache(maxsize=16)
def _window(cell: int) -> np.ndarray:
    """Separable Tukey window normalised to mean 1: smooth cell borders, exact cell-mean change."""
    w = _taper(cell)
    return np.outer(w, w).astype(np.float32)


def encode_payload(payload: bytes) -> np.ndarray:
    """4 bytes -> 48 coded bits (payload then CRC-16/CCITT), as 0/1 uint8."""
    if len(payload) != PAYLOAD_BITS // 8:
        raise ValueError(f"the watermark payload is {PAYLOAD_BITS // 8} bytes, got {len(payload)}")
    data = payload + _crc16(payload).to_bytes(2, "big")
    return np.unpackbits(np.frombuffer(data, np.uint8))


def decode_payload(bits: np.ndarray) -> tuple[bytes, bool]:
    data = np.packbits(bits.astype(np.uint8)).tobytes()
    payload, crc = data[:4], int.from_bytes(data[4:6], "big")
    return payload, crc == _crc16(payload)


def _crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _cell_means(luma: np.ndarray, lay: Layout) -> np.ndarray:
    grid = luma[lay.top : lay.top + lay.rows * lay.cell, lay.left : lay.left + lay.cols * lay.cell]
    # Sum rows then columns: much faster than a 4-D mean. 8-bit luma sums exactly in uint16 while a
    # cell column fits (cell * 255 < 65536), a third faster than float32; float luma sums in float32.
    exact = luma.dtype == np.uint8 and lay.cell * 255 < 65536
    rows = grid.reshape(lay.rows, lay.cell, -1).sum(axis=1, dtype=np.uint16 if exact else np.float32)
    if exact:
        rows = rows.astype(np.float32)
    return rows.reshape(lay.rows, lay.cols, lay.cell).sum(axis=2).reshape(-1) / float(lay.cell * lay.cell)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 luma, the Y the encoder writes (see encode.rgb_to_yuv420)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


class Embedder:
    """Watermarks frames one at a time (so an export can stream, report progress and cancel)."""

    def __init__(
        self, payload: bytes, height: int, width: int, *, key: int = DEFAULT_KEY, step: float = DEFAULT_STEP
    ):
        self.layout = lay = layout_for(height, width)
        self.step = float(step)
        bit_of_cell, self.dither = _plan(lay.cells, key, self.step)
        # Lattice offset per cell: bit 0 sits on dither + k*step, bit 1 half a step away.
        self.offset = self.dither + encode_payload(payload)[bit_of_cell].astype(np.float32) * (self.step / 2)
        self.window = np.tile(_window(lay.cell), (lay.rows, lay.cols))
        # A fixed keyed dither for rounding the change to whole levels: unbiased, so a cell's small
        # change survives as a change of its mean instead of rounding away. The same in every cell, so
        # the Y-plane path can look a cell's whole rounded change up by its delta (see mark_i420).
        rng = np.random.default_rng([key, height, width, 1])
        cell_dither = rng.uniform(0.0, 1.0, (lay.cell, lay.cell)).astype(np.float32)
        self.round_dither = np.tile(cell_dither, (lay.rows, lay.cols))
        # mark_i420's table: the rounded change of one cell, floor(delta * window + dither), for every
        # delta in limited-range levels on a 1/CHANGE_LEVELS grid (about 110 cells of 8-bit patterns
        # at the default step): a lookup and an add per frame instead of five float passes.
        reach = int(np.ceil(self.step / 2 * _LIMITED * CHANGE_LEVELS)) + 1
        deltas = np.arange(-reach, reach + 1, dtype=np.float32) / CHANGE_LEVELS
        table = np.floor(deltas[:, None, None] * _window(lay.cell)[None] + cell_dither[None])
        self._reach = reach
        table = table.astype(np.int8 if np.abs(table).max() < 127 else np.int16)
        # Stored [cell row, delta, cell column]: taking the deltas of a grid of cells along axis 1 gives
        # [cell row, cell rows, cells across, cell column], whole picture rows, without a transpose.
        self._changes = np.ascontiguousarray(table.transpose(1, 0, 2))
        flat = table.reshape(len(deltas), -1)
        self._lowest, self._highest = int(flat.min()), int(flat.max())
        self._energy = np.sum(flat.astype(np.int64) ** 2, axis=1)  # squared change per cell, per delta
        self.squared_error = 0.0  # of every frame marked so far, in full-range luma levels squared
        self.pixels = 0
        self._count_lock = threading.Lock()  # a parallel encode marks frames from several threads

    @property
    def psnr(self) -> float | None:
        """PSNR in dB of the frames marked so far against their originals (luma; RGB moves equally)."""
        if not self.pixels:
            return None
        mse = self.squared_error / self.pixels
        return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))

    def _target_delta(self, means: np.ndarray) -> np.ndarray:
        """Per-cell change of mean luma (full range) that puts each cell on its bit's lattice, [rows, cols]."""
        target = self.offset + np.round((means - self.offset) / self.step) * self.step
        return (target - means).reshape(self.layout.rows, self.layout.cols).astype(np.float32)

    def mark_i420(self, yuv: np.ndarray) -> None:
        """Watermark one I420 frame ([H * 3 / 2, W] uint8, BT.601 limited range, as the encoder takes it)
        in place. Only the Y plane changes: the same luma change as ``__call__`` makes through R, G and B,
        at a fraction of the cost, with one rounding instead of two.

        Each cell's change comes from a table by its delta (quantised to 1/CHANGE_LEVELS of a level, far
        below the codec's noise) and is added in one pass; limited-range Y (16..235) never needs the
        add to saturate, so it wraps in plain uint8, and a frame that would is added with clipping.
        """
        lay = self.layout
        if yuv.shape != (lay.height * 3 // 2, lay.width) or yuv.dtype != np.uint8:
            raise MediaError(f"an I420 frame of {lay.width}x{lay.height} was expected, got {yuv.shape}")
        # Limited-range Y is 16 + 219/255 of full-range luma: measure and move in full range, as the
        # detector reads it.
        means = (_cell_means(yuv[: lay.height], lay) - 16.0) * np.float32(1 / _LIMITED)
        delta = self._target_delta(means) * np.float32(_LIMITED)
        index = np.rint(delta * CHANGE_LEVELS).astype(np.intp) + self._reach
        np.clip(index, 0, self._changes.shape[1] - 1, out=index)
        change = np.take(self._changes, index, axis=1).reshape(lay.cell, lay.rows, lay.cols * lay.cell)
        region = yuv[lay.top : lay.top + lay.rows * lay.cell, lay.left : lay.left + lay.cols * lay.cell]
        # The region as [cell row, cell rows, width], like ``change`` (splitting an axis is always a view).
        rows = region.reshape(lay.rows, lay.cell, -1).transpose(1, 0, 2)
        low, high, _, _ = cv2.minMaxLoc(region)
        if change.dtype == np.int8 and low + self._lowest >= 0 and high + self._highest <= 255:
            np.add(rows, change.view(np.uint8), out=rows)  # exact: no sum leaves 0..255
            squared = float(self._energy[index].sum())
        else:
            before = region.copy()
            rows[...] = np.clip(rows + change.astype(np.int16), 0, 255)
            squared = cv2.norm(before, region, cv2.NORM_L2SQR)
        self._count(squared / _LIMITED**2)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        lay = self.layout
        if rgb.shape[:2] != (lay.height, lay.width):
            raise MediaError(f"frame size {rgb.shape[1]}x{rgb.shape[0]} differs from the clip's")
        means = _cell_means(luma_of(rgb), lay)
        delta = self._target_delta(means)
        change = delta.repeat(lay.cell, 0).repeat(lay.cell, 1)
        change *= self.window
        change += self.round_dither
        np.floor(change, out=change)
        # Saturating uint8 add/subtract of the positive and negative parts: the same change on R, G
        # and B moves luma by exactly that much and leaves chroma alone.
        up = cv2.cvtColor(np.clip(change, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
        down = cv2.cvtColor(np.clip(-change, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
        out = np.array(rgb, dtype=np.uint8, copy=True)
        region = out[lay.top : lay.top + lay.rows * lay.cell, lay.left : lay.left + lay.cols * lay.cell]
        region[...] = cv2.subtract(cv2.add(np.ascontiguousarray(region), up), down)
        self._count(cv2.norm(np.ascontiguousarray(rgb), out, cv2.NORM_L2SQR) / 3)
        return out

    def _count(self, squared_error: float) -> None:
        with self._count_lock:
            self.squared_error += squared_error
            self.pixels += self.layout.height * self.layout.width


def embed(
    frames: np.ndarray, payload: bytes, *, key: int = DEFAULT_KEY, step: float = DEFAULT_STEP
) -> np.ndarray:
    """Watermark a whole clip uint8 [T, H, W, 3]; returns a new array."""
    frames = np.asarray(frames)
    embedder = Embedder(payload, frames.shape[1], frames.shape[2], key=key, step=step)
    return np.stack([embedder(f) for f in frames])


class Detector:
    """Accumulates soft votes frame by frame; ``result()`` decides."""

    def __init__(self, height: int, width: int, *, key: int = DEFAULT_KEY, step: float = DEFAULT_STEP):
        self.layout = layout_for(height, width)
        self.step = float(step)
        self.bit_of_cell, self.dither = _plan(self.layout.cells, key, self.step)
        self.votes = np.zeros(self.layout.cells, np.complex128)
        self.weight = 0.0
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        """Add one decoded RGB frame."""
        self.add_luma(luma_of(rgb))

    def add_luma(self, luma: np.ndarray) -> None:
        """Add one frame's full-range luma (float or uint8 [H, W]), e.g. the Y plane read from a file."""
        means = _cell_means(luma.astype(np.float32, copy=False), self.layout)
        votes = np.exp(1j * (means - self.dither) * (2 * np.pi / self.step))
        # How well this frame kept the watermark, without knowing the payload: cells on either lattice
        # have the same doubled phase. A codec's motion compensation drags the pattern with the picture
        # in predicted frames, so some frames keep it far better than others; weight them by it
        # (maximal-ratio combining). The floor keeps every frame counted a little.
        coherence = float(np.abs(np.mean(votes**2)))
        weight = coherence**2 + 1.0 / self.layout.cells
        self.votes += weight * votes
        self.weight += weight
        self.frames += 1

    def result(self) -> Detection:
        if self.frames == 0:
            return Detection(False, None, 0.0, 1.0, 0.0, 0, False)
        votes = self.votes / self.weight
        # A whole-picture brightness shift (a colour conversion, a codec's rounding) turns every cell's
        # phase the same way; squaring cancels the bits, so the angle of the sum says how far to turn back.
        turn = np.angle(np.sum(votes**2)) / 2
        best: Detection | None = None
        for angle in (0.0, turn):
            found = self._decide(votes * np.exp(-1j * angle))
            if best is None or (found.found, -found.p_value) > (best.found, -best.p_value):
                best = found
        assert best is not None
        return best

    def _decide(self, votes: np.ndarray) -> Detection:
        soft = np.real(votes)
        sums = np.bincount(self.bit_of_cell, weights=soft, minlength=CODED_BITS)
        counts = np.maximum(np.bincount(self.bit_of_cell, minlength=CODED_BITS), 1)
        # The noise level comes from the quadrature part: turned so the watermark lies on the real axis,
        # the imaginary part holds noise only, as much as the real part does under "no watermark". So the
        # bit sums over that variance follow an F distribution when the clip is clean.
        noise = max(float(np.mean(np.imag(votes) ** 2)), 1e-9)
        stat = float(np.sum(sums**2 / (counts * noise)))
        p_value = float(f_dist.sf(stat / CODED_BITS, CODED_BITS, soft.size))
        margin = float(np.mean(np.abs(sums) / counts))
        # Half a step of shift swaps the two lattices: try the inverted word too; the CRC picks.
        for sign in (1.0, -1.0):
            bits = (sign * sums < 0).astype(np.uint8)
            payload, crc_ok = decode_payload(bits)
            if crc_ok:
                found = p_value < DETECT_P_VALUE
                return Detection(
                    found,
                    payload if found else None,
                    1.0 - p_value,
                    p_value,
                    margin,
                    self.frames,
                    True,
                    soft_bits=sign * sums / counts,
                )
        return Detection(
            False, None, 1.0 - p_value, p_value, margin, self.frames, False, soft_bits=sums / counts
        )


def detect(
    frames: Iterable[np.ndarray] | np.ndarray, *, key: int = DEFAULT_KEY, step: float = DEFAULT_STEP
) -> Detection:
    """Read the watermark from decoded frames (uint8 [T, H, W, 3] RGB, or [T, H, W] luma)."""
    detector: Detector | None = None
    for frame in frames:
        if detector is None:
            detector = Detector(frame.shape[0], frame.shape[1], key=key, step=step)
        if frame.ndim == 2:
            detector.add_luma(frame)
        else:
            detector.add(frame)
    if detector is None:
        return Detection(False, None, 0.0, 1.0, 0.0, 0, False)
    return detector.result()


def psnr(original: np.ndarray, marked: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over the whole clip."""
    mse = float(np.mean((original.astype(np.float64) - marked.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def bit_accuracy(detection: Detection, payload: bytes) -> float:
    """Share of the 48 coded bits read right (before the CRC decides), for measurements."""
    if detection.soft_bits.size == 0:
        return 0.0
    truth = encode_payload(payload)
    return float(np.mean((detection.soft_bits < 0).astype(np.uint8) == truth))

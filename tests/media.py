"""Make small test videos, and broken files, with PyAV: every test in the suite builds its own media.

Pictures drawn by `draw_pattern` carry their frame number as a row of black and white cells along the
bottom and a red square in the top-left corner of the upright picture. After lossy encoding, a test can
still read the number back (`read_frame_number`) to check decode order and count, and find the marker
(`marker_corner`) to check that rotation metadata was applied.

Typical use::

    path = make_video(tmp_path / "clip.mkv", codec="h264", frames=40)
    bad = write_truncated(path, tmp_path / "cut.mkv", fraction=0.5)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from har_core.video import X264_PARAMS

Draw = Callable[[int, int, int], np.ndarray]
"""draw(index, width, height) -> upright RGB picture, uint8 (height, width, 3)."""

CODECS: dict[str, tuple[str, str, str | None]] = {
    "h264": ("libx264", "yuv420p", None),
    "vp9": ("libvpx-vp9", "yuv420p", None),
    "mjpeg": ("mjpeg", "yuvj420p", None),
    "mpeg4": ("mpeg4", "yuv420p", None),
    "xvid": ("mpeg4", "yuv420p", "XVID"),
}
"""Codec name accepted by `make_video` -> (PyAV encoder, pixel format, FourCC tag or None)."""

NUMBER_BITS = 10
"""Cells in the frame-number band: numbers 0..1023 survive; larger ones wrap."""

VFR_STEPS = (1, 2, 1, 3)
"""Gaps between frames of a variable-rate video, in units of 1/fps, repeated: irregular on purpose."""

_VFR_TIME_BASE = Fraction(1, 90000)
_TONE_HZ = 440.0


def draw_pattern(index: int, width: int, height: int) -> np.ndarray:
    """The default picture: grey, a red top-left marker, a moving blue square, the frame number in binary."""
    image = np.full((height, width, 3), 128, np.uint8)
    marker = max(2, min(width, height) // 4)
    image[:marker, :marker] = (255, 0, 0)
    side = max(2, min(width, height) // 5)
    top = height // 3
    left = (index * 3) % max(1, width - side)
    image[top : top + side, left : left + side] = (0, 0, 255)
    band_top = height - max(2, height // 6)
    edges = np.linspace(0, width, NUMBER_BITS + 1).round().astype(int)
    for bit in range(NUMBER_BITS):
        on = (index >> (NUMBER_BITS - 1 - bit)) & 1
        image[band_top:, edges[bit] : edges[bit + 1]] = 255 if on else 0
    return image


def read_frame_number(image: np.ndarray) -> int:
    """Read the number `draw_pattern` drew, from the centre of each cell (works after scaling)."""
    height, width = image.shape[:2]
    band_top = height - max(2, height // 6)
    row = (band_top + height) // 2
    edges = np.linspace(0, width, NUMBER_BITS + 1)
    centres = ((edges[:-1] + edges[1:]) / 2).astype(int)
    bits = image[row, centres].mean(axis=1) > 127
    return int(sum(int(b) << (NUMBER_BITS - 1 - i) for i, b in enumerate(bits)))


def marker_corner(image: np.ndarray) -> str:
    """Which corner the red marker is in: 'top-left', 'top-right', 'bottom-left' or 'bottom-right'."""
    pixels = image.astype(np.int16)
    red = (pixels[..., 0] > 160) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    if not red.any():
        raise AssertionError("no red marker in the picture")
    rows, cols = np.nonzero(red)
    height, width = red.shape
    vertical = "top" if rows.mean() < height / 2 else "bottom"
    horizontal = "left" if cols.mean() < width / 2 else "right"
    return f"{vertical}-{horizontal}"


def frame_times(frames: int, fps: float | Fraction, vfr: bool = False) -> list[Fraction]:
    """Presentation times (seconds) `make_video` gives each frame: i/fps, or the irregular VFR_STEPS."""
    rate = Fraction(fps)
    steps = [VFR_STEPS[i % len(VFR_STEPS)] if vfr else 1 for i in range(frames)]
    times, ticks = [], 0
    for step in steps:
        times.append(ticks / rate)
        ticks += step
    return times


def make_video(
    path: Path,
    codec: str = "h264",
    container: str | None = None,
    size: tuple[int, int] = (160, 120),
    fps: Fraction | float = 30,
    frames: int = 40,
    rotation: int = 0,
    vfr: bool = False,
    audio: bool = False,
    draw: Draw | None = None,
    b_frames: int = 0,
) -> Path:
    """Write a video whose upright picture is `draw(i, *size)` for each frame i, and return its path.

    codec: a key of CODECS. container: a PyAV/FFmpeg muxer name ("mp4", "matroska", ...), or None to
    infer it from the file suffix. size: (width, height) of the upright picture; H.264 needs even sizes,
    so use vp9, mjpeg or mpeg4 for odd ones. rotation: clockwise degrees a player turns the stored
    picture (as a phone's portrait video says); the stored frames are turned the other way, so a decoder
    that honours the metadata gets `draw`'s picture back.
    vfr: frame times follow `frame_times(..., vfr=True)` (needs a container with timestamps, not AVI).
    audio: add a tone track as long as the video.
    b_frames: bidirectional frames between references (with mpeg4/xvid in AVI: "packed B-frames", whose
    timestamps FFmpeg can only guess).
    """
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90, got {rotation}")
    encoder, pix_fmt, tag = CODECS[codec]
    draw = draw or draw_pattern
    width, height = size
    quarter_turns = (rotation // 90) % 4
    stored_w, stored_h = (height, width) if quarter_turns % 2 else (width, height)
    rate = Fraction(fps)
    times = frame_times(frames, rate, vfr)
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, pix_fmt
        stream.codec_context.thread_count = 1  # same bytes on every machine, so byte offsets in tests hold
        if tag:
            stream.codec_context.codec_tag = tag
        if encoder == "libx264":  # same bytes on every run and CPU (see X264_PARAMS)
            stream.options = {"x264-params": X264_PARAMS, **({"bf": str(b_frames)} if b_frames else {})}
        elif b_frames:
            stream.options = {"bf": str(b_frames)}
        time_base = _VFR_TIME_BASE if vfr else 1 / rate
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(-rotation)
        sound = output.add_stream(_audio_codec(Path(path), container), rate=48000) if audio else None
        for index, time in enumerate(times):
            stored = np.ascontiguousarray(np.rot90(draw(index, width, height), k=quarter_turns))
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = round(time / time_base), time_base
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        if sound is not None:
            _write_tone(output, sound, float(times[-1] + 1 / rate) if times else 1.0)
    return Path(path)


def _audio_codec(path: Path, container: str | None) -> str:
    """An audio encoder the container accepts: Opus for WebM, PCM for AVI, AAC elsewhere."""
    kind = (container or path.suffix.lstrip(".")).lower()
    return {"webm": "libopus", "avi": "pcm_s16le"}.get(kind, "aac")


def _write_tone(output: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    """Encode a mono sine tone of about `seconds` into `stream` (audio frames of 960 samples)."""
    rate = stream.codec_context.sample_rate
    chunk = 960
    fmt = stream.codec_context.format.name
    for start in range(0, max(chunk, int(seconds * rate)), chunk):
        t = (start + np.arange(chunk)) / rate
        wave = 0.2 * np.sin(2 * np.pi * _TONE_HZ * t)
        samples = (wave * 32767).astype(np.int16) if fmt.startswith("s16") else wave.astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, start
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


def write_empty(path: Path) -> Path:
    """A zero-byte file."""
    Path(path).write_bytes(b"")
    return Path(path)


def write_random(path: Path, size: int = 4096, seed: int = 0) -> Path:
    """Random bytes (typically named .mp4)."""
    Path(path).write_bytes(np.random.default_rng(seed).bytes(size))
    return Path(path)


def write_text(path: Path) -> Path:
    """A plain-text file."""
    Path(path).write_text("This is not a video.\n" * 40, encoding="utf-8")
    return Path(path)


def write_png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A real PNG image, whatever the suffix of `path` (e.g. a PNG renamed .mp4)."""
    width, height = size
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "rgb24"
    picture = av.VideoFrame.from_ndarray(draw_pattern(0, width, height), format="rgb24")
    packets = encoder.encode(picture) + encoder.encode(None)
    Path(path).write_bytes(b"".join(bytes(packet) for packet in packets))
    return Path(path)


def write_truncated(source: Path, path: Path, fraction: float) -> Path:
    """Copy the first `fraction` (0..1) of `source`'s bytes to `path`, as an interrupted upload would."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
    return Path(path)


def write_corrupted(source: Path, path: Path, at: float = 0.5, length: int = 256, seed: int = 0) -> Path:
    """Copy `source` with `length` bytes at fraction `at` of the file overwritten by random bytes."""
    data = bytearray(Path(source).read_bytes())
    start = int(len(data) * at)
    data[start : start + length] = np.random.default_rng(seed).bytes(len(data[start : start + length]))
    Path(path).write_bytes(bytes(data))
    return Path(path)


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A container (format from the suffix, e.g. .mp4 or .m4a) holding one audio stream and no video."""
    with av.open(str(path), "w") as output:
        stream = output.add_stream(_audio_codec(Path(path), None), rate=48000)
        _write_tone(output, stream, seconds)
    return Path(path)


def write_zero_frames(path: Path) -> Path:
    """A Matroska file that declares an H.264 video stream but holds no video frames (audio only).

    MP4 cannot express this (its muxer drops an empty track), so the container is always Matroska.
    """
    with av.open(str(path), "w", format="matroska") as output:
        video = output.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = output.add_stream("libopus", rate=48000)
        _write_tone(output, sound, 0.5)
        output.mux(video.encode(None))
    return Path(path)


def decoded_numbers(images: Sequence[np.ndarray]) -> list[int]:
    """`read_frame_number` of each picture, for comparing decode order in one assertion."""
    return [read_frame_number(image) for image in images]

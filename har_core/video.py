"""Video in and out with PyAV: probe, stream upright RGB frames with real timestamps, write browser-ready H.264.

Decoding streams one frame at a time, so memory does not grow with the length of the video. Frames are
turned upright according to the container's display matrix (phones store portrait video as landscape
frames plus a rotation), so every coordinate downstream refers to the picture as people see it.
Anything that goes wrong with the input becomes a `VideoError` with a one-line message; FFmpeg's own
exceptions never reach the user.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from har_core.errors import OutputError, VideoError

DECODE_THREADS = min(4, os.cpu_count() or 1)
"""Decoder threads for pictures larger than `ONE_THREAD_DECODE_PIXELS`. Pose inference, not decoding, is the
bottleneck; more threads only hold more frames in flight (memory: each is a full picture, 50 MB at 8K) and
take cores from inference."""

ONE_THREAD_DECODE_PIXELS = 1280 * 720
"""Pictures up to this size decode on one thread. FFmpeg's frame threads cost a third more CPU (640x480 H.264:
0.36 against 0.27 ms a frame) and one thread keeps ahead of the pipeline at this size: in its render pass,
which is CPU-bound, one thread took 0.4 s (640x480) and 0.6 s (1280x720) off a minute of video."""

LAZY_MAX_PIXELS = 1920 * 1088
"""Largest decoded picture a `DecodedFrame` holds unconverted (3 MB in 8-bit 4:2:0); larger ones are
converted at once, so the frames a pipeline keeps in flight stay small for 4K and 8K input."""

_VFR_SAMPLE_PACKETS = 120
"""Packets whose timestamps `probe` inspects to tell constant from variable frame rate."""

_REORDER_DEPTH = 16
"""Most frames a decoder reorders (H.264's limit): the last timestamps of a partial sample may have holes."""

_ASSUMED_FPS = Fraction(30)
"""Rate used only when the container states none (single-frame or broken files)."""

_NOT_VIDEO_FORMATS = {"image2": "a still image", "tty": "a text file"}
"""Demuxers FFmpeg will happily open that do not hold a video; `*_pipe` demuxers are still images too."""

_REFERENCING_FORMATS = frozenset({"hls", "dash", "webm_dash_manifest", "concat", "imf", "sdp", "rtp", "rtsp"})
"""Demuxers that open the files or streams named inside their input (playlists, manifests, session files).
FFmpeg is never allowed to start them: an input must not make us read other files on the machine (another
user's upload, a FIFO that blocks forever) or reach the network."""

_ALLOWED_FORMATS = ",".join(sorted(av.formats_available - _REFERENCING_FORMATS))
"""FFmpeg's `format_whitelist`: every demuxer of this build except the referencing ones."""

_NO_FRAMES = "The video has no frames that can be decoded (is the file truncated or damaged?)."

_ENCODER_TIME_BASE = Fraction(1, 90000)
"""Output ticks: 90 kHz represents common rates (24, 25, 30000/1001, 60) exactly and VFR times finely."""


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video without decoding more than its first frame.

    width, height: the upright picture, after rotation. rotation: clockwise degrees (0, 90, 180, 270) the
    stored frames are turned to show them upright, as the old `rotate` tag of phone videos says.
    frame_count: exact when the container states it (`frame_count_exact`), else duration x fps.
    fps: the container's average rate (for VFR video, the mean). is_vfr: whether the timestamps of the
    first packets are irregular; a video that changes rate only later is reported as constant.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    fps: Fraction
    frame_count: int
    frame_count_exact: bool
    duration_s: float
    has_audio: bool
    is_vfr: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (for summary.json and the dashboard)."""
        return {
            "path": str(self.path),
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "fps": float(self.fps),
            "frame_count": self.frame_count,
            "frame_count_exact": self.frame_count_exact,
            "duration_s": self.duration_s,
            "has_audio": self.has_audio,
            "is_vfr": self.is_vfr,
        }


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its position in decode order, its presentation time, and the upright picture.

    index: 0, 1, 2 ... over the frames that decoded (a corrupt frame that is skipped takes no index).
    time_s: presentation time relative to the first frame, from the stream's timestamps (not index/fps).
    image: RGB uint8 (height, width, 3), upright; downscaled if `iter_frames` was given `max_side`.
    """

    index: int
    time_s: float
    image: np.ndarray


def probe(path: Path) -> VideoInfo:
    """Describe a video cheaply: container header, the first packets' timestamps and the first frame.

    Raises VideoError when the file is missing, empty, not a video, has no video stream or no frame
    that decodes, so a run fails before any work is done.
    """
    container, stream = _open(Path(path))
    with container:
        first, packet_pts = _first_frame_and_pts(container, stream)
        if first is None:
            raise VideoError(_NO_FRAMES)
        rotation = _rotation_cw(first, stream)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        is_vfr = _irregular(packet_pts)
        exact = stream.frames > 0
        fps = _rate(stream)
        if is_vfr and not exact:
            # Matroska states the nominal rate, not the mean, and no frame count: measure the mean instead.
            fps = _mean_rate(packet_pts, stream.time_base) or fps
        duration_s = _duration_s(container, stream)
        frame_count = stream.frames if exact else max(1, round(duration_s * fps))
        return VideoInfo(
            path=Path(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            width=width,
            height=height,
            rotation=rotation,
            fps=fps,
            frame_count=frame_count,
            frame_count_exact=exact,
            duration_s=duration_s if duration_s > 0 else float(frame_count / fps),
            has_audio=bool(container.streams.audio),
            is_vfr=is_vfr,
        )


class DecodedFrame:
    """A decoded frame whose upright RGB picture is made on first use, in whichever thread uses it.

    Why: turning a 640x480 frame into RGB costs more CPU than decoding it (0.36 ms to 256 px, 0.55 ms at full
    size, against 0.27 ms). The pipeline's pose pass looks at the picture of only the frames it estimates
    poses on (every second one at 30 fps) and never converts the others (bench/README.md). The decoded
    picture is held until then, so pictures above `LAZY_MAX_PIXELS` are converted as they are decoded, which
    keeps the frames in flight small for 4K and 8K input. Use the picture from one thread at a time.
    """

    __slots__ = ("_image", "_rotation", "_source", "_to_rgb", "index", "time_s")

    def __init__(self, index: int, time_s: float, source: av.VideoFrame, rotation: int, to_rgb: _UprightRgb) -> None:
        self.index, self.time_s = index, time_s
        self._source: av.VideoFrame | None = source
        self._rotation, self._to_rgb = rotation, to_rgb
        self._image: np.ndarray | None = None
        if source.width * source.height > LAZY_MAX_PIXELS:
            self._convert()

    @property
    def image(self) -> np.ndarray:
        """RGB uint8 (height, width, 3), upright, downscaled to the `max_side` given to `iter_decoded`."""
        return self._image if self._image is not None else self._convert()

    def forget_picture(self) -> None:
        """Let the picture go (index and time stay): for frames whose picture will never be looked at."""
        self._source = self._image = None

    def _convert(self) -> np.ndarray:
        if self._source is None:
            raise RuntimeError(f"The picture of frame {self.index} was already let go.")
        self._image = self._to_rgb(self._source, self._rotation)
        self._source = None
        return self._image


def iter_frames(path: Path, max_side: int | None = None) -> Iterator[Frame]:
    """Yield every decodable frame of the first video stream, upright, in presentation order.

    max_side: if the longer side exceeds it, frames are scaled down (area averaging) so it equals
    max_side. Memory then stays bounded for 8K input, and every coordinate computed on these frames is in
    the downscaled picture, not the original.

    A corrupt packet mid-stream is skipped; a truncated file yields the frames before the damage. Raises
    VideoError if the file cannot be opened as a video or not a single frame decodes; being a generator,
    it raises on the first `next()`, so call `probe` first to fail before any work starts. Close the
    generator (or use `contextlib.closing`) when stopping early, to release the file at once.
    """
    with contextlib.closing(iter_decoded(path, max_side)) as frames:
        for frame in frames:
            yield Frame(index=frame.index, time_s=frame.time_s, image=frame.image)


def iter_decoded(path: Path, max_side: int | None = None) -> Iterator[DecodedFrame]:
    """`iter_frames`, with each picture converted to RGB only when it is first used (`DecodedFrame`)."""
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    container, stream = _open(Path(path))
    with container:
        stream.thread_type = "AUTO"
        context = stream.codec_context
        context.thread_count = 1 if context.width * context.height <= ONE_THREAD_DECODE_PIXELS else DECODE_THREADS
        step = 1 / float(_rate(stream))
        rotation = 0
        first_pts: int | None = None
        # AVI stores no presentation times: one chunk per frame period. FFmpeg's guesses for packed B-frames
        # (DivX/Xvid) come out of order, so frames there are timed by their index at the nominal rate.
        trust_pts = container.format.name != "avi"
        time_s = 0.0
        index = 0
        to_rgb = _UprightRgb(max_side)
        for frame in _decoded(container, stream):
            if index == 0:
                rotation, first_pts = _rotation_cw(frame, stream), frame.pts
            elif trust_pts and frame.pts is not None and first_pts is not None:
                stamped = float((frame.pts - first_pts) * stream.time_base)
                time_s = stamped if stamped > time_s else time_s + step  # never backwards
            else:
                time_s += step  # no usable timestamp: assume the nominal rate
            yield DecodedFrame(index, time_s, frame, rotation, to_rgb)
            index += 1
        if index == 0:
            raise VideoError(_NO_FRAMES)


def _open(path: Path) -> tuple[av.container.InputContainer, av.VideoStream]:
    """Open `path` and return it with its first video stream, or raise a VideoError saying why not."""
    if not path.exists():
        raise VideoError(f"Video file not found: {path}")
    if not path.is_file():
        raise VideoError(f"Not a video file: {path} is a folder or device.")
    if path.stat().st_size == 0:
        raise VideoError("The file is empty (0 bytes), not a video.")
    try:
        # An absolute path cannot be mistaken for an FFmpeg protocol URL; the protocol whitelist keeps every
        # demuxer off the network, the format whitelist refuses playlists before they open what they list.
        container = av.open(str(path.resolve()),
                            container_options={"protocol_whitelist": "file", "format_whitelist": _ALLOWED_FORMATS})
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        if isinstance(error, av.ArgumentError):  # EINVAL: FFmpeg recognised a format that is not on the whitelist
            raise VideoError("Not a video file: it is a playlist or stream description that refers to other "
                             "files, which are not opened.") from error
        if _starts_like_mp4(path):
            raise VideoError(
                "The MP4/MOV file is incomplete or damaged: its index is missing (interrupted recording or upload?)."
            ) from error
        raise VideoError("Not a video file: the format is not recognised or the header is damaged.") from error
    fmt = container.format.name
    kind = _NOT_VIDEO_FORMATS.get(fmt, "a still image" if fmt.endswith("_pipe") else None)
    if kind is not None:
        container.close()
        raise VideoError(f"Not a video file: it is {kind} ({fmt}).")
    if not container.streams.video:
        has_audio = bool(container.streams.audio)
        container.close()
        if has_audio:
            raise VideoError("The file has an audio stream but no video stream.")
        raise VideoError("The file contains no video stream.")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise VideoError("The video uses a codec this installation cannot decode.")
    return container, stream


def _starts_like_mp4(path: Path) -> bool:
    """True if the file begins with an ISO media 'ftyp' box, i.e. it was meant to be an MP4/MOV."""
    with path.open("rb") as handle:
        return handle.read(8)[4:8] == b"ftyp"


def _decoded(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Decode `stream`, skipping packets the decoder rejects and stopping where the file becomes unreadable.

    Why not `container.decode`: one bad packet would end the whole run with an FFmpeg exception.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError:
            break  # truncated or damaged container: keep what decoded, then drain the decoder
        try:
            yield from stream.decode(packet)
        except av.FFmpegError:
            continue  # corrupt frame data: skip this packet, later keyframes still decode
    try:
        yield from stream.decode(None)
    except av.FFmpegError:
        return


def _first_frame_and_pts(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[av.VideoFrame | None, list[int]]:
    """Demux the first packets (timestamps for the VFR check) and decode until the first frame appears.

    The timestamps come back sorted; when the sample stops before the end of the file, its last
    _REORDER_DEPTH are dropped, because frames that follow them in time may sit in packets not yet read.
    """
    first: av.VideoFrame | None = None
    packet_pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                packet_pts.append(packet.pts)
            if first is None:
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError:
                    frames = []
                first = frames[0] if frames else None
            if first is not None and len(packet_pts) >= _VFR_SAMPLE_PACKETS:
                return first, sorted(packet_pts)[:-_REORDER_DEPTH]
    except av.FFmpegError:
        pass  # damaged after the first packets: what was read is enough for a description
    return first, sorted(packet_pts)


def _irregular(pts: list[int]) -> bool:
    """True if the gaps between timestamps differ by more than rounding (one tick or 10 %)."""
    gaps = np.diff(np.unique(pts))
    if gaps.size < 2:
        return False
    return bool(gaps.max() - gaps.min() > max(1.0, 0.1 * float(np.median(gaps))))


def _mean_rate(pts: list[int], time_base: Fraction | None) -> Fraction | None:
    """Frames per second over the sampled packets, or None if they span no time."""
    span = max(pts, default=0) - min(pts, default=0)
    if time_base is None or span <= 0:
        return None
    return Fraction(len(set(pts)) - 1) / (span * time_base)


def _rotation_cw(frame: av.VideoFrame, stream: av.VideoStream) -> int:
    """Clockwise quarter turns (in degrees) that show the picture upright.

    PyAV reports the display matrix as a counter-clockwise angle on each frame; files muxed by old tools
    may carry only a `rotate` tag (clockwise) in the stream metadata.
    """
    degrees = -frame.rotation
    if degrees == 0:
        try:
            degrees = int(float(stream.metadata.get("rotate", "0")))
        except ValueError:
            degrees = 0
    return (round(degrees / 90) * 90) % 360


def _rate(stream: av.VideoStream) -> Fraction:
    """The stream's average frame rate, else its guessed rate, else 30 fps (see _ASSUMED_FPS)."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate is not None and 0 < rate <= 1000:
            return Fraction(rate)
    return _ASSUMED_FPS


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Duration of the video stream, else of the whole container, else 0 (unknown)."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return 0.0


class _UprightRgb:
    """Converts one stream's frames to RGB (honouring each frame's colour range), scaled down to `max_side` if
    larger, turned upright.

    One swscale context serves every frame: PyAV's `VideoFrame.to_ndarray` builds a new one per frame, which
    made conversion cost 2.7 times as much (0.97 against 0.36 ms of CPU from 640x480 to 256 px; the pictures
    are identical). A lock lets frames of one stream be converted from several threads. Scaling happens in
    swscale before the output is allocated, so an 8K frame never exists as a full-size RGB array.
    """

    def __init__(self, max_side: int | None) -> None:
        self._max_side = max_side
        self._reformatter = VideoReformatter()
        self._lock = threading.Lock()

    def __call__(self, frame: av.VideoFrame, rotation: int) -> np.ndarray:
        width, height = frame.width, frame.height
        size: dict[str, int] = {}
        if self._max_side is not None and max(width, height) > self._max_side:
            scale = self._max_side / max(width, height)
            size = {"width": max(1, round(width * scale)), "height": max(1, round(height * scale))}
        with self._lock:
            rgb = self._reformatter.reformat(frame, format="rgb24", src_color_range=frame.color_range,
                                             interpolation="AREA", **size)
        image = rgb.to_ndarray()
        if rotation:
            image = np.ascontiguousarray(np.rot90(image, k=-(rotation // 90)))
        return image


X264_PARAMS = "cpu-independent=1"
"""libx264 settings every H.264 file this project writes uses.

Without `cpu-independent`, libx264's AVX-512 code (Intel CPUs; AMD's Zen 2/3 lack AVX-512) gives output
that depends on what happens to lie in memory: the same pictures encoded twice in one process came out
as different bytes, so videos made for tests, and the annotated video, changed from run to run on Intel
and not on AMD. With it, libx264 uses its portable code for those steps: the same pictures give the same
bytes on every x86-64 CPU, at about 3% of the encoding time (0.1 ms per 640x480 frame here).
"""


def _i420_frame(i420: np.ndarray) -> av.VideoFrame:
    """A yuv420p VideoFrame holding a copy of OpenCV's I420 picture ((height * 3 / 2, width) uint8: Y rows,
    then U, then V), copied plane by plane (a sixth of `VideoFrame.from_ndarray`'s time at 640x480) when
    FFmpeg's rows carry no padding, through `from_ndarray` otherwise."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    frame = av.VideoFrame(width, height, "yuv420p")
    luma, chroma = width * height, width * height // 4
    if any(plane.line_size != plane.width for plane in frame.planes):
        return av.VideoFrame.from_ndarray(i420, format="yuv420p")
    flat = i420.reshape(-1)
    for plane, start, size in zip(frame.planes, (0, luma, luma + chroma), (luma, chroma, chroma), strict=True):
        plane.update(flat[start : start + size])
    return frame


class H264Writer:
    """Write RGB frames to a browser-playable MP4 (H.264, yuv420p, BT.601, moov atom first), atomically.

    Frames go to a hidden temporary file beside `path`; a clean exit from the `with` block renames it to
    `path`, an exception removes it, so `path` is either complete or absent. Odd widths or heights get
    one extra pixel (a copy of the edge), because yuv420p needs even sizes and cropping could cut a
    person off. Encoding runs in FFmpeg with the GIL released, so a pipeline thread can encode while
    another runs pose inference.

    rate: the nominal frame rate (pass the input's Fraction). write(image, time_s) places a frame at its
    own time, which keeps variable-rate input in sync; without time_s a frame goes at index / rate.
    threads: libx264 threads; by default half the cores (at most 4), leaving the rest to inference.

    RGB becomes YUV with OpenCV's SIMD BT.601 conversion (limited range, chroma taken from the top-left
    pixel of each 2x2 block, as swscale's unscaled path does too) and the stream is tagged BT.601 so
    players invert exactly that. It costs a fifth of swscale's BT.709 path (0.7 vs 3.7 ms per 720p
    frame here), which was a third of the encoding cost; BT.601 and BT.709 differ only in the matrix,
    and the tag keeps colours right.
    """

    def __init__(
        self,
        path: Path,
        rate: Fraction | float,
        *,
        preset: str = "veryfast",
        crf: int = 23,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.rate = Fraction(rate).limit_denominator(1001 * 1000)
        if self.rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.preset = preset
        self.crf = crf
        self.threads = threads if threads is not None else max(1, min(4, (os.cpu_count() or 2) // 2))
        self.frames_written = 0
        self._temp: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._i420: np.ndarray | None = None  # reused by `prepare`: a new array each frame costs page faults
        self._last_pts = -1

    def __enter__(self) -> Self:
        parent = self.path.parent
        try:
            handle, name = tempfile.mkstemp(dir=parent, prefix=f".{self.path.name}.", suffix=".partial")
            os.close(handle)
            self._temp = Path(name)
            self._container = av.open(name, "w", format="mp4", options={"movflags": "+faststart"})
        except (OSError, av.FFmpegError) as error:
            self._discard()
            raise OutputError(f"Cannot write the video {self.path.name}: {_reason(error)}.") from error
        return self

    def prepare(self, image: np.ndarray) -> av.VideoFrame:
        """Check one RGB uint8 (height, width, 3) picture and turn it into the encoder's (padded to even
        sizes, RGB -> BT.601 I420) without encoding it: the half of `write` a caller may run in another
        thread than the encoding, so that thread does nothing but feed libx264 (`BackgroundEncoder`; with
        both halves in the encoding thread the pipeline's render pass waited on it: 0.5 ms of its 1.9 ms a
        640x480 frame). Prepare frames in the order they are written, from one thread."""
        if self._container is None:
            raise RuntimeError("H264Writer used outside its `with` block")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if self._size is None:
            self._size = (width, height)
        elif (width, height) != self._size:
            raise ValueError(f"frame size {width}x{height} differs from the first frame's {self._size}")
        if height % 2 or width % 2:
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        self._i420 = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420, dst=self._i420)
        return _i420_frame(self._i420)

    def write_prepared(self, frame: av.VideoFrame, time_s: float | None = None) -> None:
        """Encode a picture from `prepare` at `time_s` (default: index / rate)."""
        if self._container is None:
            raise RuntimeError("H264Writer used outside its `with` block")
        if self._stream is None:
            self._stream = self._add_stream(frame.width, frame.height)
        seconds = time_s if time_s is not None else self.frames_written / self.rate
        pts = max(round(seconds / _ENCODER_TIME_BASE), self._last_pts + 1)
        frame.pts, frame.time_base = pts, _ENCODER_TIME_BASE
        self._last_pts = pts
        self._mux(self._stream.encode(frame))
        self.frames_written += 1

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        """Encode one RGB uint8 (height, width, 3) picture; all pictures must have the first one's size."""
        self.write_prepared(self.prepare(image), time_s)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self._discard()
            return
        if self._stream is None:
            self._discard()
            raise OutputError("No frames were written, so there is no video to save.")
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            os.chmod(self._temp, 0o644)  # mkstemp makes 0600; a finished video is an ordinary readable file
            os.replace(self._temp, self.path)
        except OutputError:
            self._discard()
            raise
        except (OSError, av.FFmpegError) as failure:
            self._discard()
            raise OutputError(f"Cannot write the video {self.path.name}: {_reason(failure)}.") from failure

    def _add_stream(self, width: int, height: int) -> av.VideoStream:
        """Create the libx264 stream for the first frame's size, rounded up to even."""
        stream = self._container.add_stream(
            "libx264", rate=self.rate,
            options={"preset": self.preset, "crf": str(self.crf), "x264-params": X264_PARAMS},
        )
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.time_base = _ENCODER_TIME_BASE
        context.thread_count = self.threads
        # Tag what `write` converts to (BT.601 matrix, limited range) so players invert exactly that; the
        # primaries and transfer of sRGB pictures are BT.709's.
        context.colorspace = 6  # SMPTE 170M = BT.601 matrix
        context.color_primaries = context.color_trc = 1  # BT.709
        context.color_range = 1  # limited ("tv") range
        return stream

    def _mux(self, packets: list[av.Packet]) -> None:
        """Hand packets to the muxer; a failing disk becomes an OutputError."""
        try:
            self._container.mux(packets)
        except (OSError, av.FFmpegError) as error:
            raise OutputError(f"Cannot write the video {self.path.name}: {_reason(error)}.") from error

    def _discard(self) -> None:
        """Close without finishing and delete the temporary file; nothing appears at `path`."""
        if self._container is not None:
            try:
                self._container.close()
            except (OSError, av.FFmpegError):
                pass  # the file is being thrown away; a failed trailer does not matter
            self._container = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None


def _reason(error: BaseException) -> str:
    """A short cause for an OS or FFmpeg error (e.g. 'No space left on device')."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


"""`analyze()`: one video in, the four outputs of docs/outputs.md out, with progress and atomic results.

Two passes over the video, because a frame's label depends on later frames (32-frame windows, centred
smoothing) and storing decoded frames would make memory grow with the video:

1. decode → pose → track → keep only keypoints (`PoseLog`), then classify every window (`timeline`);
2. decode again → draw → H.264 encode; then the data files are written from the keypoints and timelines.

Decoding and encoding run in their own threads with bounded queues, and pose estimation in one thread
per MoveNet worker, so FFmpeg (decode), OpenVINO or LiteRT (pose) and libx264 (encode) keep every core busy:
all three release the GIL. Colour conversion runs where it does not hold anyone up: pass 1 turns into RGB, at
the pose model's input size, only the frames it estimates poses on, in the decode thread; pass 2 converts
back to YUV in the drawing thread, so the encoding thread only feeds libx264. The second decode costs about
0.8 ms of CPU a 640x480 frame (decode and RGB), far less than keeping frames would cost in memory, and
labelling frames while pass 1 runs would need an incremental copy of the timeline rules (and the automatic
input size may run pass 1 again). Measurements and profiles: bench/README.md. Everything is written into a
hidden sibling of `out_dir` and renamed into place only when all of it succeeded, so a failure never leaves a
half-written result behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from har_core.classifier import ActionClassifier
from har_core.errors import HarError, LimitError, NoPersonError, TooShortError, VideoError
from har_core.features import WINDOW
from har_core.frame_rate import CLASSIFIER_FPS, sample_count
from har_core.output_dir import check_out_dir, publish, staging_dir
from har_core.outputs import (
    FRAMES_FILE,
    KEYPOINTS_FILE,
    OUTPUT_FILES,
    SUMMARY_FILE,
    VIDEO_FILE,
    KeypointsWriter,
    package_versions,
    people_records,
    segment_records,
    write_frames_csv,
    write_summary,
)
from har_core.pose import RUNTIMES, BackendInfo, PoseBackend, create_pose_backend
from har_core.pose_size import BASE_INPUT_SIZE, larger_input_size, main_person_height
from har_core.pose_stride import MAX_POSE_EVERY, StridedFrame, auto_pose_every, fill_between, strided
from har_core.poses import Poses
from har_core.render import FrameAnnotations, annotate_frame, default_annotators
from har_core.skeleton import NUM_CLASSES
from har_core.timeline import PersonTimeline, PoseLog, TimelineSettings, compute_timelines
from har_core.tracking import PoseTracker, choose_primary
from har_core.video import DecodedFrame, H264Writer, VideoInfo, iter_decoded, iter_frames, probe

PEOPLE_CHOICES = ("all", "primary")
POSE_BATCH = 8  # frames per pose-backend call
QUEUE_FRAMES = 16  # decoded frames in flight per queue: bounds memory, enough to keep each thread busy
PROGRESS_EVERY = 8  # frames between progress callbacks in the render pass
CPUS = os.cpu_count() or 1
MAX_THREADS = 4  # per kind of work: x264 threads, MoveNet interpreters


def encode_threads(cpus: int) -> int:
    """x264 threads for a run that may use `cpus` cores: all but one, which decoding, drawing and colour
    conversion keep busy in the render pass. x264's frame threads cost CPU of their own: on 2 cores one x264
    thread beside the drawing took 2.9 s for the 640x480 minute against 3.1 s with two (1280x720, 4 people:
    10.0 against 10.2 s)."""
    return max(1, min(MAX_THREADS, cpus - 1))


def pose_workers(cpus: int) -> int:
    """MoveNet interpreters working side by side, each on its own frames, for a run on `cpus` cores.

    One LiteRT interpreter runs one frame at a time and its threads split each layer of a small (256 px)
    input, which scales poorly; whole frames per interpreter keep every core busy without that
    synchronisation.
    """
    return max(1, min(MAX_THREADS, cpus))


# x264's `superfast` takes 20-40% less CPU than `veryfast` at the same quality (crf 23) for files 1.2-2.5x
# as large (a real 640x480 clip: 5.4 -> 3.3 ms a frame, 851 -> 1,048 KB); pass 2 is mostly encoding.
ENCODE_PRESET = "superfast"

T = TypeVar("T")

# The shortest video with one window at the classifier's frame rate, as error messages put it.
_NEEDED = f"at least {WINDOW} frames at {CLASSIFIER_FPS:g} fps (about {WINDOW / CLASSIFIER_FPS:.1f} s)"


@dataclass
class AnalysisSettings:
    """Everything a user can choose for one analysis (stored with the run, part of its cache key).

    Limits are checked on the container header before any decoding, and the frame limit again while
    decoding (headers can lie). Frames larger than `max_side` are scaled down for pose estimation and for
    the annotated video, so 8K input costs no more memory than `max_side` input; coordinates in the outputs
    are then in the scaled picture (summary.json records its size).
    """

    backend: str = "movenet"  # movenet | detectron2
    input_size: int | None = None  # MoveNet input, multiple of 32; None: auto (256, larger for small people)
    pose_runtime: str = "openvino"  # openvino | litert: what runs MoveNet (same weights)
    pose_every: int | None = None  # poses on every Nth frame, the rest interpolated; None: auto (~15 a second)
    device: str = "auto"  # auto | cpu | cuda
    people: str = "all"  # all | primary
    threshold: float = 0.5  # top probability below this -> UNCERTAIN
    smoothing: int = 5  # centred moving average over frames; 0/1 = off
    max_frames: int | None = 72_000  # 20 min at 60 fps
    max_seconds: float | None = 1200.0
    max_pixels: int | None = 7680 * 4320  # 8K
    max_side: int = 1920  # larger frames are processed and rendered scaled down to this longer side
    model: str | None = None  # action model checkpoint folder (a fine-tuned one); None: the shipped checkpoint


# The stage of a second pose pass at a larger input, when the automatic size found the main person small.
POSE_AGAIN_STAGE = "pose_again"
FRAME_STAGES = ("pose", POSE_AGAIN_STAGE, "render")  # stages whose progress counts frames


@dataclass(frozen=True)
class Progress:
    """Where a run is: stage ("pose", maybe "pose_again", "actions", "render", "done"), frames done of total,
    speed, time left."""

    stage: str
    done: int
    total: int | None
    fps: float
    eta_s: float | None


@dataclass
class AnalysisResult:
    """What `analyze` produced: the output folder and the headline facts (the rest is in summary.json)."""

    out_dir: Path
    video: VideoInfo
    frames: int
    people: list[int]
    primary_id: int | None
    timelines: list[PersonTimeline]
    timings: dict[str, float]

    @property
    def files(self) -> dict[str, Path]:
        return {name: self.out_dir / name for name in OUTPUT_FILES}


@dataclass
class _Timer:
    """Accumulated seconds per named stage, summed over the threads that work on it (so "pose" with two
    workers can exceed the wall time of pass 1); the `*_wall` and "total" entries are elapsed time."""

    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed

    def rounded(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self.seconds.items()}


class _ProgressReporter:
    """Turns frame counts into `Progress` (fps and ETA over the current stage) for the callback."""

    def __init__(self, callback: Callable[[Progress], None] | None) -> None:
        self._callback = callback
        self._stage = ""
        self._started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._callback is None:
            return
        if stage != self._stage:
            self._stage, self._started = stage, time.perf_counter()
        elapsed = time.perf_counter() - self._started
        fps = done / elapsed if elapsed > 0 and done else 0.0
        eta = (max(total - done, 0) / fps) if (total is not None and fps > 0) else None
        self._callback(Progress(stage, done, total, round(fps, 2), None if eta is None else round(eta, 2)))


class _Stop(Exception):
    """Raised inside a producer thread when its consumer has gone away."""


def _in_thread(items: Iterator[T], name: str) -> Iterator[T]:
    """Iterate `items` in a background thread through a bounded queue; errors re-raise in the caller.

    Closing the returned generator (or an exception in the caller) stops the producer at its next item
    and closes `items` in that thread, so an abandoned decode does not keep running or keep its file open.
    """
    channel: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    stop = threading.Event()
    done = object()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stop

    def produce() -> None:
        try:
            for item in items:
                put((None, item))
            put((None, done))
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            with contextlib.suppress(_Stop):
                put((exc, None))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            error, item = channel.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join()


class BackgroundEncoder:
    """Feeds an `H264Writer` from a bounded queue in its own thread, so encoding overlaps drawing (or, for a
    live recording, processing); `write` blocks only when the queue is full, so no frame is ever lost.

    `write` converts the picture to the encoder's format in the caller's thread (`H264Writer.prepare`), so
    the encoding thread does nothing but feed libx264, which is the render pass's bottleneck."""

    def __init__(self, writer: H264Writer, timer: _Timer | None = None) -> None:
        self._writer, self._timer = writer, timer
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="h264-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks on a dead consumer
            try:
                started = time.perf_counter()
                self._writer.write_prepared(*item)
                if self._timer is not None:
                    self._timer.add("encode", started)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the pipeline thread
                self._error = exc

    def write(self, image: np.ndarray, time_s: float) -> None:
        if self._error is not None:
            raise self._error
        started = time.perf_counter()
        frame = self._writer.prepare(image)
        if self._timer is not None:
            self._timer.add("encode", started)
        self._queue.put((frame, time_s))

    def finish(self) -> None:
        """Wait for every queued frame; re-raise an encoding error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _check_limits(info: VideoInfo, settings: AnalysisSettings) -> None:
    """Refuse inputs beyond the configured limits before any decoding work is done."""
    if settings.max_pixels is not None and info.width * info.height > settings.max_pixels:
        raise LimitError(f"The video is {info.width}x{info.height}; the limit is {settings.max_pixels:,} pixels "
                         "per frame.")
    if settings.max_seconds is not None and info.duration_s > settings.max_seconds:
        raise LimitError(f"The video lasts {info.duration_s:.0f} s; the limit is {settings.max_seconds:.0f} s.")
    if settings.max_frames is not None and info.frame_count > settings.max_frames:
        raise LimitError(f"The video has about {info.frame_count:,} frames; the limit is {settings.max_frames:,}.")
    if info.frame_count_exact and sample_count(np.arange(info.frame_count) / (info.fps or CLASSIFIER_FPS)) < WINDOW:
        raise TooShortError(f"The video has {info.frame_count} frames ({info.duration_s:.2f} s); {_NEEDED} are "
                            "needed to recognise an action.")


def _check_settings(settings: AnalysisSettings) -> None:
    """Refuse settings no run could honour, with the same one-line messages the CLI shows."""
    if settings.pose_runtime not in RUNTIMES:
        raise HarError(f"pose_runtime must be one of {', '.join(RUNTIMES)}, not {settings.pose_runtime!r}.")
    if settings.people not in PEOPLE_CHOICES:
        raise HarError(f"people must be one of {', '.join(PEOPLE_CHOICES)}, not {settings.people!r}.")
    if not 0.0 <= settings.threshold <= 1.0:
        raise HarError(f"The uncertainty threshold must be between 0 and 1, not {settings.threshold}.")
    if settings.smoothing < 0:
        raise HarError(f"Smoothing must be 0 or more frames, not {settings.smoothing}.")
    if settings.pose_every is not None and not 1 <= settings.pose_every <= MAX_POSE_EVERY:
        raise HarError(f"pose_every must be between 1 and {MAX_POSE_EVERY}, not {settings.pose_every}.")
    if settings.max_side < 64:
        raise HarError(f"max_side must be at least 64 pixels, not {settings.max_side}.")


def _limited(frames: Iterator[DecodedFrame], settings: AnalysisSettings) -> Iterator[DecodedFrame]:
    """Enforce the frame and duration limits while decoding, for streams whose header states no length."""
    for frame in frames:
        if settings.max_frames is not None and frame.index >= settings.max_frames:
            raise LimitError(f"The video has more than {settings.max_frames:,} frames, the configured limit.")
        if settings.max_seconds is not None and frame.time_s > settings.max_seconds:
            raise LimitError(f"The video lasts more than {settings.max_seconds:.0f} s, the configured limit.")
        yield frame


def _timed(frames: Iterator[T], timer: _Timer) -> Iterator[T]:
    """Count the time spent producing frames, decoding and any conversion, as "decode" (in whichever thread
    iterates)."""
    while True:
        started = time.perf_counter()
        frame = next(frames, None)
        timer.add("decode", started)
        if frame is None:
            return
        yield frame


@dataclass
class PoseRun:
    """What pass 1 leaves behind: every frame's tracked poses, frame times, frame size, the tracker's stats,
    the pose stride it used and the backend that estimated the poses (for summary.json)."""

    log: PoseLog
    times: np.ndarray
    frame_size: tuple[int, int]
    tracker: PoseTracker
    pose_every: int
    backend: BackendInfo


def _load_pose_backends(settings: AnalysisSettings, input_size: int, cpus: int) -> list[PoseBackend]:
    """The backend each pose worker calls: one thread-safe MoveNet shared by `pose_workers(cpus)` workers (an
    OpenVINO stream or a LiteRT interpreter each, their threads filling `cpus` cores and no more), or one
    instance of another backend.

    MoveNet runs each frame on cpus // workers threads, one frame per worker at a time. Detectron2
    parallelises inside torch (or runs on the GPU), so it gets a single worker.
    """
    if settings.backend != "movenet":
        return [create_pose_backend(settings.backend, input_size=input_size, device=settings.device)]
    workers = pose_workers(cpus)
    backend = create_pose_backend(settings.backend, input_size=input_size, device=settings.device,
                                  num_threads=max(1, cpus // workers), runtime=settings.pose_runtime,
                                  workers=workers)
    return [backend] * workers


def _pose_side(backend: PoseBackend, settings: AnalysisSettings) -> int:
    """The longer side at which pass 1 decodes frames for pose estimation.

    MoveNet letterboxes every frame to `input_size` on its longer side, so decoding straight to that size
    lets FFmpeg shrink the picture while it converts the colours, instead of converting the whole picture
    and resizing it again in OpenCV (about 1.5 ms of CPU per 640x480 frame, 5% of the pose time); the
    keypoints are scaled back to the analysed frame. Other backends get the analysed frame itself.
    """
    info = backend.info
    if info.name == "movenet":
        return min(settings.max_side, info.input_size)
    return settings.max_side


def _pose_every(settings: AnalysisSettings, info: VideoInfo) -> int:
    """The pose stride a run uses: the chosen one, or the automatic one for the video's frame rate."""
    return settings.pose_every if settings.pose_every is not None else auto_pose_every(float(info.fps or 0.0))


def _fitted(width: int, height: int, side: int) -> tuple[int, int]:
    """The size `iter_frames(max_side=side)` gives a width x height video: the longer side at most `side`."""
    if max(width, height) <= side:
        return width, height
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _rescaled(poses: Poses, sx: float, sy: float) -> Poses:
    """Poses found on a scaled frame, in pixels of a frame sx times wider and sy times taller."""
    if sx == 1.0 and sy == 1.0:
        return poses
    keypoints = poses.keypoints * np.array([sx, sy, 1.0], dtype=np.float32)
    boxes = poses.boxes * np.array([sx, sy, sx, sy], dtype=np.float32)
    return Poses(keypoints, boxes, poses.scores, poses.track_ids)


def _parallel_poses(batches: Iterator[list[StridedFrame[DecodedFrame]]], backends: list[PoseBackend],
                    timer: _Timer) -> Iterator[tuple[list[StridedFrame[DecodedFrame]], list[Poses]]]:
    """Estimate poses on successive batches, one thread per backend; yield (batch, poses) in input order.

    A worker takes a backend from `backends` for each batch (one entry per worker; a thread-safe backend
    may be listed once per worker). One batch more than there are workers stays in flight, so no worker
    waits while the caller tracks the previous batch.
    """
    idle: queue.SimpleQueue[PoseBackend] = queue.SimpleQueue()
    for backend in backends:
        idle.put(backend)

    def estimate(batch: list[StridedFrame[DecodedFrame]]) -> list[Poses]:
        backend = idle.get()
        started = time.perf_counter()
        try:
            return backend([item.frame.image for item in batch])
        finally:
            timer.add("pose", started)
            idle.put(backend)

    pending: deque[tuple[list[StridedFrame[DecodedFrame]], Future[list[Poses]]]] = deque()
    with ThreadPoolExecutor(max_workers=len(backends), thread_name_prefix="pose") as pool:
        try:
            for batch in batches:
                pending.append((batch, pool.submit(estimate, batch)))
                if len(pending) > len(backends):
                    batch, future = pending.popleft()
                    yield batch, future.result()
            while pending:
                batch, future = pending.popleft()
                yield batch, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _pictures_for_pose(items: Iterator[StridedFrame[DecodedFrame]]) -> Iterator[StridedFrame[DecodedFrame]]:
    """`strided` frames with the picture to estimate on converted to RGB and the skipped ones' pictures let go.

    Run in the decode thread, which is ahead of the pose workers with time to spare: converting in the workers,
    the pass's critical path, made each conversion wait for the GIL behind the tracking and decoding threads
    (0.25 ms of CPU took 1.5 ms of a worker's time; bench/README.md). Skipped frames are interpolated, never
    looked at, and holding their pictures would multiply the memory of the frames in flight by the stride.
    """
    for item in items:
        for frame in item.skipped:
            frame.forget_picture()
        _ = item.frame.image
        yield item


def _pose_pass(video: Path, info: VideoInfo, settings: AnalysisSettings, backends: list[PoseBackend],
               timer: _Timer, report: _ProgressReporter, stage: str = "pose") -> PoseRun:
    """Pass 1: decode, estimate poses in batches on parallel workers, track; only keypoints are kept, never frames."""
    log, times, tracker = PoseLog(), [], PoseTracker(fps=float(info.fps))
    size = _fitted(info.width, info.height, settings.max_side)
    decoded = _limited(iter_decoded(video, _pose_side(backends[0], settings)), settings)
    every = _pose_every(settings, info)
    previous: tuple[int, Poses] | None = None
    to_convert = _timed(_pictures_for_pose(strided(decoded, every)), timer)
    with contextlib.closing(_in_thread(to_convert, "decode")) as to_estimate:
        batches = iter(lambda: list(itertools.islice(to_estimate, POSE_BATCH)), [])
        with contextlib.closing(_parallel_poses(batches, backends, timer)) as estimated:
            for batch, poses in estimated:
                started = time.perf_counter()
                height, width = batch[0].frame.image.shape[:2]
                sx, sy = size[0] / width, size[1] / height
                for item, found in zip(batch, poses, strict=True):
                    tracked = tracker.update(_rescaled(found, sx, sy), item.frame.index, item.frame.time_s)
                    if item.skipped:
                        # strided() yields the first frame with nothing skipped, so `previous` is set here
                        assert previous is not None
                        before_index, before = previous
                        for filled in fill_between(before, tracked, before_index, item.frame.index, item.skipped):
                            log.append(filled)
                        times.extend(frame.time_s for frame in item.skipped)
                    log.append(tracked)
                    times.append(item.frame.time_s)
                    previous = (item.frame.index, tracked)
                timer.add("tracking", started)
                report(stage, len(times), max(info.frame_count, len(times)))
    return PoseRun(log, np.asarray(times, dtype=np.float64), size, tracker, every, backends[0].info)


def _sized_pose_pass(video: Path, info: VideoInfo, settings: AnalysisSettings, cpus: int, timer: _Timer,
                     report: _ProgressReporter) -> PoseRun:
    """Pass 1 at the chosen input size or, with the automatic size, at 256 and again larger when the main person
    turned out small in it (or nobody was found): see `har_core.pose_size`. Loading the pose model counts as
    "load_models", each pass as "pass1_wall"."""

    def run_at(size: int, stage: str) -> PoseRun:
        started = time.perf_counter()
        backends = _load_pose_backends(settings, size, cpus)
        timer.add("load_models", started)
        started = time.perf_counter()
        try:
            return _pose_pass(video, info, settings, backends, timer, report, stage)
        finally:
            timer.add("pass1_wall", started)

    first_size = settings.input_size or BASE_INPUT_SIZE
    run = run_at(first_size, "pose")
    if settings.input_size is not None or settings.backend != "movenet":
        return run
    larger = larger_input_size(main_person_height(run.tracker.stats.values(), run.frame_size, first_size),
                               first_size)
    return run if larger is None else run_at(larger, POSE_AGAIN_STAGE)


def _render_pass(video: Path, target: Path, info: VideoInfo, settings: AnalysisSettings, log: PoseLog,
                 timelines: list[PersonTimeline], times: np.ndarray, timer: _Timer, report: _ProgressReporter,
                 cpus: int) -> int:
    """Pass 2: decode again, draw every frame, encode. Returns the number of frames written."""
    by_id = {timeline.person_id: timeline for timeline in timelines}
    annotators = default_annotators()
    n_frames = len(times)
    written = 0
    writer = H264Writer(target, info.fps, preset=ENCODE_PRESET, threads=encode_threads(cpus))
    with writer:
        encoder = BackgroundEncoder(writer, timer)
        try:
            decoded = _timed(iter_frames(video, settings.max_side), timer)
            with contextlib.closing(_in_thread(decoded, "decode-render")) as frames:
                for frame in itertools.islice(frames, n_frames):
                    started = time.perf_counter()
                    annotations = _annotations(log.poses_at(frame.index), by_id, frame.index)
                    image = annotate_frame(frame.image, annotations, annotators)
                    timer.add("render", started)
                    encoder.write(image, float(times[frame.index]))
                    written += 1
                    if written % PROGRESS_EVERY == 0 or written == n_frames:
                        report("render", written, n_frames)
            if written != n_frames:
                raise VideoError(f"The video gave {written} frames on the second read but {n_frames} on the "
                                 "first; is the file still being written?")
        finally:
            encoder.finish()
    return written


def _annotations(poses: Poses, by_id: dict[int, PersonTimeline], frame: int) -> FrameAnnotations:
    """One frame's drawing input: the people kept for the run, with their label and probabilities."""
    keep = np.array([int(i) in by_id for i in poses.track_ids], dtype=bool)
    if not keep.all():  # usually everyone is kept, and selecting copies every array
        poses = poses[keep]
    people = [by_id[int(i)] for i in poses.track_ids]
    return FrameAnnotations(
        poses=poses,
        labels=[person.labels[frame] for person in people],
        confidence=np.array([person.confidence[frame] for person in people], dtype=np.float32),
        probs=np.array([person.probs[frame] for person in people], dtype=np.float32).reshape(len(people), NUM_CLASSES),
    )


def _write_keypoints(path: Path, log: PoseLog, times: np.ndarray, keep: set[int]) -> None:
    """keypoints.csv from the pose log, frame by frame, only for the people kept for the run."""
    with KeypointsWriter(path) as writer:
        for frame in range(log.n_frames):
            poses = log.poses_at(frame)
            writer.write(frame, float(times[frame]), poses[np.isin(poses.track_ids, list(keep))])


def _checked_video(video: Path, settings: AnalysisSettings) -> VideoInfo:
    """Refuse settings no run could honour, then read the video's header and refuse it beyond the limits:
    everything `analyze` and `estimate_poses` check before decoding a frame."""
    _check_settings(settings)
    info = probe(video)
    _check_limits(info, settings)
    return info


def estimate_poses(video: Path, settings: AnalysisSettings | None = None,
                   progress: Callable[[Progress], None] | None = None) -> PoseRun:
    """Pass 1 alone (decode, pose, track), exactly as `analyze` runs it, without classifying or writing.

    For evaluations that classify the same tracks with several action models: the tracks do not depend on
    the model, and pass 1 is nearly all of an analysis's cost.
    """
    settings = settings or AnalysisSettings()
    info = _checked_video(Path(video), settings)
    return _sized_pose_pass(Path(video), info, settings, CPUS, _Timer(), _ProgressReporter(progress))


def analyze(
    video: Path,
    out_dir: Path,
    settings: AnalysisSettings | None = None,
    progress: Callable[[Progress], None] | None = None,
    cpus: int | None = None,
) -> AnalysisResult:
    """Analyse one video and write annotated.mp4, frames.csv, keypoints.csv and summary.json to out_dir.

    `cpus` is how many cores the run may keep busy (pose interpreters, their threads, x264 threads);
    default all of the machine's. A batch running several videos side by side gives each its share, so
    they do not oversubscribe the cores. It changes speed, never results, so it is not a setting.

    Raises:
        VideoError: not a readable video (from `har_core.video`).
        LimitError: beyond the limits in `settings`.
        TooShortError: shorter than one window (32 frames at the classifier's 30 fps, about 1.1 s).
        NoPersonError: nobody was found in any frame.
        ModelError: the pose or action model cannot be loaded.
        OutputError: out_dir cannot be written.
    """
    settings = settings or AnalysisSettings()
    video, out_dir = Path(video), Path(out_dir)
    timer, report = _Timer(), _ProgressReporter(progress)
    wall = time.perf_counter()
    info = _checked_video(video, settings)
    check_out_dir(out_dir)

    started = time.perf_counter()
    cpus = cpus or CPUS
    classifier = ActionClassifier.load(settings.model, device=settings.device)
    timer.add("load_models", started)

    pass1 = _sized_pose_pass(video, info, settings, cpus, timer, report)
    log, times = pass1.log, pass1.times
    if sample_count(times) < WINDOW:
        if len(times) < info.frame_count:
            raise TooShortError(f"Only {len(times)} of the video's {info.frame_count} frames could be decoded (is "
                                f"the file truncated or damaged?); {_NEEDED} are needed to recognise an action.")
        raise TooShortError(f"The video has {len(times)} frames; {_NEEDED} are needed to recognise an action.")
    tracks = log.tracks()
    if not tracks:
        raise NoPersonError("No person was found in the video.")
    primary_id = choose_primary(pass1.tracker.stats.values())
    keep = {primary_id} if settings.people == "primary" else {track.person_id for track in tracks}
    tracks = [track for track in tracks if track.person_id in keep]

    started = time.perf_counter()
    report("actions", 0, len(tracks))
    timeline_settings = TimelineSettings(threshold=settings.threshold, smoothing=settings.smoothing)
    timelines = compute_timelines(tracks, times, classifier, timeline_settings)
    report("actions", len(tracks), len(tracks))
    timer.add("actions", started)

    staging = staging_dir(out_dir)
    try:
        started = time.perf_counter()
        written = _render_pass(video, staging / VIDEO_FILE, info, settings, log, timelines, times, timer, report,
                               cpus)
        timer.add("pass2_wall", started)
        started = time.perf_counter()
        _write_keypoints(staging / KEYPOINTS_FILE, log, times, keep)
        rows = write_frames_csv(staging / FRAMES_FILE, timelines, times)
        timer.add("data_files", started)
        timer.add("total", wall)
        write_summary(staging / SUMMARY_FILE, {
            "video": {**info.to_dict(), "path": video.name, "frames_decoded": len(times),
                      "analysed_width": pass1.frame_size[0], "analysed_height": pass1.frame_size[1]},
            "pose": {**asdict(pass1.backend), "every": pass1.pose_every},
            "model_id": classifier.model_id,
            "model": {"model_id": classifier.model_id, "device": str(classifier.device),
                      "classes": list(classifier.classes)},
            "settings": asdict(settings),
            "people": people_records(timelines, primary_id),
            "primary_person_id": primary_id,
            "segments": segment_records(timelines),
            "rows": {"frames_csv": rows, "annotated_frames": written},
            "timings_s": timer.rounded(),
            "versions": package_versions(),
        })
        publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report("done", len(times), len(times))
    return AnalysisResult(out_dir, info, len(times), sorted(keep), primary_id, timelines, timer.rounded())

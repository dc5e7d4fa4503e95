"""A camera stream through the live step: frame dropping, rates, a rolling probability history, recording.

The live page receives frames on a WebRTC thread and shows results from the Streamlit script thread;
`LiveStream` sits between them (every method takes its lock). The frame thread hands over every frame
that arrived since its last call; only the newest is processed and the rest are counted as dropped, so
when the CPU falls behind the picture stays current instead of a queue growing. While recording is on,
every received frame (processed or not) is encoded as it arrived; each recording is one MP4 that
`analyze` (or the run store's jobs) can take like any upload. Nothing is written while it is off.

No Streamlit here: a script can drive it with frames from any source, as the tests do.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from har_core.errors import OutputError
from har_core.frame_rate import CLASSIFIER_FPS
from har_core.live import LivePerson, LiveRecognizer, LiveResult, LiveSettings
from har_core.pipeline import BackgroundEncoder
from har_core.skeleton import NUM_CLASSES
from har_core.video import H264Writer

HISTORY_S = 10.0  # seconds of probabilities kept per person for the rolling chart
RATE_WINDOW_S = 3.0  # the processing rate is measured over this many recent seconds
RECORD_THREADS = 1  # libx264 threads for recording: the pose model needs the other cores


@dataclass(frozen=True)
class LiveStats:
    """How the stream keeps up: frames received, processed and dropped, and the recent processing rate."""

    received: int
    processed: int
    dropped: int
    processed_fps: float
    median_step_ms: float

    @property
    def dropped_share(self) -> float:
        return self.dropped / self.received if self.received else 0.0


@dataclass(frozen=True)
class PersonHistory:
    """One person's recent probabilities: times (n,) seconds of the stream, probs (n, 7), NaN rows while warming up."""

    person_id: int
    times: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page draws at one moment: the newest frame's people, their histories, the stream's stats."""

    time_s: float | None
    people: list[LivePerson]
    histories: dict[int, PersonHistory]
    stats: LiveStats
    recording: bool
    record_error: str | None


class _Recording:
    """One recording: received frames encoded in a background thread, each placed at its own time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = H264Writer(path, CLASSIFIER_FPS, threads=RECORD_THREADS)
        self._writer.__enter__()
        self._encoder = BackgroundEncoder(self._writer)
        self._start_s: float | None = None
        self._size: tuple[int, int] = (0, 0)

    def write(self, image: np.ndarray, time_s: float) -> None:
        """Queue one frame. A browser lowers its camera's resolution when its encoder is short of CPU or
        bandwidth; such frames are scaled back to the first frame's size, so one recording stays one video."""
        if self._start_s is None:
            self._start_s, self._size = time_s, (image.shape[1], image.shape[0])
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_LINEAR)
        self._encoder.write(image, time_s - self._start_s)

    def close(self) -> Path | None:
        """Finish the file; None (and no file) when not a single frame came."""
        try:
            self._encoder.finish()
        except BaseException:
            self._writer.__exit__(OutputError, None, None)
            raise
        try:
            self._writer.__exit__(None, None, None)
        except OutputError:
            if self._writer.frames_written:
                raise
            return None
        return self.path


class LiveStream:
    """Frames of one camera through a `LiveRecognizer`, shared by the frame thread and the page.

    Args:
        settings: the live step's settings; the recognizer is loaded on the first frame (in the frame
            thread), so starting a stream never blocks the page.
        history_s: seconds of probabilities kept per person.
        recognizer: a factory for the recognizer (tests pass one with preloaded models).
    """

    def __init__(self, settings: LiveSettings | None = None, history_s: float = HISTORY_S,
                 recognizer: Callable[[LiveSettings], LiveRecognizer] = LiveRecognizer) -> None:
        self.settings = settings or LiveSettings()
        self.history_s = history_s
        self._make_recognizer = recognizer
        self._lock = threading.Lock()
        self._recognizer: LiveRecognizer | None = None
        self._record_dir: Path | None = None
        self._recording: _Recording | None = None
        self._finished: list[Path] = []
        self._record_error: str | None = None  # why recording stopped by itself, for the page to say
        self._reset()

    def _reset(self) -> None:
        """Forget the people and counters of the last stream (a new one starts from scratch)."""
        self._received = self._processed = 0
        self._done_at: deque[float] = deque()
        self._step_s: deque[float] = deque(maxlen=100)
        self._last: LiveResult | None = None
        self._histories: dict[int, deque[tuple[float, np.ndarray]]] = {}

    def record_into(self, folder: Path | None) -> None:
        """Record every received frame into a new MP4 in `folder` from now on; None stops (and keeps) it."""
        with self._lock:
            if folder is not None and self._record_dir is None:
                self._record_error = None  # a new attempt
            self._record_dir = folder
            if folder is None:
                self._close_recording()

    @property
    def recording(self) -> bool:
        """Whether received frames are being kept (the caller then passes every frame to `process`)."""
        with self._lock:
            return self._record_dir is not None

    def process(self, frames: Sequence[tuple[np.ndarray, float]], skipped: int = 0) -> np.ndarray:
        """Take the (RGB image, time_s) frames that arrived since the last call; return the newest annotated.

        Older frames are recorded (when recording) and counted as dropped but not processed. `skipped`
        counts further frames that arrived before them and were never converted to images (a caller that
        is not recording need not decode frames only to drop them).
        """
        if not frames:
            raise ValueError("process needs at least one frame")
        # Loaded outside the lock: it takes a second, and the page reads snapshots meanwhile. A stream stopped
        # during loading gets this fresh recognizer all the same.
        recognizer = self._recognizer or self._make_recognizer(self.settings)
        with self._lock:
            self._recognizer = self._recognizer or recognizer
            if self._record_dir is not None:
                self._record(frames)
            image, time_s = frames[-1]
            result = self._recognizer.step(image, time_s)
            self._received += len(frames) + skipped
            self._processed += 1
            now = time.perf_counter()
            self._done_at.append(now)
            while self._done_at and now - self._done_at[0] > RATE_WINDOW_S:
                self._done_at.popleft()
            self._step_s.append(result.seconds)
            self._remember(result)
            return self._recognizer.annotate(image.copy(), result)

    def _record(self, frames: Sequence[tuple[np.ndarray, float]]) -> None:
        """Keep the frames; a recording that cannot be written (disk full, folder gone) stops recording with
        a message for the page, and the stream itself goes on."""
        try:
            if self._recording is None:
                name = f"live-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.mp4"
                self._recording = _Recording(self._record_dir / name)
            for image, time_s in frames:
                self._recording.write(image, time_s)
        except OutputError as exc:
            self._record_dir = None
            self._close_recording()
            self._record_error = f"Recording stopped: {exc}"

    def _remember(self, result: LiveResult) -> None:
        """Append the frame's probabilities to each person's history and drop what is older than history_s."""
        self._last = result
        for person in result.people:
            self._histories.setdefault(person.person_id, deque()).append((result.time_s, person.probs))
        for person_id, history in list(self._histories.items()):
            while history and result.time_s - history[0][0] > self.history_s:
                history.popleft()
            if not history:
                del self._histories[person_id]

    def snapshot(self) -> LiveSnapshot:
        """The newest frame's people, every recent person's history, and the rates, consistent with each other."""
        with self._lock:
            histories = {}
            for person_id, history in self._histories.items():
                times = np.array([t for t, _ in history], dtype=np.float64)
                probs = np.array([p for _, p in history], dtype=np.float32).reshape(-1, NUM_CLASSES)
                histories[person_id] = PersonHistory(person_id, times, probs)
            return LiveSnapshot(
                time_s=None if self._last is None else self._last.time_s,
                people=[] if self._last is None else list(self._last.people),
                histories=histories,
                stats=self._stats(),
                recording=self._record_dir is not None,
                record_error=self._record_error,
            )

    def _stats(self) -> LiveStats:
        span = self._done_at[-1] - self._done_at[0] if len(self._done_at) > 1 else 0.0
        fps = (len(self._done_at) - 1) / span if span > 0 else 0.0
        median_ms = 1000 * float(np.median(self._step_s)) if self._step_s else 0.0
        return LiveStats(self._received, self._processed, self._received - self._processed, fps, median_ms)

    def finish_recording(self) -> None:
        """Close the current recording (it waits for `stop`); for when the camera's track ends, which can
        happen without the page running again (a closed tab), so no half-written file is left behind."""
        with self._lock:
            self._close_recording()

    def stop(self) -> list[Path]:
        """End the stream: finish the recording and forget its people. Returns the recordings made since
        the last stop (each a complete MP4), which the caller now owns."""
        with self._lock:
            self._close_recording()
            finished, self._finished = self._finished, []
            self._recognizer = None
            self._reset()
            return finished

    def _close_recording(self) -> None:
        recording, self._recording = self._recording, None
        if recording is None:
            return
        try:
            path = recording.close()
        except OutputError as exc:
            self._record_error = f"The recording could not be finished: {exc}"
            return
        if path is not None:
            self._finished.append(path)

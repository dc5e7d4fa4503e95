"""Background analysis jobs: each analysis runs in its own worker process, recorded in the run store.

Why a process and not a thread: the analysis is CPU-heavy native code (decoding, pose model, LSTM,
encoding); in a thread it would compete with the Streamlit server for the GIL and could not be stopped
mid-stage. A process keeps the UI responsive, can be cancelled with a signal at any moment, and a crash
in native code (or the OOM killer) takes down only that job. Workers come from a fork server: forking
the multi-threaded Streamlit server itself is unsafe, and "spawn" would pay the torch/PyAV/LiteRT
imports (~4 s) for every job; the fork server imports them once and forks each worker from a clean,
single-threaded process.

Each job has a supervising thread in the server process. It owns the run (holds the run's lock, see
`har_core.store`), limits how many workers run at once, starts the worker and waits for it. The worker
writes its progress straight into the store, so any page, in any browser session, follows a run by
reading the store; nothing depends on the session that started it. If the worker dies without
recording an outcome, the supervisor marks the run failed; if the whole server dies, the lock goes with
it and the next `RunStore` open marks the run failed.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import BinaryIO

import cv2

from har_core.classifier import CONFIG_FILE, DEFAULT_CHECKPOINT
from har_core.errors import HarError, ModelError
from har_core.outputs import SUMMARY_FILE, VIDEO_FILE
from har_core.pipeline import AnalysisSettings, Progress, analyze
from har_core.store import (
    THUMBNAIL_FILE,
    NewRun,
    RunRecord,
    RunStatus,
    RunStore,
    atomic_write,
    cache_key,
    content_hash,
)
from har_core.video import iter_frames, probe

LOG = logging.getLogger(__name__)

AnalyzeFn = Callable[[Path, Path, AnalysisSettings, Callable[[Progress], None]], object]
"""`pipeline.analyze`'s shape; must be a module-level function so a spawned worker can import it."""

CANCELLED_MESSAGE = "The analysis was cancelled."
INTERNAL_MESSAGE = "Internal error while analysing the video ({kind}); this is a bug, please report it."
NOT_ANALYSED = {"UNCERTAIN", "NO_WINDOW", "ABSENT"}
THUMBNAIL_WIDTH = 320
_PROGRESS_INTERVAL_S = 0.25
_TERMINATE_GRACE_S = 5.0
_SLOT_POLL_S = 0.2
_DOMINANT_COUNT = 3


def default_model_id(checkpoint: Path = DEFAULT_CHECKPOINT) -> str:
    """The shipped checkpoint's model id, read from its config without loading the weights.

    The worker verifies the weights against this id when it loads them, so reading it here is enough
    to key the cache.

    Raises:
        ModelError: no readable checkpoint config.
    """
    try:
        return str(json.loads((checkpoint / CONFIG_FILE).read_text())["model_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"No usable action model checkpoint at {checkpoint}; train or restore it first.") from exc


@dataclass(frozen=True)
class RunSummary:
    """What the history shows about a finished run, taken from its summary.json."""

    duration_s: float | None
    people: int
    dominant: list[str]
    model_id: str


def action_seconds(summary: dict) -> Counter[str]:
    """Seconds of each action in a run's segments, summed over its people (uncertain time not counted)."""
    seconds: Counter[str] = Counter()
    for segment in summary.get("segments") or []:
        if segment.get("label") not in NOT_ANALYSED:
            seconds[segment["label"]] += max(float(segment["end_s"]) - float(segment["start_s"]), 0.0)
    return seconds


def summarize(summary: dict) -> RunSummary:
    """Duration, people count, the (up to three) actions with the most time, and the model id."""
    video = summary.get("video") or {}
    duration = video.get("duration_s")
    dominant = [label for label, _ in action_seconds(summary).most_common(_DOMINANT_COUNT)]
    return RunSummary(
        duration_s=None if duration is None else float(duration),
        people=len(summary.get("people") or []),
        dominant=dominant,
        model_id=str(summary.get("model_id", "")),
    )


def write_thumbnail(video: Path, out: Path, width: int = THUMBNAIL_WIDTH) -> None:
    """Save a small JPEG of the annotated video's middle frame for the history page."""
    middle = probe(video).frame_count // 2
    image = None
    for frame in iter_frames(video, max_side=2 * width):
        image = frame.image
        if frame.index >= middle:
            break
    if image is None:
        return
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if ok:
        atomic_write(out, encoded.tobytes())


class _Orphaned(Exception):
    """The server that started this worker is gone; stop quietly (the next store open marks the run failed).

    Detected by the worker's parent changing: its parent is the fork server, which exits with the server.
    """


@dataclass
class _ProgressWriter:
    """Progress callback for the worker: writes to the store at most every 0.25 s (and on stage changes)."""

    store: RunStore
    run_id: str
    parent_pid: int = field(default_factory=os.getppid)
    _last_time: float = 0.0
    _last_stage: str = ""

    def __call__(self, progress: Progress) -> None:
        if os.getppid() != self.parent_pid:
            raise _Orphaned
        now = time.monotonic()
        finished_stage = progress.total is not None and progress.done >= progress.total
        if progress.stage == self._last_stage and now - self._last_time < _PROGRESS_INTERVAL_S and not finished_stage:
            return
        self._last_time, self._last_stage = now, progress.stage
        self.store.update_progress(self.run_id, progress.stage, progress.done, progress.total, progress.fps,
                                   progress.eta_s)


def _work(root: str, run_id: str, settings: AnalysisSettings, analyze_fn: AnalyzeFn) -> None:
    """Worker process body: run one analysis and record its outcome in the store."""
    store = RunStore(Path(root), recover=False)
    record = store.get(run_id)
    if record is None or not store.mark_running(run_id, os.getpid()):
        return
    results = store.results_dir(run_id)
    try:
        analyze_fn(store.input_path(record), results, settings, _ProgressWriter(store, run_id))
        info = summarize(json.loads((results / SUMMARY_FILE).read_text(encoding="utf-8")))
        try:
            write_thumbnail(results / VIDEO_FILE, store.run_dir(run_id) / THUMBNAIL_FILE)
        except (HarError, OSError, ValueError) as exc:
            LOG.warning("run %s: no thumbnail (%s)", run_id, exc)
        if not store.mark_done(run_id, info.duration_s, info.people, info.dominant, info.model_id):
            store.discard_partial(run_id)  # cancelled while finishing: never serve it
    except _Orphaned:
        return
    except HarError as exc:
        store.mark_failed(run_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - any other failure is a bug, but the run must still end as failed
        LOG.error("run %s failed:\n%s", run_id, traceback.format_exc())
        store.mark_failed(run_id, INTERNAL_MESSAGE.format(kind=type(exc).__name__))


def describe_exit(code: int | None) -> str:
    """A worker exit code in words ("killed by SIGKILL", "exit code 1")."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Job:
    """A job this manager supervises."""

    new: NewRun
    settings: AnalysisSettings
    thread: threading.Thread | None = None
    process: multiprocessing.process.BaseProcess | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class JobManager:
    """Starts, follows, cancels and deletes analyses. One per server process (the dashboard caches it)."""

    def __init__(self, store: RunStore, model_id: str | None = None, analyze_fn: AnalyzeFn = analyze,
                 max_parallel: int = 2) -> None:
        """
        Args:
            store: the run store jobs record into.
            model_id: model id for cache keys; default: the shipped checkpoint's, read at each submit so a
                retrained checkpoint never reuses results of the previous one.
            analyze_fn: the analysis (module-level function); tests substitute a slow or failing one.
            max_parallel: workers running at once; further runs wait as "queued".
        """
        self.store = store
        self._model_id = model_id
        self._analyze = analyze_fn
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])

    @property
    def model_id(self) -> str:
        """The model new analyses run with (raises ModelError when there is no checkpoint)."""
        return self._model_id if self._model_id is not None else default_model_id()

    def model_id_for(self, settings: AnalysisSettings) -> str:
        """The model an analysis with `settings` runs: the checkpoint in `settings.model`, else `model_id`."""
        return self.model_id if settings.model is None else default_model_id(Path(settings.model))

    def key_for(self, source: bytes | BinaryIO | Path, settings: AnalysisSettings, model_id: str) -> str:
        """The cache key of analysing `source` with `settings` on model `model_id`.

        The model enters the key by its id (a content hash of its weights), not by the folder it was read
        from, so a result is reused exactly when the same weights would run again.
        """
        keyed = {name: value for name, value in asdict(settings).items() if name != "model"}
        return cache_key(content_hash(source), keyed, model_id)

    def submit(self, source: bytes | BinaryIO | Path, name: str, settings: AnalysisSettings) -> RunRecord:
        """Analyse a clip in the background, or return the stored run for the same clip, settings and model.

        The returned record is either a finished run (open it at once) or an active one to follow;
        a previous failure is not reused, so submitting again retries.
        """
        model_id = self.model_id_for(settings)
        key = self.key_for(source, settings, model_id)
        with self._lock:
            existing = self.store.find_by_key(key)
            if existing is not None:
                return existing
            new = self.store.create_run(source, name, key, asdict(settings), model_id)
            job = _Job(new, settings)
            job.thread = threading.Thread(target=self._supervise, args=(job,), name=f"har-job-{new.record.id[:6]}",
                                          daemon=True)
            self._jobs[new.record.id] = job
        job.thread.start()
        return new.record

    def reanalyse(self, record: RunRecord, model: Path | None) -> RunRecord:
        """Analyse a stored run's clip again with its settings but another action model (None: the shipped one),
        so the two results can be compared; returns the new (or an identical earlier) run."""
        known = {f.name for f in fields(AnalysisSettings)}
        settings = AnalysisSettings(**{k: v for k, v in record.settings.items() if k in known})
        settings = replace(settings, model=None if model is None else str(model))
        return self.submit(self.store.input_path(record), record.name, settings)

    def _supervise(self, job: _Job) -> None:
        """Own the run for its lifetime: wait for a slot, run the worker, record what the worker could not."""
        run_id = job.new.record.id
        try:
            while not self._slots.acquire(timeout=_SLOT_POLL_S):
                if job.cancelled:
                    return
            try:
                with self._lock:
                    if job.cancelled:
                        return
                    job.process = self._context.Process(
                        target=_work, name=f"har-worker-{run_id[:6]}", daemon=True,
                        args=(str(self.store.root), run_id, job.settings, self._analyze),
                    )
                    job.process.start()
                job.process.join()
            finally:
                self._slots.release()
            record = self.store.get(run_id)
            if record is not None and record.active:
                how = describe_exit(job.process.exitcode if job.process else None)
                self.store.mark_failed(run_id, f"The analysis stopped unexpectedly (worker {how}); run it again.")
            elif record is not None and record.status == RunStatus.FAILED:
                self.store.discard_partial(run_id)
        except Exception:  # noqa: BLE001 - the supervisor must always release the run and record an outcome
            LOG.error("supervising run %s failed:\n%s", run_id, traceback.format_exc())
            self.store.mark_failed(run_id, INTERNAL_MESSAGE.format(kind="job supervisor"))
        finally:
            job.new.lock.release()
            with self._lock:
                self._jobs.pop(run_id, None)
            job.done.set()

    def is_running_here(self, run_id: str) -> bool:
        """True while this manager supervises the run."""
        with self._lock:
            return run_id in self._jobs

    def wait(self, run_id: str, timeout: float | None = None) -> RunRecord | None:
        """Block until the run supervised here is finished (or `timeout`), then return its record."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is not None:
            job.done.wait(timeout)
        return self.store.get(run_id)

    def cancel(self, run_id: str) -> bool:
        """Stop a queued or running analysis: mark it failed (cancelled), then end its worker."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None:
                return False
            job.cancelled = True
            process = job.process
        self.store.mark_failed(run_id, CANCELLED_MESSAGE)
        if process is not None and process.is_alive():
            process.terminate()
            process.join(_TERMINATE_GRACE_S)
            if process.is_alive():
                process.kill()
        job.done.wait(_TERMINATE_GRACE_S)
        return True

    def delete(self, run_id: str) -> bool:
        """Delete a run and its files, cancelling it first if it is still going."""
        self.cancel(run_id)
        return self.store.delete(run_id)

    def shutdown(self) -> None:
        """Cancel every job this manager supervises (tests and server shutdown)."""
        with self._lock:
            run_ids = list(self._jobs)
        for run_id in run_ids:
            self.cancel(run_id)

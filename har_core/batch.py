"""Batch analysis: many videos through `pipeline.analyze` on Ray, on this machine or on a cluster.

The driver (this process) is the only writer of the output folder. It reads each input, ships its bytes
to a Ray task through the object store, and gets the four result files back the same way; a task
analyses into a temporary folder of its own node. So workers need neither the inputs nor the output
folder on a shared disk, a worker killed mid-video leaves nothing behind (Ray runs the task again), and
each result appears in `DIR/<name>/` whole or not at all (`output_dir.publish_files`). `DIR/batch.csv`
gets one row per input as soon as its outcome is final.

A rerun skips every video whose result for the same content, settings and model is already in DIR: the
cache key of each published result is kept in `DIR/.har-batch.json`, next to the results (the folders
themselves hold exactly what `analyze` writes).

Each task reserves the cores it uses (`num_cpus`) and passes that number to `analyze`, which sizes its
pose interpreters and encoder threads to it, so videos side by side never oversubscribe a node.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ray

from har_core.batch_inputs import BatchInput, batch_inputs
from har_core.batch_progress import BatchProgress, ProgressBoard, TaskReporter, WorkerState
from har_core.batch_table import BATCH_FILE, DONE, FAILED, SKIPPED, BatchTableWriter, VideoRow
from har_core.errors import ClusterError, HarError, OutputError
from har_core.jobs import INTERNAL_MESSAGE, default_model_id, summarize, write_thumbnail
from har_core.output_dir import publish_files
from har_core.outputs import OUTPUT_FILES, SUMMARY_FILE, VIDEO_FILE
from har_core.pipeline import FRAME_STAGES, AnalysisSettings, analyze
from har_core.store import THUMBNAIL_FILE, RunStore, atomic_write, cache_key, content_hash
from har_core.video import probe

LOG = logging.getLogger(__name__)

MANIFEST_FILE = ".har-batch.json"
# Default cores per video. One: a video's threads then never wait on each other, and the serial parts of
# a run (loading the models, the classifier, drawing) overlap with other videos. On the shared 2-core
# machine bench/batch.py timed 2 videos x 1 core at 36-67 s for 8 clips in 6 runs, 1 video x 2 cores at
# 24-321 s (its classifier's and pose model's threads stall when other jobs take the cores); see
# bench/README.md. It costs memory: about 600 MB per video at once.
CPUS_PER_VIDEO = 1
TASK_RETRIES = 3  # times Ray reruns a video whose worker died (killed, out of memory, node lost)
_POLL_S = 0.5
_CONNECT_TIMEOUT_S = 5.0
_STORE_TABLE_EVERY_S = 10.0  # how often a running batch's table is copied into the run store


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (none of it changes results).

    Attributes:
        address: a running Ray cluster (`auto`, `ray://host:10001`, ...); None starts Ray on this machine
            with all its cores and stops it at the end. When Ray is already initialised in this process
            (a library caller's own cluster), it is used as it is and left running.
        workers: most videos analysed at once; None: as many as the cluster's cores allow at
            CPUS_PER_VIDEO cores each.
        store: also record each finished (or skipped) video in the run store under the batch's name.
        name: the batch's name in the run store; default the output folder's name.
        store_root: the run store's folder; default `$HAR_RUNS_DIR` (see `store.default_runs_dir`).
    """

    address: str | None = None
    workers: int | None = None
    store: bool = False
    name: str | None = None
    store_root: Path | None = None


@dataclass
class BatchResult:
    """A finished batch: its rows in the order they were written, where batch.csv is, and how it ran."""

    out_dir: Path
    rows: list[VideoRow]
    workers: int
    cpus_per_video: int
    placements: dict[str, tuple[str, int]] = field(default_factory=dict)  # video name -> (Ray node id, pid)

    @property
    def nodes(self) -> set[str]:
        """The Ray nodes that analysed at least one video of this run."""
        return {node for node, _ in self.placements.values()}

    @property
    def table(self) -> Path:
        return self.out_dir / BATCH_FILE

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)

    @property
    def analysed_any(self) -> bool:
        """True when at least one video has a result (analysed now or earlier)."""
        return any(row.status in (DONE, SKIPPED) for row in self.rows)


@dataclass(frozen=True)
class _Outcome:
    """What a task sends back: the result files, or the one-line error of a video that cannot be analysed."""

    files: dict[str, bytes] | None
    error: str
    analysis_s: float
    node_id: str = ""
    pid: int = 0  # the worker process that produced the outcome


def _analyze_task(name: str, file_name: str, data: bytes, settings: AnalysisSettings, cpus: int,
                  board: ray.actor.ActorHandle) -> _Outcome:
    """Ray task body: analyse one video's bytes on this node and return its four files (or its error).

    The video keeps its file name in the temporary folder so summary.json names it as `analyze` would.
    """
    import torch  # the classifier's threads, like the pose model's, stay within the cores reserved

    torch.set_num_threads(cpus)
    node_id = ray.get_runtime_context().get_node_id()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="har-batch-") as folder:
        video, out = Path(folder) / file_name, Path(folder) / "result"
        video.write_bytes(data)
        try:
            analyze(video, out, settings, TaskReporter(board, name, node_id), cpus=cpus)
        except HarError as error:
            return _Outcome(None, str(error), time.perf_counter() - started, node_id, os.getpid())
        files = {file: (out / file).read_bytes() for file in OUTPUT_FILES}
    return _Outcome(files, "", time.perf_counter() - started, node_id, os.getpid())


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray for the duration of a batch: the running instance, the cluster at `address`, or a local one.

    Only what this function started is shut down at the end.
    """
    if ray.is_initialized():
        yield
        return
    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address is not None:
        _check_reachable(address)
    try:
        if address is None:
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)  # never a cluster found by chance
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "on this machine" if address is None else f"at {address}"
        raise ClusterError(f"Cannot start or reach Ray {where}: {' '.join(str(exc).split())}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Refuse at once an address where nothing listens (Ray itself would retry for minutes).

    `auto` (the cluster this machine belongs to) is left to Ray, which fails fast when there is none.
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except ValueError as exc:
        raise ClusterError(f"{address} is not a Ray address (host:port, ray://host:port or auto).") from exc
    except OSError as exc:
        raise ClusterError(f"Nothing answers at {address} ({exc.strerror or exc}); is the Ray cluster "
                           "started (ray start --head) and the address right?") from exc


def plan_workers(requested: int | None, node_cpus: Sequence[int], videos: int) -> tuple[int, int]:
    """(videos at once, cores per video) for a cluster whose nodes have `node_cpus` cores.

    A video runs on one node, so it never gets more cores than the largest node has. Asked for N
    workers, each gets an equal share of all cores; otherwise each gets CPUS_PER_VIDEO and as many run
    as fit on the nodes, or, with fewer videos than that, an equal share of the cores (one video on two
    cores gets both instead of leaving one idle). Never more workers than videos.
    """
    usable = [cpus for cpus in node_cpus if cpus >= 1] or [1]
    largest, total = max(usable), sum(usable)
    if requested is not None:
        per_video = min(largest, max(1, total // requested))
        workers = requested
    else:
        per_video = min(largest, max(CPUS_PER_VIDEO, total // max(1, videos)))
        workers = sum(cpus // per_video for cpus in usable)
    return max(1, min(workers, videos)), per_video


def _node_cpus() -> list[int]:
    return [int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node.get("Alive")]


def _read_manifest(out_dir: Path) -> dict[str, dict]:
    try:
        return dict(json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["videos"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _has_result(folder: Path) -> bool:
    return all((folder / name).is_file() for name in OUTPUT_FILES)


@dataclass
class _Pending:
    """A video waiting for (or in) a Ray task."""

    item: BatchInput
    video_hash: str
    frames: int  # from the container header, for the time left


class _Batch:
    """One batch run's state on the driver: the table, the manifest, the store, the counts."""

    def __init__(self, out_dir: Path, settings: AnalysisSettings, options: BatchOptions, total: int,
                 table: BatchTableWriter, progress: Callable[[BatchProgress], None] | None) -> None:
        self.out_dir, self.settings, self.options, self.total = out_dir, settings, options, total
        # Keys use the model the driver expects, as the dashboard's cache does (`JobManager.key_for`), so a
        # result of the batch and one of the Analyze page are the same cache entry in the run store.
        self.model_id = default_model_id()
        self.table, self.progress = table, progress
        self.rows: list[VideoRow] = []
        self.manifest = _read_manifest(out_dir)
        self.placements: dict[str, tuple[str, int]] = {}
        self.started = time.monotonic()
        self.analysed_frames = 0  # frames of the videos analysed in this run, for the time left
        self.name = options.name or out_dir.resolve().name
        self.store = RunStore(options.store_root, recover=False) if options.store else None
        self.table_saved = time.monotonic()

    def key(self, video_hash: str) -> str:
        return cache_key(video_hash, asdict(self.settings), self.model_id)

    def add(self, row: VideoRow) -> None:
        self.rows.append(row)
        self.table.append(row)
        if time.monotonic() - self.table_saved >= _STORE_TABLE_EVERY_S:
            self.save_table()  # so the Runs page follows a batch still running

    def skip_if_done(self, item: BatchInput, video_hash: str) -> bool:
        """Add a skipped row when DIR already holds this video's result for these settings and model."""
        folder = self.out_dir / item.name
        key = self.key(video_hash)
        if self.manifest.get(item.name, {}).get("key") != key or not _has_result(folder):
            return False
        try:
            summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # damaged since: analyse it again
        self.add(VideoRow.from_summary(str(item.video), item.name, SKIPPED, summary))
        self._record(item, folder, key, summary)
        return True

    def finish(self, pending: _Pending, outcome: _Outcome) -> None:
        """Publish a task's result in DIR, note its key, record it; or add its failure."""
        item = pending.item
        if outcome.files is None:
            self.add(VideoRow.failed(str(item.video), item.name, outcome.error))
            return
        self.placements[item.name] = (outcome.node_id, outcome.pid)
        folder = self.out_dir / item.name
        summary = json.loads(outcome.files[SUMMARY_FILE])
        key = self.key(pending.video_hash)
        try:
            publish_files(outcome.files, folder)
        except OutputError as error:
            self.add(VideoRow.failed(str(item.video), item.name, str(error)))
            return
        self.manifest[item.name] = {"key": key, "video": str(item.video)}
        atomic_write(self.out_dir / MANIFEST_FILE, json.dumps({"videos": self.manifest}, indent=1).encode())
        self.analysed_frames += pending.frames
        self.add(VideoRow.from_summary(str(item.video), item.name, DONE, summary, round(outcome.analysis_s, 3)))
        self._record(item, folder, key, summary)

    def _record(self, item: BatchInput, folder: Path, key: str, summary: dict) -> None:
        """Put a finished video in the run store (once per key), so the Runs page lists it.

        A store that cannot take it is reported and the batch goes on: the result is in DIR either way.
        """
        if self.store is None or self.store.find_by_key(key) is not None:
            return
        try:
            self._store_run(item, folder, key, summary)
        except (OutputError, OSError) as error:
            LOG.warning("%s is not in the run store: %s", item.video, error)

    def _store_run(self, item: BatchInput, folder: Path, key: str, summary: dict) -> None:
        assert self.store is not None
        info = summarize(summary)
        new = self.store.create_run(item.video, item.video.name, key, asdict(self.settings), info.model_id,
                                    batch=self.name)
        try:
            self.store.mark_running(new.record.id, os.getpid())
            results = self.store.results_dir(new.record.id)
            results.mkdir()
            for file in OUTPUT_FILES:
                atomic_write(results / file, folder / file)
            try:
                write_thumbnail(results / VIDEO_FILE, self.store.run_dir(new.record.id) / THUMBNAIL_FILE)
            except (HarError, OSError, ValueError) as exc:
                LOG.warning("%s: no thumbnail (%s)", item.name, exc)
            self.store.mark_done(new.record.id, info.duration_s, info.people, info.dominant, info.model_id)
        except BaseException:
            self.store.mark_failed(new.record.id, "The batch stopped before the run was recorded.")
            raise
        finally:
            new.lock.release()

    def save_table(self) -> None:
        """Copy batch.csv into the run store (with --store); a store that refuses it is only reported."""
        self.table_saved = time.monotonic()
        if self.store is None:
            return
        try:
            self.store.save_batch_table(self.name, self.table.path)
        except OutputError as error:
            LOG.warning("the batch table is not in the run store: %s", error)

    def report(self, running: tuple[WorkerState, ...], active: int, remaining_frames: int) -> None:
        """Tell the progress callback; the time left assumes the rest goes as fast, per frame, as the videos
        finished so far (counted from the first task's start)."""
        if self.progress is None:
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.analysed_frames * remaining_frames if self.analysed_frames else None
        failed = sum(row.status == FAILED for row in self.rows)
        fps = sum(state.fps for state in running if state.stage in FRAME_STAGES)
        self.progress(BatchProgress(len(self.rows), self.total, failed, active, round(fps, 1),
                                    None if eta is None else round(eta, 1), running))


def _failure_message(error: ray.exceptions.RayError) -> str:
    """A Ray failure in one line: the worker's death, or a bug inside the analysis."""
    if isinstance(error, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return (f"The worker analysing this video stopped {TASK_RETRIES + 1} times (killed, out of memory or its "
                "node lost); run the batch again.")
    if isinstance(error, ray.exceptions.RayTaskError):
        return INTERNAL_MESSAGE.format(kind=type(error.cause).__name__ if error.cause else "task error")
    return f"Ray could not run the analysis: {' '.join(str(error).split())[:300]}"


def run_batch(inputs: Sequence[str | Path], out_dir: Path, settings: AnalysisSettings | None = None,
              options: BatchOptions | None = None,
              progress: Callable[[BatchProgress], None] | None = None) -> BatchResult:
    """Analyse every video `inputs` stand for into out_dir/<name>/ and write out_dir/batch.csv.

    Videos already analysed into out_dir with the same content, settings and model are skipped; Ray
    is started only when something is left to analyse. A video that cannot be analysed becomes a failed
    row with its one-line error and the batch goes on.

    Raises:
        HarError: no input names a file, the output folder cannot be written, or Ray cannot be reached.
    """
    settings, options = settings or AnalysisSettings(), options or BatchOptions()
    items = batch_inputs([str(text) for text in inputs])
    if not items:
        raise HarError("No inputs were given.")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the output folder {out_dir}: {exc.strerror or exc}.") from exc
    with BatchTableWriter(out_dir / BATCH_FILE) as table:
        batch = _Batch(out_dir, settings, options, len(items), table, progress)
        todo: list[_Pending] = []
        for item in items:
            if item.missing:
                batch.add(VideoRow.failed(str(item.video), item.name, item.missing))
                continue
            try:
                video_hash = content_hash(item.video)
                info = probe(item.video)  # a file that is no video fails here, without starting Ray for it
            except OSError as exc:
                batch.add(VideoRow.failed(str(item.video), item.name, f"Cannot read {item.video}: "
                                          f"{exc.strerror or exc}."))
                continue
            except HarError as error:
                batch.add(VideoRow.failed(str(item.video), item.name, str(error)))
                continue
            if not batch.skip_if_done(item, video_hash):
                todo.append(_Pending(item, video_hash, info.frame_count))
        batch.report((), 0, sum(pending.frames for pending in todo))
        workers, per_video = 0, 0
        if todo:
            with ray_session(options.address):
                workers, per_video = plan_workers(options.workers, _node_cpus(), len(todo))
                _run_on_ray(batch, todo, settings, workers, per_video)
        batch.save_table()
    return BatchResult(out_dir, batch.rows, workers, per_video, batch.placements)


def _names(running: dict[ray.ObjectRef, _Pending]) -> set[str]:
    return {pending.item.name for pending in running.values()}


def _run_on_ray(batch: _Batch, todo: list[_Pending], settings: AnalysisSettings, workers: int, cpus: int) -> None:
    """Keep `workers` tasks in flight until every video has an outcome."""
    # Ray hides GPUs from tasks that reserve none, so `--device cuda` reserves one per video (and `auto`
    # runs on the CPU in a batch).
    gpus = 1 if settings.device == "cuda" else 0
    task = ray.remote(_analyze_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=TASK_RETRIES,
                                             retry_exceptions=False)
    board = ProgressBoard.remote()
    batch.started = time.monotonic()
    queue = list(reversed(todo))
    running: dict[ray.ObjectRef, _Pending] = {}
    # The board's latest answer and the question in flight: asked again only once answered, so a board
    # slowed down by busy cores delays the progress display, never the batch.
    states: tuple[WorkerState, ...] = ()
    asked = board.snapshot.remote()
    try:
        while queue or running:
            while queue and len(running) < workers:
                pending = queue.pop()
                try:
                    data = pending.item.video.read_bytes()
                except OSError as exc:
                    batch.add(VideoRow.failed(str(pending.item.video), pending.item.name,
                                              f"Cannot read {pending.item.video}: {exc.strerror or exc}."))
                    continue
                ref = task.remote(pending.item.name, pending.item.video.name, data, settings, cpus, board)
                running[ref] = pending
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_S)
            for ref in ready:
                pending = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as error:
                    outcome = _Outcome(None, _failure_message(error), 0.0)
                batch.finish(pending, outcome)
            answered, _ = ray.wait([asked], timeout=0)
            if answered:
                states, asked = ray.get(asked), board.snapshot.remote()
            reported = tuple(state for state in states if state.name in _names(running))
            left = sum(pending.frames for pending in (*queue, *running.values()))
            batch.report(reported, len(running), left)
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        ray.kill(board)

"""The user's own action models: fine-tuned checkpoints kept with the run store, which one is active, and
the background jobs that make them.

Layout under the run store's root (so one `HAR_RUNS_DIR` holds all of a user's data, never the repository)::

    models/<model id>/          a checkpoint folder in the shipped format (model.safetensors, config.json,
                                metrics.csv), loaded only through `har_core.classifier.ActionClassifier.load`
    models/active.json          {"model_id": ...} of the model new analyses use; absent: the shipped one
    models/.jobs/<job id>/      one fine-tuning job: labels.csv, status.json, the checkpoint being written

A fine-tuning job runs like an analysis (`har_core.jobs`): in a worker process forked from the fork
server, supervised by a thread of the server that holds the job's lock (a `RunLock`) for its lifetime; the
worker writes its progress to status.json, which any page reads. A job whose status says running while
nobody holds its lock was interrupted (the server stopped), and is reported so.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import secrets
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from har_core.classifier import CONFIG_FILE
from har_core.errors import HarError, ModelError
from har_core.pipeline import Progress
from har_core.store import RunLock, RunStore, atomic_write, lock_held
from har_core.user_labels import LabelledRange, write_labels_csv

LOG = logging.getLogger(__name__)

MODELS_DIR = "models"
ACTIVE_FILE = "active.json"
JOBS_DIR = ".jobs"
STATUS_FILE = "status.json"
LABELS_FILE = "labels.csv"
MODEL_SUBDIR = "model"
_MODEL_ID = re.compile(r"[0-9a-f]{16}")
_JOB_ID = re.compile(r"[0-9a-f]{12}")
_PROGRESS_INTERVAL_S = 0.5
INTERRUPTED = "The fine-tuning was interrupted (the app or its worker stopped) before it finished; start it again."

TrainFn = Callable[[Path, Path, "Path | None", dict, Callable[[Progress], None]], None]
"""`(labels.csv, out_dir, base checkpoint or None, options, progress)`: writes a checkpoint into out_dir.
A module-level function (`models.finetune.run_job`), so the forked worker can import it."""


@dataclass(frozen=True)
class UserModel:
    """A fine-tuned model in the library, described by its config.json (nothing is loaded to list it)."""

    model_id: str
    path: Path
    base_model_id: str
    created: float
    per_class: dict[str, int]
    evaluation: dict

    @classmethod
    def read(cls, folder: Path) -> UserModel | None:
        """The model in `folder`, or None when its config is missing or not a fine-tuned model's."""
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            finetune = config["finetune"]
            return cls(str(config["model_id"]), folder, str(config.get("base_model_id", "")),
                       float(finetune.get("created", 0.0)), dict(finetune.get("per_class", {})),
                       dict(config.get("evaluation", {})))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


class ModelLibrary:
    """The user's models folder: list, activate, revert to the shipped model, install and delete."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"Cannot create the models folder {self.root}: {exc.strerror or exc}.") from exc

    @classmethod
    def of(cls, store: RunStore) -> ModelLibrary:
        """The library kept with `store`."""
        return cls(store.root / MODELS_DIR)

    def path(self, model_id: str) -> Path:
        """The folder of a model id (KeyError for anything that is not one, so no path can be smuggled in)."""
        if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id):
            raise KeyError(f"not a model id: {model_id!r}")
        return self.root / model_id

    def models(self) -> list[UserModel]:
        """Every fine-tuned model here, newest first."""
        found = [UserModel.read(entry) for entry in self.root.iterdir()
                 if entry.is_dir() and not entry.is_symlink() and _MODEL_ID.fullmatch(entry.name)]
        return sorted((m for m in found if m is not None), key=lambda m: -m.created)

    def get(self, model_id: str) -> UserModel | None:
        try:
            return UserModel.read(self.path(model_id))
        except KeyError:
            return None

    def install(self, checkpoint: Path) -> UserModel:
        """Move a freshly written checkpoint folder (on the same file system) into the library.

        Raises:
            ModelError: the folder is not a fine-tuned checkpoint.
        """
        model = UserModel.read(checkpoint)
        if model is None:
            raise ModelError(f"{checkpoint} is not a fine-tuned model checkpoint.")
        target = self.path(model.model_id)
        if target.is_dir():  # the same weights again: keep the installed copy
            shutil.rmtree(checkpoint, ignore_errors=True)
        else:
            os.replace(checkpoint, target)
        installed = UserModel.read(target)
        assert installed is not None
        return installed

    def active(self) -> UserModel | None:
        """The model new analyses use, or None for the shipped checkpoint (also when the chosen one is gone)."""
        try:
            model_id = json.loads((self.root / ACTIVE_FILE).read_text(encoding="utf-8"))["model_id"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return self.get(model_id) if isinstance(model_id, str) else None

    def activate(self, model_id: str | None) -> None:
        """Make a model the one new analyses use; None goes back to the shipped checkpoint."""
        if model_id is None:
            (self.root / ACTIVE_FILE).unlink(missing_ok=True)
            return
        if self.get(model_id) is None:
            raise ModelError(f"There is no model {model_id} to activate.")
        atomic_write(self.root / ACTIVE_FILE, json.dumps({"model_id": model_id}).encode())

    def delete(self, model_id: str) -> bool:
        """Remove a model (going back to the shipped one first if it is active); False when there is none."""
        folder = self.path(model_id)
        if not folder.is_dir() or folder.is_symlink():
            return False
        active = self.active()
        if active is not None and active.model_id == model_id:
            self.activate(None)
        trash = self.root / f".trash-{model_id}-{secrets.token_hex(4)}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


@dataclass(frozen=True)
class FinetuneStatus:
    """Where a fine-tuning job is (status.json): state running | done | failed, the stage and its progress,
    the new model's id when done, the user-facing message when failed."""

    job_id: str
    state: str
    stage: str = ""
    done: int = 0
    total: int | None = None
    eta_s: float | None = None
    model_id: str | None = None
    message: str = ""
    started: float = 0.0
    updated: float = 0.0

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(max(self.done / self.total, 0.0), 1.0)


def _write_status(folder: Path, status: FinetuneStatus) -> None:
    atomic_write(folder / STATUS_FILE, json.dumps(asdict(status)).encode())


def _read_status(folder: Path) -> FinetuneStatus | None:
    try:
        return FinetuneStatus(**json.loads((folder / STATUS_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _finetune_work(root: str, job_id: str, base: str | None, options: dict, train_fn: TrainFn) -> None:
    """Worker process body: fine-tune, install the model, record the outcome in status.json."""
    library = ModelLibrary(Path(root))
    folder = library.root / JOBS_DIR / job_id
    started = time.time()
    last = [0.0, ""]

    def progress(report: Progress) -> None:
        now = time.monotonic()
        if report.stage == last[1] and now - last[0] < _PROGRESS_INTERVAL_S:
            return
        last[:] = [now, report.stage]
        _write_status(folder, FinetuneStatus(job_id, "running", report.stage, report.done, report.total,
                                             report.eta_s, started=started, updated=time.time()))

    try:
        train_fn(folder / LABELS_FILE, folder / MODEL_SUBDIR, None if base is None else Path(base), options, progress)
        model = library.install(folder / MODEL_SUBDIR)
        _write_status(folder, FinetuneStatus(job_id, "done", "done", model_id=model.model_id, started=started,
                                             updated=time.time()))
    except HarError as exc:
        _write_status(folder, FinetuneStatus(job_id, "failed", message=str(exc), started=started, updated=time.time()))
    except Exception as exc:  # noqa: BLE001 - any other failure is a bug, but the job must still end as failed
        LOG.error("fine-tuning job %s failed:\n%s", job_id, traceback.format_exc())
        _write_status(folder, FinetuneStatus(job_id, "failed", started=started, updated=time.time(),
                                             message=f"Internal error while fine-tuning ({type(exc).__name__}); "
                                                     "this is a bug, please report it."))


class FinetuneJobs:
    """Starts and follows fine-tuning jobs, one at a time (each takes the CPU for minutes)."""

    def __init__(self, library: ModelLibrary, train_fn: TrainFn) -> None:
        self.library = library
        self._train = train_fn
        self._lock = threading.Lock()
        self._locks: dict[str, RunLock] = {}
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["har_core.jobs", __name__])  # the analyses' preload, and this module
        self._jobs_root = library.root / JOBS_DIR

    def start(self, ranges: list[LabelledRange], base: Path | None = None, options: dict | None = None) -> str:
        """Fine-tune on `ranges` in the background; returns the job id.

        Raises:
            HarError: another fine-tuning job is still running.
        """
        with self._lock:
            if self.running() is not None:
                raise HarError("A fine-tuning job is already running; wait for it to finish.")
            job_id = secrets.token_hex(6)
            folder = self._jobs_root / job_id
            folder.mkdir(parents=True)
            lock = RunLock(folder / ".lock")
            write_labels_csv(ranges, folder / LABELS_FILE)
            _write_status(folder, FinetuneStatus(job_id, "running", "starting", started=time.time(),
                                                 updated=time.time()))
            self._locks[job_id] = lock
            process = self._context.Process(
                target=_finetune_work, name=f"har-finetune-{job_id[:6]}", daemon=True,
                args=(str(self.library.root), job_id, None if base is None else str(base), dict(options or {}),
                      self._train))
            process.start()
        threading.Thread(target=self._supervise, args=(job_id, process), name=f"har-finetune-{job_id}",
                         daemon=True).start()
        return job_id

    def _supervise(self, job_id: str, process: multiprocessing.process.BaseProcess) -> None:
        """Wait for the worker; record a failure it could not record itself; release the job's lock."""
        try:
            process.join()
            status = self.status(job_id)
            if status is not None and status.state == "running":
                _write_status(self._jobs_root / job_id, FinetuneStatus(
                    job_id, "failed", message=f"The fine-tuning stopped unexpectedly (worker exit code "
                    f"{process.exitcode}); start it again.", started=status.started, updated=time.time()))
        finally:
            with self._lock:
                self._locks.pop(job_id).release()

    def status(self, job_id: str) -> FinetuneStatus | None:
        """The job's status; a running job that nobody owns any more is reported as interrupted."""
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            return None
        folder = self._jobs_root / job_id
        status = _read_status(folder)
        if status is not None and status.state == "running" and job_id not in self._locks \
                and not lock_held(folder / ".lock"):
            return FinetuneStatus(job_id, "failed", message=INTERRUPTED, started=status.started,
                                  updated=status.updated)
        return status

    def latest(self) -> FinetuneStatus | None:
        """The most recently started job, if any."""
        if not self._jobs_root.is_dir():
            return None
        statuses = [s for entry in self._jobs_root.iterdir() if (s := self.status(entry.name)) is not None]
        return max(statuses, key=lambda s: s.started, default=None)

    def running(self) -> FinetuneStatus | None:
        """The job still running, if any."""
        latest = self.latest()
        return latest if latest is not None and latest.state == "running" else None

    def wait(self, job_id: str, timeout: float) -> FinetuneStatus | None:
        """Poll until the job is no longer running or `timeout` seconds passed (tests, scripts)."""
        deadline = time.monotonic() + timeout
        while (status := self.status(job_id)) is not None and status.state == "running":
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return status


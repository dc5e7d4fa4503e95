"""The run store: a SQLite index plus one folder per run, surviving restarts, crashes and concurrent jobs.

Layout under the root (``$HAR_RUNS_DIR``, default ``$XDG_DATA_HOME/har-dashboard/runs`` or
``~/.local/share/har-dashboard/runs``)::

    index.sqlite3            one row per run, and the user's labelled ranges of runs (WAL mode, so readers never
                             block the writing jobs)
    <run id>/input.<ext>     the uploaded clip under a generated name (never the user's file name)
    <run id>/results/        annotated.mp4, frames.csv, keypoints.csv, summary.json (written by the pipeline)
    <run id>/thumbnail.jpg   a small still for the history page
    <run id>/.lock           held (flock) by whoever owns the run while it is queued or running
    batches/<hash>.csv       the batch.csv of each batch recorded with `python -m har_core batch --store`
    models/                  the user's fine-tuned models (`har_core.user_models`)

Ownership is an OS file lock rather than a pid or heartbeat: the kernel drops it when the owner dies,
even on SIGKILL, so "active in the index but nobody holds the lock" reliably means "interrupted", with
no pid reuse or clock skew to reason about. Every file is written under a temporary name and renamed
into place, and a run folder is only renamed into the root once its input is complete, so a crash at
any point leaves either nothing or a whole thing behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Self

from har_core.errors import LabelError, OutputError
from har_core.skeleton import CLASSES

RUNS_DIR_ENV = "HAR_RUNS_DIR"
INDEX_FILE = "index.sqlite3"
RESULTS_DIR = "results"
THUMBNAIL_FILE = "thumbnail.jpg"
LOCK_FILE = ".lock"
RESULT_FILES = ("annotated.mp4", "frames.csv", "keypoints.csv", "summary.json")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
INTERRUPTED_MESSAGE = "The analysis was interrupted (the app or its worker stopped) before it finished; run it again."

# A labelled range may end this far past the clip (a chart selection's edge and rounded times are approximate).
LABEL_SLACK_S = 0.05
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
_ID_BYTES = 16
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_MAX_NAME = 120
_CHUNK = 1 << 20
BATCHES_DIR = "batches"
_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    fps REAL NOT NULL DEFAULT 0,
    eta_s REAL,
    settings TEXT NOT NULL,
    model_id TEXT NOT NULL,
    folder TEXT NOT NULL,
    input_file TEXT NOT NULL,
    duration_s REAL,
    people INTEGER,
    dominant TEXT NOT NULL DEFAULT '[]',
    error TEXT NOT NULL DEFAULT '',
    worker_pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (key, created);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created);
CREATE TABLE IF NOT EXISTS batches (
    name TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    person_id INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    label TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_by_run ON labels (run_id, person_id, start_s);
"""
# Columns added after version 1, with their definitions; added to an older index when it is opened.
_ADDED_COLUMNS = {"batch": "TEXT NOT NULL DEFAULT ''"}


class RunStatus(StrEnum):
    """Life cycle of a run: queued -> running -> done | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class RunRecord:
    """One row of the index, as the pages and jobs see it.

    Attributes:
        id: unguessable run id (URL-safe), also the folder name.
        key: cache key (video content + settings + model id), see `cache_key`.
        name: sanitised display name of the uploaded clip.
        created, updated: Unix times.
        status: see `RunStatus`.
        stage, done, total, fps, eta_s: the latest progress report while running.
        settings: the analysis settings as a plain dict.
        model_id: the action model the run used (or will use).
        duration_s, people, dominant: result summary for the history (None / empty until done).
        error: the user-facing message of a failed run.
        worker_pid: process running the analysis, for diagnostics only (ownership is the lock).
        batch: the name of the batch that recorded the run ("" for a run started in the dashboard).
    """

    id: str
    key: str
    name: str
    created: float
    updated: float
    status: RunStatus
    stage: str
    done: int
    total: int | None
    fps: float
    eta_s: float | None
    settings: dict
    model_id: str
    folder: str
    input_file: str
    duration_s: float | None
    people: int | None
    dominant: tuple[str, ...]
    error: str
    worker_pid: int | None
    batch: str = ""

    @property
    def active(self) -> bool:
        """Queued or running: results are not there yet."""
        return self.status in ACTIVE_STATUSES

    @property
    def fraction(self) -> float | None:
        """Progress of the current stage in [0, 1], None when the total is unknown."""
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        """Decode a `runs` row (JSON columns become Python values)."""
        values = dict(row)
        values["status"] = RunStatus(values["status"])
        values["settings"] = json.loads(values["settings"])
        values["dominant"] = tuple(json.loads(values["dominant"]))
        return cls(**values)


@dataclass(frozen=True)
class LabelRecord:
    """A user's correction of a finished run: person `person_id` did `label` from `start_s` to `end_s`."""

    id: int
    run_id: str
    person_id: int
    start_s: float
    end_s: float
    label: str
    created: float


class RunLock:
    """An exclusive flock on a run's lock file; holding it means "this run has a live owner"."""

    def __init__(self, path: Path, blocking: bool = True) -> None:
        """Open and lock `path`.

        Raises:
            BlockingIOError: `blocking` is False and someone else holds the lock.
        """
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    @property
    def held(self) -> bool:
        """True until `release` is called."""
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def lock_held(path: Path) -> bool:
    """True when some live process holds the lock file at `path` (False when it is free or its folder is gone)."""
    try:
        RunLock(path, blocking=False).release()
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


@dataclass
class NewRun:
    """A freshly created run and the lock that makes its creator its owner (release it when finished)."""

    record: RunRecord
    lock: RunLock


def default_runs_dir() -> Path:
    """`$HAR_RUNS_DIR`, else the XDG data folder, so runs survive restarts without any configuration."""
    configured = os.environ.get(RUNS_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "har-dashboard" / "runs"


def sanitize_name(name: str) -> str:
    """A display name safe to show and log: no path parts, separators or control characters, bounded length.

    Only the final path component is kept (browsers may send "C:\\fakepath\\clip.mp4"); every
    separator and control/format character is dropped. It is never used to build a path.
    """
    base = re.split(r"[/\\]", name)[-1]
    kept = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C"))
    kept = " ".join(kept.split()).strip(" .")
    return kept[:_MAX_NAME] or "video"


def safe_suffix(name: str) -> str:
    """The lower-case video suffix of `name` when it is one we accept, else ".bin" (content decides anyway)."""
    suffix = Path(sanitize_name(name)).suffix.lower()
    return suffix if suffix in VIDEO_SUFFIXES else ".bin"


def content_hash(source: bytes | BinaryIO | Path) -> str:
    """SHA-256 of a clip's bytes, streamed so large uploads are never copied in memory."""
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        digest.update(source)
    elif isinstance(source, Path):
        with source.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    else:
        source.seek(0)
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
        source.seek(0)
    return digest.hexdigest()


def cache_key(video_hash: str, settings: dict, model_id: str) -> str:
    """Key under which a finished result is reused: same bytes, same settings, same model -> same result."""
    canonical = json.dumps({"video": video_hash, "settings": settings, "model": model_id}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def atomic_write(path: Path, source: bytes | BinaryIO | Path) -> None:
    """Write `source` to `path` via a temporary sibling and a rename, so readers never see a partial file."""
    tmp = path.with_name(f"{_TMP_PREFIX}{secrets.token_hex(6)}-{path.name}")
    try:
        with tmp.open("wb") as out:
            if isinstance(source, bytes | bytearray | memoryview):
                out.write(source)
            elif isinstance(source, Path):
                with source.open("rb") as handle:
                    shutil.copyfileobj(handle, out, _CHUNK)
            else:
                source.seek(0)
                shutil.copyfileobj(source, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def valid_run_id(run_id: object) -> bool:
    """True when `run_id` has the exact shape `new_run_id` produces (rejects "..", "/", empty, ...)."""
    return isinstance(run_id, str) and _RUN_ID.fullmatch(run_id) is not None


def new_run_id() -> str:
    """128 random bits, URL-safe: one user cannot reach another's run by guessing."""
    return secrets.token_urlsafe(_ID_BYTES)


class RunStore:
    """The index and the run folders under one root. Safe to share between threads; each thread gets
    its own SQLite connection, and separate processes may open the same root at once."""

    def __init__(self, root: Path | None = None, recover: bool = True) -> None:
        """Open (creating if needed) the store at `root`.

        Args:
            root: store folder; default `default_runs_dir()`.
            recover: mark interrupted runs failed and sweep leftovers. The dashboard does this at
                start-up; analysis workers open the store with False because they are not its owner.

        Raises:
            OutputError: the folder or its index cannot be created or written.
        """
        self.root = (root if root is not None else default_runs_dir()).expanduser().resolve()
        self._local = threading.local()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                conn.executescript(_SCHEMA)
                present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
                for column, definition in _ADDED_COLUMNS.items():
                    if column not in present:
                        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {definition}")
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"Cannot open the run store at {self.root} ({exc}); set {RUNS_DIR_ENV} to a "
                              "writable folder.") from exc
        if recover:
            self.recover()

    # -- connection -------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared between threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.root / INDEX_FILE, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @property
    def journal_mode(self) -> str:
        """The index's SQLite journal mode ("wal")."""
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        """Close the calling thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _update(self, run_id: str, where_status: tuple[RunStatus, ...], **values: object) -> bool:
        """Set columns on a run if it is in one of `where_status`; True when a row changed.

        The status guard makes every transition first-writer-wins: a cancelled or recovered run can
        never be flipped back to done by a late worker.
        """
        values["updated"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        marks = ", ".join("?" for _ in where_status)
        with self._conn() as conn:
            cursor = conn.execute(
                f"UPDATE runs SET {columns} WHERE id = ? AND status IN ({marks})",
                (*values.values(), run_id, *where_status),
            )
        return cursor.rowcount == 1

    # -- paths ------------------------------------------------------------------------------------

    def _confined(self, path: Path) -> Path:
        """`path` resolved, refusing anything that lands outside the root (symlinks included)."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise PermissionError(f"{path} is outside the run store")
        return resolved

    def _run_entry(self, run_id: str) -> Path:
        """root/run_id for a checked id, not resolved (a valid id cannot leave the root lexically)."""
        if not valid_run_id(run_id):
            raise KeyError(f"not a run id: {run_id!r}")
        return self.root / run_id

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run (checked id, inside the root); PermissionError if it was swapped for a link."""
        entry = self._run_entry(run_id)
        if entry.is_symlink():
            raise PermissionError(f"{entry} is a link, not a run folder")
        return self._confined(entry)

    def input_path(self, record: RunRecord) -> Path:
        """Where the run's uploaded clip lives."""
        return self._confined(self.run_dir(record.id) / record.input_file)

    def results_dir(self, run_id: str) -> Path:
        """The folder the pipeline writes the run's outputs into (renamed into place when complete)."""
        return self.run_dir(run_id) / RESULTS_DIR

    def result_file(self, run_id: str, name: str) -> Path | None:
        """A servable file of a finished run, or None.

        Only the fixed output names (and the thumbnail) of a run whose status is done are served,
        after resolving the path and checking it stays inside the store, so neither a crafted id or
        name nor a symlink can reach other files, and no partial file of an unfinished run is shown.
        """
        record = self.get(run_id)
        if record is None or record.status != RunStatus.DONE:
            return None
        if name not in RESULT_FILES and name != THUMBNAIL_FILE:
            return None
        try:
            path = self.results_dir(run_id) / name if name in RESULT_FILES else self.run_dir(run_id) / name
            resolved = self._confined(path)
        except PermissionError:
            return None
        return resolved if resolved.is_file() else None

    # -- queries ----------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None (also for anything that is not a well-formed id)."""
        if not valid_run_id(run_id):
            return None
        row = self._conn().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def find_by_key(self, key: str) -> RunRecord | None:
        """The newest finished or still-active run with this cache key (failed runs are not reused)."""
        row = self._conn().execute(
            "SELECT * FROM runs WHERE key = ? AND status IN (?, ?, ?) ORDER BY created DESC LIMIT 1",
            (key, RunStatus.DONE, *ACTIVE_STATUSES),
        ).fetchone()
        if row is None:
            return None
        record = RunRecord.from_row(row)
        if record.status == RunStatus.DONE and not self.results_dir(record.id).is_dir():
            return None
        return record

    def list_runs(self, status: RunStatus | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally only those with `status`."""
        query, args = "SELECT * FROM runs", []
        if status is not None:
            query += " WHERE status = ?"
            args.append(status)
        query += " ORDER BY created DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        return [RunRecord.from_row(row) for row in self._conn().execute(query, args)]

    # -- batches ----------------------------------------------------------------------------------

    def save_batch_table(self, name: str, table: Path) -> None:
        """Keep a copy of a batch's batch.csv under the batch's name (replacing an earlier copy).

        The copy lives in the store, so the Runs page shows the batch's summary even where the batch's
        output folder is on another machine.
        """
        file = f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.csv"
        try:
            (self.root / BATCHES_DIR).mkdir(exist_ok=True)
            atomic_write(self.root / BATCHES_DIR / file, table)
            with self._conn() as conn:
                conn.execute("INSERT OR REPLACE INTO batches (name, file, updated) VALUES (?, ?, ?)",
                             (name, file, time.time()))
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"Cannot record the batch table in the run store: {exc}.") from exc

    def batch_table(self, name: str) -> Path | None:
        """The stored batch.csv of the batch called `name`, or None."""
        row = self._conn().execute("SELECT file FROM batches WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        path = self.root / BATCHES_DIR / row[0]
        return path if path.is_file() else None

    def list_batches(self) -> list[str]:
        """Names of the batches that recorded runs or a table, newest first."""
        rows = self._conn().execute(
            "SELECT name FROM (SELECT batch AS name, MAX(created) AS at FROM runs WHERE batch != '' GROUP BY batch "
            "UNION ALL SELECT name, updated AS at FROM batches) GROUP BY name ORDER BY MAX(at) DESC"
        )
        return [row[0] for row in rows]

    # -- labels -----------------------------------------------------------------------------------

    def add_label(self, run_id: str, person_id: int, start_s: float, end_s: float, label: str) -> LabelRecord:
        """Store a labelled range of a finished run (stored with the run, deleted with it).

        Raises:
            LabelError: the run is not a finished one, the class is unknown, or the range is empty.
        """
        record = self.get(run_id)
        if record is None or record.status != RunStatus.DONE:
            raise LabelError("Only a finished run can be labelled.")
        _check_label(label, start_s, end_s)
        if record.duration_s is not None and end_s > record.duration_s + LABEL_SLACK_S:
            raise LabelError(f"The range {start_s:g}-{end_s:g} s is outside the clip (0-{record.duration_s:.2f} s).")
        with self._conn() as conn:
            cursor = conn.execute(
                "INSERT INTO labels (run_id, person_id, start_s, end_s, label, created) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, int(person_id), float(start_s), float(end_s), label, time.time()))
        return self._label(int(cursor.lastrowid))

    def relabel(self, label_id: int, label: str) -> bool:
        """Change the class of a labelled range; False when there is no such range."""
        _check_label(label, 0.0, 1.0)
        with self._conn() as conn:
            return conn.execute("UPDATE labels SET label = ? WHERE id = ?", (label, int(label_id))).rowcount == 1

    def delete_label(self, label_id: int) -> bool:
        """Remove a labelled range; False when there is no such range."""
        with self._conn() as conn:
            return conn.execute("DELETE FROM labels WHERE id = ?", (int(label_id),)).rowcount == 1

    def labels(self, run_id: str | None = None) -> list[LabelRecord]:
        """Labelled ranges of one run (or of every run), by run, person and start."""
        query, args = "SELECT * FROM labels", ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        rows = self._conn().execute(query + " ORDER BY run_id, person_id, start_s, id", args)
        return [LabelRecord(**dict(row)) for row in rows]

    def _label(self, label_id: int) -> LabelRecord:
        row = self._conn().execute("SELECT * FROM labels WHERE id = ?", (label_id,)).fetchone()
        return LabelRecord(**dict(row))

    # -- life cycle -------------------------------------------------------------------------------

    def create_run(
        self, source: bytes | BinaryIO | Path, name: str, key: str, settings: dict, model_id: str, batch: str = ""
    ) -> NewRun:
        """Store a clip as a new queued run, owned (locked) by the caller (`batch`: the batch it belongs to).

        The folder is assembled under a temporary name, holding the lock, and renamed into place
        before the row is inserted, so the index never points at a half-written input.

        Raises:
            OutputError: the clip cannot be stored (disk full, folder not writable); nothing is kept.
        """
        run_id = new_run_id()
        display = sanitize_name(name)
        input_file = "input" + safe_suffix(name)
        staging = self.root / f"{_TMP_PREFIX}{run_id}"
        try:
            staging.mkdir()
            lock = RunLock(staging / LOCK_FILE)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError(f"Cannot store the uploaded video in the run store: {exc.strerror or exc}.") from exc
        try:
            atomic_write(staging / input_file, source)
            os.replace(staging, self.root / run_id)
            now = time.time()
            with self._conn() as conn:
                conn.execute(
                    "INSERT INTO runs (id, key, name, created, updated, status, settings, model_id, folder, "
                    "input_file, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, key, display, now, now, RunStatus.QUEUED, json.dumps(settings, sort_keys=True),
                     model_id, run_id, input_file, batch),
                )
        except BaseException as exc:
            lock.release()
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(self.root / run_id, ignore_errors=True)
            if isinstance(exc, OSError | sqlite3.Error):
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise OutputError(f"Cannot store the uploaded video in the run store: {reason}.") from exc
            raise
        record = self.get(run_id)
        assert record is not None
        return NewRun(record, lock)

    def mark_running(self, run_id: str, worker_pid: int) -> bool:
        """Queued -> running, recording which process does the work."""
        return self._update(run_id, (RunStatus.QUEUED,), status=RunStatus.RUNNING, worker_pid=worker_pid)

    def update_progress(self, run_id: str, stage: str, done: int, total: int | None, fps: float,
                        eta_s: float | None) -> bool:
        """Record the latest progress report of a running run."""
        return self._update(run_id, (RunStatus.RUNNING,), stage=stage, done=int(done),
                            total=None if total is None else int(total), fps=float(fps),
                            eta_s=None if eta_s is None else float(eta_s))

    def mark_done(self, run_id: str, duration_s: float | None, people: int, dominant: list[str],
                  model_id: str) -> bool:
        """Running -> done with the summary the history shows."""
        return self._update(run_id, (RunStatus.RUNNING,), status=RunStatus.DONE, stage="done", eta_s=0.0,
                            duration_s=duration_s, people=int(people), dominant=json.dumps(list(dominant)),
                            model_id=model_id)

    def mark_failed(self, run_id: str, message: str) -> bool:
        """Queued/running -> failed with the message users see; removes anything half-written."""
        changed = self._update(run_id, ACTIVE_STATUSES, status=RunStatus.FAILED, error=message, eta_s=None)
        if changed:
            self.discard_partial(run_id)
        return changed

    def discard_partial(self, run_id: str) -> None:
        """Remove everything of an unfinished run except its input and lock (results, temp files)."""
        record = self.get(run_id)
        folder = self.root / run_id
        if record is None or record.status == RunStatus.DONE or not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.name in (record.input_file, LOCK_FILE):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def owned(self, run_id: str) -> bool:
        """True when some live process holds the run's lock."""
        try:
            return lock_held(self.run_dir(run_id) / LOCK_FILE)
        except KeyError:
            return False

    def delete(self, run_id: str) -> bool:
        """Remove a run's row and folder; refuses (False) while someone owns it (cancel it first)."""
        if self.get(run_id) is None:
            return False
        folder = self._run_entry(run_id)
        if folder.is_symlink():  # never follow it: remove the row and the link, nothing outside the store
            with self._conn() as conn:
                conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
                conn.execute("DELETE FROM labels WHERE run_id = ?", (run_id,))
            folder.unlink()
            return True
        if folder.is_dir():
            try:
                guard = RunLock(folder / LOCK_FILE, blocking=False)
            except BlockingIOError:
                return False
        else:
            guard = None
        try:
            with self._conn() as conn:
                conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
                conn.execute("DELETE FROM labels WHERE run_id = ?", (run_id,))
            if folder.is_dir():
                trash = self.root / f"{_TRASH_PREFIX}{run_id}"
                os.replace(folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
        finally:
            if guard is not None:
                guard.release()
        return True

    def recover(self) -> list[str]:
        """Mark runs that are active but have no live owner as failed, and sweep leftovers.

        Returns:
            The ids of the runs marked failed.
        """
        failed = []
        for record in self.list_runs():
            if record.active and not self.owned(record.id) and self.mark_failed(record.id, INTERRUPTED_MESSAGE):
                failed.append(record.id)
        self._sweep()
        return failed

    def _sweep(self) -> None:
        """Delete staging/trash folders and run folders without a row, unless someone holds their lock."""
        known = {row[0] for row in self._conn().execute("SELECT id FROM runs")}
        for entry in self.root.iterdir():
            if not entry.is_dir() or entry.is_symlink():
                continue
            leftover = entry.name.startswith((_TMP_PREFIX, _TRASH_PREFIX))
            orphan = valid_run_id(entry.name) and entry.name not in known
            if not (leftover or orphan):
                continue
            with _try_lock(entry / LOCK_FILE) as free:
                if free:
                    shutil.rmtree(entry, ignore_errors=True)


def _check_label(label: str, start_s: float, end_s: float) -> None:
    """A label must name a class and cover a non-empty range of time."""
    if label not in CLASSES:
        raise LabelError(f"Unknown label {label!r}; use one of {', '.join(CLASSES)}.")
    if not start_s < end_s or start_s < 0:
        raise LabelError(f"A labelled range must start at 0 s or later and end after it starts ({start_s}-{end_s} s).")


@contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """Yield True while holding `path`'s lock if it was free (or missing), False if someone holds it."""
    try:
        lock = RunLock(path, blocking=False) if path.parent.is_dir() else None
    except BlockingIOError:
        yield False
        return
    except FileNotFoundError:
        lock = None
    try:
        yield True
    finally:
        if lock is not None:
            lock.release()

"""Faults: a worker killed mid-write, a full disk, an unwritable folder, concurrent jobs; nothing is lost or corrupted.

The job tests run the real pipeline in real worker processes (`har_core.jobs`) on a small rendered clip, and
check every finished run's data files against an analysis of the same clip in this process. Disk and folder
failures are simulated where they happen: the file size limit of a child process makes FFmpeg's own writes
fail, and the data-file writes and folder operations are made to raise the errors a full or read-only disk
gives.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import pytest

from har_core import pipeline
from har_core.cli import main
from har_core.errors import OutputError
from har_core.jobs import JobManager
from har_core.outputs import FRAMES_FILE, KEYPOINTS_FILE, OUTPUT_FILES, SUMMARY_FILE, VIDEO_FILE
from har_core.pipeline import AnalysisSettings, Progress, analyze
from har_core.store import INDEX_FILE, LOCK_FILE, RESULT_FILES, THUMBNAIL_FILE, RunStatus, RunStore
from tests.reliability_corpus import FAST_INPUT_SIZE, person_video
from tests.test_fuzz import StandInBackend

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 180.0
DATA_FILES = (FRAMES_FILE, KEYPOINTS_FILE)


def settings(variant: int = 0) -> AnalysisSettings:
    """Fast settings; `variant` changes only a frame limit no clip reaches, so each gets its own run (cache
    key) while every result must be identical."""
    return AnalysisSettings(input_size=FAST_INPUT_SIZE, max_frames=10_000 + variant)


def analyze_stalling_in_render(video: Path, out_dir: Path, options: AnalysisSettings,
                               progress: Callable[[Progress], None]) -> None:
    """The real analysis, stalling once it has started writing the annotated video: a worker to kill mid-write."""

    def report(event: Progress) -> None:
        progress(event)
        if event.stage == "render":
            time.sleep(600)

    analyze(video, out_dir, options, report)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "wave.mp4"
    person_video(path)
    return path


@pytest.fixture(scope="module")
def reference(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The data files of the clip analysed in this process: what every worker must produce too."""
    out = tmp_path_factory.mktemp("reference") / "out"
    analyze(clip, out, settings())
    return {name: (out / name).read_bytes() for name in DATA_FILES}


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `folder` (hidden ones included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def served(store: RunStore, run_id: str) -> dict[str, Path | None]:
    return {name: store.result_file(run_id, name) for name in (*RESULT_FILES, THUMBNAIL_FILE)}


# -- jobs ------------------------------------------------------------------------------------------


def test_several_analyses_at_once_from_two_servers_all_complete_correctly(clip: Path, reference: dict[str, bytes],
                                                                          tmp_path: Path) -> None:
    """Two job managers (two dashboard servers) on one store, four real analyses in parallel workers."""
    store = RunStore(tmp_path / "runs")
    managers = [JobManager(RunStore(store.root), model_id="m", max_parallel=2) for _ in range(2)]
    records = [managers[i % 2].submit(clip, f"clip {i}.mp4", settings(i)) for i in range(4)]
    assert len({record.id for record in records}) == 4
    finished = [managers[i % 2].wait(record.id, TIMEOUT_S) for i, record in enumerate(records)]
    assert [record.status for record in finished] == [RunStatus.DONE] * 4, [record.error for record in finished]
    reopened = RunStore(store.root)  # as a restarted server sees it
    assert reopened.journal_mode == "wal"
    for record in finished:
        assert reopened.get(record.id).status == RunStatus.DONE
        for name in DATA_FILES:
            assert reopened.result_file(record.id, name).read_bytes() == reference[name]
        assert all(path is not None for path in served(reopened, record.id).values())


def test_worker_killed_while_writing_leaves_a_failed_run_and_intact_neighbours(clip: Path, reference: dict[str, bytes],
                                                                              tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    jobs = JobManager(store, model_id="m", max_parallel=2)
    earlier = jobs.wait(jobs.submit(clip, "earlier.mp4", settings(0)).id, TIMEOUT_S)
    assert earlier.status == RunStatus.DONE, earlier.error
    earlier_files = tree(store.run_dir(earlier.id))

    stalling = JobManager(store, model_id="m", analyze_fn=analyze_stalling_in_render)
    victim = stalling.submit(clip, "victim.mp4", settings(1))
    bystander = jobs.submit(clip, "bystander.mp4", settings(2))
    wait_for(lambda: store.get(victim.id).stage == "render")
    partial = [p.name for p in store.run_dir(victim.id).rglob("*.partial")]
    assert partial, "the worker should be half-way through writing its results"
    os.kill(store.get(victim.id).worker_pid, signal.SIGKILL)

    failed = stalling.wait(victim.id, TIMEOUT_S)
    assert failed.status == RunStatus.FAILED and "killed by SIGKILL" in failed.error
    assert jobs.wait(bystander.id, TIMEOUT_S).status == RunStatus.DONE
    restarted = RunStore(store.root)
    assert restarted.get(victim.id).status == RunStatus.FAILED
    assert sorted(p.name for p in restarted.run_dir(victim.id).iterdir()) == [LOCK_FILE, "input.mp4"]
    assert set(served(restarted, victim.id).values()) == {None}
    assert tree(restarted.run_dir(earlier.id)) == earlier_files
    for run_id in (earlier.id, bystander.id):
        assert restarted.get(run_id).status == RunStatus.DONE
        assert [restarted.result_file(run_id, name).read_bytes() for name in DATA_FILES] == \
            [reference[name] for name in DATA_FILES]


def test_index_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    """WAL: the history page keeps reading while a job holds a write transaction (rollback mode would block)."""
    store = RunStore(tmp_path)
    new = store.create_run(b"clip", "clip.mp4", "k", {}, "m")
    reader = RunStore(tmp_path, recover=False)
    writer = sqlite3.connect(tmp_path / INDEX_FILE, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("UPDATE runs SET stage = 'pose' WHERE id = ?", (new.record.id,))
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(reader.get(new.record.id).stage))
    thread.start()
    thread.join(timeout=5.0)
    writer.execute("ROLLBACK")
    writer.close()
    new.lock.release()
    assert not thread.is_alive() and seen == [""]


# -- full disk, unwritable folders -----------------------------------------------------------------


def previous_result(out: Path) -> dict[str, str]:
    out.mkdir(parents=True)
    for name in OUTPUT_FILES:
        (out / name).write_text(f"previous {name}")
    return tree(out)


def full_disk_on(monkeypatch: pytest.MonkeyPatch, file_name: str) -> None:
    """Make every write to files called `file_name` fail as on a full disk (ENOSPC), after the open succeeded."""
    real_open = pathlib.Path.open

    class FullDiskFile:
        def __init__(self, handle) -> None:
            self._handle = handle

        def write(self, _data) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name: str):
            return getattr(self._handle, name)

        def __enter__(self) -> Self:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

    def open_(path: pathlib.Path, mode: str = "r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return FullDiskFile(handle) if path.name == file_name and "w" in mode else handle

    monkeypatch.setattr(pathlib.Path, "open", open_)


@pytest.mark.parametrize("file_name", [KEYPOINTS_FILE, FRAMES_FILE, SUMMARY_FILE])
def test_full_disk_while_writing_data_is_a_clear_error_and_keeps_the_previous_result(
        file_name: str, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    before = previous_result(out)
    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    full_disk_on(monkeypatch, file_name)
    with pytest.raises(OutputError) as caught:
        analyze(clip, out, settings())
    assert str(caught.value) == f"Cannot write {file_name}: No space left on device."
    assert tree(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]


FILE_SIZE_LIMITED = """
import resource, signal, sys
from pathlib import Path
from har_core import pipeline
from har_core.errors import HarError
from tests.test_fuzz import StandInBackend
pipeline.create_pose_backend = StandInBackend
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    pipeline.analyze(Path(sys.argv[1]), Path(sys.argv[2]))
except HarError as error:
    print(type(error).__name__, error)
"""


def test_video_write_failing_in_ffmpeg_is_a_clear_error_and_keeps_the_previous_result(clip: Path,
                                                                                     tmp_path: Path) -> None:
    """A real failing write inside FFmpeg's muxer: the process may write files of at most 4 KB."""
    out = tmp_path / "out"
    before = previous_result(out)
    run = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMITED, str(clip), str(out)], capture_output=True,
                         text=True, cwd=REPO, timeout=TIMEOUT_S, check=False)
    assert run.stdout == f"OutputError Cannot write the video {VIDEO_FILE}: File too large.\n", run.stderr
    assert tree(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_unwritable_output_folder_is_a_clear_error(code: int, clip: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied or a read-only file system where the result folder would go (root ignores chmod)."""
    real_mkdir = pathlib.Path.mkdir

    def refuse(path: pathlib.Path, *args, **kwargs) -> None:
        if path.parent == tmp_path:
            raise OSError(code, os.strerror(code), str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    with pytest.raises(OutputError, match=f"Cannot create the output folder .*: {os.strerror(code)}"):
        analyze(clip, tmp_path / "out", settings())
    assert list(tmp_path.iterdir()) == []


def test_output_path_under_a_file_is_one_line_from_the_cli(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    blocker = tmp_path / "report.txt"
    blocker.write_text("not a folder")
    assert main(["analyze", str(clip), "--out", str(blocker / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot create the output folder") and err.count("\n") == 1
    assert blocker.read_text() == "not a folder"


def test_failed_final_rename_puts_the_previous_result_back(clip: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step swaps the new folder in; if the disk refuses that rename, the old result must stay."""
    out = tmp_path / "out"
    before = previous_result(out)
    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    real_replace = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target) == out and Path(source).name.endswith(".partial"):  # the new result's rename
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, target)

    monkeypatch.setattr(pipeline.os, "replace", replace)
    with pytest.raises(OutputError, match="No space left on device"):
        analyze(clip, out, settings())
    assert tree(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]

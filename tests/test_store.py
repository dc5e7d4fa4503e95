"""The run store: atomic writes, cache keys, WAL, concurrent writers, crash recovery, path confinement, ids."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from har_core.errors import LabelError, OutputError
from har_core.store import (
    INTERRUPTED_MESSAGE,
    LOCK_FILE,
    RESULT_FILES,
    THUMBNAIL_FILE,
    RunStatus,
    RunStore,
    atomic_write,
    cache_key,
    content_hash,
    new_run_id,
    sanitize_name,
    valid_run_id,
)

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
SETTINGS = {"backend": "movenet", "threshold": 0.5, "smoothing": 5}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def finished_run(store: RunStore, data: bytes = CLIP, key: str = "k") -> str:
    """A run taken through queued -> running -> done, with every result file in place."""
    new = store.create_run(data, "clip.mp4", key, SETTINGS, "model-a")
    run_id = new.record.id
    assert store.mark_running(run_id, os.getpid())
    results = store.results_dir(run_id)
    results.mkdir()
    for name in RESULT_FILES:
        (results / name).write_bytes(b"result " + name.encode())
    (store.run_dir(run_id) / THUMBNAIL_FILE).write_bytes(b"jpeg")
    assert store.mark_done(run_id, 3.5, 2, ["BOXING", "WAVING_1HAND"], "model-a")
    new.lock.release()
    return run_id


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not a folder"
    blocker.write_text("a file where the store should be")
    with pytest.raises(OutputError, match="Cannot open the run store .* set HAR_RUNS_DIR to a writable folder"):
        RunStore(blocker / "runs")


def test_index_uses_wal_and_survives_reopen(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.journal_mode == "wal"
    run_id = finished_run(store)
    reopened = RunStore(tmp_path)
    record = reopened.get(run_id)
    assert record is not None and record.status == RunStatus.DONE
    assert record.dominant == ("BOXING", "WAVING_1HAND") and record.people == 2 and record.duration_s == 3.5
    assert record.settings == SETTINGS


def test_run_ids_are_random_url_safe_and_validated() -> None:
    ids = {new_run_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(valid_run_id(run_id) and len(run_id) == 22 for run_id in ids)
    for bad in ("", "..", "../" + "a" * 19, "a" * 21, "a" * 23, "a/" * 11, None, 12):
        assert not valid_run_id(bad)


def test_upload_is_stored_under_a_generated_name_with_a_sanitised_display_name(store: RunStore) -> None:
    new = store.create_run(io.BytesIO(CLIP), "../../etc/\x1b[31mpass\nwd\x00.MP4", "k", SETTINGS, "m")
    record = new.record
    folder = store.run_dir(record.id)
    assert folder.parent == store.root and folder.name == record.id
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE, "input.mp4"]
    assert store.input_path(record).read_bytes() == CLIP
    assert record.name == "[31mpasswd.MP4"
    assert record.status == RunStatus.QUEUED and record.active
    assert sorted(p.name for p in store.root.iterdir()) == sorted([record.id, "index.sqlite3", "index.sqlite3-shm",
                                                                   "index.sqlite3-wal"])


@pytest.mark.parametrize(("raw", "shown"), [
    ("C:\\fakepath\\my clip.mov", "my clip.mov"),
    ("a/b/c.webm", "c.webm"),
    ("\u202eevil\u200b.mp4", "evil.mp4"),
    ("..", "video"),
    ("", "video"),
    ("x" * 500 + ".mp4", "x" * 120),
])
def test_sanitize_name(raw: str, shown: str) -> None:
    assert sanitize_name(raw) == shown


def test_cache_key_depends_on_content_settings_and_model(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(CLIP)
    digest = content_hash(CLIP)
    assert content_hash(path) == content_hash(io.BytesIO(CLIP)) == digest
    key = cache_key(digest, SETTINGS, "m1")
    assert key == cache_key(digest, dict(reversed(list(SETTINGS.items()))), "m1")
    assert key != cache_key(content_hash(CLIP + b"\x00"), SETTINGS, "m1")
    assert key != cache_key(digest, {**SETTINGS, "threshold": 0.6}, "m1")
    assert key != cache_key(digest, SETTINGS, "m2")


def test_find_by_key_reuses_done_and_active_runs_but_not_failed_ones(store: RunStore) -> None:
    done_id = finished_run(store, key="same")
    assert store.find_by_key("same").id == done_id
    failing = store.create_run(CLIP, "b.mp4", "other", SETTINGS, "m")
    assert store.find_by_key("other").id == failing.record.id
    assert store.mark_failed(failing.record.id, "Not a video.")
    assert store.find_by_key("other") is None
    assert store.find_by_key("missing") is None


class ExplodingReader(io.RawIOBase):
    """A file object that fails half-way, like an upload cut off or a full disk."""

    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer: memoryview) -> int:
        if self.sent > 3 * len(buffer):
            raise OSError(28, "No space left on device")
        buffer[:] = b"x" * len(buffer)
        self.sent += len(buffer)
        return len(buffer)


def test_atomic_write_never_leaves_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, b"old and complete")
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, ExplodingReader())
    assert target.read_bytes() == b"old and complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_failed_upload_leaves_no_row_and_no_folder(store: RunStore) -> None:
    with pytest.raises(OutputError, match="Cannot store the uploaded video in the run store: No space left on device"):
        store.create_run(ExplodingReader(), "big.mp4", "k", SETTINGS, "m")
    assert store.list_runs() == []
    assert sorted(p.name for p in store.root.iterdir() if not p.name.startswith("index.sqlite3")) == []


def test_transitions_are_first_writer_wins(store: RunStore) -> None:
    new = store.create_run(CLIP, "a.mp4", "k", SETTINGS, "m")
    run_id = new.record.id
    assert store.mark_running(run_id, 123)
    assert store.update_progress(run_id, "pose", 10, 40, 12.5, 2.4)
    record = store.get(run_id)
    assert (record.stage, record.done, record.total, record.fraction) == ("pose", 10, 40, 0.25)
    assert store.mark_failed(run_id, "The analysis was cancelled.")
    assert not store.mark_done(run_id, 1.0, 1, [], "m")
    assert not store.update_progress(run_id, "pose", 20, 40, 12.5, 1.0)
    assert not store.mark_failed(run_id, "something else")
    record = store.get(run_id)
    assert record.status == RunStatus.FAILED and record.error == "The analysis was cancelled." and record.done == 10


def test_concurrent_writers_from_threads_and_a_second_store(tmp_path: Path) -> None:
    stores = [RunStore(tmp_path), RunStore(tmp_path)]
    errors: list[BaseException] = []
    created: list[str] = []

    def job(index: int) -> None:
        try:
            store = stores[index % 2]
            new = store.create_run(CLIP + bytes([index]), f"clip{index}.mp4", f"key{index}", SETTINGS, "m")
            run_id = new.record.id
            store.mark_running(run_id, index)
            for step in range(40):
                assert store.update_progress(run_id, "pose", step, 40, 30.0, 1.0)
            assert store.mark_done(run_id, 1.0, 1, ["JUMPING"], "m")
            new.lock.release()
            created.append(run_id)
        except BaseException as exc:  # noqa: BLE001 - reported below with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runs = RunStore(tmp_path).list_runs()
    assert sorted(r.id for r in runs) == sorted(created) and len(runs) == 8
    assert all(r.status == RunStatus.DONE and r.done == 39 for r in runs)


CRASHING_WORKER = """
import os, signal, sys
from pathlib import Path
from har_core.store import RunStore
store = RunStore(Path(sys.argv[1]), recover=False)
new = store.create_run(b"clip bytes", "clip.mp4", "k", {}, "m")
store.mark_running(new.record.id, os.getpid())
store.update_progress(new.record.id, "pose", 5, 50, 10.0, 4.5)
(store.results_dir(new.record.id).parent / "results.tmp-1").mkdir()
(store.results_dir(new.record.id).parent / "results.tmp-1" / "annotated.mp4").write_bytes(b"half")
print(new.record.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_run_of_a_killed_process_is_marked_failed_on_next_open(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    live = RunStore(root)
    alive = live.create_run(CLIP, "alive.mp4", "k2", SETTINGS, "m")
    live.mark_running(alive.record.id, os.getpid())
    proc = subprocess.run([sys.executable, "-c", CRASHING_WORKER, str(root)], check=False, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert proc.returncode == -9, proc.stderr
    crashed_id = proc.stdout.strip()
    assert live.get(crashed_id).status == RunStatus.RUNNING

    reopened = RunStore(root)
    crashed = reopened.get(crashed_id)
    assert crashed.status == RunStatus.FAILED and crashed.error == INTERRUPTED_MESSAGE
    assert sorted(p.name for p in reopened.run_dir(crashed_id).iterdir()) == [LOCK_FILE, "input.mp4"]
    assert reopened.result_file(crashed_id, "annotated.mp4") is None
    # A run whose owner is alive is left alone.
    assert reopened.get(alive.record.id).status == RunStatus.RUNNING
    alive.lock.release()


def test_leftovers_are_swept_at_open(store: RunStore) -> None:
    orphan = store.root / new_run_id()
    orphan.mkdir()
    (orphan / "input.mp4").write_bytes(CLIP)
    (store.root / ".tmp-abc").mkdir()
    (store.root / ".trash-abc").mkdir()
    busy = store.create_run(CLIP, "busy.mp4", "k", SETTINGS, "m")
    RunStore(store.root)
    names = {p.name for p in store.root.iterdir()}
    assert orphan.name not in names and ".tmp-abc" not in names and ".trash-abc" not in names
    assert busy.record.id in names
    busy.lock.release()


def test_only_files_of_finished_runs_inside_the_store_are_served(store: RunStore, tmp_path: Path) -> None:
    run_id = finished_run(store)
    for name in (*RESULT_FILES, THUMBNAIL_FILE):
        path = store.result_file(run_id, name)
        assert path is not None and path.is_relative_to(store.root) and path.is_file()
    for name in ("../index.sqlite3", "input.mp4", "/etc/passwd", "results/../input.mp4", LOCK_FILE):
        assert store.result_file(run_id, name) is None
    for bad_id in ("../" + run_id[3:], "..", run_id + "/..", new_run_id()):
        assert store.get(bad_id) is None and store.result_file(bad_id, "summary.json") is None
    with pytest.raises(KeyError):
        store.run_dir("../..")
    secret = tmp_path / "secret.txt"
    secret.write_text("other user's data")
    summary = store.results_dir(run_id) / "summary.json"
    summary.unlink()
    summary.symlink_to(secret)
    assert store.result_file(run_id, "summary.json") is None

    running = store.create_run(CLIP, "b.mp4", "k2", SETTINGS, "m")
    store.results_dir(running.record.id).mkdir()
    (store.results_dir(running.record.id) / "annotated.mp4").write_bytes(b"partial")
    assert store.result_file(running.record.id, "annotated.mp4") is None
    running.lock.release()


def test_delete_removes_row_and_folder_but_not_while_owned(store: RunStore) -> None:
    keep = finished_run(store, key="keep")
    gone = finished_run(store, key="gone")
    owned = store.create_run(CLIP, "c.mp4", "k3", SETTINGS, "m")
    assert not store.delete(owned.record.id)
    assert store.get(owned.record.id) is not None
    owned.lock.release()
    assert store.delete(gone)
    assert store.get(gone) is None and not (store.root / gone).exists()
    assert not store.delete(gone)
    assert store.get(keep) is not None and store.result_file(keep, "frames.csv") is not None
    assert {r.id for r in store.list_runs()} == {keep, owned.record.id}


def test_labels_are_kept_with_their_run_changed_and_deleted_with_it(store: RunStore, tmp_path: Path) -> None:
    run_id = finished_run(store)
    first = store.add_label(run_id, 1, 0.5, 2.0, "BOXING")
    second = store.add_label(run_id, 2, 1.0, 3.5, "OTHER")
    assert [(x.person_id, x.start_s, x.end_s, x.label) for x in store.labels(run_id)] == [
        (1, 0.5, 2.0, "BOXING"), (2, 1.0, 3.5, "OTHER")]
    assert store.relabel(first.id, "CLAPPING_HANDS") and store.labels()[0].label == "CLAPPING_HANDS"
    assert store.delete_label(second.id) and not store.delete_label(second.id)
    assert [x.id for x in RunStore(store.root).labels(run_id)] == [first.id]  # survives reopening
    for args, message in [((1, 0.0, 1.0, "DANCING"), "Unknown label"), ((1, 2.0, 1.0, "BOXING"), "end after"),
                          ((1, 3.0, 9.0, "BOXING"), "outside the clip")]:
        with pytest.raises(LabelError, match=message):
            store.add_label(run_id, *args)
    active = store.create_run(CLIP, "new.mp4", "other", SETTINGS, "model-a")
    with pytest.raises(LabelError, match="finished run"):
        store.add_label(active.record.id, 1, 0.0, 1.0, "BOXING")
    active.lock.release()
    assert store.delete(run_id) and store.labels() == []

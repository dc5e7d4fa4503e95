"""Background jobs: worker processes recorded in the store, caching, errors, cancel, SIGKILL, concurrency.

The analysis functions below stand in for `pipeline.analyze` where a test needs a run to be slow or to
fail in a particular way; they are module-level so the spawned worker can import them. One test runs
the real pipeline end to end on a generated clip.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from har_core.errors import ModelError, NoPersonError
from har_core.jobs import CANCELLED_MESSAGE, JobManager, default_model_id, summarize
from har_core.outputs import FRAMES_FILE, KEYPOINTS_FILE, SUMMARY_FILE, VIDEO_FILE
from har_core.pipeline import AnalysisSettings, Progress
from har_core.store import LOCK_FILE, THUMBNAIL_FILE, RunRecord, RunStatus, RunStore
from tests.media import make_video, write_text

TIMEOUT_S = 120


def fake_analyze(video: Path, out_dir: Path, settings: AnalysisSettings, progress: Callable[[Progress], None]) -> None:
    """A quick stand-in that writes a complete, small result (the clip itself as the annotated video)."""
    for done in range(0, 41, 10):
        progress(Progress("pose", done, 40, 100.0, (40 - done) / 100))
    out_dir.mkdir()
    (out_dir / VIDEO_FILE).write_bytes(video.read_bytes())
    (out_dir / FRAMES_FILE).write_text("frame\n")
    (out_dir / KEYPOINTS_FILE).write_text("frame\n")
    (out_dir / SUMMARY_FILE).write_text(json.dumps({
        "video": {"duration_s": 1.33}, "model_id": "fake-model",
        "people": [{"person_id": 1}, {"person_id": 4}],
        "segments": [
            {"person_id": 1, "label": "BOXING", "start_s": 0.0, "end_s": 1.0},
            {"person_id": 4, "label": "CLAPPING_HANDS", "start_s": 0.0, "end_s": 0.4},
            {"person_id": 4, "label": "UNCERTAIN", "start_s": 0.4, "end_s": 1.3},
        ],
    }))


def slow_analyze(video: Path, out_dir: Path, settings: AnalysisSettings, progress: Callable[[Progress], None]) -> None:
    """Starts writing into a staging folder, reports progress, then takes far longer than any test waits."""
    staging = out_dir.with_name(".results.partial")
    staging.mkdir()
    (staging / VIDEO_FILE).write_bytes(b"half an mp4")
    progress(Progress("pose", 3, 300, 10.0, 29.7))
    time.sleep(600)


def crashing_analyze(video: Path, out_dir: Path, settings: AnalysisSettings, progress: Callable) -> None:
    raise RuntimeError("a bug")


def no_person_analyze(video: Path, out_dir: Path, settings: AnalysisSettings, progress: Callable) -> None:
    raise NoPersonError("No person was found in the video.")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4", frames=40)


def manager(tmp_path: Path, analyze_fn: Callable, max_parallel: int = 2) -> JobManager:
    return JobManager(RunStore(tmp_path / "runs"), model_id="test-model", analyze_fn=analyze_fn,
                      max_parallel=max_parallel)


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def run_files(store: RunStore, record: RunRecord) -> list[str]:
    return sorted(p.name for p in store.run_dir(record.id).iterdir())


def test_summarize_counts_people_and_ranks_actions_by_time() -> None:
    info = summarize({"video": {"duration_s": 4.0}, "model_id": "m", "people": [{}, {}, {}], "segments": [
        {"label": "BOXING", "start_s": 0, "end_s": 1}, {"label": "JUMPING", "start_s": 0, "end_s": 3},
        {"label": "UNCERTAIN", "start_s": 0, "end_s": 9}, {"label": "BOXING", "start_s": 2, "end_s": 3.5},
        {"label": "OTHER", "start_s": 0, "end_s": 0.5}, {"label": "WAVING_1HAND", "start_s": 0, "end_s": 0.1}]})
    assert (info.duration_s, info.people, info.model_id) == (4.0, 3, "m")
    assert info.dominant == ["JUMPING", "BOXING", "OTHER"]


def test_default_model_id_reads_the_checkpoint_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="No usable action model checkpoint"):
        default_model_id(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_id": "abc123"}))
    assert default_model_id(tmp_path) == "abc123"
    assert JobManager(RunStore(tmp_path / "runs")).model_id == default_model_id()


def test_run_completes_in_a_worker_process_and_is_cached(tmp_path: Path, clip: Path) -> None:
    jobs = manager(tmp_path, fake_analyze)
    record = jobs.submit(clip, "my clip.mp4", AnalysisSettings())
    assert record.active
    done = jobs.wait(record.id, TIMEOUT_S)
    assert done.status == RunStatus.DONE, done.error
    assert done.worker_pid not in (None, os.getpid())
    assert (done.duration_s, done.people, done.dominant, done.model_id) == (1.33, 2, ("BOXING", "CLAPPING_HANDS"),
                                                                            "fake-model")
    assert (done.stage, done.done, done.total) == ("done", 40, 40)
    assert jobs.store.result_file(done.id, THUMBNAIL_FILE).read_bytes()[:2] == b"\xff\xd8"
    assert jobs.store.result_file(done.id, VIDEO_FILE).read_bytes() == clip.read_bytes()
    assert not jobs.is_running_here(done.id)

    again = jobs.submit(clip.read_bytes(), "renamed.mp4", AnalysisSettings())
    assert again.id == done.id and not jobs.is_running_here(done.id)
    other = jobs.submit(clip, "my clip.mp4", AnalysisSettings(threshold=0.7))
    assert other.id != done.id
    assert jobs.wait(other.id, TIMEOUT_S).status == RunStatus.DONE


@pytest.mark.parametrize(("analyze_fn", "message"), [
    (no_person_analyze, "No person was found in the video."),
    (crashing_analyze, "Internal error while analysing the video (RuntimeError); this is a bug, please report it."),
])
def test_errors_become_the_runs_message_and_nothing_is_left_half_written(
        tmp_path: Path, clip: Path, analyze_fn: Callable, message: str) -> None:
    jobs = manager(tmp_path, analyze_fn)
    record = jobs.wait(jobs.submit(clip, "clip.mp4", AnalysisSettings()).id, TIMEOUT_S)
    assert record.status == RunStatus.FAILED and record.error == message
    assert run_files(jobs.store, record) == [LOCK_FILE, "input.mp4"]
    assert jobs.submit(clip, "clip.mp4", AnalysisSettings()).id != record.id  # failures are retried, not reused


def test_killed_worker_marks_the_run_failed_and_other_runs_finish(tmp_path: Path, clip: Path) -> None:
    slow = manager(tmp_path, slow_analyze)
    quick = JobManager(slow.store, model_id="test-model", analyze_fn=fake_analyze)
    victim = slow.submit(clip, "victim.mp4", AnalysisSettings())
    bystander = quick.submit(clip, "bystander.mp4", AnalysisSettings(smoothing=3))
    wait_for(lambda: slow.store.get(victim.id).stage == "pose")
    running = slow.store.get(victim.id)
    assert running.status == RunStatus.RUNNING and running.fraction == pytest.approx(0.01)
    os.kill(running.worker_pid, signal.SIGKILL)
    failed = slow.wait(victim.id, TIMEOUT_S)
    assert failed.status == RunStatus.FAILED and "killed by SIGKILL" in failed.error
    assert run_files(slow.store, failed) == [LOCK_FILE, "input.mp4"]
    assert slow.store.result_file(victim.id, VIDEO_FILE) is None
    assert quick.wait(bystander.id, TIMEOUT_S).status == RunStatus.DONE
    assert RunStore(slow.store.root).get(victim.id).status == RunStatus.FAILED


def test_cancel_and_delete_stop_the_worker_and_remove_the_run(tmp_path: Path, clip: Path) -> None:
    jobs = manager(tmp_path, slow_analyze, max_parallel=1)
    first = jobs.submit(clip, "a.mp4", AnalysisSettings())
    queued = jobs.submit(clip, "b.mp4", AnalysisSettings(smoothing=1))
    wait_for(lambda: jobs.store.get(first.id).stage == "pose")
    assert jobs.store.get(queued.id).status == RunStatus.QUEUED
    pid = jobs.store.get(first.id).worker_pid
    assert jobs.cancel(first.id)
    cancelled = jobs.store.get(first.id)
    assert cancelled.status == RunStatus.FAILED and cancelled.error == CANCELLED_MESSAGE
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2])
    assert run_files(jobs.store, cancelled) == [LOCK_FILE, "input.mp4"]
    wait_for(lambda: jobs.store.get(queued.id).status == RunStatus.RUNNING)
    assert jobs.delete(queued.id)
    assert jobs.store.get(queued.id) is None and not (jobs.store.root / queued.id).exists()
    assert not jobs.cancel(queued.id)


def test_several_analyses_at_once_all_complete(tmp_path: Path, clip: Path) -> None:
    jobs = manager(tmp_path, fake_analyze, max_parallel=2)
    records = [jobs.submit(clip, f"clip{i}.mp4", AnalysisSettings(smoothing=i)) for i in range(4)]
    assert len({r.id for r in records}) == 4
    finished = [jobs.wait(r.id, TIMEOUT_S) for r in records]
    assert [r.status for r in finished] == [RunStatus.DONE] * 4
    assert sorted(r.id for r in jobs.store.list_runs(RunStatus.DONE)) == sorted(r.id for r in records)


def test_real_pipeline_errors_reach_the_store(tmp_path: Path, clip: Path) -> None:
    """The real analysis in a real worker: a text file and a clip with nobody in it."""
    jobs = JobManager(RunStore(tmp_path / "runs"))
    text = jobs.wait(jobs.submit(write_text(tmp_path / "notes.mp4"), "notes.mp4", AnalysisSettings()).id, TIMEOUT_S)
    nobody = jobs.wait(jobs.submit(clip, "empty room.mp4", AnalysisSettings()).id, TIMEOUT_S)
    assert text.status == RunStatus.FAILED and "video" in text.error.lower() and "Internal" not in text.error
    assert nobody.status == RunStatus.FAILED and "person" in nobody.error.lower() and "Internal" not in nobody.error
    for record in (text, nobody):
        assert run_files(jobs.store, record) == [LOCK_FILE, "input.mp4"]

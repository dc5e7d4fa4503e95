"""The whole pipeline on short rendered clips: four outputs, their agreement, progress, errors, atomicity."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from har_core import pipeline
from har_core.classifier import ActionClassifier
from har_core.errors import HarError, LimitError, NoPersonError, OutputError, TooShortError, VideoError
from har_core.features import WINDOW
from har_core.outputs import OUTPUT_FILES, load_results
from har_core.pipeline import AnalysisSettings, Progress, analyze
from har_core.pose.base import BackendInfo
from har_core.poses import Poses
from har_core.skeleton import CLASS_INDEX, CLASSES, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from har_core.timeline import ABSENT, NO_WINDOW
from models.synth.motion import Motion
from models.synth.scenes import PersonSpec, SceneTruth, group_camera, write_scene_video
from tests.media import make_video, write_random
from tests.test_pose_runtime import AUTO

FPS = 30.0
SIZE = (320, 240)
N_FRAMES = 60


# A standing person (metres, facing the camera, left side +x) whose right arm is raised and waves.
_STANDING = {
    "nose": (0, 1.62, 0.08), "left_eye": (0.03, 1.66, 0.06), "right_eye": (-0.03, 1.66, 0.06),
    "left_ear": (0.07, 1.64, 0), "right_ear": (-0.07, 1.64, 0), "left_shoulder": (0.18, 1.43, 0),
    "right_shoulder": (-0.18, 1.43, 0), "left_elbow": (0.22, 1.15, 0), "right_elbow": (-0.4, 1.6, 0),
    "left_wrist": (0.24, 0.88, 0.02), "right_wrist": (-0.4, 1.85, 0), "left_hip": (0.1, 0.95, 0),
    "right_hip": (-0.1, 0.95, 0), "left_knee": (0.11, 0.52, 0.02), "right_knee": (-0.11, 0.52, 0.02),
    "left_ankle": (0.11, 0.08, 0), "right_ankle": (-0.11, 0.08, 0),
}


def waving_motion(seconds: float) -> Motion:
    """One-hand waving built from joint positions directly, so the test does not depend on a motion model."""
    n = round(seconds * FPS)
    joints = np.tile(np.array([_STANDING[name] for name in JOINT_NAMES], dtype=np.float32), (n, 1, 1))
    angle = 0.5 * np.sin(2 * np.pi * 1.5 * np.arange(n) / FPS)  # forearm swings +-30 degrees
    elbow = joints[:, JOINT_INDEX["right_elbow"]]
    joints[:, JOINT_INDEX["right_wrist"]] = elbow + 0.25 * np.stack([-np.sin(angle), np.cos(angle), 0 * angle], 1)
    return Motion(joints, FPS, np.full(n, CLASS_INDEX["WAVING_1HAND"]), "test")


def render_clip(path: Path, people: int = 1, seconds: float = N_FRAMES / FPS, seed: int = 0) -> SceneTruth:
    """A rendered clip of `people` waving figures standing 1.6 m apart."""
    specs = [PersonSpec(waving_motion(seconds), path=((0.0, 1.6 * i - 0.8 * (people - 1), 0.0),))
             for i in range(people)]
    camera = group_camera(SIZE, span=1.0 + 1.6 * (people - 1))
    return write_scene_video(path, specs, camera, fps=FPS, seconds=seconds, background="plain", seed=seed)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneTruth]:
    path = tmp_path_factory.mktemp("clip") / "jacks.mp4"
    return path, render_clip(path)


@pytest.fixture(scope="module")
def run(clip: tuple[Path, SceneTruth], tmp_path_factory: pytest.TempPathFactory):
    """One analysis of the clip shared by the tests that inspect its outputs."""
    out = tmp_path_factory.mktemp("runs") / "result"
    events: list[Progress] = []
    result = analyze(clip[0], out, AnalysisSettings(), events.append)
    return result, events


def decoded_video(path: Path) -> tuple[str, str, int, tuple[int, int]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames, (stream.width, stream.height)


def test_writes_four_outputs_that_agree(clip: tuple[Path, SceneTruth], run) -> None:
    result, _ = run
    out = result.out_dir
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    assert decoded_video(out / "annotated.mp4") == ("h264", "yuv420p", N_FRAMES, SIZE)

    results = load_results(out)
    frames, summary = results.frames, results.summary
    people = [p["person_id"] for p in summary["people"]]
    assert len(people) == 1 and summary["people"][0]["primary"]
    assert len(frames) == N_FRAMES * len(people)  # a row per frame per tracked person
    assert frames["frame"].tolist() == list(range(N_FRAMES))
    np.testing.assert_allclose(frames["time_s"], np.arange(N_FRAMES) / FPS, atol=2e-3)
    # The track starts when the tracker confirms the person (frame 0 or 1); its first 31 frames have no
    # window. MoveNet may miss the figure on a frame (ABSENT); such short gaps are bridged, so every frame
    # from the first full window on has a prediction.
    first = summary["people"][0]["first_frame"]
    assert first <= 2
    assert frames["label"][: first + WINDOW - 1].isin([NO_WINDOW, ABSENT]).all()
    assert (frames["label"] == NO_WINDOW).sum() >= WINDOW - 8
    assert frames["label"][first + WINDOW - 1 :].isin([*CLASSES, "UNCERTAIN"]).all()
    probs = frames[[f"p_{c}" for c in CLASSES]].to_numpy()[first + WINDOW - 1 :]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=2e-3)

    assert summary["video"]["frames_decoded"] == N_FRAMES
    assert summary["model_id"] == ActionClassifier.load().model_id
    assert summary["pose"]["name"] == "movenet" and summary["settings"]["people"] == "all"
    for stage in ("decode", "pose", "tracking", "actions", "render", "encode", "data_files", "total"):
        assert summary["timings_s"][stage] >= 0.0
    assert summary["segments"] and all(s["person_id"] == people[0] for s in summary["segments"])


def test_keypoints_follow_the_rendered_figure(clip: tuple[Path, SceneTruth], run) -> None:
    result, _ = run
    truth = clip[1]
    run = load_results(result.out_dir)
    kp = run.keypoints
    assert kp.groupby("frame").size().eq(17).all()
    seen, labels = set(kp["frame"]), run.frames.set_index("frame")["label"]
    assert not seen & set(labels.index[labels == ABSENT])
    assert set(labels.index[labels == NO_WINDOW]) <= seen
    assert kp["frame"].nunique() >= 0.8 * N_FRAMES
    confident = kp[kp["score"] > 0.4]
    expected = truth.keypoints[confident["frame"].to_numpy(), 0, confident["joint"].map(JOINT_INDEX).to_numpy(), :2]
    error = np.linalg.norm(confident[["x", "y"]].to_numpy() - expected, axis=1)
    assert np.median(error) < 8.0  # pixels on a 320x240 frame: keypoints land on the figure, not scaled off


@pytest.fixture(scope="module")
def litert_run(clip: tuple[Path, SceneTruth], tmp_path_factory: pytest.TempPathFactory):
    """The same analysis with MoveNet on LiteRT (the default run is on OpenVINO)."""
    return analyze(clip[0], tmp_path_factory.mktemp("runs") / "litert", AnalysisSettings(pose_runtime="litert")), []


@pytest.mark.parametrize(("runtime", "fixture"), [("openvino", "run"), ("litert", "litert_run")])
def test_each_pose_runtime_runs_end_to_end_and_is_recorded(clip, runtime: str, fixture: str,
                                                          request: pytest.FixtureRequest) -> None:
    result, _ = request.getfixturevalue(fixture)
    results = load_results(result.out_dir)
    assert results.summary["settings"]["pose_runtime"] == runtime
    assert results.summary["pose"]["runtime"]["name"] == runtime
    assert results.summary["pose"]["runtime"]["workers"] == pipeline.pose_workers(pipeline.CPUS)
    assert decoded_video(result.out_dir / "annotated.mp4")[2] == N_FRAMES
    kp = results.keypoints[results.keypoints["score"] > 0.4]
    expected = clip[1].keypoints[kp["frame"].to_numpy(), 0, kp["joint"].map(JOINT_INDEX).to_numpy(), :2]
    assert np.median(np.linalg.norm(kp[["x", "y"]].to_numpy() - expected, axis=1)) < 8.0


def test_both_pose_runtimes_give_the_same_results(run, litert_run) -> None:
    """Within the precision tolerance of tests/test_pose_runtime.py (bf16 on CPUs that have it)."""
    openvino, litert = load_results(run[0].out_dir), load_results(litert_run[0].out_dir)
    assert len(openvino.keypoints) == len(litert.keypoints)
    moved = np.linalg.norm(openvino.keypoints[["x", "y"]].to_numpy() - litert.keypoints[["x", "y"]].to_numpy(), axis=1)
    assert moved.max() <= AUTO.worst * max(SIZE) and np.median(moved) <= AUTO.median * max(SIZE)
    np.testing.assert_allclose(openvino.keypoints["score"], litert.keypoints["score"], atol=AUTO.score)
    assert (openvino.frames["label"] == litert.frames["label"]).mean() >= 0.95


def test_progress_reports_each_stage_in_order(run) -> None:
    _, events = run
    stages = [e.stage for e in events]
    order = [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]
    assert order == ["pose", "actions", "render", "done"]
    render = [e for e in events if e.stage == "render"]
    assert [e.done for e in render] == sorted(e.done for e in render)
    assert render[-1].done == render[-1].total == N_FRAMES
    assert all(e.fps >= 0 and (e.eta_s is None or e.eta_s >= 0) for e in events)


def test_primary_only_keeps_one_person(tmp_path: Path) -> None:
    video = tmp_path / "two.mp4"
    render_clip(video, people=2, seconds=40 / FPS, seed=3)
    result = analyze(video, tmp_path / "out", AnalysisSettings(people="primary"))
    run = load_results(result.out_dir)
    assert len(run.summary["people"]) == 1 and run.summary["people"][0]["primary"]
    primary = run.summary["primary_person_id"]
    assert set(run.frames["person_id"]) == {primary} and len(run.frames) == 40
    assert set(run.keypoints["person_id"]) == {primary}


def test_no_person_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    video = make_video(tmp_path / "empty-scene.mp4", frames=32)
    with pytest.raises(NoPersonError, match="No person"):
        analyze(video, tmp_path / "out")
    assert list(tmp_path.iterdir()) == [video]


def test_length_is_judged_in_seconds_at_the_classifier_frame_rate(tmp_path: Path) -> None:
    """40 frames at 60 fps (0.67 s) are too short for one 32-sample window at 30 fps; 20 frames at 10 fps (2 s)
    are long enough, so that clip gets as far as looking for a person."""
    with pytest.raises(TooShortError, match=r"has 40 frames \(0.67 s\); at least 32 frames at 30 fps"):
        analyze(make_video(tmp_path / "fast.mp4", fps=60, frames=40), tmp_path / "out")
    with pytest.raises(NoPersonError):
        analyze(make_video(tmp_path / "slow.mp4", fps=10, frames=20), tmp_path / "out")


@pytest.mark.parametrize(
    ("make", "error", "settings"),
    [
        (lambda d: make_video(d / "short.mp4", frames=20), TooShortError, AnalysisSettings()),
        (lambda d: write_random(d / "noise.mp4"), VideoError, AnalysisSettings()),
        (lambda d: make_video(d / "long.mp4", frames=40), LimitError, AnalysisSettings(max_seconds=1.0)),
        (lambda d: make_video(d / "big.mp4", frames=40), LimitError, AnalysisSettings(max_pixels=100 * 100)),
    ],
    ids=["too-short", "not-a-video", "too-long", "too-large"],
)
def test_bad_input_raises_before_writing(tmp_path: Path, make, error, settings: AnalysisSettings) -> None:
    video = make(tmp_path)
    with pytest.raises(error):
        analyze(video, tmp_path / "out", settings)
    assert list(tmp_path.iterdir()) == [video]


def test_unknown_pose_runtime_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(HarError, match="pose_runtime must be one of openvino, litert, not 'onnx'"):
        analyze(tmp_path / "missing.mp4", tmp_path / "out", AnalysisSettings(pose_runtime="onnx"))


def test_failure_while_writing_leaves_the_previous_result(clip, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "result"
    out.mkdir()
    for name in OUTPUT_FILES:
        (out / name).write_text("previous")

    def broken_disk(*args: object) -> int:
        raise OutputError("Cannot write frames.csv: No space left on device.")

    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    monkeypatch.setattr(pipeline, "write_frames_csv", broken_disk)
    with pytest.raises(OutputError, match="No space"):
        analyze(clip[0], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]
    assert all((out / name).read_text() == "previous" for name in OUTPUT_FILES)


def test_previous_result_is_replaced_and_foreign_folders_are_refused(clip, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "result"
    out.mkdir()
    (out / "frames.csv").write_text("previous")
    monkeypatch.setattr(pipeline, "create_pose_backend", StandInBackend)
    analyze(clip[0], out, AnalysisSettings())
    assert (out / "frames.csv").read_text().startswith("frame,time_s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("keep me")
    with pytest.raises(OutputError, match="holds other files"):
        analyze(clip[0], mine)
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]


class StandInBackend:
    """A pose backend that finds the same person on every frame, for tests about folders, not poses."""

    info = BackendInfo(name="stand-in", model="none", licence="none", device="cpu", input_size=None)

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.keypoints = np.zeros((1, NUM_JOINTS, 3), dtype=np.float32)
        self.keypoints[0, :, 0] = np.linspace(140, 180, NUM_JOINTS)
        self.keypoints[0, :, 1] = np.linspace(40, 200, NUM_JOINTS)
        self.keypoints[0, :, 2] = 0.9

    def __call__(self, frames: list[np.ndarray]) -> list[Poses]:
        return [Poses(self.keypoints, [[140, 40, 180, 200]], [0.9]) for _ in frames]

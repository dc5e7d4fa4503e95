"""Poses on every Nth frame: which frames are estimated, how the others are filled, and the pipeline with a stride."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import HarError
from har_core.outputs import load_results
from har_core.pipeline import AnalysisSettings, analyze
from har_core.pose_stride import MAX_POSE_EVERY, auto_pose_every, interpolate, parse_pose_every, strided
from har_core.poses import Poses
from har_core.skeleton import JOINT_INDEX, NUM_JOINTS
from har_core.video import Frame
from tests.test_pipeline import N_FRAMES, render_clip


def frames(n: int) -> list[Frame]:
    return [Frame(index=i, time_s=i / 30, image=np.zeros((2, 2, 3), np.uint8)) for i in range(n)]


@pytest.mark.parametrize(("n", "every", "estimated", "skipped"), [
    (5, 1, [0, 1, 2, 3, 4], [[], [], [], [], []]),
    (7, 2, [0, 2, 4, 6], [[], [1], [3], [5]]),
    (6, 2, [0, 2, 4, 5], [[], [1], [3], []]),  # the last frame is always estimated
    (5, 3, [0, 3, 4], [[], [1, 2], []]),
    (1, 4, [0], [[]]),
])
def test_every_nth_frame_and_the_last_are_estimated(n: int, every: int, estimated: list[int],
                                                    skipped: list[list[int]]) -> None:
    items = list(strided(iter(frames(n)), every))
    assert [item.frame.index for item in items] == estimated
    assert [[frame.index for frame in item.skipped] for item in items] == skipped


@pytest.mark.parametrize(("fps", "every"), [(0.0, 1), (10, 1), (20, 1), (24, 2), (25, 2), (29.97, 2), (30, 2),
                                           (50, 3), (60, 4), (240, MAX_POSE_EVERY)])
def test_automatic_stride_estimates_about_15_poses_a_second(fps: float, every: int) -> None:
    assert auto_pose_every(fps) == every


def people(ids: list[int], x: float, score: float) -> Poses:
    keypoints = np.zeros((len(ids), NUM_JOINTS, 3), np.float32)
    keypoints[..., 0], keypoints[..., 1], keypoints[..., 2] = x, 2 * x, score
    boxes = np.tile(np.array([x, x, x + 10, x + 20], np.float32), (len(ids), 1))
    return Poses(keypoints, boxes, np.full(len(ids), score), np.array(ids))


def test_interpolation_blends_people_tracked_in_both_frames() -> None:
    before, after = people([3, 1, 7], x=10.0, score=0.9), people([1, 3, 5], x=20.0, score=0.3)
    between = interpolate(before, after, 0.25)
    assert sorted(between.track_ids.tolist()) == [1, 3]  # 7 left and 5 arrived: neither is guessed
    np.testing.assert_allclose(between.keypoints[..., 0], 12.5)
    np.testing.assert_allclose(between.keypoints[..., 1], 25.0)
    np.testing.assert_allclose(between.keypoints[..., 2], 0.3)  # the weaker frame's confidence
    np.testing.assert_allclose(between.boxes[0], [12.5, 12.5, 22.5, 32.5])
    np.testing.assert_allclose(between.scores, 0.3)
    assert len(interpolate(before, Poses.empty(), 0.5)) == 0


@pytest.mark.parametrize("every", [0, MAX_POSE_EVERY + 1])
def test_a_stride_out_of_range_is_refused(every: int, tmp_path: Path) -> None:
    with pytest.raises(HarError, match="pose_every must be between 1 and"):
        analyze(tmp_path / "missing.mp4", tmp_path / "out", AnalysisSettings(pose_every=every))


def test_default_pipeline_estimates_every_second_frame_at_30_fps_and_fills_the_rest(tmp_path: Path) -> None:
    video = tmp_path / "wave.mp4"
    truth = render_clip(video)
    result = analyze(video, tmp_path / "out", AnalysisSettings())
    run = load_results(result.out_dir)
    assert run.summary["settings"]["pose_every"] is None and run.summary["pose"]["every"] == 2
    assert len(run.frames) == N_FRAMES
    kp = run.keypoints.set_index(["frame", "joint"])[["x", "y"]]
    frames_seen = sorted(set(kp.index.get_level_values("frame")))
    assert len(frames_seen) >= 0.8 * N_FRAMES and any(f % 2 for f in frames_seen)
    # An in-between frame is the midpoint of its estimated neighbours.
    odd = next(f for f in frames_seen if f % 2 and f - 1 in frames_seen and f + 1 in frames_seen)
    np.testing.assert_allclose(kp.loc[odd].to_numpy(), (kp.loc[odd - 1].to_numpy() + kp.loc[odd + 1].to_numpy()) / 2,
                               atol=0.02)
    # And interpolated keypoints still land on the drawn figure (the waving wrist included).
    confident = run.keypoints[run.keypoints["score"] > 0.4]
    expected = truth.keypoints[confident["frame"].to_numpy(), 0, confident["joint"].map(JOINT_INDEX).to_numpy(), :2]
    error = np.linalg.norm(confident[["x", "y"]].to_numpy() - expected, axis=1)
    assert np.median(error) < 8.0


def test_command_line_strides_are_auto_or_one_to_the_maximum() -> None:
    assert parse_pose_every("auto") is None
    assert [parse_pose_every(str(n)) for n in range(1, MAX_POSE_EVERY + 1)] == list(range(1, MAX_POSE_EVERY + 1))
    for bad in ("0", str(MAX_POSE_EVERY + 1), "fast", ""):
        with pytest.raises(argparse.ArgumentTypeError, match=f"auto or 1 to {MAX_POSE_EVERY}"):
            parse_pose_every(bad)

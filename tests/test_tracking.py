"""Tracking on synthetic people: crossing, occlusion, re-entry, newcomers, and the primary person."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.errors import NoPersonError
from har_core.poses import Poses
from har_core.tracking import PoseTracker, TrackStats, choose_primary

# A standing person one unit tall, feet at the origin, y pointing down (COCO-17 order).
_TEMPLATE = np.array([
    [0.0, -0.93], [-0.03, -0.95], [0.03, -0.95], [-0.06, -0.93], [0.06, -0.93],
    [-0.12, -0.80], [0.12, -0.80], [-0.16, -0.62], [0.16, -0.62], [-0.18, -0.45], [0.18, -0.45],
    [-0.08, -0.50], [0.08, -0.50], [-0.08, -0.27], [0.08, -0.27], [-0.08, -0.02], [0.08, -0.02],
])


def person(x: float, feet_y: float, height: float, rng: np.random.Generator, jitter: float = 2.5):
    """Keypoints (17, 3) and box (4,) of a person `height` px tall standing at (x, feet_y), with jitter."""
    xy = _TEMPLATE * height + [x, feet_y] + rng.normal(0.0, jitter, (17, 2))
    keypoints = np.concatenate([xy, rng.uniform(0.4, 0.9, (17, 1))], axis=1)
    box = np.array([xy[:, 0].min() - 6, xy[:, 1].min() - 10, xy[:, 0].max() + 6, xy[:, 1].max() + 4])
    return keypoints, box


def frame(*people: tuple[np.ndarray, np.ndarray, float]) -> Poses:
    """One frame's Poses from (keypoints, box, score) triples."""
    if not people:
        return Poses.empty()
    return Poses(np.stack([p[0] for p in people]), np.stack([p[1] for p in people]), np.array([p[2] for p in people]))


def track_ids_by_name(tracker: PoseTracker, frames: list[dict[str, tuple]]) -> dict[str, list[int]]:
    """Run frames of named people through the tracker; collect the ids each name received."""
    ids: dict[str, list[int]] = {}
    for index, people in enumerate(frames):
        names = list(people)
        result = tracker.update(frame(*people.values()), index)
        for keypoints, track_id in zip(result.keypoints, result.track_ids, strict=True):
            source = min(names, key=lambda n: np.abs(people[n][0] - keypoints).sum())
            ids.setdefault(source, []).append(int(track_id))
    return ids


@pytest.mark.parametrize("speed", [3.0, 7.0, 12.0])
@pytest.mark.parametrize("rear_hidden", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_people_crossing_keep_their_ids(speed, rear_hidden, seed) -> None:
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(int(600 / speed) + 10):
        near_x, far_x = 40 + speed * index, 600 - speed * index
        people = {"near": (*person(near_x, 440, 320, rng), 0.6)}
        # The farther person is smaller and higher in the frame; while overlapped they may be hidden.
        if not (rear_hidden and abs(near_x - far_x) < 70):
            people["far"] = (*person(far_x, 390, 250, rng), 0.45)
        frames.append(people)
    ids = track_ids_by_name(PoseTracker(), frames)
    assert set(ids["near"]) == {ids["near"][0]}
    assert set(ids["far"]) == {ids["far"][0]}
    assert ids["near"][0] != ids["far"][0]
    assert len(ids["near"]) == len(frames) - 1  # all but the unconfirmed first frame


@pytest.mark.parametrize("speed", [0.0, 5.0])
@pytest.mark.parametrize("missing", [10, 25])
def test_brief_occlusion_keeps_the_id(speed, missing) -> None:
    rng = np.random.default_rng(3)
    frames = [{} if 30 <= i < 30 + missing else {"a": (*person(100 + speed * i, 420, 300, rng), 0.6)}
              for i in range(90)]
    ids = track_ids_by_name(PoseTracker(), frames)
    assert set(ids["a"]) == {0}


def _leave_and_return(return_x: float, gone_frames: int = 90) -> list[dict[str, tuple]]:
    """Someone walks out at the left edge, is gone for `gone_frames`, then stands at `return_x`."""
    rng = np.random.default_rng(4)
    frames = []
    for i in range(60):
        frames.append({"a": (*person(300 - 5 * i, 420, 300, rng), 0.6)})
    frames += [{} for _ in range(gone_frames)]
    frames += [{"a": (*person(return_x, 420, 290, rng), 0.6)} for _ in range(30)]
    return frames


def test_reentry_near_the_exit_gets_the_same_id() -> None:
    ids = track_ids_by_name(PoseTracker(), _leave_and_return(return_x=20))
    assert set(ids["a"]) == {0}


def test_reentry_far_from_the_exit_or_too_late_gets_a_new_id() -> None:
    assert set(track_ids_by_name(PoseTracker(), _leave_and_return(return_x=560))["a"]) == {0, 1}
    late = _leave_and_return(return_x=20, gone_frames=400)
    assert set(track_ids_by_name(PoseTracker(reentry_seconds=10.0), late)["a"]) == {0, 1}
    assert set(track_ids_by_name(PoseTracker(reentry_seconds=0.0), _leave_and_return(20))["a"]) == {0, 1}


def test_person_appearing_mid_clip_gets_a_new_id() -> None:
    rng = np.random.default_rng(5)
    frames = []
    for i in range(80):
        people = {"first": (*person(150, 420, 300, rng), 0.6)}
        if i >= 40:
            people["newcomer"] = (*person(480, 430, 310, rng), 0.6)
        frames.append(people)
    ids = track_ids_by_name(PoseTracker(), frames)
    assert set(ids["first"]) == {0}
    assert set(ids["newcomer"]) == {1}
    assert len(ids["newcomer"]) == 39


def test_low_score_people_extend_tracks_but_do_not_start_them() -> None:
    rng = np.random.default_rng(6)
    tracker = PoseTracker(new_track_score=0.3)
    for i in range(5):
        assert len(tracker.update(frame((*person(400, 420, 300, rng), 0.22)), i)) == 0
    for i in range(5, 10):
        tracker.update(frame((*person(150, 420, 300, rng), 0.6)), i)
    result = tracker.update(frame((*person(150, 420, 300, rng), 0.22)), 10)
    assert result.track_ids.tolist() == [0]


def test_update_keeps_input_order_and_data() -> None:
    rng = np.random.default_rng(7)
    tracker = PoseTracker()
    people = [(*person(x, 420, 280, rng), 0.6) for x in (100, 320, 540)]
    tracker.update(frame(*people), 0)
    poses = frame(*people)
    result = tracker.update(poses, 1)
    np.testing.assert_array_equal(result.keypoints, poses.keypoints)
    np.testing.assert_array_equal(result.boxes, poses.boxes)
    assert sorted(result.track_ids.tolist()) == [0, 1, 2]
    assert len(tracker.update(Poses.empty(), 2)) == 0


def test_timestamps_that_go_backwards_do_not_drop_people() -> None:
    rng = np.random.default_rng(8)
    tracker = PoseTracker(fps=30.0)
    times = [0.033, 0.067, 0.133, 0.1, 0.167, 0.234, 0.2, 0.267, 0.267]  # as some AVI files report them
    counts = [len(tracker.update(frame((*person(300, 420, 300, rng), 0.6)), i, t)) for i, t in enumerate(times)]
    assert counts == [0] + [1] * (len(times) - 1)


def test_stats_accumulate_presence_and_size() -> None:
    rng = np.random.default_rng(9)
    tracker = PoseTracker()
    for i in range(20):
        tracker.update(frame((*person(300, 420, 300, rng), 0.5)), i)
    (stats,) = tracker.stats.values()
    assert (stats.track_id, stats.first_frame, stats.last_frame, stats.frames_present) == (0, 1, 19, 19)
    assert 285 < stats.mean_height < 305  # 0.93 x 300 px of joints plus the box margins
    assert stats.mean_score == pytest.approx(0.5)


def _stats(track_id: int, frames: range, height: float) -> TrackStats:
    stats = TrackStats(track_id, frames.start, frames.start)
    for index in frames:
        stats.add(index, np.array([0.0, 100.0, 50.0, 100.0 + height]), 0.5)
    return stats


def test_primary_is_the_most_present_and_largest() -> None:
    subject = _stats(3, range(80), height=300)  # large, out of frame for the last fifth
    passer_by = _stats(1, range(100), height=120)  # small, there throughout
    brief_giant = _stats(2, range(40, 50), height=450)
    assert choose_primary([passer_by, subject, brief_giant]) == 3
    assert choose_primary([_stats(5, range(10, 60), 200), _stats(4, range(20, 70), 200)]) == 5  # tie: first seen


def test_primary_of_nobody_is_a_clear_error() -> None:
    with pytest.raises(NoPersonError, match="no person"):
        choose_primary([])

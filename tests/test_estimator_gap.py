"""The estimator check: its statistics on hand-made errors, and MoveNet on a rendered clip."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.pose.movenet import MoveNetBackend
from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models.synth.estimator_gap import RenderedClip, flip_rate, gap_stats, render_clips, simulated_estimate
from models.synth.noise import person_height

LW, RW = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]

# A person standing with the arms held out sideways, facing the camera (image pixels; the person's left is on
# the image's right).
T_POSE = np.array([
    [320, 100], [326, 94], [314, 94], [334, 98], [306, 98],  # face
    [350, 140], [290, 140], [390, 140], [250, 140], [430, 140], [210, 140],  # shoulders, elbows, wrists
    [340, 250], [300, 250], [342, 330], [298, 330], [344, 410], [296, 410],  # hips, knees, ankles
], dtype=np.float64)


def standing_clip(frames: int = 10) -> RenderedClip:
    """A still T-pose, every joint in view and nothing behind the body (all joints at one depth)."""
    truth = np.repeat(T_POSE[None], frames, axis=0)
    return RenderedClip(label=0, yaw_deg=0.0, truth=truth, depth=np.full((frames, 17), 3.0),
                        in_image=np.ones((frames, 17), dtype=bool), sampled=np.arange(frames),
                        estimate=np.zeros((frames, 17, 3), dtype=np.float32))


def with_scores(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, np.full((*points.shape[:-1], 1), 0.8)], axis=-1).astype(np.float32)


def test_gap_stats_measures_offsets_swaps_and_collapses() -> None:
    clip = standing_clip()
    height = person_height(clip.truth)
    estimate = clip.truth + np.array([0.02 * height, 0.0])  # every joint 2% of the height to the right
    estimate[3, [LW, RW]] = estimate[3, [RW, LW]]  # frame 3: wrists exchanged
    estimate[5, LW] = estimate[5, RW]  # frame 5: left wrist reported on the right one
    estimate = with_scores(estimate)
    estimate[7] = 0.0  # frame 7: nobody found

    stats = gap_stats([clip], [estimate])

    assert stats.frames == 10
    assert stats.not_found == pytest.approx(0.1)
    assert stats.error["hip"][0] == pytest.approx(0.02)
    assert stats.error["wrist"][0] == pytest.approx(0.02)  # the median ignores the two bad frames
    assert np.isnan(stats.error["wrist"][2])  # nothing was hidden
    assert stats.swap["wrist"] == pytest.approx(1 / 9)  # of the 9 frames with a person found
    assert stats.collapse["wrist"] == pytest.approx(1 / 9)
    assert stats.swap["elbow"] == 0 and stats.collapse["elbow"] == 0
    assert stats.score["wrist"][0] == pytest.approx(0.8)
    assert stats.offset["hip"] == pytest.approx(0.02)  # the constant shift is an offset ...
    assert stats.spread["hip"] == pytest.approx(0.0, abs=1e-9)  # ... not frame-to-frame error


def test_mixups_are_judged_only_where_both_joints_are_in_the_image() -> None:
    clip = standing_clip()
    in_image = clip.in_image.copy()
    in_image[3, LW] = False  # the exchanged frame's left wrist is outside the picture
    clip = RenderedClip(**{**clip.__dict__, "in_image": in_image})
    estimate = clip.truth.copy()
    estimate[3, [LW, RW]] = estimate[3, [RW, LW]]
    stats = gap_stats([clip], [with_scores(estimate)])
    assert stats.swap["wrist"] == 0.0


def test_simulated_estimate_without_noise_is_the_truth_at_the_sampled_frames() -> None:
    clip = standing_clip()
    clip = RenderedClip(**{**clip.__dict__, "sampled": np.array([0, 4, 8])})
    simulated = simulated_estimate(clip, np.random.default_rng(0))
    assert simulated.shape == (3, 17, 3)
    # A random profile moves joints by a fraction of a percent of the height, rarely more.
    error = np.linalg.norm(simulated[..., :2] - clip.truth[[0, 4, 8]], axis=-1) / person_height(clip.truth)
    assert np.median(error) < 0.05


def test_flip_rate_counts_a_left_right_exchange_between_samples() -> None:
    frames = 12
    track = with_scores(np.repeat(T_POSE[None], frames, axis=0))
    track[:, [LW, RW], 1] += np.linspace(0, 20, frames)[:, None]  # both wrists drift down slowly
    track[6:, [LW, RW]] = track[6:, [RW, LW]]  # from sample 6 on, the sides are exchanged
    rate, judged = flip_rate(track)
    assert judged == frames - 1
    assert rate == pytest.approx(1 / (frames - 1))

    unswapped = with_scores(np.repeat(T_POSE[None], frames, axis=0))
    assert flip_rate(unswapped) == (0.0, frames - 1)


def test_movenet_on_a_rendered_clip_lands_near_the_truth() -> None:
    clips = render_clips(1, 5, MoveNetBackend(num_threads=1), classes=(CLASS_INDEX["JUMPING_JACKS"],), seconds=1.0)
    (clip,) = clips
    assert clip.truth.shape == (30, 17, 2) and clip.depth.shape == (30, 17)
    assert clip.sampled.tolist() == [0, 5, 10, 15, 20, 25]
    stats = gap_stats(clips, [clip.estimate])
    assert stats.not_found == 0
    # MoveNet finds the drawn figure: torso joints within a few percent of its height, limbs not far off.
    assert stats.error["hip"][0] < 0.05 and stats.error["shoulder"][0] < 0.05
    assert stats.error["wrist"][0] < 0.1

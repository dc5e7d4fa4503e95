"""Window generation: shapes, balance, last-frame labels, determinism, mocap mixing and the held-out set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_core.features import WINDOW, features_for_windows
from har_core.skeleton import CLASS_INDEX, NUM_CLASSES, NUM_JOINTS
from models.synth import dataset
from models.synth.dataset import (
    SETTLED_FRAMES,
    WindowSet,
    cut_windows,
    film,
    generate_windows,
    mocap_validation_windows,
)
from models.synth.mocap import MocapError
from models.synth.procedural import random_clip
from tests.test_synth_mocap import make_mocap_dir


@pytest.fixture(scope="module")
def windows() -> WindowSet:
    return generate_windows(210, seed=3, mocap=False)


def test_windows_have_the_pipeline_shapes_and_balanced_labels(windows: WindowSet) -> None:
    assert windows.keypoints.shape == (210, WINDOW, NUM_JOINTS, 3) and windows.keypoints.dtype == np.float32
    assert windows.labels.dtype == np.int64 and np.bincount(windows.labels, minlength=NUM_CLASSES).tolist() == [30] * 7
    assert set(windows.sources) == {"procedural"}
    scores = windows.keypoints[..., 2]
    assert scores.min() >= 0 and scores.max() <= 1
    assert np.median(scores[scores > 0]) > 0.4
    features = features_for_windows(windows.keypoints)
    assert np.isfinite(features).all()


def test_windows_are_in_pixels_of_varied_frames(windows: WindowSet) -> None:
    seen = windows.keypoints[..., 2] > 0.25
    xy = windows.keypoints[..., :2][seen]
    assert xy.min() >= 0 and xy.max() > 640  # several image sizes, all coordinates inside the frame
    heights = [np.ptp(w[s][:, 1]) for w, s in zip(windows.keypoints[:, 0], seen[:, 0]) if s.sum() > 5]
    assert np.percentile(heights, 90) > 1.5 * np.percentile(heights, 10)  # near and far people


def test_same_seed_same_windows_and_workers_do_not_matter(windows: WindowSet) -> None:
    again = generate_windows(210, seed=3, mocap=False, workers=2)
    np.testing.assert_array_equal(again.keypoints, windows.keypoints)
    np.testing.assert_array_equal(again.labels, windows.labels)
    other = generate_windows(210, seed=4, mocap=False)
    assert not np.array_equal(other.keypoints, windows.keypoints)


def test_a_longer_stride_spreads_the_windows_over_more_clips(monkeypatch: pytest.MonkeyPatch) -> None:
    clips: list[float] = []
    run_job = dataset._run_job

    def counting(job: dataset._ClipJob) -> WindowSet:
        clips.append(job.stride)
        return run_job(job)

    monkeypatch.setattr(dataset, "_run_job", counting)
    dense = generate_windows(700, seed=5, mocap=False)
    n_dense = len(clips)
    clips.clear()
    sparse = generate_windows(700, seed=5, mocap=False, stride=8.0)
    assert set(clips) == {8.0}
    assert len(sparse) == len(dense) == 700
    assert np.bincount(sparse.labels).tolist() == [100] * 7
    assert len(clips) >= 1.6 * n_dense  # about twice the clips for the same number of windows


def test_windows_take_the_label_of_their_last_frame_once_it_has_settled() -> None:
    rng = np.random.default_rng(0)
    motion = random_clip(rng, CLASS_INDEX["CLAPPING_HANDS"], 30.0, 10.0, lead_in=True, lead_out=False)
    start = int(np.flatnonzero(np.diff(motion.labels))[0]) + 1  # first clapping frame
    keypoints, labels, visible = film(motion, rng, fps=30.0)
    assert len(keypoints) == len(motion)
    cut = cut_windows(keypoints, labels, np.ones_like(visible), 1.0, rng, "procedural")
    every_end = np.arange(WINDOW - 1, len(motion))
    settled = every_end[(every_end < start) | (every_end >= start + SETTLED_FRAMES - 1)]
    ends = settled[-len(cut):]
    assert len(cut) in (len(settled), len(settled) - 1)  # the random start may skip the first end
    np.testing.assert_array_equal(cut.labels, motion.labels[ends])
    # Windows that straddle the change are kept once half a window of clapping is in them, and are clapping.
    straddling = (ends >= start) & (ends - WINDOW + 1 < start)
    assert straddling.any() and (cut.labels[straddling] == CLASS_INDEX["CLAPPING_HANDS"]).all()
    assert not ((ends >= start) & (ends < start + SETTLED_FRAMES - 1)).any()


@pytest.mark.parametrize("fps", [15.0, 30.0, 60.0])
def test_film_hands_over_keypoints_at_the_classifier_rate_whatever_the_camera_rate(fps: float) -> None:
    rng = np.random.default_rng(1)
    motion = random_clip(rng, CLASS_INDEX["JUMPING"], 60.0, 4.0)
    keypoints, labels, visible = film(motion, rng, fps=fps)
    assert len(keypoints) == len(labels) == len(visible)
    assert 118 <= len(keypoints) <= 120  # 4 s at 30 fps, give or take the last step
    assert visible.mean() > 0.5


def test_mocap_windows_mix_in_and_validation_is_held_out(tmp_path: Path) -> None:
    root = make_mocap_dir(tmp_path)
    mixed = generate_windows(140, seed=0, mocap=True, mocap_dir=root)
    assert len(mixed) == 140
    by_source = {s: set(mixed.labels[mixed.sources == s]) for s in set(mixed.sources)}
    assert by_source["hdm05"] == {CLASS_INDEX["JUMPING"]}
    # The 0.8 s CMU excerpts are shorter than one window at the classifier's 30 fps; generation must notice
    # and fill those classes with procedural windows instead of looping.
    assert np.bincount(mixed.labels).tolist() == [20] * 7
    # 30% of the jumping windows come from the hops (the rest are procedural).
    jumping = mixed.labels == CLASS_INDEX["JUMPING"]
    assert (mixed.sources[jumping] == "hdm05").sum() == 6
    # Fine-tuning's replay asks for a larger share of real motion where there is enough of it.
    heavier = generate_windows(140, seed=0, mocap=True, mocap_dir=root, mocap_share=0.8)
    assert (heavier.sources[heavier.labels == CLASS_INDEX["JUMPING"]] == "hdm05").sum() == 16
    val = mocap_validation_windows(seed=0, cameras=2, mocap_dir=root)
    assert set(val.sources) == {"hdm05"}  # the held-out CMU excerpt is shorter than a window too
    assert set(val.labels) <= {CLASS_INDEX[c] for c in ("JUMPING", "JUMPING_JACKS", "WAVING_1HAND", "OTHER")}


def test_missing_mocap_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="HAR_MOCAP_DIR"):
        generate_windows(14, seed=0, mocap=True, mocap_dir=tmp_path / "absent")
    assert len(generate_windows(14, seed=0, mocap=False)) == 14


def test_window_set_helpers(windows: WindowSet) -> None:
    empty = WindowSet()
    assert len(empty) == 0 and len(WindowSet.concatenate([empty, empty])) == 0
    first = windows.subset(np.arange(10))
    joined = WindowSet.concatenate([first, empty, windows.subset(windows.labels == 2)])
    assert len(joined) == 40 and (joined.labels[10:] == 2).all()
    np.testing.assert_array_equal(joined.keypoints[:10], windows.keypoints[:10])

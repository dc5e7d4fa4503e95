"""The renderer draws where the people are, in the class colours, and quickly."""

from __future__ import annotations

import time

import numpy as np

from har_core.poses import Poses
from har_core.render import (
    FrameAnnotations,
    LabelAnnotator,
    ProbabilityBarsAnnotator,
    SkeletonAnnotator,
    annotate_frame,
    default_annotators,
    hex_to_rgb,
    label_color,
)
from har_core.skeleton import BONES, CLASS_COLORS, JOINT_INDEX, NUM_CLASSES, NUM_JOINTS, UNCERTAIN, UNCERTAIN_COLOR

H, W = 480, 640
LEFT_WRIST, LEFT_ELBOW = JOINT_INDEX["left_wrist"], JOINT_INDEX["left_elbow"]


def skeleton(cx: float, cy: float) -> np.ndarray:
    """An upright figure 300 px tall centred at (cx, cy), every joint confident."""
    offsets = np.array(
        [[0, -150], [-6, -156], [6, -156], [-14, -152], [14, -152], [30, -110], [-30, -110], [45, -60],
         [-45, -60], [55, -15], [-55, -15], [18, 0], [-18, 0], [20, 70], [-20, 70], [22, 140], [-22, 140]],
        dtype=np.float32,
    )
    kp = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
    kp[:, :2] = offsets + [cx, cy]
    kp[:, 2] = 0.95
    return kp


def annotations(keypoints: list[np.ndarray], labels: list[str], probs: np.ndarray) -> FrameAnnotations:
    kp = np.stack(keypoints)
    boxes = np.concatenate([kp[:, :, :2].min(axis=1), kp[:, :, :2].max(axis=1)], axis=1)
    confidence = np.where(np.isnan(probs).all(axis=1), np.nan, np.nanmax(np.nan_to_num(probs, nan=0), axis=1))
    return FrameAnnotations(Poses(kp, boxes, np.full(len(kp), 0.9), np.arange(1, len(kp) + 1)), labels,
                            confidence, probs)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).any(axis=2)


def test_skeleton_is_drawn_on_its_bones_and_joints_only() -> None:
    kp = skeleton(320, 280)
    kp[LEFT_WRIST, 2] = 0.05  # not seen: neither the joint nor its bone may be drawn
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    out = SkeletonAnnotator().annotate(frame.copy(), annotations([kp], ["BOXING"], np.full((1, 7), np.nan)))
    drawn = changed(frame, out)
    for a, b in BONES:
        if LEFT_WRIST in (a, b):
            continue
        mid = np.round((kp[a, :2] + kp[b, :2]) / 2).astype(int)
        assert drawn[mid[1], mid[0]], f"bone {a}-{b} not drawn"
    wrist = np.round(kp[LEFT_WRIST, :2]).astype(int)
    assert not drawn[wrist[1] - 2 : wrist[1] + 3, wrist[0] - 2 : wrist[0] + 3].any()
    # Everything drawn lies within a few pixels of the figure's box.
    ys, xs = np.nonzero(drawn)
    seen = kp[kp[:, 2] > 0.25]
    assert xs.min() >= seen[:, 0].min() - 6 and xs.max() <= seen[:, 0].max() + 6
    assert ys.min() >= seen[:, 1].min() - 6 and ys.max() <= seen[:, 1].max() + 6
    # The person's left and right arms get different colours.
    left_mid = np.round((kp[LEFT_ELBOW, :2] + kp[JOINT_INDEX["left_shoulder"], :2]) / 2).astype(int)
    right_mid = np.round((kp[JOINT_INDEX["right_elbow"], :2] + kp[JOINT_INDEX["right_shoulder"], :2]) / 2).astype(int)
    assert tuple(out[left_mid[1], left_mid[0]]) != tuple(out[right_mid[1], right_mid[0]])


def test_label_tag_sits_above_the_head_in_the_class_colour() -> None:
    kp = skeleton(320, 300)
    probs = np.array([[0.05, 0.05, 0.8, 0.025, 0.025, 0.025, 0.025]], dtype=np.float32)
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    out = LabelAnnotator().annotate(frame.copy(), annotations([kp], ["BOXING"], probs))
    drawn = changed(frame, out)
    ys, xs = np.nonzero(drawn)
    head_top = kp[:, 1].min()
    assert ys.max() <= head_top and ys.min() >= head_top - 40
    assert abs(xs.min() - kp[:, 0].min()) <= 2
    colours, counts = np.unique(out[drawn].reshape(-1, 3), axis=0, return_counts=True)
    assert tuple(colours[np.argmax(counts)]) == hex_to_rgb(CLASS_COLORS["BOXING"])


def test_probability_bars_are_as_long_as_the_probabilities() -> None:
    probs = np.array([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5]], dtype=np.float32)
    frame = np.full((H, W, 3), 200, dtype=np.uint8)
    ann = annotations([skeleton(200, 300), skeleton(450, 300)], ["JUMPING_JACKS", UNCERTAIN], probs)
    out = ProbabilityBarsAnnotator().annotate(frame.copy(), ann)
    jj = np.array(hex_to_rgb(CLASS_COLORS["JUMPING_JACKS"]))
    is_jj = (out == jj).all(axis=2)
    rows, cols = np.nonzero(is_jj)
    # Two panels side by side in the top-left corner; the first bar is twice as long as the second.
    assert rows.max() < H // 3 and cols.max() < W // 2
    gap = np.flatnonzero(np.diff(np.unique(cols)) > 5)
    split = np.unique(cols)[gap[-1] + 1]
    width_full = is_jj[:, :split].sum(axis=1).max()
    width_half = is_jj[:, split:].sum(axis=1).max()
    assert width_full > 30 and abs(width_full - 2 * width_half) <= 2
    assert (out[H // 2 :] == 200).all()  # nothing drawn below the panels


def test_colours_follow_the_shared_palette() -> None:
    assert label_color("WAVING_1HAND") == hex_to_rgb(CLASS_COLORS["WAVING_1HAND"])
    assert label_color(UNCERTAIN) == hex_to_rgb(UNCERTAIN_COLOR)
    assert hex_to_rgb("#0072B2") == (0, 114, 178)


def test_default_annotators_are_fast_and_cope_with_empty_frames() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(NUM_CLASSES), size=2).astype(np.float32)
    ann = annotations([skeleton(200, 300), skeleton(450, 300)], ["BOXING", "OTHER"], probs)
    empty = FrameAnnotations(Poses.empty(), [], np.zeros(0), np.zeros((0, NUM_CLASSES)))
    annotators = default_annotators()
    blank = np.zeros((H, W, 3), dtype=np.uint8)
    assert (annotate_frame(blank.copy(), empty, annotators) == 0).all()
    frames = [np.zeros((H, W, 3), dtype=np.uint8) for _ in range(50)]
    start = time.perf_counter()
    for frame in frames:
        annotate_frame(frame, ann, annotators)
    per_frame_ms = (time.perf_counter() - start) / len(frames) * 1000
    assert per_frame_ms < 15, f"{per_frame_ms:.1f} ms per frame"  # ~2 ms here; generous for a busy CI

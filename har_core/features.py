"""The one feature function shared by training and inference.

A window is 32 consecutive frames of one person's COCO-17 keypoints in pixels with scores. The
classifier never sees pixels: each window is centred on the person's median hip point over the window
and scaled by the median height of the person's keypoint extent over the window. Normalising per
window, not per frame, keeps the whole-body bounce that tells jumping from standing; scaling by body
height rather than torso length stays stable when the estimator jitters on close shots (both measured,
see ../shared/notes/sim-to-real.md and docs/model.md).

Low-confidence joints are masked: their coordinates become 0 and a per-joint validity flag is part of
the feature vector, so the model can tell "joint at the centre" from "joint not seen".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from har_core.skeleton import JOINT_INDEX, MIRROR_ORDER, NUM_JOINTS

WINDOW = 32
KEYPOINT_THRESHOLD = 0.25
MAX_GAP_FRAMES = 5
FEATURE_DIM = 3 * NUM_JOINTS

_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
_SHOULDERS = [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]
_MIN_SCALE_PX = 1.0


def fill_short_gaps(track: np.ndarray, max_gap: int = MAX_GAP_FRAMES, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Linearly interpolate each joint across runs of at most `max_gap` low-confidence frames.

    Pose estimators drop a wrist for a frame or two during fast motion; bridging such gaps keeps the
    motion signal, while longer gaps stay masked because guessing there would invent motion. Filled
    joints get the threshold as their score so they count as seen.

    Args:
        track: (T, 17, 3) keypoints (x, y, score) of one person; frames without the person have score 0.
    Returns:
        A new (T, 17, 3) float32 array.
    """
    out = np.array(track, dtype=np.float32, copy=True)
    n_frames = len(out)
    if n_frames < 3 or max_gap <= 0:
        return out
    frames = np.arange(n_frames)
    for joint in range(out.shape[1]):
        seen = out[:, joint, 2] >= threshold
        if seen.all() or seen.sum() < 2:
            continue
        seen_idx = np.flatnonzero(seen)
        # Length of the gap each unseen frame belongs to, for unseen frames between two seen ones.
        next_seen = np.searchsorted(seen_idx, frames)
        inside = (next_seen > 0) & (next_seen < len(seen_idx)) & ~seen
        if not inside.any():
            continue
        left = seen_idx[np.clip(next_seen - 1, 0, len(seen_idx) - 1)]
        right = seen_idx[np.clip(next_seen, 0, len(seen_idx) - 1)]
        fill = inside & (right - left - 1 <= max_gap)
        if not fill.any():
            continue
        for axis in (0, 1):
            out[fill, joint, axis] = np.interp(frames[fill], seen_idx, out[seen_idx, joint, axis])
        out[fill, joint, 2] = threshold
    return out


@dataclass(frozen=True)
class _FrameStats:
    """What the normalisation needs from each frame, computed once per frame (F frames).

    valid (F, 17): joints at or above the threshold; anchor (F, 2): hip midpoint, else shoulder midpoint,
    else NaN; height (F,): keypoint-extent height, NaN with fewer than two seen joints; seen_sum (F, 2) and
    seen_count (F,): the sum and number of seen joints, for the fallback centre.
    """

    valid: np.ndarray
    anchor: np.ndarray
    height: np.ndarray
    seen_sum: np.ndarray
    seen_count: np.ndarray

    def take(self, frames: np.ndarray) -> _FrameStats:
        """The stats of the given frame indices (any shape, e.g. (N, W) for N windows)."""
        return _FrameStats(self.valid[frames], self.anchor[frames], self.height[frames], self.seen_sum[frames],
                           self.seen_count[frames])


def _frame_stats(keypoints: np.ndarray, threshold: float) -> _FrameStats:
    """Per-frame anchor, height and fallback sums of (F, 17, 3) float32 keypoints."""
    valid = keypoints[..., 2] >= threshold
    x, y = keypoints[..., 0], keypoints[..., 1]
    hips_ok = valid[:, _HIPS].all(axis=-1)
    shoulders_ok = valid[:, _SHOULDERS].all(axis=-1)
    hip_mid = keypoints[:, _HIPS, :2].mean(axis=-2)
    shoulder_mid = keypoints[:, _SHOULDERS, :2].mean(axis=-2)
    anchor = np.where(hips_ok[:, None], hip_mid, np.where(shoulders_ok[:, None], shoulder_mid, np.float32(np.nan)))
    seen_count = valid.sum(axis=-1)
    y_top = np.where(valid, y, np.float32(np.inf)).min(axis=-1)
    y_bottom = np.where(valid, y, np.float32(-np.inf)).max(axis=-1)
    height = np.where(seen_count >= 2, y_bottom - y_top, np.float32(np.nan))
    seen_sum = np.stack([np.where(valid, x, np.float32(0)).sum(axis=-1), np.where(valid, y, np.float32(0)).sum(axis=-1)],
                        axis=-1)
    return _FrameStats(valid, anchor, height, seen_sum, seen_count)


def _normalised(x: np.ndarray, y: np.ndarray, stats: _FrameStats) -> np.ndarray:
    """(N, W, 51) features from the windows' coordinates x, y (N, W, 17) and their per-frame stats (N, W)."""
    n, w = stats.height.shape
    centre = _nanmedian_axis1(stats.anchor)  # (N, 2)
    scale = _nanmedian_axis1(stats.height)  # (N,)
    lost = np.flatnonzero(np.isnan(centre[:, 0]))
    if len(lost):
        # Windows where no frame had an anchor: fall back to the mean of every seen joint.
        count = stats.seen_count[lost].sum(axis=1)
        centre[lost] = stats.seen_sum[lost].sum(axis=1) / np.maximum(count, 1)[:, None]
    centre = np.nan_to_num(centre).astype(np.float32)
    scale = np.where(np.isnan(scale) | (scale < _MIN_SCALE_PX), _MIN_SCALE_PX * 100.0, scale).astype(np.float32)
    out = np.empty((n, w, FEATURE_DIM), dtype=np.float32)
    unseen = ~stats.valid
    for axis, coords in enumerate((x, y)):
        part = out[..., axis * NUM_JOINTS : (axis + 1) * NUM_JOINTS]
        np.subtract(coords, centre[:, axis, None, None], out=part)
        np.divide(part, scale[:, None, None], out=part)
        np.copyto(part, np.float32(0), where=unseen)
    out[..., 2 * NUM_JOINTS :] = stats.valid
    return out


def features_for_windows(windows: np.ndarray, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Turn keypoint windows into model input.

    Args:
        windows: (N, W, 17, 3) keypoints in pixels with scores.
    Returns:
        (N, W, 51) float32: 17 normalised x, 17 normalised y, 17 validity flags per frame.
    """
    windows = np.asarray(windows, dtype=np.float32)
    n, w = windows.shape[:2]
    if n == 0:
        return np.zeros((n, w, FEATURE_DIM), dtype=np.float32)
    stats = _frame_stats(windows.reshape(n * w, NUM_JOINTS, 3), threshold)
    return _normalised(windows[..., 0], windows[..., 1], stats.take(np.arange(n * w).reshape(n, w)))


def window_features(track: np.ndarray, starts: np.ndarray, window: int = WINDOW,
                    threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Exactly `features_for_windows(sliding_windows(track, window)[starts])`, with each frame's stats computed once.

    Stride-1 windows overlap by 31 frames, so `features_for_windows` finds every frame's anchor and height
    32 times over; here that is done once per frame of the track and gathered per window, several times
    faster for a whole track. The arithmetic is the same, so the features are bit-identical.

    Args:
        track: (T, 17, 3) keypoints of one person (usually after `fill_short_gaps`).
        starts: the windows wanted by first frame; window i covers frames i .. i + window - 1.
    """
    track = np.asarray(track, dtype=np.float32)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if len(starts) == 0:
        return np.zeros((0, window, FEATURE_DIM), dtype=np.float32)
    if starts.min() < 0 or starts.max() > len(track) - window:
        raise IndexError(f"window starts must lie in 0..{len(track) - window}, got {starts.min()}..{starts.max()}")
    frames = starts[:, None] + np.arange(window)
    stats = _frame_stats(track, threshold).take(frames)
    return _normalised(track[frames, :, 0], track[frames, :, 1], stats)


def mirrored_joints(joints: np.ndarray) -> np.ndarray:
    """A copy of `joints` (..., 17, D) seen in a mirror: left and right joints swapped, x (channel 0) negated.

    Works for pixel keypoints (x, y, score) and 3D joints (x, y, z) alike. Every class keeps its label under
    a mirror (WAVING_1HAND counts either hand), which training's augmentation and the mocap performers'
    handedness rely on. No image width is needed: the features centre each window on the person.
    """
    out = joints[..., MIRROR_ORDER, :]  # fancy indexing copies
    out[..., 0] = -out[..., 0]
    return out


# Feature columns of the mirror image: each joint's x, y and flag taken from its left/right twin.
_MIRROR_COLUMNS = np.concatenate([np.array(MIRROR_ORDER) + part * NUM_JOINTS for part in range(3)])
_MIRROR_SIGN = np.concatenate([-np.ones(NUM_JOINTS), np.ones(2 * NUM_JOINTS)]).astype(np.float32)


def mirrored_features(features: np.ndarray) -> np.ndarray:
    """The features of the same windows seen in a mirror (left and right swapped, x negated).

    Equal to computing the features of `mirrored_joints(keypoints)`: the window's centre (median hip point) mirrors
    onto itself and the scale (body height) does not change, so only the columns swap and x changes sign.
    """
    mirrored = np.take(features, _MIRROR_COLUMNS, axis=-1)  # 3x faster than fancy indexing on the last axis
    mirrored *= _MIRROR_SIGN
    return mirrored


def _nanmedian_axis1(values: np.ndarray) -> np.ndarray:
    """Median over axis 1 ignoring NaN (NaN where all are NaN); sorting once is ~10x faster than np.nanmedian."""
    ordered = np.sort(values, axis=1)  # NaNs sort last
    count = (~np.isnan(values)).sum(axis=1)
    lo = np.take_along_axis(ordered, np.expand_dims(np.maximum(count - 1, 0) // 2, 1), axis=1)
    hi = np.take_along_axis(ordered, np.expand_dims(count // 2 - (count == 0), 1), axis=1)
    median = np.squeeze((lo + hi) / 2.0, axis=1)
    return np.where(count == 0, np.nan, median)


def sliding_windows(track: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """All stride-1 windows of a (T, 17, 3) track as a (T - window + 1, window, 17, 3) view (no copy)."""
    if len(track) < window:
        return np.zeros((0, window, *track.shape[1:]), dtype=np.float32)
    return np.moveaxis(sliding_window_view(track, window, axis=0), -1, 1)


def track_features(track: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Features of every stride-1 window of one person's track, after bridging short gaps.

    Window i covers frames i .. i + window - 1 and its prediction belongs to its last frame, so the
    classifier stays causal.
    """
    return window_features(fill_short_gaps(track), np.arange(max(len(track) - window + 1, 0)), window)


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

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from har_core.skeleton import JOINT_INDEX, NUM_JOINTS

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


def _frame_anchor_and_height(keypoints: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the body anchor point (hip midpoint, else shoulder midpoint) and keypoint-extent height.

    Args:
        keypoints: (..., 17, 3).
    Returns:
        anchor (..., 2) and height (...), NaN where the frame has nothing usable.
    """
    valid = keypoints[..., 2] >= threshold
    xy = keypoints[..., :2]
    hips_ok = valid[..., _HIPS].all(axis=-1)
    shoulders_ok = valid[..., _SHOULDERS].all(axis=-1)
    hip_mid = xy[..., _HIPS, :].mean(axis=-2)
    shoulder_mid = xy[..., _SHOULDERS, :].mean(axis=-2)
    anchor = np.where(hips_ok[..., None], hip_mid, np.where(shoulders_ok[..., None], shoulder_mid, np.nan))
    y_top = np.where(valid, xy[..., 1], np.inf).min(axis=-1)
    y_bottom = np.where(valid, xy[..., 1], -np.inf).max(axis=-1)
    height = np.where(valid.sum(axis=-1) >= 2, y_bottom - y_top, np.nan)
    return anchor, height


def features_for_windows(windows: np.ndarray, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Turn keypoint windows into model input.

    Args:
        windows: (N, W, 17, 3) keypoints in pixels with scores.
    Returns:
        (N, W, 51) float32: 17 normalised x, 17 normalised y, 17 validity flags per frame.
    """
    windows = np.asarray(windows, dtype=np.float32)
    n, w = windows.shape[:2]
    out = np.zeros((n, w, FEATURE_DIM), dtype=np.float32)
    if n == 0:
        return out
    valid = windows[..., 2] >= threshold
    anchor, height = _frame_anchor_and_height(windows, threshold)
    centre = _nanmedian_axis1(anchor)  # (N, 2)
    scale = _nanmedian_axis1(height)  # (N,)
    # Windows where no frame had an anchor: fall back to the mean of every seen joint.
    seen_count = valid.reshape(n, -1).sum(axis=1)
    seen_sum = np.where(valid[..., None], windows[..., :2], 0.0).reshape(n, -1, 2).sum(axis=1)
    fallback = seen_sum / np.maximum(seen_count, 1)[:, None]
    centre = np.where(np.isnan(centre), fallback, centre)
    centre = np.nan_to_num(centre)
    scale = np.where(np.isnan(scale) | (scale < _MIN_SCALE_PX), np.nan, scale)
    scale = np.nan_to_num(scale, nan=_MIN_SCALE_PX * 100.0)
    norm = (windows[..., :2] - centre[:, None, None, :]) / scale[:, None, None, None]
    norm = np.where(valid[..., None], norm, 0.0)
    out[..., :NUM_JOINTS] = norm[..., 0]
    out[..., NUM_JOINTS : 2 * NUM_JOINTS] = norm[..., 1]
    out[..., 2 * NUM_JOINTS :] = valid
    return out


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
    return features_for_windows(sliding_windows(fill_short_gaps(track), window))


"""What a real pose estimator (MoveNet MultiPose) makes of a person: clean projections in, noisy keypoints out.

Training on perfect keypoints teaches the classifier to rely on details MoveNet never delivers. This
model adds the errors seen in MoveNet's output on real clips: jitter that scales with the person's size
and grows for fast, far-side and low-confidence joints; per-joint score levels (torso high, wrists and
face lower); missed joints in short bursts; left/right swaps, more often in profile; joints outside the
image (legs cut off in close shots) with low scores near the border; whole frames where the person is
not found (all scores 0, as the pipeline reports an absent person) and repeated frames.

The ranges were calibrated with `models/synth/compare_real.py` against MoveNet on the development clips
(score percentiles, jitter of still joints in torso lengths); see docs/model.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from har_core.skeleton import FLIP_PAIRS, JOINT_INDEX, NUM_JOINTS

_GROUPS = {
    "face": [0, 1, 2, 3, 4],
    "shoulder": [5, 6],
    "elbow": [7, 8],
    "wrist": [9, 10],
    "hip": [11, 12],
    "knee": [13, 14],
    "ankle": [15, 16],
}


def _per_joint(values: dict[str, float]) -> np.ndarray:
    out = np.zeros(NUM_JOINTS)
    for group, joints in _GROUPS.items():
        out[joints] = values[group]
    return out


# Relative jitter and score offsets per joint, from MoveNet on real clips: the torso is steady and
# confident, wrists and ankles move fast and are small, the face is small and often turned away.
JITTER_WEIGHT = _per_joint(
    {"face": 0.7, "shoulder": 0.8, "elbow": 1.2, "wrist": 1.6, "hip": 1.0, "knee": 1.1, "ankle": 1.2}
)
SCORE_OFFSET = _per_joint(
    {"face": -0.08, "shoulder": 0.06, "elbow": -0.03, "wrist": -0.08, "hip": 0.07, "knee": 0.0, "ankle": -0.03}
)
_ARM_PAIRS = [(5, 6), (7, 8), (9, 10)]
_LEG_PAIRS = [(11, 12), (13, 14), (15, 16)]
_SHOULDERS = [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]
_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
_EARS = [JOINT_INDEX["left_ear"], JOINT_INDEX["right_ear"]]


@dataclass(frozen=True)
class NoiseProfile:
    """How badly the estimator does on one clip (a clip keeps one profile: lighting and clothing persist).

    Attributes:
        jitter: std of frame-to-frame position noise as a fraction of the person's height in the image.
        wobble: std of slowly wandering per-joint offsets (same units), correlated over ~0.3 s.
        score_mean: typical score of a clearly visible torso joint.
        score_spread: frame-to-frame variation of scores.
        miss_rate: fraction of joint-frames that are missed (low score, misplaced), in bursts.
        swap_rate: fraction of frames with left and right swapped (arms, legs or everything), frontal view.
        dropout_rate: fraction of frames where the person is not found at all.
        repeat_rate: chance per frame that the previous frame's output is repeated.
    """

    jitter: float = 0.0
    wobble: float = 0.0
    score_mean: float = 1.0
    score_spread: float = 0.0
    miss_rate: float = 0.0
    swap_rate: float = 0.0
    dropout_rate: float = 0.0
    repeat_rate: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> NoiseProfile:
        """A profile from the range seen on real footage, from a sharp studio clip to a grainy phone video."""
        quality = rng.beta(2.0, 2.0)  # 0 bad .. 1 good
        heavy_dropout = rng.random() < 0.08
        return cls(
            jitter=float(np.interp(quality, [0, 1], [0.006, 0.0005]) * rng.uniform(0.7, 1.3)),
            wobble=float(np.interp(quality, [0, 1], [0.007, 0.0008]) * rng.uniform(0.7, 1.3)),
            score_mean=float(np.interp(quality, [0, 1], [0.5, 0.97])),
            score_spread=float(rng.uniform(0.03, 0.1)),
            miss_rate=float(np.interp(quality, [0, 1], [0.05, 0.002])),
            swap_rate=float(rng.uniform(0.0, 0.02)),
            dropout_rate=float(rng.uniform(0.3, 0.65) if heavy_dropout else rng.choice([0.0, rng.uniform(0, 0.08)])),
            repeat_rate=float(rng.choice([0.0, rng.uniform(0, 0.06)])),
        )


def _bursts(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float | np.ndarray, mean_length: float
) -> np.ndarray:
    """Boolean mask where about `rate` (scalar or per entry) of the entries are set, in runs along axis 0."""
    if np.all(np.asarray(rate) <= 0):
        return np.zeros(shape, dtype=bool)
    starts = rng.random(shape) < rate / mean_length
    lengths = rng.geometric(1 / mean_length, size=shape)
    mask = np.zeros(shape, dtype=bool)
    for offset in range(int(lengths.max(initial=0))):
        shifted = np.zeros(shape, dtype=bool)
        active = starts & (lengths > offset)
        shifted[offset:] = active[: shape[0] - offset] if offset < shape[0] else False
        mask |= shifted
    return mask


def person_height(points: np.ndarray) -> float:
    """Median extent of the skeleton in the image, the yardstick for every pixel-sized error."""
    extent = np.linalg.norm(points.max(axis=1) - points.min(axis=1), axis=-1)
    return float(max(np.median(extent), 1.0))


def self_occlusion(depth: np.ndarray) -> np.ndarray:
    """(T, 17) from 0 to 1: how far each joint is hidden by the body itself.

    A joint 15 cm or more behind the mean depth of the shoulders and hips (the far arm in profile) counts as
    fully hidden; the face counts as hidden when it is turned away from the camera (nose behind the ears).
    Depth is along the camera's axis, so a camera looking down on a person also puts the hips (and legs) a few
    centimetres "behind": they lose a little score, as far, small joints do.
    """
    torso_depth = depth[:, _SHOULDERS + _HIPS].mean(axis=1, keepdims=True)
    occlusion = np.clip((depth - torso_depth) / 0.15, 0.0, 1.0)
    away = np.clip((depth[:, 0] - depth[:, _EARS].mean(axis=1)) / 0.05, 0.0, 1.0)
    occlusion[:, :5] = np.maximum(occlusion[:, :5], away[:, None])
    return occlusion


def simulate_estimator(
    points: np.ndarray,
    depth: np.ndarray,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    profile: NoiseProfile | None = None,
) -> np.ndarray:
    """Turn a clip's clean projected joints into pose-estimator output.

    Args:
        points: (T, 17, 2) clean pixel coordinates from `Camera.project`.
        depth: (T, 17) distances along the optical axis from `Camera.depth` (find self-occlusion).
        image_size: (width, height); joints outside it are reported at the border with low scores.
        rng: randomness for this clip.
        profile: error levels; `NoiseProfile()` (the default) adds nothing and gives every visible joint
            score 1, which the tests and the figure renderer's ground truth use.
    Returns:
        (T, 17, 3) float32 keypoints (x, y, score) like MoveNet's; absent frames are all zeros.
    """
    profile = profile or NoiseProfile()
    points = np.asarray(points, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    n = len(points)
    width, height = image_size
    size = person_height(points)
    xy = points.copy()

    occlusion = self_occlusion(depth)
    shoulder_3d_width = np.abs(depth[:, _SHOULDERS[0]] - depth[:, _SHOULDERS[1]])

    # Fast joints blur: speed in person-heights per frame.
    speed = np.zeros((n, NUM_JOINTS))
    if n > 1:
        speed[1:] = np.linalg.norm(np.diff(points, axis=0), axis=-1) / size
        speed[0] = speed[1]
    weight = JITTER_WEIGHT[None] * (1 + occlusion) * (1 + 8 * speed)
    if profile.jitter > 0:
        xy += rng.normal(size=xy.shape) * (profile.jitter * size * weight)[..., None]
    if profile.wobble > 0 and n > 1:
        drift = gaussian_filter1d(rng.normal(size=xy.shape), sigma=3.0, axis=0, mode="reflect") * 2.4
        xy += drift * (profile.wobble * size * weight)[..., None]

    scores = np.full((n, NUM_JOINTS), profile.score_mean)
    if profile.score_mean < 1:
        scores += SCORE_OFFSET + rng.normal(0, 0.05, NUM_JOINTS)
        scores -= occlusion * rng.uniform(0.1, 0.3) + np.minimum(speed * 2, 0.2)
        scores -= 0.15 * np.clip((100 - size) / 80, 0, 1)  # small people get less confident keypoints
    if profile.score_spread > 0 and n > 1:
        wander = gaussian_filter1d(rng.normal(size=scores.shape), sigma=1.5, axis=0, mode="reflect") * 1.9
        scores += profile.score_spread * wander

    missed = _bursts(rng, (n, NUM_JOINTS), profile.miss_rate, 3.0)
    if missed.any():
        angle = rng.uniform(0, 2 * np.pi, missed.sum())
        radius = size * rng.uniform(0.05, 0.3, missed.sum())
        xy[missed] += np.stack([np.cos(angle), np.sin(angle)], axis=-1) * radius[:, None]
        scores[missed] = rng.uniform(0.0, 0.25, missed.sum())

    # Joints outside the image: the estimator still answers, at the border and with a low score.
    outside = (points[..., 0] < 0) | (points[..., 0] >= width) | (points[..., 1] < 0) | (points[..., 1] >= height)
    if outside.any():
        scores[outside] = rng.uniform(0.0, 0.2, outside.sum())
        xy[..., 0] = np.clip(xy[..., 0], 0, width - 1)
        xy[..., 1] = np.clip(xy[..., 1], 0, height - 1)

    out = np.concatenate([xy, np.clip(scores, 0.0, 1.0)[..., None]], axis=-1)
    _swap_sides(out, rng, profile.swap_rate, shoulder_3d_width)
    if profile.repeat_rate > 0 and n > 1:
        for frame in np.flatnonzero(rng.random(n) < profile.repeat_rate):
            if frame > 0:
                out[frame] = out[frame - 1]
    dropped = _bursts(rng, (n,), profile.dropout_rate, 4.0)
    out[dropped] = 0.0
    return out.astype(np.float32)


def _swap_sides(out: np.ndarray, rng: np.random.Generator, rate: float, shoulder_depth_gap: np.ndarray) -> None:
    """Swap left and right joints (arms, legs or all, one choice per clip) in short bursts, in place.

    Profile views (shoulders at different depths) swap up to four times as often, as MoveNet does when
    the body is edge-on.
    """
    if rate <= 0:
        return
    profile_view = np.clip(shoulder_depth_gap / 0.3, 0, 1)
    swapped = _bursts(rng, (len(out),), rate * (1 + 3 * profile_view), 3.0)
    if not swapped.any():
        return
    pairs = (_ARM_PAIRS, _LEG_PAIRS, list(FLIP_PAIRS))[int(rng.choice(3, p=[0.4, 0.3, 0.3]))]
    for left, right in pairs:
        out[swapped, left], out[swapped, right] = out[swapped, right].copy(), out[swapped, left].copy()


def perturb_windows(
    windows: np.ndarray, rng: np.random.Generator, jitter: float = 0.003, miss_rate: float = 0.02
) -> np.ndarray:
    """Estimator errors on top of windows that already hold real estimator output (a user's labelled footage).

    The simulated training windows get their errors from `simulate_estimator`; a user's windows have only
    the errors of one camera and room, so fine-tuning adds the same kinds again, at a typical clip's level:
    jitter weighted per joint as MoveNet's (JITTER_WEIGHT, in person heights) and joints missed in short
    bursts (low score, so the features mask them).

    Args:
        windows: (N, W, 17, 3) keypoints, pixels and scores (frames where the person is absent are zeros).
        jitter: std of the position noise as a share of the person's height in the window.
        miss_rate: share of joint-frames missed.
    Returns:
        A perturbed copy.
    """
    out = np.array(windows, dtype=np.float32, copy=True)
    if len(out) == 0:
        return out
    seen = out[..., 2] > 0
    y = np.where(seen, out[..., 1], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-absent frames and windows give NaN, replaced below
        height = np.nanmedian(np.nanmax(y, axis=2) - np.nanmin(y, axis=2), axis=1)
    height = np.where(np.isfinite(height) & (height > 1), height, 1.0)
    noise = rng.normal(size=out[..., :2].shape) * (jitter * height[:, None, None] * JITTER_WEIGHT)[..., None]
    out[..., :2] += np.where(seen[..., None], noise, 0.0).astype(np.float32)
    n, w = out.shape[:2]
    missed = _bursts(rng, (w, n, NUM_JOINTS), miss_rate, 3.0).transpose(1, 0, 2) & seen
    out[..., 2][missed] = rng.uniform(0.0, 0.25, int(missed.sum()))
    return out

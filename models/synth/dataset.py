"""Labelled keypoint windows for training and validation: 3D motion -> camera -> pose-estimator noise -> windows.

A window is 32 frames of one person's keypoints exactly as MoveNet would hand them to the pipeline
(pixels and scores), labelled with its LAST frame's class because the classifier is causal. Each clip is
generated long (several seconds), projected and noised once, and cut into many windows, which keeps
generation vectorised: ~40,000 windows take well under a minute on one core.

Sources: the procedural synthesiser for every class, plus real motion capture (training split of
`mocap.py`) for the classes it covers. Every number is reproducible from `seed`; the result does not
depend on `workers`.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from har_core.features import WINDOW, sliding_windows
from har_core.frame_rate import to_classifier_rate
from har_core.skeleton import JOINT_INDEX, NUM_CLASSES, NUM_JOINTS
from har_core.timeline import qualifying_windows
from models.synth import procedural
from models.synth.camera import random_camera
from models.synth.mocap import load_library
from models.synth.motion import Motion
from models.synth.noise import NoiseProfile, simulate_estimator

REPO_ROOT = Path(__file__).resolve().parents[2]
# Overridable with the HAR_MOCAP_DIR environment variable or the `mocap_dir` argument.
MOCAP_DIR = Path(os.environ.get("HAR_MOCAP_DIR", REPO_ROOT.parent / "shared" / "data" / "mocap"))

# Share of each class's windows taken from motion capture where the training split covers the class, but at
# most this many windows per second of captured motion of the class (the one-hand wave is only 1.5 s long).
MOCAP_SHARE = 0.3
MOCAP_WINDOWS_PER_SECOND = 400
# Frame rates of real footage: mostly 30/25/24, some 60 and 15, the rest anywhere in 10-60.
FPS_CHOICES = (30.0, 29.97, 25.0, 24.0, 60.0, 15.0)
FPS_WEIGHTS = (0.3, 0.1, 0.12, 0.08, 0.1, 0.1)
IMAGE_SIZES = ((640, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1920), (640, 360), (854, 480), (480, 640))
# A window is kept only when its last SETTLED_FRAMES frames share the last frame's label. A window that
# ends a few frames into a new action cannot be told apart from the one before it, and labelling it the
# new action only teaches the model noise; half a window of the action is enough to recognise it, so the
# model (and its labels over time) trails a change of action by about half a window.
SETTLED_FRAMES = WINDOW // 2
# Samples between the windows of one procedural clip unless told otherwise; the held-out simulated set is cut
# so. Training passes its own (`python -m models.train --clip-stride`).
CLIP_STRIDE = 4.0
_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
_ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]


@dataclass
class WindowSet:
    """Labelled keypoint windows.

    Attributes:
        keypoints: (N, 32, 17, 3) float32, x and y in pixels, score 0..1, as the pose estimator gives them.
        labels: (N,) int64 class index (har_core.skeleton.CLASSES) of each window's last frame.
        sources: (N,) str, where the motion came from: "procedural", "cmu", "hdm05".
    """

    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, WINDOW, NUM_JOINTS, 3), dtype=np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> WindowSet:
        """The windows at `index` (indices or boolean mask)."""
        return WindowSet(self.keypoints[index], self.labels[index], self.sources[index])

    @classmethod
    def concatenate(cls, parts: list[WindowSet]) -> WindowSet:
        """All windows of `parts`, in order."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        return cls(
            np.concatenate([p.keypoints for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.sources for p in parts]).astype(str),
        )


@dataclass(frozen=True)
class _ClipJob:
    """One clip to generate: its own seed makes the result independent of which process runs it."""

    seed: tuple[int, int]
    label: int
    stride: float  # samples between the windows cut from the clip
    motion: Motion | None = None  # a mocap clip to film; None means synthesise procedurally


def film(
    motion: Motion, rng: np.random.Generator, fps: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Film one motion with a random camera and pose-estimator noise at a random (or given) frame rate,
    then sample the keypoints at the classifier's rate exactly as the pipeline does
    (`har_core.frame_rate`), so the frame rate changes what the estimator sees but not a window's duration.

    Returns:
        keypoints (K, 17, 3) float32 as MoveNet would report them, at the classifier's rate; labels (K,)
        int64; and visible (K,) bool: whether the person's hips are inside the frame (windows need most
        frames visible).
    """
    if fps is None:
        fps = float(rng.choice(FPS_CHOICES, p=np.array(FPS_WEIGHTS) / sum(FPS_WEIGHTS)))
        if rng.random() < 0.15:
            fps = float(rng.uniform(10, 60))
    if abs(motion.fps - fps) > 1e-6:
        motion = motion.resample(fps, phase=float(rng.random()))
    joints = motion.joints.astype(np.float64)
    hips = joints[:, _HIPS].mean(axis=1)
    height = float(np.percentile(joints[:, :, 1].max(axis=1) - joints[:, _ANKLES, 1].min(axis=1), 50)) / 0.93
    ground = float(np.percentile(joints[:, _ANKLES, 1].min(axis=1), 5))
    centre = hips[len(hips) // 2] if rng.random() < 0.5 else hips.mean(axis=0)
    size = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    camera = random_camera(rng, size, subject_height=height, ground=ground, centre=(centre[0], centre[2]))
    points = camera.project(joints).astype(np.float64)
    travel = np.ptp(hips[:, [0, 2]], axis=0).max()
    # A camera operator panning to follow a walking person; the rest pass a still camera, entering and leaving.
    if travel > 1.0 and rng.random() < 0.4:
        hip_px = points[:, _HIPS].mean(axis=1)
        follow = gaussian_filter1d(hip_px, sigma=fps * 0.5, axis=0, mode="nearest")
        points -= (follow - follow[len(follow) // 2])[:, None, :]
    hip_px = points[:, _HIPS].mean(axis=1)
    visible = (hip_px[:, 0] >= 0) & (hip_px[:, 0] < size[0]) & (hip_px[:, 1] >= 0) & (hip_px[:, 1] < size[1])
    keypoints = simulate_estimator(points, camera.depth(joints), size, rng, NoiseProfile.random(rng))
    rate = to_classifier_rate(keypoints, np.arange(len(keypoints)) / fps)
    return rate.keypoints, motion.labels[rate.nearest], visible[rate.nearest]


def cut_windows(
    keypoints: np.ndarray, labels: np.ndarray, visible: np.ndarray, stride: float, rng: np.random.Generator, source: str
) -> WindowSet:
    """Windows every ~`stride` frames (random start) that the pipeline would classify.

    `visible` (whether the person's hips are in the frame) stands for the tracker's detections, and a window
    is kept under the pipeline's own rule (`har_core.timeline.qualifying_windows`). Training once kept only
    windows with the person in 60% of the frames, so people walking or running into or out of shot, whom the
    pipeline does classify, were never seen in training (the blind set read them as JUMPING;
    docs/experiments.md, "Real-footage round").

    Each window is labelled with its last frame's label (the classifier is causal) and kept only if its
    last SETTLED_FRAMES frames carry that label too: a window just past a change of action is ambiguous.
    """
    if len(keypoints) < WINDOW:
        return WindowSet()
    ends = np.arange(WINDOW - 1 + rng.integers(0, max(1, int(stride))), len(keypoints), stride).astype(int)
    ends = ends[np.isin(ends - WINDOW + 1, qualifying_windows(visible))]
    changes = np.concatenate([[0], np.cumsum(labels[1:] != labels[:-1])])  # count of label changes so far
    ends = ends[changes[ends] == changes[ends - SETTLED_FRAMES + 1]]
    windows = sliding_windows(keypoints)[ends - WINDOW + 1]
    return WindowSet(np.ascontiguousarray(windows), labels[ends].copy(), np.full(len(ends), source))


def _run_job(job: _ClipJob) -> WindowSet:
    """Generate (or vary a mocap clip), film and cut one clip into windows."""
    rng = np.random.default_rng(list(job.seed))
    if job.motion is None:
        fps = float(rng.uniform(24, 30))  # synthesise near the final rate; `film` resamples
        motion = procedural.random_clip(rng, job.label, fps, duration=float(rng.uniform(7.0, 14.0)))
    else:
        motion = job.motion
        if rng.random() < 0.5:
            motion = motion.mirrored()
        speed = rng.uniform(0.85, 1.15)  # people do the same exercise faster or slower
        motion = Motion(motion.joints, motion.fps * speed, motion.labels, motion.source)
    keypoints, labels, visible = film(motion, rng)
    return cut_windows(keypoints, labels, visible, job.stride, rng, motion.source)


def _mocap_pools(library: list[Motion]) -> tuple[dict[int, list[Motion]], np.ndarray]:
    """Mocap clips per class they contain (a clip with several classes appears under each), and the
    seconds of motion captured per class."""
    pools: dict[int, list[Motion]] = {c: [] for c in range(NUM_CLASSES)}
    seconds = np.zeros(NUM_CLASSES)
    for clip in library:
        for label in np.unique(clip.labels):
            pools[int(label)].append(clip)
            seconds[label] += np.count_nonzero(clip.labels == label) / clip.fps
    return pools, seconds


def generate_windows(
    n_windows: int,
    seed: int,
    *,
    mocap: bool = True,
    workers: int = 1,
    mocap_dir: Path | None = None,
    stride: float = CLIP_STRIDE,
    mocap_share: float = MOCAP_SHARE,
) -> WindowSet:
    """`n_windows` labelled windows, as balanced over the seven classes as the counts allow.

    Args:
        n_windows: how many windows to return (each class gets n_windows // 7, the remainder goes to the
            first classes).
        seed: everything follows from it; the same seed gives the same windows for any `workers`.
        mocap: mix in the training split of the motion capture (needs `mocap_dir`, default MOCAP_DIR).
        workers: processes to use (1 = in this process).
        mocap_dir: where the mocap data lives; defaults to MOCAP_DIR.
        stride: samples between the ends of consecutive windows of a procedural clip. Windows of one clip
            share its body, camera and noise; a longer stride spreads the same number of windows over more
            clips (more varied data, slower to generate).
        mocap_share: the share of each class's windows taken from motion capture, where it has enough
            (training uses MOCAP_SHARE; fine-tuning's replay more, to hold on to real motion).
    Returns:
        A WindowSet in shuffled order.
    """
    if n_windows <= 0:
        return WindowSet()
    quota = np.full(NUM_CLASSES, n_windows // NUM_CLASSES)
    quota[: n_windows % NUM_CLASSES] += 1
    pools, seconds = (
        _mocap_pools(load_library(mocap_dir or MOCAP_DIR, "train")) if mocap else ({}, np.zeros(NUM_CLASSES))
    )
    mocap_quota = np.minimum(np.round(mocap_share * quota), np.round(MOCAP_WINDOWS_PER_SECOND * seconds)).astype(int)
    have = {"procedural": [[] for _ in range(NUM_CLASSES)], "mocap": [[] for _ in range(NUM_CLASSES)]}
    counts = {"procedural": np.zeros(NUM_CLASSES, int), "mocap": np.zeros(NUM_CLASSES, int)}
    counter = 0
    stalls = np.zeros(NUM_CLASSES, dtype=int)
    executor = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        while True:
            need_proc = quota - mocap_quota - counts["procedural"]
            need_mocap = mocap_quota - counts["mocap"]
            if (need_proc <= 0).all() and (need_mocap <= 0).all():
                break
            jobs: list[_ClipJob] = []
            for label in range(NUM_CLASSES):
                # Procedural clips yield ~160/stride windows of their class: plan jobs for the shortfall.
                for _ in range(int(np.ceil(max(need_proc[label], 0) / (160 / stride)))):
                    jobs.append(_ClipJob((seed, counter), label, stride))
                    counter += 1
                for _ in range(int(np.ceil(max(need_mocap[label], 0) / 40))):
                    rng = np.random.default_rng([seed, counter])
                    clip = pools[label][rng.integers(len(pools[label]))]
                    jobs.append(_ClipJob((seed, counter), label, stride=3.0, motion=clip))
                    counter += 1
            results = list(executor.map(_run_job, jobs, chunksize=4)) if executor else [_run_job(j) for j in jobs]
            before = counts["mocap"].copy()
            for job, result in zip(jobs, results):
                kind = "procedural" if job.motion is None else "mocap"
                for label in range(NUM_CLASSES):
                    part = result.subset(result.labels == label)
                    if len(part):
                        have[kind][label].append(part)
                        counts[kind][label] += len(part)
            # Mocap clips too short for windows of a class at most frame rates: after three rounds without a
            # new window, fill the rest of that class with procedural windows instead of trying forever.
            stalls += (need_mocap > 0) & (counts["mocap"] == before)
            mocap_quota[stalls >= 3] = counts["mocap"][stalls >= 3]
    finally:
        if executor:
            executor.shutdown()
    rng = np.random.default_rng([seed, -1 % 2**32])
    chosen = []
    for label in range(NUM_CLASSES):
        pool_m = WindowSet.concatenate(have["mocap"][label])
        take_m = min(len(pool_m), mocap_quota[label])
        pool_p = WindowSet.concatenate(have["procedural"][label])
        take_p = min(len(pool_p), quota[label] - take_m)
        chosen.append(pool_m.subset(rng.choice(len(pool_m), take_m, replace=False)))
        chosen.append(pool_p.subset(rng.choice(len(pool_p), take_p, replace=False)))
    out = WindowSet.concatenate(chosen)
    return out.subset(rng.permutation(len(out)))


def mocap_validation_windows(seed: int = 0, *, cameras: int = 8, mocap_dir: Path | None = None) -> WindowSet:
    """Windows from the held-out motion capture (see `mocap.py` for the split), never seen in training.

    Each held-out clip is filmed by `cameras` random cameras with estimator noise, like training data, and
    cut every 2 frames (of the classifier's rate, so a clip needs at least 32/30 s to give a window).
    """
    parts = []
    for i, clip in enumerate(load_library(mocap_dir or MOCAP_DIR, "val")):
        for k in range(cameras):
            rng = np.random.default_rng([seed, i, k])
            keypoints, labels, visible = film(clip, rng)
            parts.append(cut_windows(keypoints, labels, visible, 2.0, rng, clip.source))
    return WindowSet.concatenate(parts)

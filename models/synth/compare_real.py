"""Compare simulated training windows with MoveNet's output on the real development clips, class by class.

Simulated accuracy says little about real footage (sim-to-real notes), so before training on a change to
the synthesiser or the noise model, check that its windows look like real ones in a few summary numbers:
where the wrists sit relative to hips and shoulders, how far apart the hands are, how far they travel,
how much the hips bounce, how the body is turned, and what the estimator's scores and jitter look like.
All lengths are in torso lengths (shoulder midpoint to hip midpoint), so image size does not matter.

With `--checkpoint`, it instead scores checkpoints on the same cached keypoints: the share of each real
clip's windows given the clip's class, as read as is and with extra frame-to-frame jitter (a network that
reads the estimator's jitter as motion falls apart there first; docs/experiments.md, "Motion input").

Development only: reads ../shared/data/real-dev (never copied into the project) and caches MoveNet's
keypoints under data_cache/. Run: `python -m models.synth.compare_real [--real-dev DIR] [--refresh]
[--checkpoint DIR ...]`.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_core.classifier import ActionClassifier
from har_core.features import KEYPOINT_THRESHOLD, WINDOW, features_for_windows, fill_short_gaps, sliding_windows
from har_core.frame_rate import CLASSIFIER_FPS, to_classifier_rate
from har_core.skeleton import CLASS_INDEX, CLASSES, JOINT_INDEX, NUM_JOINTS
from models.synth import procedural
from models.synth.dataset import REPO_ROOT, film
from models.synth.motion import Motion

REAL_DEV = REPO_ROOT.parent / "shared" / "data" / "real-dev"
CACHE = REPO_ROOT / "data_cache" / "real_dev_movenet.npz"
COMPARE_FPS = 30.0
# Extra jitter for `--checkpoint`, as a fraction of the person's height: none, then about the real clips' own
# level (still joints move ~0.5% of body height a frame, i.e. a std of ~0.3%), then twice that.
JITTER_LEVELS = (0.0, 0.003, 0.006)
_SH = [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]
_HIP = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
_WR = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]
STATS = (
    "score_median",
    "low_score_share",
    "torso_jitter",
    "shoulder_width",
    "wrist_above_hips",
    "wrist_out",
    "wrist_above_shoulders",
    "hand_sep_mean",
    "hand_sep_min",
    "hand_sep_max",
    "wrist_travel_per_s",
    "hip_bounce",
)


@dataclass
class WindowStats:
    """Per-window summary numbers (each (N,) float, NaN where a window lacks the joints), in torso lengths."""

    values: dict[str, np.ndarray]

    @classmethod
    def of(cls, windows: np.ndarray, fps: float) -> WindowStats:
        """Summaries of (N, 32, 17, 3) keypoint windows filmed at `fps`."""
        kp = np.asarray(windows, dtype=np.float64)
        valid = kp[..., 2] >= KEYPOINT_THRESHOLD
        xy = np.where(valid[..., None], kp[..., :2], np.nan)
        sh, hip, wr = xy[:, :, _SH].mean(axis=2), xy[:, :, _HIP].mean(axis=2), xy[:, :, _WR]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (person absent) give NaN, as wanted
            torso = np.nanmedian(np.linalg.norm(sh - hip, axis=-1), axis=1)[:, None]
            up = (hip[:, :, None, 1] - wr[..., 1]) / torso[..., None]
            out = np.abs(wr[..., 0] - hip[:, :, None, 0]) / torso[..., None]
            above_sh = (sh[:, :, None, 1] - wr[..., 1]) / torso[..., None]
            sep = np.linalg.norm(wr[:, :, 0] - wr[:, :, 1], axis=-1) / torso
            travel = np.nansum(np.linalg.norm(np.diff(wr, axis=1), axis=-1), axis=1).mean(axis=1) / torso[:, 0]
            travel *= fps / (WINDOW - 1)
            core = xy[:, :, _SH + _HIP]
            jitter = np.nanmedian(np.linalg.norm(core[:, 2:] - 2 * core[:, 1:-1] + core[:, :-2], axis=-1), axis=(1, 2))
            values = {
                "score_median": np.median(kp[..., 2], axis=(1, 2)),
                "low_score_share": 1 - valid.mean(axis=(1, 2)),
                "torso_jitter": jitter / torso[:, 0],
                "shoulder_width": np.nanmedian(np.linalg.norm(xy[:, :, _SH[0]] - xy[:, :, _SH[1]], axis=-1), axis=1)
                / torso[:, 0],
                "wrist_above_hips": np.nanmean(up, axis=(1, 2)),
                "wrist_out": np.nanmean(out, axis=(1, 2)),
                "wrist_above_shoulders": np.nanmean(above_sh, axis=(1, 2)),
                "hand_sep_mean": np.nanmean(sep, axis=1),
                "hand_sep_min": np.nanmin(np.where(np.isnan(sep), np.inf, sep), axis=1),
                "hand_sep_max": np.nanmax(np.where(np.isnan(sep), -np.inf, sep), axis=1),
                "wrist_travel_per_s": travel,
                "hip_bounce": (np.nanmax(hip[..., 1], axis=1) - np.nanmin(hip[..., 1], axis=1)) / torso[:, 0],
            }
        for key, v in values.items():
            values[key] = np.where(np.isfinite(v), v, np.nan)
        return cls(values)

    def subset(self, mask: np.ndarray) -> WindowStats:
        """The statistics of the windows where `mask` is set."""
        return WindowStats({k: v[mask] for k, v in self.values.items()})

    def summary(self, key: str) -> str:
        """'median [p25, p75]' of one statistic."""
        v = self.values[key]
        v = v[np.isfinite(v)]
        if not len(v):
            return "-"
        p25, p50, p75 = np.percentile(v, [25, 50, 75])
        return f"{p50:6.2f} [{p25:5.2f},{p75:5.2f}]"


def real_tracks(real_dev: Path, refresh: bool = False) -> dict[str, tuple[np.ndarray, float]]:
    """{class: ((T, 17, 3) MoveNet keypoints of the most confident person per frame, fps)}, cached."""
    if CACHE.exists() and not refresh:
        data = np.load(CACHE)
        return {c: (data[c], float(data[f"{c}_fps"])) for c in CLASSES if c in data}
    from har_core.pose.movenet import MoveNetBackend
    from har_core.video import iter_frames, probe

    backend = MoveNetBackend(input_size=256)
    tracks: dict[str, tuple[np.ndarray, float]] = {}
    for name in CLASSES:
        clips = sorted(p for p in (real_dev / name).glob("*") if p.suffix.lower() in (".avi", ".mp4", ".mov", ".mkv"))
        if not clips:
            continue
        frames = []
        for frame in iter_frames(clips[0]):
            poses = backend([frame.image])[0]
            best = np.argmax(poses.scores) if len(poses) else None
            frames.append(poses.keypoints[best] if best is not None else np.zeros((NUM_JOINTS, 3), np.float32))
        tracks[name] = (np.stack(frames), float(probe(clips[0]).fps))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **{k: v[0] for k, v in tracks.items()}, **{f"{k}_fps": v[1] for k, v in tracks.items()})
    return tracks


def simulated_windows(label: int, n_clips: int, seed: int) -> np.ndarray:
    """Windows ending in `label` frames from procedural clips of that class, filmed at COMPARE_FPS."""
    rng = np.random.default_rng([seed, label])
    out = []
    for _ in range(n_clips):
        motion: Motion = procedural.random_clip(rng, label, COMPARE_FPS, duration=8.0, lead_in=False, lead_out=False)
        keypoints, labels, _ = film(motion, rng, fps=COMPARE_FPS)
        ends = np.arange(WINDOW - 1, len(keypoints), 8)
        ends = ends[labels[ends] == label]
        out.append(sliding_windows(keypoints)[ends - WINDOW + 1])
    return np.concatenate(out)


def _classifier_rate_keypoints(track: np.ndarray, fps: float) -> np.ndarray:
    """A (T, 17, 3) track filmed at a constant `fps`, as the classifier reads it (30 samples a second)."""
    return to_classifier_rate(track, np.arange(len(track)) / fps).keypoints


def window_accuracy(
    classifier: ActionClassifier, tracks: dict[str, tuple[np.ndarray, float]], jitter: float = 0.0, seed: int = 0
) -> dict[str, float]:
    """{class: share of that clip's windows labelled with it}, reading each track as the pipeline does
    (30 samples a second, short gaps filled) after adding normal noise of std `jitter` x the person's height
    to every coordinate."""
    rng = np.random.default_rng(seed)
    shares = {}
    for name, (track, fps) in tracks.items():
        keypoints = fill_short_gaps(_classifier_rate_keypoints(track, fps))
        height = np.median(np.ptp(keypoints[:, :, 1], axis=1))
        keypoints[..., :2] += rng.normal(0.0, jitter * height, keypoints[..., :2].shape).astype(np.float32)
        probs = classifier.predict(features_for_windows(np.ascontiguousarray(sliding_windows(keypoints))))
        shares[name] = float(np.mean(probs.argmax(axis=1) == CLASS_INDEX[name])) if len(probs) else float("nan")
    return shares


def print_window_accuracy(checkpoints: list[Path], tracks: dict[str, tuple[np.ndarray, float]]) -> None:
    """One row per checkpoint and jitter level: each clip's share of windows right, and their mean."""
    print(f"{'checkpoint':<28}{'jitter':>7}" + "".join(f"{name[:9]:>10}" for name in tracks) + f"{'mean':>8}")
    for folder in checkpoints:
        classifier = ActionClassifier.load(folder)
        for jitter in JITTER_LEVELS:
            shares = window_accuracy(classifier, tracks, jitter)
            print(f"{classifier.model_id:<28}{jitter:>7.3f}" + "".join(f"{v:>10.2f}" for v in shares.values())
                  + f"{np.mean(list(shares.values())):>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real-dev", type=Path, default=REAL_DEV)
    parser.add_argument("--refresh", action="store_true", help="re-run MoveNet instead of using the cache")
    parser.add_argument("--clips", type=int, default=40, help="simulated clips per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="score this checkpoint on the real keypoints instead (repeatable)")
    args = parser.parse_args()
    tracks = real_tracks(args.real_dev, args.refresh)
    if args.checkpoint:
        print_window_accuracy(args.checkpoint, tracks)
        return
    print("Medians [p25, p75] per window in torso lengths. 'same view' keeps the simulated windows whose")
    print("shoulder width (how turned the body is) is within 0.12 of the real clip's, so geometry compares like")
    print("with like; 'all views' is what training sees.")
    print(f"{'class':<15}{'statistic':<23}{'real':>22}{'simulated, same view':>24}{'simulated, all views':>24}")
    for name, (track, fps) in tracks.items():
        real = WindowStats.of(sliding_windows(_classifier_rate_keypoints(track, fps)), CLASSIFIER_FPS)
        sim = WindowStats.of(simulated_windows(CLASS_INDEX[name], args.clips, args.seed), COMPARE_FPS)
        view = np.nanmedian(real.values["shoulder_width"])
        same = sim.subset(np.abs(sim.values["shoulder_width"] - view) < 0.12)
        for key in STATS:
            print(f"{name:<15}{key:<23}{real.summary(key):>22}{same.summary(key):>24}{sim.summary(key):>24}")
        print(
            f"{'':<15}{'windows':<23}{len(track) - WINDOW + 1:>22}{len(same.values[key]):>24}{len(sim.values[key]):>24}"
        )
        print()


if __name__ == "__main__":
    main()

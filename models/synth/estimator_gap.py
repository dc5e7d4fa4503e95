"""How far MoveNet's keypoints on rendered video are from the truth, beside the simulated estimator's.

The classifier is trained on `noise.simulate_estimator` output, so that model's errors should look like
MoveNet's. Rendered scenes know every joint exactly: this renders evaluation-style scenes (one person,
random camera, any class), runs MoveNet on sampled frames, and scores its keypoints and the simulated
estimator's (same truth, random noise profiles) with the same statistics: position error per joint
group, for joints in view and joints behind the body; scores; left/right swaps; and one side's joint
reported on the other side ("collapse", e.g. the hidden wrist put on the visible one). Without truth the
one error that shows is a left/right flip between consecutive samples, so that rate is also counted on
the real development clips' cached MoveNet tracks (`compare_real`), where they exist.

The rendered figure is flat-shaded, so MoveNet's errors on it are not necessarily those on real people:
compare the flip rates before calibrating the noise model to the figure. See docs/model.md.

    python -m models.synth.estimator_gap [--clips-per-class 8] [--every 2] [--profiles 3] [--real-dev DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_core.pose import create_pose_backend
from har_core.pose.base import PoseBackend
from har_core.skeleton import CLASSES, JOINT_INDEX, NUM_JOINTS
from models.synth.compare_real import CACHE, REAL_DEV, real_tracks
from models.synth.noise import NoiseProfile, person_height, self_occlusion, simulate_estimator
from models.synth.scenes import eval_scene, placed_joints, render_scene

# Scenes are drawn from their own seed, not the model card's evaluation seed, so calibrating the noise model
# with this check never looks at the clips the card scores.
GAP_SEED = 424_242
CLIP_SECONDS = 3.5
IMAGE_SIZE = (640, 480)
FPS = 30.0
# A joint counts as hidden behind the body from this `self_occlusion` on (7.5 cm behind the torso), else in view.
HIDDEN = 0.5
# Left/right mix-ups are judged only where the two true joints are this far apart (person heights).
MIN_SEPARATION = 0.12
# A reported joint is "on the other side" when it is at least this far from its own true place (person
# heights) and less than half as far from the other side's.
OFF_OWN = 0.08
GROUPS = {
    "shoulder": ("left_shoulder", "right_shoulder"),
    "elbow": ("left_elbow", "right_elbow"),
    "wrist": ("left_wrist", "right_wrist"),
    "hip": ("left_hip", "right_hip"),
    "knee": ("left_knee", "right_knee"),
    "ankle": ("left_ankle", "right_ankle"),
}
_PAIRS = {group: (JOINT_INDEX[left], JOINT_INDEX[right]) for group, (left, right) in GROUPS.items()}


@dataclass(frozen=True)
class RenderedClip:
    """One rendered clip's truth at every frame and the estimator's keypoints at the sampled frames.

    Attributes:
        label: class index (har_core.skeleton.CLASSES).
        yaw_deg: the camera's turn from the person's front.
        truth: (T, 17, 2) projected joints in pixels, every frame.
        depth: (T, 17) joint depths along the camera axis, every frame (self-occlusion).
        in_image: (T, 17) bool, joint inside the image and in front of the camera.
        sampled: (S,) frame indices the estimator ran on.
        estimate: (S, 17, 3) MoveNet's (x, y, score) for the person nearest the truth; zeros when nobody was found.
    """

    label: int
    yaw_deg: float
    truth: np.ndarray
    depth: np.ndarray
    in_image: np.ndarray
    sampled: np.ndarray
    estimate: np.ndarray


@dataclass(frozen=True)
class GapStats:
    """The same error statistics for one estimator (MoveNet or simulated) over a set of clips.

    Errors are fractions of the person's height in the image (as the noise model's jitter is); rates are
    shares of the frames where they can be judged.

    Attributes:
        frames: sampled frames scored.
        not_found: share of frames where the estimator reported nobody.
        error: per joint group, (median, 90th percentile) of the position error for joints in view, and the
            same for joints hidden behind the body (NaN where there were none).
        score: per joint group, median score in view and hidden.
        offset: per joint group, median over clips of the joint's constant offset in that clip (the median
            of its error vector over the clip's frames): where the estimator puts the joint, as against the
            truth, whatever the person does.
        spread: per joint group, median distance of the joint from the truth plus that clip's offset: the
            error that changes from frame to frame.
        swap: per joint group, share of frames with the left and right joints exchanged.
        collapse: per joint group, share of frames with one side's joint on the other side's (not both).
    """

    frames: int
    not_found: float
    error: dict[str, tuple[float, float, float, float]]
    score: dict[str, tuple[float, float]]
    offset: dict[str, float]
    spread: dict[str, float]
    swap: dict[str, float]
    collapse: dict[str, float]


def render_clips(
    n_per_class: int,
    every: int,
    backend: PoseBackend,
    seed: int = GAP_SEED,
    classes: Sequence[int] = tuple(range(len(CLASSES))),
    seconds: float = CLIP_SECONDS,
) -> list[RenderedClip]:
    """Render `n_per_class` evaluation-style clips of each class and run `backend` on every `every`-th frame."""
    clips = []
    for label in classes:
        for k in range(n_per_class):
            rng = np.random.default_rng([seed, label, k])
            person, camera = eval_scene(rng, label, seconds, IMAGE_SIZE, FPS, 90.0)
            truth, in_image, sampled, estimate = [], [], [], []
            for frame in render_scene([person], camera, FPS, seconds, seed=int(rng.integers(2**31))):
                truth.append(frame.keypoints[0, :, :2])
                in_image.append(frame.keypoints[0, :, 2] > 0)
                if frame.index % every == 0:
                    sampled.append(frame.index)
                    estimate.append(_nearest_person(backend([frame.image])[0].keypoints, frame.keypoints[0, :, :2]))
            depth = camera.depth(placed_joints(person, len(truth), FPS)[0])  # the frames render_scene drew
            clips.append(RenderedClip(label, float(camera.yaw_deg), np.array(truth), depth, np.array(in_image),
                                      np.array(sampled), np.array(estimate, dtype=np.float32)))
    return clips


def _nearest_person(people: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The (17, 3) keypoints of the detected person closest to the truth on average; zeros if nobody was found."""
    if len(people) == 0:
        return np.zeros((len(truth), 3), dtype=np.float32)
    distance = np.linalg.norm(people[:, :, :2] - truth[None], axis=-1).mean(axis=1)
    return people[int(np.argmin(distance))]


def simulated_estimate(clip: RenderedClip, rng: np.random.Generator) -> np.ndarray:
    """The simulated estimator's (S, 17, 3) output on the clip's truth (every frame, then sampled), random profile."""
    noisy = simulate_estimator(clip.truth, clip.depth, IMAGE_SIZE, rng, NoiseProfile.random(rng))
    return noisy[clip.sampled]


def gap_stats(clips: Sequence[RenderedClip], estimates: Sequence[np.ndarray]) -> GapStats:
    """Score `estimates` (one (S, 17, 3) array per clip, at its sampled frames) against the clips' truth."""
    found, error, score, hidden, in_image, swap, collapse, judged, offset, spread = ([] for _ in range(10))
    for clip, estimate in zip(clips, estimates, strict=True):
        truth = clip.truth[clip.sampled]
        height = person_height(clip.truth)
        found.append(estimate[:, :, 2].max(axis=1) > 0)
        residual = (estimate[:, :, :2] - truth) / height
        error.append(np.linalg.norm(residual, axis=-1))
        if found[-1].any():
            clip_offset = np.median(residual[found[-1]], axis=0)
            offset.append(np.linalg.norm(clip_offset, axis=-1))
            spread.append(np.linalg.norm(residual[found[-1]] - clip_offset, axis=-1))
        score.append(estimate[:, :, 2])
        hidden.append(self_occlusion(clip.depth[clip.sampled]))
        in_image.append(clip.in_image[clip.sampled])
        swapped, collapsed, valid = _mixups(truth, clip.in_image[clip.sampled], estimate, height)
        swap.append(swapped)
        collapse.append(collapsed)
        judged.append(valid)
    found_all, error_all, score_all = np.concatenate(found), np.concatenate(error), np.concatenate(score)
    hidden_all, in_image_all = np.concatenate(hidden), np.concatenate(in_image)
    swap_all, collapse_all, judged_all = np.concatenate(swap), np.concatenate(collapse), np.concatenate(judged)
    offset_all = np.stack(offset) if offset else np.zeros((0, NUM_JOINTS))
    spread_all = np.concatenate(spread) if spread else np.zeros((0, NUM_JOINTS))
    stats_error, stats_score, stats_offset, stats_spread, stats_swap, stats_collapse = {}, {}, {}, {}, {}, {}
    for g, (group, pair) in enumerate(_PAIRS.items()):
        base = found_all[:, None] & in_image_all[:, pair]
        view = base & (hidden_all[:, pair] < HIDDEN)
        behind = base & (hidden_all[:, pair] >= HIDDEN)
        errors, scores = error_all[:, pair], score_all[:, pair]
        stats_error[group] = (*_median_p90(errors[view]), *_median_p90(errors[behind]))
        stats_score[group] = (_median(scores[view]), _median(scores[behind]))
        stats_offset[group], stats_spread[group] = _median(offset_all[:, pair]), _median(spread_all[:, pair])
        usable = judged_all[:, g] & found_all
        stats_swap[group] = float(swap_all[usable, g].mean()) if usable.any() else float("nan")
        stats_collapse[group] = float(collapse_all[usable, g].mean()) if usable.any() else float("nan")
    return GapStats(len(found_all), float(1 - found_all.mean()), stats_error, stats_score, stats_offset,
                    stats_spread, stats_swap, stats_collapse)


def _mixups(
    truth: np.ndarray, in_image: np.ndarray, estimate: np.ndarray, height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame and joint group: left and right exchanged, one put on the other's place, and judged at all.

    Judged where both joints are in the image's truth and at least `MIN_SEPARATION` apart.
    """
    swapped, collapsed, judged = (np.zeros((len(truth), len(_PAIRS)), dtype=bool) for _ in range(3))
    for g, (left, right) in enumerate(_PAIRS.values()):
        def on_other(joint: int, other: int) -> np.ndarray:
            own = np.linalg.norm(estimate[:, joint, :2] - truth[:, joint], axis=-1) / height
            across = np.linalg.norm(estimate[:, joint, :2] - truth[:, other], axis=-1) / height
            return (own > OFF_OWN) & (across < 0.5 * own)

        left_across, right_across = on_other(left, right), on_other(right, left)
        swapped[:, g] = left_across & right_across
        collapsed[:, g] = left_across ^ right_across
        apart = np.linalg.norm(truth[:, left] - truth[:, right], axis=-1) / height >= MIN_SEPARATION
        judged[:, g] = apart & in_image[:, left] & in_image[:, right]
    return swapped, collapsed, judged


def flip_rate(track: np.ndarray, min_score: float = 0.15) -> tuple[float, int]:
    """Share of consecutive sample pairs in which the left and right wrists trade places, and pairs judged.

    The one left/right error visible without truth: a flip is when crossing the assignment explains the
    motion between two samples at least twice as well as keeping it. Judged where both arms' joints score
    at least `min_score` and the wrists are at least 0.3 torso lengths apart.
    """
    left, right = _PAIRS["wrist"]
    shoulders = track[:, list(_PAIRS["shoulder"]), :2].mean(axis=1)
    hips = track[:, list(_PAIRS["hip"]), :2].mean(axis=1)
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    confident = track[:, [*_PAIRS["shoulder"], *_PAIRS["elbow"], left, right], 2].min(axis=1) >= min_score
    a, b = track[:, left, :2], track[:, right, :2]
    kept = np.linalg.norm(a[1:] - a[:-1], axis=-1) + np.linalg.norm(b[1:] - b[:-1], axis=-1)
    crossed = np.linalg.norm(a[1:] - b[:-1], axis=-1) + np.linalg.norm(b[1:] - a[:-1], axis=-1)
    apart = np.linalg.norm(a[:-1] - b[:-1], axis=-1) >= 0.3 * torso[:-1]
    valid = confident[1:] & confident[:-1] & apart & (torso[:-1] > 0)
    flips = valid & (crossed < 0.5 * kept)
    return (float(flips.sum() / valid.sum()) if valid.any() else float("nan")), int(valid.sum())


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else float("nan")


def _median_p90(values: np.ndarray) -> tuple[float, float]:
    return (_median(values), float(np.percentile(values, 90)) if values.size else float("nan"))


def print_comparison(movenet: GapStats, simulated: GapStats) -> None:
    """Side-by-side table: MoveNet on rendered video against the simulated estimator on the same truth."""
    print(f"frames scored: MoveNet {movenet.frames}, simulated {simulated.frames}; "
          f"person not found: MoveNet {movenet.not_found:.3f}, simulated {simulated.not_found:.3f}")
    print("error in person heights, median / 90th percentile (in view | hidden behind the body); MoveNet vs simulated")
    for group in GROUPS:
        m, s = movenet.error[group], simulated.error[group]
        print(f"  {group:8s} in view {m[0]:.3f}/{m[1]:.3f} vs {s[0]:.3f}/{s[1]:.3f} | "
              f"hidden {m[2]:.3f}/{m[3]:.3f} vs {s[2]:.3f}/{s[3]:.3f}")
    print("constant offset per clip and the error about it, median in person heights; MoveNet vs simulated")
    for group in GROUPS:
        print(f"  {group:8s} offset {movenet.offset[group]:.4f} vs {simulated.offset[group]:.4f};  "
              f"about it {movenet.spread[group]:.4f} vs {simulated.spread[group]:.4f}")
    print("median score (in view | hidden), swap rate, collapse rate; MoveNet vs simulated")
    for group in GROUPS:
        ms, ss = movenet.score[group], simulated.score[group]
        print(f"  {group:8s} score {ms[0]:.2f} vs {ss[0]:.2f} | {ms[1]:.2f} vs {ss[1]:.2f};  "
              f"swap {movenet.swap[group]:.3f} vs {simulated.swap[group]:.3f};  "
              f"collapse {movenet.collapse[group]:.3f} vs {simulated.collapse[group]:.3f}")


def pooled_flip_rate(tracks: Sequence[np.ndarray]) -> tuple[float, int]:
    """`flip_rate` over several tracks, weighted by the pairs judged in each."""
    results = [flip_rate(track) for track in tracks]
    judged = sum(n for _, n in results)
    flips = sum(rate * n for rate, n in results if n)
    return (flips / judged if judged else float("nan")), judged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips-per-class", type=int, default=8)
    parser.add_argument("--every", type=int, default=2, help="run MoveNet on every n-th frame")
    parser.add_argument("--profiles", type=int, default=3, help="random noise profiles drawn per clip")
    parser.add_argument("--seed", type=int, default=GAP_SEED)
    parser.add_argument("--real-dev", type=Path, default=REAL_DEV,
                        help="real development clips for the flip rate (skipped if absent and not cached)")
    args = parser.parse_args()

    clips = render_clips(args.clips_per_class, args.every, create_pose_backend("movenet"), args.seed)
    rng = np.random.default_rng(args.seed)
    repeated = [clip for clip in clips for _ in range(args.profiles)]
    simulated = [simulated_estimate(clip, rng) for clip in repeated]
    print_comparison(gap_stats(clips, [clip.estimate for clip in clips]), gap_stats(repeated, simulated))

    rate = FPS / args.every
    print(f"wrist flips between consecutive samples, {rate:.0f} samples a second (share, pairs judged)")
    print("  MoveNet, rendered: {:.3f} ({})".format(*pooled_flip_rate([clip.estimate for clip in clips])))
    print("  simulated, rendered truth: {:.3f} ({})".format(*pooled_flip_rate(simulated)))
    if CACHE.exists() or args.real_dev.is_dir():
        tracks = real_tracks(args.real_dev).values()
        real = [track[:: max(1, round(fps / rate))] for track, fps in tracks]
        print("  MoveNet, real development clips: {:.3f} ({})".format(*pooled_flip_rate(real)))


if __name__ == "__main__":
    main()

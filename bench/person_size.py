"""How well MoveNet sees small, low-resolution people, and what a larger input or a crop around them buys.

    python -m bench.person_size                        # ~3 min on 2 cores
    python -m bench.person_size --clips-per-class 1 --sizes 256,384
    python -m bench.person_size --canvas 640 --widths 320,160,96   # far people in a 640-px-wide frame

Rendered scenes (the model evaluation's kind: one person, random camera, any class, 640x480) know every
joint. Each sampled frame is shrunk with area averaging, as a low-resolution camera would film it, so the
person is as tall as in the blind set's 160x120 clips (60-100 px) or smaller, and MoveNet runs on the shrunk
frame at several input sizes (the longer side; the frame is scaled up to it) and, with `crop`, on a crop
around the person taken from the 256-px pass's own box (what the tracker knows in the pipeline), scaled so
the person fills the input. Printed per source width and way of running:
- the person's median height in the source frame and in MoveNet's input (px, joints drawn), and the median
  height of MoveNet's box around them in its input (px: what the pipeline's automatic input size reads);
- found: share of frames where a person was detected near the drawn one;
- error: median distance of visible joints from the drawn ones, in person heights, over found frames;
- PCK: share of visible joints within 0.1 person heights, counting frames where nobody was found as misses;
- ms per frame (wall time of the inferences, this machine).
A diagnostic on a flat-shaded figure: it says which way input size moves keypoints, not the figure on people.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from har_core.pose import create_pose_backend
from har_core.pose.base import PoseBackend
from har_core.poses import Poses
from har_core.skeleton import CLASSES
from models.synth.noise import person_height
from models.synth.scenes import eval_scene, render_scene

SEED = 515_151  # its own scenes: nothing the model card or training scores
RENDER_SIZE = (640, 480)
FPS = 30.0
SECONDS = 2.0
PCK_RADIUS = 0.1  # person heights
NEAR = 0.5  # a detection counts as the drawn person when its mean joint distance is under this many heights
CROP_MARGIN = 0.25  # of the box's longer side, on every side


@dataclass(frozen=True)
class Sample:
    """One rendered frame and its truth: (17, 2) joints in pixels and which of them are in the image."""

    image: np.ndarray
    joints: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True)
class SizeResult:
    """Keypoint quality for one source width and one way of running MoveNet."""

    source_width: int
    method: str
    person_px: float
    input_px: float
    box_px: float
    found: float
    error: float
    pck: float
    ms_per_frame: float


def render_samples(clips_per_class: int, every: int) -> list[Sample]:
    """Every `every`-th frame of `clips_per_class` rendered clips of each class, with the drawn joints."""
    samples = []
    for label in range(len(CLASSES)):
        for k in range(clips_per_class):
            rng = np.random.default_rng([SEED, label, k])
            person, camera = eval_scene(rng, label, SECONDS, RENDER_SIZE, FPS, 90.0)
            for frame in render_scene([person], camera, FPS, SECONDS, seed=int(rng.integers(2**31))):
                if frame.index % every == 0:
                    samples.append(Sample(frame.image, frame.keypoints[0, :, :2], frame.keypoints[0, :, 2] > 0))
    return samples


def shrink(sample: Sample, width: int) -> Sample:
    """The sample filmed at `width` px wide: area-averaged pixels, joints scaled to match."""
    scale = width / sample.image.shape[1]
    height = round(sample.image.shape[0] * scale)
    image = cv2.resize(sample.image, (width, height), interpolation=cv2.INTER_AREA)
    return Sample(image, sample.joints * scale, sample.visible)


def in_canvas(sample: Sample, width: int) -> Sample:
    """The shrunk sample in the middle of a frame `width` px wide (edges repeated): a far person in a wide shot."""
    height = round(width * sample.image.shape[0] / sample.image.shape[1])
    top, left = (height - sample.image.shape[0]) // 2, (width - sample.image.shape[1]) // 2
    image = cv2.copyMakeBorder(sample.image, top, height - sample.image.shape[0] - top, left,
                               width - sample.image.shape[1] - left, cv2.BORDER_REPLICATE)
    return Sample(image, sample.joints + np.array([left, top], dtype=np.float32), sample.visible)


def nearest(poses: Poses, truth: np.ndarray, height: float) -> int | None:
    """Index of the detected person nearest the drawn one, or None when nobody is within `NEAR` heights."""
    if len(poses.keypoints) == 0:
        return None
    distance = np.linalg.norm(poses.keypoints[:, :, :2] - truth[None], axis=-1).mean(axis=1) / height
    best = int(np.argmin(distance))
    return best if distance[best] < NEAR else None


def crop_around(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A square crop centred on `box` (x1, y1, x2, y2) with `CROP_MARGIN`, padded with black outside the frame.

    Returns the crop and its top-left corner in frame pixels.
    """
    centre = (box[:2] + box[2:]) / 2
    side = max(float((box[2:] - box[:2]).max()) * (1 + 2 * CROP_MARGIN), 8.0)
    corner = np.round(centre - side / 2).astype(int)
    side_px = round(side)
    padded = cv2.copyMakeBorder(image, side_px, side_px, side_px, side_px, cv2.BORDER_CONSTANT, value=0)
    y0, x0 = corner[1] + side_px, corner[0] + side_px
    return padded[y0: y0 + side_px, x0: x0 + side_px], corner.astype(np.float32)


def score(samples: Sequence[Sample], estimates: Sequence[np.ndarray | None]) -> tuple[float, float, float]:
    """(found, median error in heights over found frames, PCK counting misses) of per-sample (17, 2) estimates."""
    errors, hits, total, found = [], 0, 0, 0
    for sample, estimate in zip(samples, estimates, strict=True):
        height = person_height(sample.joints[None])
        total += int(sample.visible.sum())
        if estimate is None:
            continue
        found += 1
        distance = np.linalg.norm(estimate - sample.joints, axis=-1)[sample.visible] / height
        errors.extend(distance.tolist())
        hits += int((distance < PCK_RADIUS).sum())
    median = float(np.median(errors)) if errors else float("nan")
    return found / len(samples), median, hits / max(total, 1)


@dataclass(frozen=True)
class FullFrameRun:
    """MoveNet on whole frames: every frame's poses, the index of the drawn person among them (None where
    nobody was near), and the milliseconds per frame."""

    outputs: list[Poses]
    found: list[int | None]
    ms_per_frame: float

    def estimates(self) -> list[np.ndarray | None]:
        """The drawn person's (17, 2) joints per frame, None where they were not found."""
        return [None if index is None else poses.keypoints[index, :, :2]
                for poses, index in zip(self.outputs, self.found, strict=True)]

    def box_height(self) -> float:
        """Median height of MoveNet's box around the drawn person (source px), what the automatic size reads."""
        heights = [float(poses.boxes[index, 3] - poses.boxes[index, 1])
                   for poses, index in zip(self.outputs, self.found, strict=True) if index is not None]
        return float(np.median(heights)) if heights else float("nan")


def run_full(backend: PoseBackend, samples: Sequence[Sample]) -> FullFrameRun:
    """MoveNet on each whole frame, and which detection is the drawn person."""
    outputs, found = [], []
    start = time.perf_counter()
    for sample in samples:
        poses = backend([sample.image])[0]
        outputs.append(poses)
        found.append(nearest(poses, sample.joints, person_height(sample.joints[None])))
    return FullFrameRun(outputs, found, 1000 * (time.perf_counter() - start) / len(samples))


def run_crop(backend: PoseBackend, samples: Sequence[Sample], first: FullFrameRun) -> tuple[list, float]:
    """MoveNet on a crop around the person the whole-frame pass found (its box); None where it found nobody."""
    estimates = []
    start = time.perf_counter()
    for sample, poses, index in zip(samples, first.outputs, first.found, strict=True):
        if index is None:
            estimates.append(None)
            continue
        crop, corner = crop_around(sample.image, poses.boxes[index])
        found = backend([crop])[0]
        inner = nearest(found, sample.joints - corner, person_height(sample.joints[None]))
        estimates.append(None if inner is None else found.keypoints[inner, :, :2] + corner)
    return estimates, 1000 * (time.perf_counter() - start) / len(samples)


def measure(
    samples: Sequence[Sample], widths: Sequence[int], sizes: Sequence[int], crop: bool, canvas: int | None
) -> list[SizeResult]:
    """Every source width against every input size (and the crop), on the same rendered frames.

    With `canvas`, each shrunk frame is placed in a frame `canvas` px wide: the person is small in the input.
    """
    backends = {size: create_pose_backend("movenet", input_size=size) for size in {*sizes, 256}}
    results = []
    for width in widths:
        shrunk = [shrink(sample, width) for sample in samples]
        if canvas:
            shrunk = [in_canvas(sample, canvas) for sample in shrunk]
        person_px = float(np.median([person_height(s.joints[None]) for s in shrunk]))
        longer_side = max(shrunk[0].image.shape[:2])
        runs = {size: run_full(backends[size], shrunk) for size in sorted({*sizes, 256})}
        for size in sizes:
            run, to_input = runs[size], size / longer_side
            results.append(SizeResult(width, f"input {size}", person_px, person_px * to_input,
                                      run.box_height() * to_input, *score(shrunk, run.estimates()), run.ms_per_frame))
        if crop:
            first = runs[256]
            estimates, ms = run_crop(backends[256], shrunk, first)
            to_input = 256 / (first.box_height() * (1 + 2 * CROP_MARGIN))
            results.append(SizeResult(width, "crop at 256 (+ the 256 pass)", person_px, person_px * to_input,
                                      256 / (1 + 2 * CROP_MARGIN), *score(shrunk, estimates), ms))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.person_size", description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-class", type=int, default=3)
    parser.add_argument("--every", type=int, default=6, help="frames between sampled frames of a clip")
    parser.add_argument("--widths", default="640,320,160,96", help="source widths to film at, comma separated")
    parser.add_argument("--sizes", default="192,256,384,512", help="MoveNet input sizes, comma separated")
    parser.add_argument("--no-crop", action="store_true", help="skip the crop around the person")
    parser.add_argument("--canvas", type=int, default=0,
                        help="place each shrunk frame in a frame this wide (a far person in a wide shot)")
    args = parser.parse_args(argv)
    samples = render_samples(args.clips_per_class, args.every)
    widths = [int(w) for w in args.widths.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{len(samples)} rendered frames ({args.clips_per_class} clips per class, every {args.every}th frame)")
    print("| source width | MoveNet | person px (source) | person px (input) | box px (input) | found | error (heights) "
          f"| PCK@{PCK_RADIUS} | ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in measure(samples, widths, sizes, not args.no_crop, args.canvas):
        print(f"| {r.source_width} | {r.method} | {r.person_px:.0f} | {r.input_px:.0f} | {r.box_px:.0f} | {r.found:.3f} "
              f"| {r.error:.3f} | {r.pck:.3f} | {r.ms_per_frame:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

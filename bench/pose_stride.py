"""What estimating poses on every Nth frame costs in accuracy and gains in speed (`--pose-every`).

    python -m bench.pose_stride                    # strides 1, 2, 3 on 4 rendered clips per class (+ real clips)
    python -m bench.pose_stride --strides 1,2 --clips-per-class 2 --no-real

For each stride the whole pipeline runs on the model evaluation's rendered clips (the same seed as
`python -m models.evaluate`, one action per clip, 640x480, 30 fps) and, when `../shared/data/real-dev` and
`real-extra` are present, on every real clip (`models.real_footage.real_clips`). Printed per stride and set: clip-level accuracy (majority vote
of the primary person's frame labels, as in the model card), frame-level accuracy (frames labelled with a
class that name the clip's action), the share of frames whose label equals the first stride's run's, and
frames per second over the set (wall time, everything included, models loaded once
per clip as in the dashboard).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from har_core.skeleton import CLASSES
from models.evaluate import EVAL_SEED, PIPELINE_SETTINGS, primary_labels
from models.real_footage import clip_vote, real_clips
from models.synth.scenes import render_eval_clips


@dataclass
class StrideRun:
    """One stride over one set of clips: per-clip frame labels, predicted class, and the time taken."""

    labels: list[np.ndarray]
    predicted: list[str]
    frames: int
    wall_s: float


def run_set(clips: list[tuple[Path, str]], every: int, work: Path) -> StrideRun:
    """Analyse every clip with poses on every `every`-th frame."""
    settings = replace(PIPELINE_SETTINGS, pose_every=every)
    started = time.perf_counter()
    labels = [primary_labels(video, work / f"stride{every}-{k}", settings) for k, (video, _) in enumerate(clips)]
    wall_s = time.perf_counter() - started
    return StrideRun(labels, [clip_vote(frame_labels)[0] for frame_labels in labels],
                     sum(len(frame_labels) for frame_labels in labels), wall_s)


def agreement(run: StrideRun, reference: StrideRun) -> float:
    """Share of frames (over all clips) labelled the same as in the reference run."""
    same = sum(int((a == b).sum()) for a, b in zip(run.labels, reference.labels, strict=True))
    return same / sum(len(a) for a in reference.labels)


def frame_accuracy(run: StrideRun, truth: list[str]) -> float:
    """Share of frames labelled with a class (not NO_WINDOW, ABSENT or UNCERTAIN) that name the clip's action."""
    labelled = [labels[np.isin(labels, CLASSES)] for labels in run.labels]
    right = sum(int((labels == label).sum()) for labels, label in zip(labelled, truth, strict=True))
    return right / max(1, sum(len(labels) for labels in labelled))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strides", default="1,2,3", help="comma-separated pose strides; the first is the reference")
    parser.add_argument("--clips-per-class", type=int, default=4, help="rendered clips per class")
    parser.add_argument("--no-real", action="store_true", help="skip the real clips (real-dev, real-extra)")
    args = parser.parse_args(argv)
    strides = [int(s) for s in args.strides.split(",")]

    with tempfile.TemporaryDirectory(prefix="har-stride-") as tmp:
        work = Path(tmp)
        rendered = render_eval_clips(args.clips_per_class, EVAL_SEED, work / "rendered")
        sets = {"rendered": [(clip.video, clip.label) for clip in rendered]}
        if not args.no_real and (real := real_clips()):
            sets["real"] = [(clip.path, clip.label) for clip in real]
        print(f"{'set':10s} {'stride':>6s} {'clips':>5s} {'clip accuracy':>13s} {'frame accuracy':>14s} "
              f"{'frames as stride ' + str(strides[0]):>18s} {'frames/s':>9s}")
        for name, clips in sets.items():
            truth = [label for _, label in clips]
            reference = None
            for every in strides:
                run = run_set(clips, every, work)
                reference = reference or run
                correct = sum(p == t for p, t in zip(run.predicted, truth, strict=True))
                misses = ", ".join(f"{t}->{p}" for p, t in zip(run.predicted, truth, strict=True) if p != t)
                print(f"{name:10s} {every:6d} {len(clips):5d} {correct / len(clips):13.3f} "
                      f"{frame_accuracy(run, truth):14.3f} {agreement(run, reference):18.3f} {run.frames / run.wall_s:9.1f}   {misses}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Does the MoveNet runtime change what the pipeline finds? OpenVINO (bf16 or f32) against LiteRT, end to end.

    python -m bench.pose_runtime                              # litert, openvino, openvino-f32 (~15 min)
    python -m bench.pose_runtime --configs litert,openvino --clips-per-class 2 --sets rendered

For each configuration the whole pipeline runs with default settings on the model evaluation's rendered
clips (the seed of `python -m models.evaluate`, one action per clip, 640x480, 30 fps, known joints) and,
when present, on the real clips in `../shared/data/real-dev` and `real-extra` (measured here only, never
in tests). Printed per configuration and set: clip accuracy (majority vote of the primary person's frame
labels, as in the model card), frame accuracy (frames labelled with a class that name the clip's action),
the share of frames labelled as by the first configuration, the primary person's keypoint distance to the
first configuration's (median and 95th percentile, px, joints both scored above 0.3), on rendered clips
the median distance to the drawn joints, and frames per second (wall time, models loaded per clip).

A configuration is `litert`, `openvino` (the CPU plugin's own precision: bf16 where the CPU has bf16
instructions) or `openvino-<precision>` (`f32`, `bf16`); `openvino-int8:PATH` runs an INT8 OpenVINO IR
made by `bench/quantize_movenet.py` instead of the shipped weights.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from har_core import pipeline
from har_core.outputs import load_results
from har_core.pose import create_pose_backend
from har_core.skeleton import CLASSES, JOINT_INDEX, NUM_JOINTS
from models.evaluate import EVAL_SEED, PIPELINE_SETTINGS
from models.real_footage import REAL_DIRS, clip_vote, real_clips
from models.synth.scenes import SceneTruth, render_eval_clips

MIN_SCORE = 0.3  # joints compared only where both runs (or the run and the drawing) are confident


@dataclass
class ClipRun:
    """One clip analysed with one configuration: primary person's labels and keypoints (frames, 17, 3)."""

    labels: np.ndarray
    keypoints: np.ndarray


def primary_keypoints(out: Path, n_frames: int) -> np.ndarray:
    """(frames, 17, 3) keypoints of the run's primary person from keypoints.csv; score 0 where absent."""
    run = load_results(out)
    rows = run.keypoints[run.keypoints["person_id"] == run.summary["primary_person_id"]]
    track = np.zeros((n_frames, NUM_JOINTS, 3), dtype=np.float32)
    track[rows["frame"].to_numpy(), rows["joint"].map(JOINT_INDEX).to_numpy()] = rows[["x", "y", "score"]].to_numpy()
    return track


def backend_factory(config: str) -> Callable[..., object]:
    """`create_pose_backend` with the precision (or INT8 model) of `config` fixed; the runtime comes from settings."""
    runtime, _, precision = config.partition("-")
    if runtime not in ("litert", "openvino") or (runtime == "litert" and precision):
        raise SystemExit(f"unknown configuration {config!r}")
    if precision.startswith("int8:"):
        from bench.quantize_movenet import Int8Backend

        return functools.partial(Int8Backend, Path(precision.removeprefix("int8:")))
    return functools.partial(create_pose_backend, precision=precision or "auto")


def run_config(config: str, clips: list[tuple[Path, str]], work: Path) -> tuple[list[ClipRun], float]:
    """Analyse every clip with `config`'s MoveNet; the runs and the wall time."""
    pipeline.create_pose_backend = backend_factory(config)  # this process only: a measuring knob
    settings = replace(PIPELINE_SETTINGS, pose_runtime=config.partition("-")[0])
    started, runs = time.perf_counter(), []
    for k, (video, _) in enumerate(clips):
        out = work / f"{config.replace(':', '_').replace('/', '_')}-{k}"
        result = pipeline.analyze(video, out, settings)
        labels = np.asarray(next(t for t in result.timelines if t.person_id == result.primary_id).labels)
        runs.append(ClipRun(labels, primary_keypoints(out, len(labels))))
    return runs, time.perf_counter() - started


def keypoint_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixel distances between two (frames, 17, 3) tracks where both joints are confident."""
    both = (a[..., 2] > MIN_SCORE) & (b[..., 2] > MIN_SCORE)
    return np.linalg.norm(a[..., :2][both] - b[..., :2][both], axis=-1)


def truth_distances(run: ClipRun, truth: SceneTruth) -> np.ndarray:
    """Pixel distances between the primary person's confident joints and the drawn figure's visible ones."""
    drawn = truth.keypoints[:, 0].copy()
    drawn[..., 2] = (drawn[..., 2] > 0).astype(np.float32)  # visibility as a score of 1
    return keypoint_distances(run.keypoints, drawn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="litert,openvino,openvino-f32",
                        help="comma-separated configurations; the first is the reference")
    parser.add_argument("--clips-per-class", type=int, default=4, help="rendered clips per class")
    parser.add_argument("--sets", default="rendered,real-dev,real-extra",
                        help="which sets, comma-separated (the real ones only where ../shared/data has them)")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")

    with tempfile.TemporaryDirectory(prefix="har-runtime-") as tmp:
        work = Path(tmp)
        chosen, sets = args.sets.split(","), {}
        rendered = render_eval_clips(args.clips_per_class, EVAL_SEED, work / "rendered") if "rendered" in chosen else []
        truths = [SceneTruth.load(clip.truth) for clip in rendered]
        if rendered:
            sets["rendered"] = [(clip.video, clip.label) for clip in rendered]
        for folder in REAL_DIRS:
            if folder.name in chosen and folder.is_dir():
                sets[folder.name] = [(clip.path, clip.label) for clip in real_clips((folder,))]
        print(f"{'set':10s} {'config':>14s} {'clips':>5s} {'clip acc':>8s} {'frame acc':>9s} {'same labels':>11s} "
              f"{'kp px p50/p95 vs ' + configs[0]:>24s} {'px to drawn':>11s} {'frames/s':>8s}")
        for name, clips in sets.items():
            truth = [label for _, label in clips]
            reference: list[ClipRun] | None = None
            for config in configs:
                runs, wall_s = run_config(config, clips, work / name)
                reference = reference or runs
                predicted = [clip_vote(run.labels)[0] for run in runs]
                labelled = [run.labels[np.isin(run.labels, CLASSES)] for run in runs]
                frame_acc = (sum(int((lab == t).sum()) for lab, t in zip(labelled, truth, strict=True))
                             / max(1, sum(len(lab) for lab in labelled)))
                same = (sum(int((r.labels == ref.labels).sum()) for r, ref in zip(runs, reference, strict=True))
                        / sum(len(ref.labels) for ref in reference))
                moved = np.concatenate([keypoint_distances(r.keypoints, ref.keypoints)
                                        for r, ref in zip(runs, reference, strict=True)])
                drawn = (f"{np.median(np.concatenate([truth_distances(r, t) for r, t in zip(runs, truths, strict=True)])):11.2f}"
                         if name == "rendered" else f"{'-':>11s}")
                correct = sum(p == t for p, t in zip(predicted, truth, strict=True))
                misses = ", ".join(f"{t}->{p}" for p, t in zip(predicted, truth, strict=True) if p != t)
                frames = sum(len(run.labels) for run in runs)
                print(f"{name:10s} {config[:14]:>14s} {len(clips):5d} {correct / len(clips):8.3f} {frame_acc:9.3f} "
                      f"{same:11.3f} {np.median(moved):11.2f} / {np.percentile(moved, 95):10.2f} {drawn} "
                      f"{frames / wall_s:8.1f}   {misses}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

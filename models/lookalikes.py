"""Rendered look-alikes of the real clips the model got wrong in the blind test (issue 16).

The blind clips stay unseen, and the real clips at hand do not show these cases, so each is rebuilt from
the synthesiser to measure a change before and after: a diagnostic, never the claim.

- `side_on_boxing_160`: BOXING filmed from the side (camera turned 75-105 degrees), 160x120 at 25 fps.
- `waving_2hands_160`: WAVING_2HANDS near the front, 160x120.
- `jumps_24fps`: JUMPING (repeated jumps in place), whole body, 24 fps.
- `runner_crossing`: OTHER, a person jogging across a still camera's view, entering and leaving it.

Every clip runs through the pipeline's pass 1 and `compute_timelines` exactly as `models.real_footage`
scores real clips (same vote, same frame accuracy), for any number of checkpoints:
`python -m models.lookalikes [--checkpoint DIR ...] [--clips N]`.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from har_core.classifier import DEFAULT_CHECKPOINT, ActionClassifier
from har_core.pipeline import AnalysisSettings
from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models import real_footage
from models.synth import procedural
from models.synth.body import Body, forward_kinematics
from models.synth.camera import Camera
from models.synth.mocap import face_forward, remove_travel
from models.synth.motion import Motion
from models.synth.scenes import PersonSpec, eval_scene, write_scene_video

SEED = 90_210
CASES = ("side_on_boxing_160", "waving_2hands_160", "jumps_24fps", "runner_crossing")
CACHE_DIR = real_footage.CACHE_DIR.parent / "lookalike_poses"  # pass 1 per rendered file (renders are repeatable)
JOG_SPEED = 2.0  # metres a second above which a procedural walk counts as a jog


def _jog(rng: np.random.Generator, fps: float, seconds: float) -> Motion:
    """A procedural walk drawn until it is a travelling jog (the generator picks jog and travel at random)."""
    t = np.arange(round(seconds * fps)) / fps
    while True:
        body = Body.random(rng)
        joints = forward_kinematics(procedural.walking(rng, body, t), body, fps)
        hips = joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]].mean(axis=1)
        speed = np.hypot(*np.ptp(hips[:, [0, 2]], axis=0)) / seconds
        if speed > JOG_SPEED:
            return Motion(joints, fps, np.full(len(t), CLASS_INDEX["OTHER"]), "procedural")


def _runner(rng: np.random.Generator, out: Path) -> None:
    """A jog across a still camera's view: the jog is put in place, then carried across the frame at a steady
    running speed, so the runner enters, crosses and leaves (the blind set's people running past)."""
    fps, seconds = 30.0, 4.0
    motion = remove_travel(face_forward(_jog(rng, fps, seconds)))
    distance = float(rng.uniform(4.0, 6.0))
    half_width = distance * np.tan(np.radians(50.0 / 2)) * 4 / 3  # half the view's width at the runner
    sign = float(rng.choice([-1.0, 1.0]))
    path = ((0.0, -sign * (half_width + 0.8), 0.0), (seconds, sign * (half_width + 0.8), 0.0))
    camera = Camera((320, 240), fov_deg=50.0, yaw_deg=0.0, pitch_deg=5.0, distance=distance,
                    look_at=np.array([0.0, 0.9, 0.0]))
    person = PersonSpec(motion, path=path, yaw_deg=90.0 * sign)
    write_scene_video(out, [person], camera, fps, seconds, seed=int(rng.integers(2**31)))


def render_case(case: str, k: int, out: Path) -> str:
    """Render clip `k` of `case` to `out`; returns its true class."""
    rng = np.random.default_rng([SEED, CASES.index(case), k])
    if case == "runner_crossing":
        _runner(rng, out)
        return "OTHER"
    label, size, fps = {"side_on_boxing_160": ("BOXING", (160, 120), 25.0),
                        "waving_2hands_160": ("WAVING_2HANDS", (160, 120), 30.0),
                        "jumps_24fps": ("JUMPING", (480, 360), 24.0)}[case]
    person, camera = eval_scene(rng, CLASS_INDEX[label], 3.5, size, fps, max_yaw_deg=30.0)
    if case == "side_on_boxing_160":
        camera = replace(camera, yaw_deg=float(rng.choice([-1, 1]) * rng.uniform(75, 105)))
    write_scene_video(out, [person], camera, fps, 3.5, seed=int(rng.integers(2**31)))
    return label


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.lookalikes", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", help="checkpoint folder (repeatable)")
    parser.add_argument("--clips", type=int, default=6, help="clips per case")
    args = parser.parse_args(argv)
    checkpoints = args.checkpoint or [DEFAULT_CHECKPOINT]
    classifiers = [ActionClassifier.load(c) for c in checkpoints]
    print("| case | " + " | ".join(f"`{c.model_id}` clips right (frame acc.)" for c in classifiers) + " |")
    print("|---" * (1 + len(classifiers)) + "|")
    with tempfile.TemporaryDirectory(prefix="har-lookalikes-") as tmp:
        for case in CASES:
            results: list[list[real_footage.ClipScore]] = [[] for _ in classifiers]
            for k in range(args.clips):
                video = Path(tmp) / f"{case}_{k}.mp4"
                clip = real_footage.RealClip(video, render_case(case, k, video), f"rendered-{k}", "rendered")
                tracks = real_footage.cached_tracks(video, AnalysisSettings(), cache_dir=CACHE_DIR)
                for scores, classifier in zip(results, classifiers, strict=True):
                    scores.append(real_footage.score_clip(clip, tracks, classifier))
            cells = []
            for scores in results:
                frames = sum(s.frames for s in scores)
                misses = Counter(s.predicted for s in scores if not s.correct)
                cells.append(f"{sum(s.correct for s in scores)}/{len(scores)} "
                             f"({sum(s.frames_right for s in scores) / max(frames, 1):.2f})"
                             + (f" wrong: {', '.join(f'{n} {c}' for c, n in misses.most_common())}" if misses else ""))
            print(f"| {case} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

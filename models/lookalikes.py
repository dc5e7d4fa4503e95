"""Rendered look-alikes of the real clips the model got wrong in the blind test (issue 16).

The blind clips stay unseen, and the real clips at hand do not show these cases, so each is rebuilt from
the synthesiser to measure a change before and after: a diagnostic, never the claim.

- `side_on_boxing_160`: BOXING filmed from the side (camera turned 75-105 degrees), 160x120 at 25 fps.
- `waving_2hands_160`: WAVING_2HANDS near the front, 160x120.
- `jumps_24fps`: JUMPING (repeated jumps in place), whole body, 24 fps.
- `runner_crossing`: OTHER, a person jogging across a still camera's view, entering and leaving it.
- `squat_star_jump`: JUMPING_JACKS, a deep squat and then a star jump out of it, over and over. Its motion is
  written here, not drawn from the training synthesiser, so changing the synthesiser does not change it.

Every clip runs through the pipeline's pass 1 and `compute_timelines` exactly as `models.real_footage`
scores real clips (same vote, same frame accuracy), for any number of checkpoints:
`python -m models.lookalikes [--checkpoint DIR ...] [--clips N] [--cases A,B]`.
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
from models.synth.body import Body, P, forward_kinematics
from models.synth.camera import Camera
from models.synth.mocap import face_forward, remove_travel
from models.synth.motion import Motion
from models.synth.scenes import PersonSpec, eval_scene, group_camera, write_scene_video

SEED = 90_210
CASES = ("side_on_boxing_160", "waving_2hands_160", "jumps_24fps", "runner_crossing", "squat_star_jump")
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


def _squat_star_jumps(rng: np.random.Generator, fps: float, seconds: float) -> Motion:
    """Squat down with the arms forward, spring up into a star (arms overhead, legs apart in the air), land with
    the feet together and stand; one cycle every 1.5-2 s. Key poses are interpolated per phase of the cycle."""
    t = np.arange(round(seconds * fps)) / fps
    body = Body.random(rng)
    p = procedural.neutral_pose(rng, t)
    u = np.mod(t / rng.uniform(1.5, 2.0) + rng.uniform(0, 1), 1.0)
    # Cycle: down into the squat (0-0.3), hold, push off (0.4-0.45), in the air (0.45-0.7), land and stand.
    squat = np.interp(u, [0, 0.3, 0.4, 0.45, 0.7, 0.78, 1.0], [0, 1, 1, 0, 0, 0.35, 0])
    spread = np.interp(u, [0, 0.45, 0.55, 0.62, 0.72, 1.0], [0, 0, 1, 1, 0, 0])
    flight = np.clip((u - 0.45) / 0.25, 0, 1)
    p[:, P["air"]] = rng.uniform(0.2, 0.35) * 4 * flight * (1 - flight)
    p[:, P["lean_fwd"]] += np.radians(rng.uniform(20, 35)) * squat
    depth = rng.uniform(0.35, 0.5)
    for limb in ("l_leg", "r_leg"):
        procedural.set_limb(p, limb, elev=np.radians(2 + rng.uniform(20, 30) * spread),
                            plane=np.radians(10 + 60 * squat), reach=0.99 - depth * squat)
    for limb in ("l_arm", "r_arm"):
        procedural.set_limb(p, limb, elev=np.radians(10 + 50 * squat + rng.uniform(130, 160) * spread),
                            plane=np.radians(90 * squat + rng.uniform(-5, 20) * spread), reach=0.95)
    return Motion(forward_kinematics(p, body, fps), fps, np.full(len(t), CLASS_INDEX["JUMPING_JACKS"]),
                  "procedural")


def render_case(case: str, k: int, out: Path) -> str:
    """Render clip `k` of `case` to `out`; returns its true class."""
    rng = np.random.default_rng([SEED, CASES.index(case), k])
    if case == "runner_crossing":
        _runner(rng, out)
        return "OTHER"
    if case == "squat_star_jump":
        camera = group_camera((480, 360), span=1.4, yaw_deg=float(rng.uniform(-30, 30)))
        person = PersonSpec(_squat_star_jumps(rng, 30.0, 4.0))
        write_scene_video(out, [person], camera, 30.0, 4.0, seed=int(rng.integers(2**31)))
        return "JUMPING_JACKS"
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
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    if unknown := sorted(set(cases) - set(CASES)):
        parser.error(f"unknown case {', '.join(unknown)}: choose from {', '.join(CASES)}")
    checkpoints = args.checkpoint or [DEFAULT_CHECKPOINT]
    classifiers = [ActionClassifier.load(c) for c in checkpoints]
    print("| case | " + " | ".join(f"`{c.model_id}` clips right (frame acc.)" for c in classifiers) + " |")
    print("|---" * (1 + len(classifiers)) + "|")
    with tempfile.TemporaryDirectory(prefix="har-lookalikes-") as tmp:
        for case in cases:
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

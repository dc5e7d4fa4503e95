"""Render the sample video bundled with the app: one figure performing the six actions in turn.

    python -m models.render_sample --out har_core/data/sample.mp4

writes the video and `sample_labels.json` (the class of every frame) beside it. Everything is seeded,
so the same command always makes the same frames. The actions are blended in the procedural
generator's pose-parameter space, the way it blends lead-ins into actions, so the figure moves
smoothly from one action into the next instead of jumping between poses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np

from har_core.skeleton import CLASS_INDEX, CLASSES
from models.synth.body import Body, blend, forward_kinematics
from models.synth.camera import Camera
from models.synth.figure import FigureStyle, Lighting
from models.synth.motion import Motion
from models.synth.procedural import pick_kind, smoothstep
from models.synth.scenes import PersonSpec, make_background, write_scene_video

ACTIONS: tuple[str, ...] = (
    "JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND", "CLAPPING_HANDS",
)
SECONDS_PER_ACTION = 2.5
FADE_SECONDS = 0.5
FPS = 30.0
IMAGE_SIZE = (640, 480)
CRF = 28
SEED = 7
DEFAULT_OUT = Path("har_core/data/sample.mp4")

# A calm, well-lit room: warm wall, wooden floor, a figure in an orange shirt and navy trousers.
STYLE = FigureStyle(skin=(224, 172, 125), hair=(60, 40, 28), shirt=(232, 118, 44), trousers=(40, 52, 90),
                    shoes=(235, 235, 230), build=1.05)
LIGHTING = Lighting(direction=(0.45, 0.8, 0.55), ambient=0.62, tint=(1.02, 1.0, 0.97))
PALETTE = ((226, 218, 204), (168, 132, 98))


def action_sequence(
    rng: np.random.Generator,
    actions: Sequence[str],
    seconds_each: float,
    fps: float,
    fade: float,
    body: Body | None = None,
) -> Motion:
    """One body performing `actions` in turn, `seconds_each` apiece, cross-faded over `fade` seconds.

    Each action's generator runs over the whole time axis; the running pose is cross-faded into the next
    action around each cut with `body.blend` (which blends limb end positions, so winding motions such as
    arm circles never spin an arm during a fade). A frame is labelled with the action whose turn it is.
    """
    body = body or Body.random(rng)
    n_frames = round(len(actions) * seconds_each * fps)
    t = np.arange(n_frames) / fps
    params = pick_kind(rng, CLASS_INDEX[actions[0]]).generate(rng, body, t)
    labels = np.full(n_frames, CLASS_INDEX[actions[0]], dtype=np.int64)
    for i, name in enumerate(actions[1:], start=1):
        cut = i * seconds_each
        following = pick_kind(rng, CLASS_INDEX[name]).generate(rng, body, t)
        params = blend(params, following, smoothstep((t - cut) / fade + 0.5))
        labels[t >= cut] = CLASS_INDEX[name]
    return Motion(forward_kinematics(params, body, fps), fps, labels, "procedural")


def sample_camera() -> Camera:
    """A little from the side and above, the whole body in the frame with room for raised arms."""
    return Camera(image_size=IMAGE_SIZE, fov_deg=50.0, yaw_deg=20.0, pitch_deg=6.0, distance=3.1,
                  look_at=np.array([0.0, 0.95, 0.0]))


def render_sample(out: Path, seed: int = SEED) -> dict:
    """Write the sample video to `out` and its labels to `sample_labels.json` beside it; return the labels dict."""
    rng = np.random.default_rng(seed)
    motion = action_sequence(rng, ACTIONS, SECONDS_PER_ACTION, FPS, FADE_SECONDS, body=Body())
    camera = sample_camera()
    background = make_background("floor", camera, rng, LIGHTING, palette=PALETTE)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    truth = write_scene_video(out, [PersonSpec(motion, style=STYLE)], camera, FPS, motion.duration, background,
                              LIGHTING, seed=seed, crf=CRF, preset="medium")
    labels = [CLASSES[c] for c in truth.labels[:, 0].tolist()]
    changes = [0, *(i for i in range(1, len(labels)) if labels[i] != labels[i - 1]), len(labels)]
    record = {
        "video": out.name,
        "fps": FPS,
        "width": IMAGE_SIZE[0],
        "height": IMAGE_SIZE[1],
        "frames": len(labels),
        "seed": seed,
        "labels": labels,
        "segments": [{"label": labels[a], "start_frame": a, "end_frame": b - 1} for a, b in pairwise(changes)],
    }
    (out.parent / "sample_labels.json").write_text(json.dumps(record, indent=1))
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the MP4 (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    record = render_sample(args.out, args.seed)
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out} ({record['frames']} frames, {size_kb:.0f} KiB) and {args.out.parent / 'sample_labels.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

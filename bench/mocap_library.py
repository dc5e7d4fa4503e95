"""Motion-capture library: load time, seconds per class per split, and a sanity check of every clip.

Every training run calls `load_library(MOCAP_DIR, "train")`, so its time is part of the training budget. The
sanity figures say whether the parsed clips are people standing on a floor: body height (ankle to the top of
the head, ~1.5-2 m), the floor (5th percentile of the lower ankle, ~0.07 m), wrists below the head, and, per
class, how much the hips bounce and how many frames are airborne (both ankles 0.1 m up).

Run: `.venv/bin/python -m bench.mocap_library [--mocap-dir DIR]` (reads ../shared/data/mocap by default).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from har_core.skeleton import CLASSES, JOINT_INDEX
from models.synth.dataset import MOCAP_DIR
from models.synth.mocap import JUMP_LIFT, label_jumps, load_library
from models.synth.motion import Motion

_ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]
_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
_WRISTS = [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]


def clip_figures(clip: Motion) -> dict[str, float]:
    """Height, floor, wrist height relative to the head, hip bounce and airborne share of one clip."""
    j = clip.joints
    ankles = j[:, _ANKLES, 1].min(axis=1)
    hips = j[:, _HIPS, 1].mean(axis=1)
    return {
        "height": float(np.median(j[:, :, 1].max(axis=1) - ankles)),
        "floor": float(np.percentile(ankles, 5)),
        "wrist_over_head": float((j[:, _WRISTS, 1].max(axis=1) > j[:, 0, 1]).mean()),
        "hip_bounce": float(np.percentile(hips, 95) - np.percentile(hips, 5)),
        "airborne": float((ankles > np.percentile(ankles, 5) + JUMP_LIFT).mean()),
        "jump_frames": float((label_jumps(clip).labels == CLASSES.index("JUMPING")).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mocap-dir", type=Path, default=MOCAP_DIR)
    args = parser.parse_args()
    for split in ("train", "val"):
        start = time.perf_counter()
        clips = load_library(args.mocap_dir, split)
        seconds = time.perf_counter() - start
        per_class = np.zeros(len(CLASSES))
        for clip in clips:
            per_class += np.bincount(clip.labels, minlength=len(CLASSES)) / clip.fps
        print(f"{split}: {len(clips)} clips loaded in {seconds:.1f} s; seconds of motion per class:")
        print("  " + ", ".join(f"{c} {s:.1f}" for c, s in zip(CLASSES, per_class)))
        by_class: dict[str, list[dict[str, float]]] = {}
        for clip in clips:  # a clip counts under the class of most of its frames other than OTHER
            counts = np.bincount(clip.labels, minlength=len(CLASSES))
            counts[CLASSES.index("OTHER")] = counts[CLASSES.index("OTHER")] == len(clip)
            by_class.setdefault(CLASSES[counts.argmax()], []).append(clip_figures(clip))
        for name, rows in sorted(by_class.items()):
            table = {k: np.array([r[k] for r in rows]) for k in rows[0]}
            print(
                f"  {name:<14} {len(rows):3d} clips  height {table['height'].min():.2f}-{table['height'].max():.2f} m"
                f"  floor {table['floor'].min():.2f}-{table['floor'].max():.2f} m"
                f"  wrist over head {table['wrist_over_head'].mean():.2f}"
                f"  hip bounce median {np.median(table['hip_bounce']):.2f} m"
                f"  airborne {table['airborne'].mean():.3f}  jump-detector frames {table['jump_frames'].mean():.3f}"
            )


if __name__ == "__main__":
    main()

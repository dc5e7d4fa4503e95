"""A small kinematic human body: proportions plus joint angles in, anatomically plausible COCO-17 joints out.

The procedural synthesiser describes motion as a few interpretable angles per frame (where each arm and
leg points, how far it reaches, how the torso leans) rather than as joint positions, so that bones keep
their length, elbows and knees bend the right way, and the feet stay on the floor unless the person
jumps. Limbs are two-bone chains solved in closed form; the pelvis height follows from the lowest foot.

Body frame: x towards the person's left, y up, z forwards (the facing direction). Heading 0 faces +z,
the default camera, matching `motion.Motion`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from har_core.skeleton import JOINT_INDEX, NUM_JOINTS
from models.synth.motion import face_points

# Columns of a pose-parameter array (T, len(PARAMS)); angles in radians, speeds in m/s, heights in metres.
# `heading` turns the whole body away from the default camera (on top of the integrated `turn_rate`).
# Limbs use (elev, plane, reach, swivel): elev is the angle from straight down (0 hanging, pi/2 horizontal,
# pi overhead), plane the direction it is raised towards (0 sideways out, pi/2 forwards, beyond pi/2
# across the body), reach the shoulder-to-wrist (hip-to-ankle) distance as a fraction of the limb length
# (1 = straight), swivel the rotation of the elbow (knee) about that line away from its natural side.
_LIMB = ("elev", "plane", "reach", "swivel")
PARAMS: tuple[str, ...] = (
    "heading",
    "fwd_speed",
    "side_speed",
    "turn_rate",
    "air",
    "lean_fwd",
    "lean_side",
    "twist",
    "head_yaw",
    "head_pitch",
    *(f"{limb}_{part}" for limb in ("l_arm", "r_arm", "l_leg", "r_leg") for part in _LIMB),
)
P: dict[str, int] = {name: i for i, name in enumerate(PARAMS)}
LIMB_SLICE: dict[str, slice] = {
    limb: slice(P[f"{limb}_elev"], P[f"{limb}_elev"] + 4) for limb in ("l_arm", "r_arm", "l_leg", "r_leg")
}


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres. COCO shoulders and hips are surface landmarks, so widths follow COCO."""

    height: float = 1.75
    upper_arm: float = 0.186 * 1.75
    forearm: float = 0.146 * 1.75
    thigh: float = 0.245 * 1.75
    shin: float = 0.246 * 1.75
    ankle_height: float = 0.039 * 1.75
    torso: float = 0.29 * 1.75  # hip midpoint to shoulder midpoint
    shoulder_half: float = 0.102 * 1.75
    hip_half: float = 0.06 * 1.75
    neck: float = 0.07 * 1.75  # shoulder midpoint to the base of the skull

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def leg(self) -> float:
        return self.thigh + self.shin

    @classmethod
    def random(cls, rng: np.random.Generator) -> Body:
        """A body of random height (1.5-1.95 m) with each proportion varied by a few per cent."""
        height = rng.uniform(1.5, 1.95)

        def part(fraction: float, spread: float = 0.05) -> float:
            return float(fraction * height * rng.uniform(1 - spread, 1 + spread))

        return cls(
            height=float(height),
            upper_arm=part(0.186),
            forearm=part(0.146),
            thigh=part(0.245),
            shin=part(0.246),
            ankle_height=part(0.039),
            torso=part(0.29),
            shoulder_half=part(0.102, 0.1),
            hip_half=part(0.06, 0.12),
            neck=part(0.07),
        )


def limb_direction(elev: np.ndarray, plane: np.ndarray, side: float) -> np.ndarray:
    """(T,) angles -> (T, 3) unit vectors in the body frame; side +1 for the left limb, -1 for the right."""
    return np.stack([side * np.sin(elev) * np.cos(plane), -np.cos(elev), np.sin(elev) * np.sin(plane)], axis=-1)


def limb_angles(offset: np.ndarray, length: float, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `limb_direction`: (T, 3) body-frame offsets from shoulder (hip) -> elev, plane, reach.

    Lets generators say "put the wrist here" (clapping, punches) in the same parameters as angle-driven
    motions, so the two blend smoothly in transitions.
    """
    offset = np.asarray(offset, dtype=np.float64)
    dist = np.linalg.norm(offset, axis=-1)
    unit = offset / np.maximum(dist, 1e-9)[..., None]
    elev = np.arccos(np.clip(-unit[..., 1], -1.0, 1.0))
    # Unwrapped over time (axis 0) so that blending with another motion never meets a 2*pi jump.
    plane = np.unwrap(np.arctan2(unit[..., 2], side * unit[..., 0]), axis=0)
    return elev, plane, dist / length


def blend(first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Cross-fade two (T, len(PARAMS)) pose-parameter arrays with per-frame `weight` (0 = first, 1 = second).

    Limbs blend where their wrists and ankles are, not their angles: an arm circle winds its elevation
    through many turns, and averaging that with another motion's angle would spin the arm in one frame.
    Positions blend continuously whatever the angles; everything else blends linearly.
    """
    w = np.asarray(weight, dtype=np.float64)[:, None]
    out = (1 - w) * first + w * second
    for limb, cols in LIMB_SLICE.items():
        side = 1.0 if limb.startswith("l") else -1.0
        ends = [
            p[:, cols.start + 2, None] * limb_direction(p[:, cols.start], p[:, cols.start + 1], side)
            for p in (first, second)
        ]
        elev, plane, reach = limb_angles((1 - w) * ends[0] + w * ends[1], 1.0, side)
        out[:, cols.start], out[:, cols.start + 1], out[:, cols.start + 2] = elev, plane, reach
    return out


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def two_bone(
    root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray, swivel: np.ndarray, side: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form two-bone IK: (T, 3) root and target -> (middle joint, end joint), bone lengths exact.

    The end joint reaches the target when it can (otherwise it stops on the line towards it); the middle
    joint bends towards `pole` (its natural side), turned by `swivel` about the root-target line,
    mirrored for the right side so that equal swivels give mirror-image poses.
    """
    span = target - root
    dist = np.linalg.norm(span, axis=-1, keepdims=True)
    axis = span / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(l1 - l2) + 1e-4, l1 + l2 - 1e-5)
    along = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    radius = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
    pole = np.broadcast_to(pole, span.shape)
    perp = pole - np.sum(pole * axis, axis=-1, keepdims=True) * axis
    norm = np.linalg.norm(perp, axis=-1, keepdims=True)
    fallback = np.cross(axis, [0.0, 0.0, 1.0]) + np.cross(axis, [1.0, 0.0, 0.0]) * 1e-3
    perp = np.where(
        norm > 1e-6, perp / np.maximum(norm, 1e-9), fallback / np.linalg.norm(fallback, axis=-1, keepdims=True)
    )
    ortho = side * np.cross(axis, perp)
    swivel = swivel[..., None]
    middle = root + along * axis + radius * (np.cos(swivel) * perp + np.sin(swivel) * ortho)
    return middle, root + dist * axis


def forward_kinematics(params: np.ndarray, body: Body, fps: float) -> np.ndarray:
    """(T, len(PARAMS)) pose parameters -> (T, 17, 3) float32 COCO-17 joints in world metres.

    Heading and floor position are integrated from the speed columns, so any blend of motions stays
    continuous; the pelvis height puts the lower ankle at ankle height plus the `air` column.
    """
    params = np.asarray(params, dtype=np.float64)
    col = {name: params[:, i] for name, i in P.items()}
    n = len(params)
    heading = col["heading"] + np.cumsum(col["turn_rate"]) / fps
    fwd, side_speed = col["fwd_speed"] / fps, col["side_speed"] / fps
    travel_x = np.cumsum(np.sin(heading) * fwd + np.cos(heading) * side_speed)
    travel_z = np.cumsum(np.cos(heading) * fwd - np.sin(heading) * side_speed)

    joints = np.zeros((n, NUM_JOINTS, 3))
    upper = _rot_y(col["twist"]) @ _rot_x(col["lean_fwd"]) @ _rot_z(-col["lean_side"])
    head = (
        _rot_y(col["twist"] + col["head_yaw"]) @ _rot_x(col["lean_fwd"] + col["head_pitch"]) @ _rot_z(-col["lean_side"])
    )
    chest = upper @ np.array([0.0, body.torso, 0.0])
    skull = chest + upper @ np.array([0.0, body.neck, 0.0])
    joints[:, :5] = face_points(skull, head, body.height / 1.75)
    arm_frame = _rot_y(col["twist"])
    for name, side in (("l", 1.0), ("r", -1.0)):
        j = {
            k: JOINT_INDEX[f"{'left' if side > 0 else 'right'}_{k}"]
            for k in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
        }
        shoulder = chest + side * body.shoulder_half * upper[:, :, 0]
        arm = params[:, LIMB_SLICE[f"{name}_arm"]]
        reach = arm[:, 2:3] * body.arm * limb_direction(arm[:, 0], arm[:, 1], side)
        wrist_target = shoulder + np.einsum("tij,tj->ti", arm_frame, reach)
        arm_pole = np.einsum("tij,j->ti", arm_frame, np.array([0.45 * side, -1.0, -0.35]))
        elbow, wrist = two_bone(shoulder, wrist_target, body.upper_arm, body.forearm, arm_pole, arm[:, 3], side)
        hip = np.tile([side * body.hip_half, 0.0, 0.0], (n, 1))
        leg = params[:, LIMB_SLICE[f"{name}_leg"]]
        ankle_target = hip + leg[:, 2:3] * body.leg * limb_direction(leg[:, 0], leg[:, 1], side)
        knee, ankle = two_bone(
            hip, ankle_target, body.thigh, body.shin, np.array([0.12 * side, 0.0, 1.0]), leg[:, 3], side
        )
        joints[:, j["shoulder"]], joints[:, j["elbow"]], joints[:, j["wrist"]] = shoulder, elbow, wrist
        joints[:, j["hip"]], joints[:, j["knee"]], joints[:, j["ankle"]] = hip, knee, ankle

    ankles = joints[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 1]
    lift = body.ankle_height - ankles.min(axis=1) + np.maximum(col["air"], 0.0)
    world = np.einsum("tij,tkj->tki", _rot_y(heading), joints)
    world[:, :, 0] += travel_x[:, None]
    world[:, :, 1] += lift[:, None]
    world[:, :, 2] += travel_z[:, None]
    return world.astype(np.float32)

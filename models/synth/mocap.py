"""Real motion capture -> COCO-17 `Motion`: ASF/AMC and BVH parsers, forward kinematics, labels and splits.

Motion capture is real human movement: training on it (and validating on held-out clips of it) keeps the
classifier from learning only the procedural synthesiser's habits. The data lives outside the repository
(../shared/data/mocap, see its README for formats and licences); nothing here is needed at inference.

Held-out split (used by `dataset.mocap_validation_windows`, never in training), by person where the data
allow it:
- CMU trial 14_20 (every exercise in it, including jumping jacks; subject 14's other trials train), HDM05
  actor "tr" (hops 034-036 and every `more/` trial of tr), and CMU subjects 16 (the walk 16_11 and the
  jumps 16_01-16_10), 124 (throws) and 10 (soccer run-ups and kicks), whole.
Everything else is training data: CMU 13_29, 13_30, 13_31, 14_14, HDM05 actors bd, bk, dg, mm, the whole
CMU wave (141_16), and the `more/` trials of the other CMU subjects (13, 14, 118, 07, 09, 131, 135, 64, 88)
and HDM05 actors. The wave holds only 1.5 s of waving: a held-out part short enough to leave training
windows would be shorter than one 32-frame window, so the held-out set has no one-hand waving. The wave is
labelled WAVING_1HAND only while the hand is raised (`label_raised_hand`); raising the arm and the 0.8 s
with the arm down at the end are OTHER.
Jumping trials are labelled JUMPING only around each jump (`label_jumps`), the traffic signalling trial
13_26 by the times of its waves (`TRIAL_INTERVALS`); 88_11 (stretches with small hops) and 135_06 (a kata
full of punches) are left out.
CMU trial 14_06 is listed in zTrue.dat but its .amc is absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from har_core.errors import HarError
from har_core.skeleton import CLASS_INDEX, JOINT_INDEX, NUM_JOINTS
from models.synth.motion import Motion, concatenate, face_points

INCH = 0.0254
J_WRIST = (JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"])
J_SHOULDER = (JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"])
J_HIP = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
J_ANKLE = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]
# Torso (hip midpoint to shoulder midpoint) of the 1.75 m adult the face offsets are written for.
_NOMINAL_TORSO = 0.29 * 1.75
CMU_LABELS = {"JumpJack": CLASS_INDEX["JUMPING_JACKS"], "Box": CLASS_INDEX["BOXING"]}  # the rest are OTHER
CMU_FRAMES_PER_LABEL = 12
VALIDATION_CMU_TRIALS = ("14_20",)
VALIDATION_CMU_SUBJECTS = ("16", "124", "10")  # people held out whole (their `more/` trials and the 16_11 walk)
VALIDATION_HDM05_ACTORS = ("tr",)
# more/ trials that fit no class throughout: 88_11 interleaves stretches with many small hops; 135_06 (a karate
# kata) is full of punches, which BOXING covers, so labelling it OTHER taught punching as OTHER (the real
# development boxing clip went from BOXING to OTHER with it; docs/experiments.md, "Real-footage round").
EXCLUDED_TRIALS = ("88_11", "135_06")
# Per-frame labels of multi-action trials, seconds after the (dropped) T-pose frame; OTHER elsewhere. 13_26
# directs traffic: two-hand waves, a raised-arms stop signal (OTHER), a right-hand wave, pointing.
TRIAL_INTERVALS = {"13_26": ((0.3, 2.4, "WAVING_2HANDS"), (8.8, 11.4, "WAVING_1HAND"))}
JUMP_HIP_MARGIN = 0.06  # metres the hips leave their standing height in a jump (countermovement or flight)
JUMP_LIFT = 0.1  # metres both ankles rise above the floor in flight (a tiptoe lifts them ~0.05-0.08)
JUMP_PAD = 0.2  # seconds kept JUMPING either side of a jump: the arm swing before, the landing after
RAISED_HAND_MARGIN = 0.1  # metres below the shoulder a waving wrist may dip

# COCO joint -> (bone, end): ASF bones run from their parent's end to their own end.
ASF_COCO = {
    "shoulder": ("humerus", "start"),
    "elbow": ("humerus", "end"),
    "wrist": ("radius", "end"),
    "hip": ("femur", "start"),
    "knee": ("femur", "end"),
    "ankle": ("tibia", "end"),
}
# BVH joint names of each COCO joint, per skeleton flavour: {COCO joint: (left name, right name)}. The CMU
# (MotionBuilder-style) names come with the ASF's units; the DAZ-style conversions are in centimetres.
BVH_SKELETONS = {
    "cmu": {
        "shoulder": ("LeftArm", "RightArm"),
        "elbow": ("LeftForeArm", "RightForeArm"),
        "wrist": ("LeftHand", "RightHand"),
        "hip": ("LeftUpLeg", "RightUpLeg"),
        "knee": ("LeftLeg", "RightLeg"),
        "ankle": ("LeftFoot", "RightFoot"),
        "head": ("Head", "Head"),
    },
    "daz": {
        "shoulder": ("lShldr", "rShldr"),
        "elbow": ("lForeArm", "rForeArm"),
        "wrist": ("lHand", "rHand"),
        "hip": ("lThigh", "rThigh"),
        "knee": ("lShin", "rShin"),
        "ankle": ("lFoot", "rFoot"),
        "head": ("head", "head"),
    },
}
# The cgspeed BVH conversions keep the ASF's unit (1/0.45 inch) in CMU naming and use centimetres in DAZ naming.
CGSPEED_METRES_PER_UNIT = {"cmu": INCH / 0.45, "daz": 0.01}


class MocapError(HarError):
    """Motion-capture data is missing or malformed (training and evaluation need it; inference does not)."""


def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(T,) radians -> (T, 3, 3) rotation about x, y or z."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    rows = {
        "x": ((o, z, z), (z, c, -s), (z, s, c)),
        "y": ((c, z, s), (z, o, z), (-s, z, c)),
        "z": ((c, -s, z), (s, c, z), (z, z, o)),
    }[axis.lower()]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def euler(angles: np.ndarray, order: str) -> np.ndarray:
    """(T, k) radians applied in `order` (e.g. "XYZ": about x first) -> (T, 3, 3) = R_last ... R_first."""
    angles = np.atleast_2d(angles)
    out = np.broadcast_to(np.eye(3), (len(angles), 3, 3)).copy()
    for k, axis in enumerate(order):
        out = _axis_rotation(axis, angles[:, k]) @ out
    return out


# --- ASF/AMC ----------------------------------------------------------------------------------------------


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray  # (3,) unit, in the skeleton's rest frame
    length: float  # metres
    axis: np.ndarray  # (3,) radians
    axis_order: str
    dof: tuple[str, ...]  # e.g. ("rx", "ry", "rz")
    parent: str | None = None


@dataclass
class AsfSkeleton:
    """An Acclaim skeleton: bones in rest pose, the root's channel order and the unit scales."""

    bones: dict[str, AsfBone]
    root_order: tuple[str, ...]
    root_axis: str
    metres_per_unit: float
    radians_per_unit: float


def parse_asf(path: Path) -> AsfSkeleton:
    """Read an ASF skeleton; lengths become metres (`:units length` L means 1 file unit = 1/L inch)."""
    text = Path(path).read_text(errors="replace")
    sections = {m.group(1): m.group(2) for m in re.finditer(r"^:(\w+)(.*?)(?=^:|\Z)", text, re.DOTALL | re.MULTILINE)}
    if "bonedata" not in sections or "hierarchy" not in sections:
        raise MocapError(f"{path.name} is not an ASF skeleton (no :bonedata or :hierarchy section)")
    units = dict(line.split()[:2] for line in sections.get("units", "").strip().splitlines() if len(line.split()) >= 2)
    metres = INCH / float(units.get("length", 1.0))
    radians = np.pi / 180 if units.get("angle", "deg").lower().startswith("deg") else 1.0
    root_lines = {ln.split()[0].lower(): ln.split()[1:] for ln in sections["root"].strip().splitlines() if ln.split()}
    bones = {}
    for block in re.findall(r"begin(.*?)end", sections["bonedata"], re.DOTALL):
        fields = {}
        for line in block.strip().splitlines():
            parts = line.split()
            if parts and parts[0] in ("name", "direction", "length", "axis", "dof"):
                fields[parts[0]] = parts[1:]
        try:
            bones[fields["name"][0]] = AsfBone(
                name=fields["name"][0],
                direction=np.array([float(v) for v in fields["direction"]]),
                length=float(fields["length"][0]) * metres,
                axis=np.array([float(v) for v in fields["axis"][:3]]) * radians,
                axis_order=fields["axis"][3].upper(),
                dof=tuple(d.lower() for d in fields.get("dof", [])),
            )
        except (KeyError, IndexError, ValueError) as err:
            raise MocapError(f"{path.name}: malformed bone definition ({err})") from None
    for line in re.search(r"begin(.*?)end", sections["hierarchy"], re.DOTALL).group(1).strip().splitlines():
        parent, *children = line.split()
        for child in children:
            bones[child].parent = None if parent == "root" else parent
    return AsfSkeleton(
        bones=bones,
        root_order=tuple(c.lower() for c in root_lines.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"])),
        root_axis=root_lines.get("axis", ["XYZ"])[0].upper(),
        metres_per_unit=metres,
        radians_per_unit=radians,
    )


def parse_amc(path: Path) -> dict[str, np.ndarray]:
    """Read AMC frames -> {bone: (T, k) values in file units}; keeps the order of each bone's values."""
    rows: dict[str, list[str]] = {}
    frames = 0
    with open(path, errors="replace") as handle:
        for line in handle:
            name, _, rest = line.strip().partition(" ")
            if not name or name[0] in "#:":
                continue
            if not rest and name.isdigit():
                frames += 1
            else:
                rows.setdefault(name, []).append(rest)
    if frames == 0 or "root" not in rows:
        raise MocapError(f"{Path(path).name} has no AMC frames")
    if any(len(v) != frames for v in rows.values()):
        raise MocapError(f"{Path(path).name} is truncated: not every frame lists every bone")
    try:  # one numeric conversion per bone is ~10x faster than float() per value
        return {name: np.array(" ".join(v).split(), dtype=np.float64).reshape(frames, -1) for name, v in rows.items()}
    except ValueError as err:
        raise MocapError(f"{Path(path).name} has a malformed AMC frame ({err})") from None


def asf_amc_positions(
    skeleton: AsfSkeleton, frames: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Forward kinematics: bone start points, end points and global rotations, each {bone: (T, 3[, 3])} in metres."""
    root = frames["root"]
    n = len(root)
    trans = {ch: root[:, i] for i, ch in enumerate(skeleton.root_order)}
    position = np.stack([trans.get("tx", 0), trans.get("ty", 0), trans.get("tz", 0)], -1) * skeleton.metres_per_unit
    rot_channels = [ch for ch in skeleton.root_order if ch.startswith("r")]
    root_rot = euler(
        np.stack([trans[ch] for ch in rot_channels], -1) * skeleton.radians_per_unit,
        "".join(c[1] for c in rot_channels),
    )
    starts, ends, rotations = {}, {}, {}
    pending = list(skeleton.bones.values())
    while pending:
        bone = pending.pop(0)
        if bone.parent is not None and bone.parent not in ends:
            pending.append(bone)
            continue
        parent_rot = root_rot if bone.parent is None else rotations[bone.parent]
        start = position if bone.parent is None else ends[bone.parent]
        c = euler(bone.axis[None], bone.axis_order)[0]
        if bone.dof:
            motion = euler(
                frames[bone.name][:, : len(bone.dof)] * skeleton.radians_per_unit, "".join(d[1] for d in bone.dof)
            )
        else:
            motion = np.broadcast_to(np.eye(3), (n, 3, 3))
        rot = parent_rot @ c @ motion @ c.T
        rotations[bone.name] = rot
        starts[bone.name] = start
        ends[bone.name] = start + rot @ (bone.direction * bone.length)
    return starts, ends, rotations


def _face_scale(joints: np.ndarray) -> float:
    torso = joints[:, [5, 6]].mean(axis=1) - joints[:, [11, 12]].mean(axis=1)
    return float(np.median(np.linalg.norm(torso, axis=-1)) / _NOMINAL_TORSO)


def asf_amc_to_coco(skeleton: AsfSkeleton, frames: dict[str, np.ndarray]) -> np.ndarray:
    """(T, 17, 3) COCO-17 joints in metres from an ASF skeleton and its AMC frames."""
    starts, ends, rotations = asf_amc_positions(skeleton, frames)
    joints = np.zeros((len(frames["root"]), NUM_JOINTS, 3))
    for side, prefix in (("left", "l"), ("right", "r")):
        for joint, (bone, end) in ASF_COCO.items():
            joints[:, JOINT_INDEX[f"{side}_{joint}"]] = (starts if end == "start" else ends)[prefix + bone]
    joints[:, :5] = face_points(starts["head"], rotations["head"], _face_scale(joints))
    return joints


def load_asf_amc(asf: Path, amc: Path, labels: np.ndarray | int, source: str, fps: float = 120.0) -> Motion:
    """A Motion from an ASF/AMC pair, floor at y = 0 and root travel kept."""
    joints = asf_amc_to_coco(parse_asf(asf), parse_amc(amc))
    return Motion(_on_floor(joints), fps, _expand_labels(labels, len(joints)), source)


# --- BVH --------------------------------------------------------------------------------------------------


@dataclass
class BvhJoint:
    name: str
    parent: int  # index into the joint list, -1 for the root
    offset: np.ndarray  # (3,) file units
    channels: tuple[str, ...]  # e.g. ("Xposition", ..., "Zrotation", "Yrotation", "Xrotation")


def parse_bvh(path: Path) -> tuple[list[BvhJoint], np.ndarray, float]:
    """Read a BVH file -> (joints in file order, (T, channels) motion values, frame time in seconds)."""
    tokens = Path(path).read_text(errors="replace").split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    i = 0
    try:
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                joints.append(BvhJoint(tokens[i + 1], stack[-1] if stack else -1, np.zeros(3), ()))
                i += 2
            elif tok == "End":  # end sites carry no channels and no COCO joint
                depth, i = 0, i + 2
                while True:
                    depth += {"{": 1, "}": -1}.get(tokens[i], 0)
                    i += 1
                    if depth == 0:
                        break
            elif tok == "{":
                stack.append(len(joints) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                joints[-1].offset = np.array([float(v) for v in tokens[i + 1 : i + 4]])
                i += 4
            elif tok == "CHANNELS":
                count = int(tokens[i + 1])
                joints[-1].channels = tuple(tokens[i + 2 : i + 2 + count])
                i += 2 + count
            else:
                i += 1
        n_frames = int(tokens[tokens.index("Frames:", i) + 1])
        at = tokens.index("Time:", i)
        frame_time = float(tokens[at + 1])
        n_channels = sum(len(j.channels) for j in joints)
        values = np.array(tokens[at + 2 : at + 2 + n_frames * n_channels], dtype=np.float64)
    except (IndexError, ValueError) as err:
        raise MocapError(f"{Path(path).name} is not a readable BVH file ({err})") from None
    if not joints or values.size != n_frames * n_channels or n_frames == 0:
        raise MocapError(f"{Path(path).name} is truncated: expected {n_frames} frames of {n_channels} channels")
    return joints, values.reshape(n_frames, n_channels), frame_time


def bvh_positions(joints: list[BvhJoint], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics -> (T, J, 3) joint positions (file units) and (T, J, 3, 3) global rotations."""
    n = len(values)
    positions = np.zeros((n, len(joints), 3))
    rotations = np.zeros((n, len(joints), 3, 3))
    column = 0
    for k, joint in enumerate(joints):
        chans = values[:, column : column + len(joint.channels)]
        column += len(joint.channels)
        translation = np.zeros((n, 3))
        rot_axes, rot_values = "", []
        for c, name in enumerate(joint.channels):
            axis, kind = name[0].lower(), name[1:].lower()
            if kind == "position":
                translation[:, "xyz".index(axis)] = chans[:, c]
            elif kind == "rotation":
                rot_axes += axis
                rot_values.append(np.radians(chans[:, c]))
        # Channels listed Z Y X mean R = Rz @ Ry @ Rx: the last listed rotation acts first on the child.
        local = (
            euler(np.stack(rot_values[::-1], -1), rot_axes[::-1]) if rot_axes else np.broadcast_to(np.eye(3), (n, 3, 3))
        )
        if joint.parent < 0:
            positions[:, k] = joint.offset + translation
            rotations[:, k] = local
        else:
            parent_rot = rotations[:, joint.parent]
            positions[:, k] = positions[:, joint.parent] + parent_rot @ joint.offset + translation
            rotations[:, k] = parent_rot @ local
    return positions, rotations


def bvh_flavour(joints: list[BvhJoint]) -> str:
    """Which BVH_SKELETONS naming a skeleton uses ("cmu" or "daz")."""
    names = {j.name for j in joints}
    for flavour, table in BVH_SKELETONS.items():
        if all(name in names for pair in table.values() for name in pair):
            return flavour
    raise MocapError("BVH skeleton has neither CMU (LeftArm, Head, ...) nor DAZ (lShldr, head, ...) joint names")


def bvh_to_coco(joints: list[BvhJoint], values: np.ndarray, metres_per_unit: float) -> np.ndarray:
    """(T, 17, 3) COCO-17 joints in metres from a BVH skeleton with CMU or DAZ joint names (`BVH_SKELETONS`)."""
    table = BVH_SKELETONS[bvh_flavour(joints)]
    positions, rotations = bvh_positions(joints, values)
    index = {j.name: k for k, j in enumerate(joints)}
    out = np.zeros((len(values), NUM_JOINTS, 3))
    for joint, names in table.items():
        if joint != "head":
            for side, name in zip(("left", "right"), names):
                out[:, JOINT_INDEX[f"{side}_{joint}"]] = positions[:, index[name]] * metres_per_unit
    head = index[table["head"][0]]
    out[:, :5] = face_points(positions[:, head] * metres_per_unit, rotations[:, head], _face_scale(out))
    return out


def load_bvh(
    path: Path,
    labels: np.ndarray | int,
    source: str,
    metres_per_unit: float | None = None,
    *,
    cgspeed: bool = False,
) -> Motion:
    """A Motion from a BVH file; the unit is guessed from the skeleton size unless given.

    `cgspeed` reads a cgspeed conversion of the CMU database: its first frame is a T-pose reference frame that
    is no part of the motion (dropped: a snap out of it would look like a very fast movement), and its unit
    follows the skeleton flavour (`CGSPEED_METRES_PER_UNIT`).
    """
    joints, values, frame_time = parse_bvh(path)
    if cgspeed:
        if len(values) < 2:
            raise MocapError(f"{Path(path).name} has no frame after its T-pose frame")
        values = values[1:]
        metres_per_unit = metres_per_unit or CGSPEED_METRES_PER_UNIT[bvh_flavour(joints)]
    if metres_per_unit is None:
        metres_per_unit = _guess_unit(bvh_to_coco(joints, values[:1], 1.0))
    coco = bvh_to_coco(joints, values, metres_per_unit)
    return Motion(_on_floor(coco), 1.0 / frame_time, _expand_labels(labels, len(coco)), source)


def _guess_unit(joints: np.ndarray) -> float:
    """Metres per file unit that make the hip-to-shoulder torso 0.5 m (BVH files rarely state units)."""
    torso = np.linalg.norm(joints[0, [5, 6]].mean(axis=0) - joints[0, [11, 12]].mean(axis=0))
    return 0.5 / max(float(torso), 1e-9)


# --- shared clean-up -------------------------------------------------------------------------------------


def _expand_labels(labels: np.ndarray | int, n: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    return np.full(n, int(labels), dtype=np.int64) if labels.ndim == 0 else labels[:n]


def _on_floor(joints: np.ndarray) -> np.ndarray:
    """Shift so the floor (the lowest ankle positions, less a typical ankle height) is at y = 0."""
    ankles = joints[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 1].min(axis=1)
    return joints - np.array([0.0, np.percentile(ankles, 5) - 0.07, 0.0])


def face_forward(motion: Motion) -> Motion:
    """Turn the clip about the vertical axis so the person faces +z on average (the cameras' yaw 0).

    Capture sessions face any wall; without this a "frontal" training camera would film some clips from
    behind.
    """
    joints = motion.joints.astype(np.float64)
    hips = joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]]
    across = (hips[:, 0] - hips[:, 1]).mean(axis=0)  # the person's left, should become +x
    angle = np.arctan2(across[2], across[0])
    c, s = np.cos(angle), np.sin(angle)
    x, z = joints[..., 0].copy(), joints[..., 2].copy()
    joints[..., 0], joints[..., 2] = c * x + s * z, -s * x + c * z
    return Motion(joints, motion.fps, motion.labels, motion.source)


def remove_travel(motion: Motion) -> Motion:
    """Hold the hip midpoint still horizontally (HDM05 hops travel forwards 0.6-1.8 m): jumping in place."""
    joints = motion.joints.astype(np.float64)
    hips = joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]].mean(axis=1)
    joints[:, :, [0, 2]] -= hips[:, None, [0, 2]]
    return Motion(joints, motion.fps, motion.labels, motion.source)


def chain(motions: list[Motion], fade_s: float = 0.1) -> Motion:
    """Join clips end to end with a short linear cross-fade so repeated hops become one continuous motion."""
    out = motions[0]
    for nxt in motions[1:]:
        k = min(round(fade_s * out.fps), len(out) - 1, len(nxt) - 1)
        w = np.linspace(0, 1, k + 2)[1:-1, None, None]
        blend = (1 - w) * out.joints[len(out) - k :] + w * nxt.joints[:k]
        head = Motion(np.concatenate([out.joints[: len(out) - k], blend]), out.fps, out.labels[: len(out)], out.source)
        out = concatenate([head, nxt.segment(k, len(nxt))])
    return out


def label_raised_hand(motion: Motion) -> Motion:
    """Relabel a one-hand wave: WAVING_1HAND only while the waving wrist is raised, OTHER while the arm
    goes up or hangs after the wave (the CMU wave clip ends with 0.8 s of the arm down)."""
    joints = motion.joints
    raised = [joints[:, J_WRIST[side], 1] > joints[:, J_SHOULDER[side], 1] - RAISED_HAND_MARGIN for side in (0, 1)]
    waving = raised[int(np.argmax([r.mean() for r in raised]))]
    labels = np.where(waving, CLASS_INDEX["WAVING_1HAND"], CLASS_INDEX["OTHER"])
    return Motion(motion.joints, motion.fps, labels, motion.source)


def cmu_labels(mocap_dir: Path) -> dict[str, np.ndarray]:
    """Per-frame class labels of the CMU exercise trials from zTrue.dat (one entry per 12 frames)."""
    cmu = Path(mocap_dir) / "cmu"
    names = (cmu / "SeqNames.txt").read_text().split()
    behaviours = (cmu / "BehaviorNames.txt").read_text().split()
    rows = [r.split() for r in (cmu / "zTrue.dat").read_text().strip().splitlines()]
    if len(rows) != len(names):
        raise MocapError(f"zTrue.dat has {len(rows)} rows for {len(names)} trials in SeqNames.txt")
    other = CLASS_INDEX["OTHER"]
    out = {}
    for name, row in zip(names, rows):
        classes = np.array([CMU_LABELS.get(behaviours[int(v) - 1], other) for v in row], dtype=np.int64)
        out[name] = np.repeat(classes, CMU_FRAMES_PER_LABEL)
    return out


def label_jumps(motion: Motion) -> Motion:
    """Label a jumping trial per frame: JUMPING around each jump, OTHER while the person stands before, between
    and after them (the CMU single-jump trials stand still for most of their 3-7 s, and standing is OTHER).

    A jump is a stretch where the hip midpoint is more than JUMP_HIP_MARGIN from its standing height (the
    clip's median) that holds a flight (both ankles JUMP_LIFT above their floor level: a tiptoe reach or a
    squat alone is not a jump); JUMP_PAD on either side keeps the countermovement and the landing.
    """
    joints = motion.joints
    hips = joints[:, J_HIP, 1].mean(axis=1)
    away = np.abs(hips - np.median(hips)) > JUMP_HIP_MARGIN
    ankles = joints[:, J_ANKLE, 1].min(axis=1)
    flight = ankles > np.percentile(ankles, 5) + JUMP_LIFT
    runs, _ = ndimage.label(away)
    jumps = np.isin(runs, np.unique(runs[away & flight]))
    pad = max(1, round(JUMP_PAD * motion.fps))
    jumps = ndimage.binary_dilation(jumps, np.ones(2 * pad + 1, dtype=bool))
    labels = np.where(jumps, CLASS_INDEX["JUMPING"], CLASS_INDEX["OTHER"])
    return Motion(motion.joints, motion.fps, labels, motion.source)


def label_intervals(motion: Motion, intervals: tuple[tuple[float, float, str], ...]) -> Motion:
    """Label a clip per frame from (start s, end s, class) intervals; OTHER outside them."""
    seconds = np.arange(len(motion)) / motion.fps
    labels = np.full(len(motion), CLASS_INDEX["OTHER"], dtype=np.int64)
    for start, end, name in intervals:
        labels[(seconds >= start) & (seconds < end)] = CLASS_INDEX[name]
    return Motion(motion.joints, motion.fps, labels, motion.source)


@dataclass(frozen=True)
class Trial:
    """One capture file of `more/`: its class folder, whose motion it is and the skeleton it needs."""

    path: Path
    label: int  # the class folder it sits in
    source: str  # "cmu" or "hdm05"
    subject: str  # CMU subject ("118", "07") or HDM05 actor ("mm")
    name: str  # CMU trial ("13_26") or HDM05 file stem
    skeleton: Path | None  # the ASF of an AMC file; None for BVH

    @property
    def validation(self) -> bool:
        """Whether this person is held out (`VALIDATION_CMU_SUBJECTS`, `VALIDATION_HDM05_ACTORS`)."""
        held_out = VALIDATION_CMU_SUBJECTS if self.source == "cmu" else VALIDATION_HDM05_ACTORS
        return self.subject in held_out


def more_trials(mocap_dir: Path) -> list[Trial]:
    """The trials under `<mocap_dir>/more/<source>/<CLASS>/` (see its README), skipping EXCLUDED_TRIALS."""
    trials = []
    for source in ("cmu", "hdm05"):
        base = Path(mocap_dir) / "more" / source
        folders = sorted(f for f in base.iterdir() if f.name in CLASS_INDEX) if base.is_dir() else []
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in (".amc", ".bvh"):
                    continue
                if source == "hdm05":  # HDM_<actor>_<class>_<take>_120.amc
                    subject = path.stem.split("_")[1]
                    name, skeleton = path.stem, base / "asf" / f"HDM_{subject}.asf"
                else:  # 13_39.amc, 07_01-walk.amc (skeleton 07-walk.asf), cmu-13_26.bvh, 14_07.bvh
                    found = re.search(r"(\d+)_(\d+)(-\w+)?", path.stem)
                    if found is None:
                        raise MocapError(f"{path.name}: no CMU trial number (subject_take) in the file name")
                    subject, name = found.group(1), f"{found.group(1)}_{found.group(2)}"
                    skeleton = base / "asf" / f"{subject}{found.group(3) or ''}.asf"
                if name in EXCLUDED_TRIALS:
                    continue
                is_amc = path.suffix.lower() == ".amc"
                trials.append(
                    Trial(path, CLASS_INDEX[folder.name], source, subject, name, skeleton if is_amc else None)
                )
    return trials


def load_trial(trial: Trial) -> Motion:
    """A `more/` trial as a labelled Motion facing the default camera.

    JUMPING trials are put in place (most CMU jumps travel forwards) and labelled per frame (`label_jumps`);
    trials in TRIAL_INTERVALS get their per-frame labels from it; the rest carry their folder's class.
    """
    if trial.skeleton is not None:
        motion = load_asf_amc(trial.skeleton, trial.path, trial.label, trial.source)
    else:
        motion = load_bvh(trial.path, trial.label, trial.source, cgspeed=True)
    if trial.name in TRIAL_INTERVALS:
        motion = label_intervals(motion, TRIAL_INTERVALS[trial.name])
    elif trial.label == CLASS_INDEX["JUMPING"]:
        motion = label_jumps(remove_travel(motion))
    return face_forward(motion)


def load_library(mocap_dir: Path, split: str) -> list[Motion]:
    """Every usable mocap clip of one split ("train" or "val"), as COCO-17 Motions at 120 fps.

    CMU exercise trials keep their per-frame labels; each HDM05 actor's hops are put in place and chained into
    one jumping clip; the clips of `more/` are loaded by `load_trial`. The split is by person (module
    docstring).
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    root = Path(mocap_dir)
    if not (root / "cmu").is_dir() or not (root / "hdm05").is_dir():
        raise MocapError(
            f"motion-capture data not found in {root} (expected cmu/ and hdm05/); set HAR_MOCAP_DIR or pass mocap_dir"
        )
    val = split == "val"
    clips: list[Motion] = []
    for name, labels in cmu_labels(root).items():
        amc = root / "cmu" / f"{name}.amc"
        if not amc.exists() or (name in VALIDATION_CMU_TRIALS) != val:
            continue
        clips.append(face_forward(load_asf_amc(root / "cmu" / f"{name.split('_')[0]}.asf", amc, labels, "cmu")))
    jumping = CLASS_INDEX["JUMPING"]
    for asf in sorted((root / "hdm05").glob("HDM_*.asf")):
        actor = asf.stem.split("_")[1]
        if (actor in VALIDATION_HDM05_ACTORS) != val:
            continue
        hops = [
            face_forward(remove_travel(load_asf_amc(asf, amc, jumping, "hdm05")))
            for amc in sorted(asf.parent.glob(f"HDM_{actor}_*.amc"))
        ]
        if hops:
            clips.append(chain(hops))
    wave, walk = root / "cmu" / "cmu_141_16.bvh", root / "cmu" / "cmu_16_11.bvh"
    if wave.exists() and not val:  # 1.5 s of waving in all: too short to hold part of it out
        clips.append(label_raised_hand(face_forward(load_bvh(wave, CLASS_INDEX["WAVING_1HAND"], "cmu"))))
    if walk.exists() and val:  # subject 16 is held out
        clips.append(face_forward(load_bvh(walk, CLASS_INDEX["OTHER"], "cmu")))
    clips += [load_trial(trial) for trial in more_trials(root) if trial.validation == val]
    return clips

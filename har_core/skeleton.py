"""The fixed vocabulary shared by every stage: COCO-17 joints, bones and action classes.

Kept in one module so that the pose backends, the feature function, the classifier and the
renderer can never disagree about joint order or class order.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Swapping these pairs mirrors a skeleton left <-> right.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# The joint order of the mirror image: MIRROR_ORDER[j] is the joint whose data joint j takes.
_PARTNER: dict[int, int] = {**dict(FLIP_PAIRS), **{right: left for left, right in FLIP_PAIRS}}
MIRROR_ORDER: tuple[int, ...] = tuple(_PARTNER.get(joint, joint) for joint in range(NUM_JOINTS))

BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 3), (2, 4),
    (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16),
)

CLASSES: tuple[str, ...] = (
    "JUMPING",
    "JUMPING_JACKS",
    "BOXING",
    "WAVING_2HANDS",
    "WAVING_1HAND",
    "CLAPPING_HANDS",
    "OTHER",
)
NUM_CLASSES = len(CLASSES)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

# One colour per class, used by the renderer and every chart (hex, colour-blind-friendly Okabe-Ito order).
CLASS_COLORS: dict[str, str] = {
    "JUMPING": "#E69F00",
    "JUMPING_JACKS": "#56B4E9",
    "BOXING": "#D55E00",
    "WAVING_2HANDS": "#009E73",
    "WAVING_1HAND": "#CC79A7",
    "CLAPPING_HANDS": "#0072B2",
    "OTHER": "#7F7F7F",
}
UNCERTAIN = "UNCERTAIN"
UNCERTAIN_COLOR = "#BBBBBB"

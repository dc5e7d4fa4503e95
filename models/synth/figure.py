"""Draw a simple shaded human figure for 3D COCO-17 joints seen through a camera.

A drawn figure turns the 3D motion the model trains on into video with known labels and known
keypoints, so the whole pipeline, MoveNet included, can be tested end to end and the pose estimator's
real errors measured against the simulated ones. The figure only has to look human to MoveNet: a head
with a face, a torso, capsule limbs with hands and shoes, shaded so that limbs stand out against the
body, and drawn far-to-near so that a turned figure occludes itself correctly.

All geometry for a whole clip is computed at once in NumPy (auxiliary 3D points, one projection, the
depth order of every part in every frame); drawing a frame is then only ~70 OpenCV fill calls, which
keeps rendering at several hundred frames per second on one core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from har_core.skeleton import JOINT_INDEX, NUM_JOINTS

Colour = tuple[float, float, float]

# OpenCV draws with sub-pixel precision when coordinates are fixed-point with this many fractional bits.
_SHIFT = 4
_ONE = 1 << _SHIFT
# Parts closer than this to the camera plane (metres) are not drawn: the projection is meaningless there.
_NEAR = 0.05
# Body widths below are for a torso (shoulder centre to hip centre) of this length, metres.
_NOMINAL_TORSO = 0.50
# Darkening of parts on the far side of the body, reached 0.15 m behind the torso's mid-plane.
_FAR_SIDE_DARKENING = 0.22

SKIN_TONES: tuple[Colour, ...] = (
    (255, 224, 196), (241, 194, 150), (224, 172, 125), (198, 134, 90), (160, 105, 70), (110, 70, 45), (80, 52, 36),
)
HAIR_COLOURS: tuple[Colour, ...] = (
    (25, 20, 18), (60, 40, 28), (105, 70, 40), (200, 165, 100), (150, 60, 30), (170, 170, 170),
)
TROUSER_COLOURS: tuple[Colour, ...] = (
    (40, 50, 80), (30, 30, 35), (70, 75, 85), (150, 130, 95), (90, 60, 45), (60, 80, 120), (110, 115, 120),
)
SHOE_COLOURS: tuple[Colour, ...] = ((30, 30, 30), (235, 235, 230), (90, 60, 40), (160, 40, 40), (40, 40, 120))


class Projector(Protocol):
    """What the renderer needs from a camera (`models.synth.camera.Camera` is one)."""

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 2) pixels."""
        ...

    def depth(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (...) distance along the optical axis."""
        ...


@dataclass(frozen=True)
class FigureStyle:
    """How one person looks: RGB colours 0..255 and build.

    Attributes:
        build: multiplies limb and torso widths (0.85 slim .. 1.25 broad); lengths come from the joints.
        long_sleeves: forearms in the shirt colour rather than skin.
        shorts: shins in skin colour rather than the trouser colour.
    """

    skin: Colour = SKIN_TONES[2]
    hair: Colour = HAIR_COLOURS[1]
    shirt: Colour = (200, 60, 50)
    trousers: Colour = TROUSER_COLOURS[0]
    shoes: Colour = SHOE_COLOURS[0]
    build: float = 1.0
    long_sleeves: bool = False
    shorts: bool = False


@dataclass(frozen=True)
class Lighting:
    """One directional light plus ambient light, and an overall colour cast of the scene.

    Attributes:
        direction: (3,) world unit vector pointing towards the light.
        ambient: share of light that reaches every surface (0..1); the rest depends on the direction.
        tint: (3,) per-channel multipliers, e.g. warm indoor light (1.05, 1.0, 0.9).
    """

    direction: tuple[float, float, float] = (0.4, 0.8, 0.45)
    ambient: float = 0.6
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


def random_style(rng: np.random.Generator) -> FigureStyle:
    """A random outfit, skin tone and build; shirts get any saturated or muted hue."""
    skin_a, skin_b = rng.integers(len(SKIN_TONES)), rng.integers(len(SKIN_TONES))
    skin = np.array(SKIN_TONES[skin_a]) + rng.uniform(0, 0.5) * (np.array(SKIN_TONES[skin_b]) - SKIN_TONES[skin_a])
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(60, 230), rng.uniform(70, 240)]]], dtype=np.uint8)
    shirt = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(float)
    return FigureStyle(
        skin=_jitter(skin, rng, 8),
        hair=_jitter(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], rng, 10),
        shirt=_jitter(shirt, rng, 0),
        trousers=_jitter(TROUSER_COLOURS[rng.integers(len(TROUSER_COLOURS))], rng, 12),
        shoes=_jitter(SHOE_COLOURS[rng.integers(len(SHOE_COLOURS))], rng, 10),
        build=float(rng.uniform(0.85, 1.25)),
        long_sleeves=bool(rng.random() < 0.4),
        shorts=bool(rng.random() < 0.25),
    )


def random_lighting(rng: np.random.Generator) -> Lighting:
    """A light from above and somewhere in front (the usual room or daylight), varied in strength and colour."""
    direction = np.array([rng.uniform(-1, 1), rng.uniform(0.4, 1.5), rng.uniform(0.0, 1.0)])
    direction /= np.linalg.norm(direction)
    tint = 1.0 + rng.uniform(-0.08, 0.08) * np.array([1.0, 0.0, -1.0]) + rng.uniform(-0.04, 0.04, 3)
    return Lighting(
        direction=tuple(float(v) for v in direction),
        ambient=float(rng.uniform(0.5, 0.75)),
        tint=tuple(float(v) for v in tint),
    )


def _jitter(colour: Colour | np.ndarray, rng: np.random.Generator, amount: float) -> Colour:
    values = np.clip(np.asarray(colour, dtype=float) + rng.uniform(-amount, amount, 3), 0, 255)
    return (float(values[0]), float(values[1]), float(values[2]))


@dataclass(frozen=True)
class _Capsule:
    """A limb part: a tapered capsule between two named 3D points, radii in metres for the nominal body."""

    start: str
    end: str
    r_start: float
    r_end: float
    colour: str
    highlight: bool = True
    depth_bias: float = 0.0


_L, _R = ("left", "l"), ("right", "r")


def _limbs() -> tuple[_Capsule, ...]:
    parts = [
        _Capsule("neck_base", "head_base", 0.05, 0.045, "skin", highlight=False, depth_bias=0.03),
        # The shirt's neckline: on the chest's front surface, so it shows only when the figure faces the camera
        # and tells MoveNet front from back.
        _Capsule("neckline_top", "neckline_bottom", 0.04, 0.012, "skin", highlight=False),
    ]
    for side, s in (_L, _R):
        parts += [
            _Capsule(f"{side}_shoulder", f"{side}_elbow", 0.052, 0.042, "shirt"),
            _Capsule(f"{side}_elbow", f"{side}_wrist", 0.040, 0.032, "forearm"),
            _Capsule(f"{side}_wrist", f"{s}_hand", 0.034, 0.040, "skin", highlight=False),
            # Thighs are biased backwards so the shirt hem stays over them unless the knee really comes forward.
            _Capsule(f"{side}_hip", f"{side}_knee", 0.075, 0.055, "trousers", depth_bias=0.04),
            _Capsule(f"{side}_knee", f"{side}_ankle", 0.052, 0.040, "shin"),
            _Capsule(f"{s}_heel", f"{s}_toe", 0.043, 0.036, "shoes", highlight=False),
        ]
    return tuple(parts)


_CAPSULES = _limbs()
# Primitive ids: capsules first, then the two torso hulls and the head.
_PELVIS, _SHIRT, _HEAD = len(_CAPSULES), len(_CAPSULES) + 1, len(_CAPSULES) + 2
_N_PRIMS = len(_CAPSULES) + 3
_RING = 10  # points per torso cross-section


@dataclass
class _Drawing:
    """Fixed-point shapes (1/16 px) and colours of every primitive in every frame (T frames, P primitives)."""

    order: np.ndarray  # (T, P) primitive ids far-to-near
    valid: np.ndarray  # (T, P) bool: in front of the camera
    cap_quads: np.ndarray  # (T, C, 4, 2) capsule bodies
    cap_ends: np.ndarray  # (T, C, 2, 2) capsule end centres
    cap_radii: np.ndarray  # (T, C, 2)
    hl_quads: np.ndarray  # highlight capsules, same layout
    hl_ends: np.ndarray
    hl_radii: np.ndarray
    hulls: tuple[np.ndarray, np.ndarray]  # pelvis, shirt: (T, K, 2) outline points
    shirt_highlight: np.ndarray  # (T, 2) offset of the shirt's lit panel
    head: np.ndarray  # (T, 2, 5) float px: hair/face ellipses (cx, cy, ax, ay, angle), drawn in this order
    face_marks: np.ndarray  # (T, 5, 3) float px: see _FACE_MARKS; (x, y, radius), radius 0 = hidden
    colours: list  # [T][P] -> (mid, lit) RGB int tuples
    head_colours: list  # [T] -> (first ellipse, second ellipse, face, eye, nose, mouth) RGB int tuples


@dataclass
class FigureFrames:
    """One figure in each of T frames, precomputed: its ground truth and everything needed to draw it.

    Attributes:
        keypoints: (T, 17, 2) float32 projected COCO-17 joints in pixels (the ground truth).
        in_front: (T, 17) bool, joint is in front of the camera.
        depth: (T,) float, depth of the torso centre; scenes draw far people first.
    """

    keypoints: np.ndarray
    in_front: np.ndarray
    depth: np.ndarray
    drawing: _Drawing = field(repr=False)

    def __len__(self) -> int:
        return len(self.keypoints)

    def draw(self, image: np.ndarray, t: int) -> None:
        """Draw frame t of the figure onto `image` (H, W, 3) uint8 in place."""
        d = self.drawing
        valid = d.valid[t]
        colours = d.colours[t]
        for prim in d.order[t]:
            if not valid[prim]:
                continue
            mid, lit = colours[prim]
            if prim < _PELVIS:
                _fill_capsule(image, d.cap_quads[t, prim], d.cap_ends[t, prim], d.cap_radii[t, prim], mid)
                if _CAPSULES[prim].highlight:
                    _fill_capsule(image, d.hl_quads[t, prim], d.hl_ends[t, prim], d.hl_radii[t, prim], lit)
            elif prim == _HEAD:
                self._draw_head(image, t)
            else:
                hull = cv2.convexHull(d.hulls[prim - _PELVIS][t])
                cv2.fillConvexPoly(image, hull, mid, cv2.LINE_AA, _SHIFT)
                if prim == _SHIRT:  # a lit panel on the side facing the light
                    centre = hull.mean(axis=0)
                    inner = (centre + 0.7 * (hull - centre) + d.shirt_highlight[t]).astype(np.int32)
                    cv2.fillConvexPoly(image, inner, lit, cv2.LINE_AA, _SHIFT)

    def _draw_head(self, image: np.ndarray, t: int) -> None:
        first, second, face, eye, nose, mouth = self.drawing.head_colours[t]
        for (cx, cy, ax, ay, angle), colour in zip(self.drawing.head[t], (first, second), strict=True):
            centre = (int(cx * _ONE), int(cy * _ONE))
            axes = (max(int(ax * _ONE), 1), max(int(ay * _ONE), 1))
            cv2.ellipse(image, centre, axes, float(angle), 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)
        for (x, y, r), colour in zip(self.drawing.face_marks[t], (face, eye, eye, nose, mouth), strict=True):
            if r > 0:
                cv2.circle(image, (int(x * _ONE), int(y * _ONE)), max(int(r * _ONE), _ONE // 2), colour, -1,
                           cv2.LINE_AA, _SHIFT)


def _fill_capsule(image: np.ndarray, quad: np.ndarray, ends: np.ndarray, radii: np.ndarray, colour: tuple) -> None:
    cv2.fillConvexPoly(image, quad, colour, cv2.LINE_AA, _SHIFT)
    cv2.circle(image, (int(ends[0, 0]), int(ends[0, 1])), int(radii[0]), colour, -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(image, (int(ends[1, 0]), int(ends[1, 1])), int(radii[1]), colour, -1, cv2.LINE_AA, _SHIFT)


def draw_figure(
    image: np.ndarray,
    joints: np.ndarray,
    camera: Projector,
    style: FigureStyle | None = None,
    lighting: Lighting | None = None,
) -> np.ndarray:
    """Draw one figure with (17, 3) world joints onto `image` in place and return the (17, 2) projected joints."""
    frames = figure_frames(np.asarray(joints)[None], camera, style or FigureStyle(), lighting or Lighting())
    frames.draw(image, 0)
    return frames.keypoints[0]


def figure_frames(joints: np.ndarray, camera: Projector, style: FigureStyle, lighting: Lighting) -> FigureFrames:
    """Precompute the drawing of a figure for every frame of a (T, 17, 3) world-joint trajectory.

    Body widths scale with the figure's median torso length, so children and tall adults keep their
    proportions; pixel sizes come from the camera's local magnification at each point, so perspective
    is right for near and far limbs alike.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"figure joints must be (T, {NUM_JOINTS}, 3), got {joints.shape}")
    n_frames = len(joints)
    points, frame = _body_points(joints, style)
    names = list(points)
    index = {name: i for i, name in enumerate(names)}
    world = np.stack([points[name] for name in names], axis=1)  # (T, K, 3)
    size = frame.size

    pixels = np.asarray(camera.project(world), dtype=np.float64)
    depth = np.asarray(camera.depth(world), dtype=np.float64)
    ppm = _pixels_per_metre(camera, world, pixels)
    pixels = np.clip(pixels, -1e5, 1e5)  # keeps fixed-point coordinates inside int32 for absurd projections

    light = np.asarray(lighting.direction, dtype=np.float64)
    light /= np.linalg.norm(light)
    centre = points["torso_centre"]
    centre_px = pixels[:, index["torso_centre"]]
    light_px = np.asarray(camera.project(centre + 0.2 * light), dtype=np.float64) - centre_px
    light_px /= np.maximum(np.linalg.norm(light_px, axis=-1, keepdims=True), 1e-9)
    # How much the light falls on the side the camera sees: 1 from behind the camera, 0 from behind the figure.
    towards_camera = np.clip(-(np.asarray(camera.depth(centre + 0.1 * light)) - depth[:, index["torso_centre"]]) / 0.1,
                             -1, 1)
    front_light = 0.55 + 0.45 * np.clip(towards_camera, 0, 1)
    torso_depth = depth[:, index["torso_centre"]]

    keys = np.zeros((n_frames, _N_PRIMS))
    valid = np.ones((n_frames, _N_PRIMS), dtype=bool)
    mid_shade = np.zeros((n_frames, _N_PRIMS))
    lit_shade = np.zeros((n_frames, _N_PRIMS))

    # Limb capsules.
    starts = np.array([index[c.start] for c in _CAPSULES])
    ends = np.array([index[c.end] for c in _CAPSULES])
    radii_m = np.array([[c.r_start, c.r_end] for c in _CAPSULES]) * size * style.build  # (C, 2)
    p0, p1 = pixels[:, starts], pixels[:, ends]  # (T, C, 2)
    radii = radii_m[None] * np.stack([ppm[:, starts], ppm[:, ends]], axis=-1)  # (T, C, 2)
    axis2d = p1 - p0
    length = np.linalg.norm(axis2d, axis=-1, keepdims=True)
    normal = np.where(length > 1e-6, np.stack([-axis2d[..., 1], axis2d[..., 0]], -1) / np.maximum(length, 1e-6),
                      np.array([1.0, 0.0]))
    quads = _capsule_quads(p0, p1, radii, normal)
    # The highlight is a thinner capsule shifted towards the light, across the limb's axis only.
    across = np.sum(light_px[:, None] * normal, axis=-1, keepdims=True)
    hl_radii = 0.45 * radii
    hl_p0 = p0 + 0.45 * radii[..., :1] * across * normal
    hl_p1 = p1 + 0.45 * radii[..., 1:] * across * normal
    hl_quads = _capsule_quads(hl_p0, hl_p1, hl_radii, normal)

    axis3d = world[:, ends] - world[:, starts]
    axis3d /= np.maximum(np.linalg.norm(axis3d, axis=-1, keepdims=True), 1e-9)
    lambert = np.sqrt(np.clip(1 - np.sum(axis3d * light, axis=-1) ** 2, 0, 1))  # brightest normal of a cylinder
    keys[:, :_PELVIS] = 0.5 * (depth[:, starts] + depth[:, ends])
    # How far behind the torso's mid-plane each limb is, before the biases that only settle drawing order.
    far = np.clip((keys[:, :_PELVIS] - torso_depth[:, None]) / 0.15, 0, 1)
    keys[:, :_PELVIS] += np.array([c.depth_bias for c in _CAPSULES]) * size
    valid[:, :_PELVIS] = (depth[:, starts] > _NEAR) & (depth[:, ends] > _NEAR)
    mid_shade[:, :_PELVIS] = 0.45 + 0.35 * lambert
    lit_shade[:, :_PELVIS] = 0.75 + 0.35 * lambert

    # Torso: pelvis (trousers) and shirt as convex hulls of elliptical cross-sections.
    hulls = tuple(pixels[:, [index[n] for n in ring_names]] for ring_names in (frame.pelvis_rings, frame.shirt_rings))
    for prim, ring_names in ((_PELVIS, frame.pelvis_rings), (_SHIRT, frame.shirt_rings)):
        ids = [index[n] for n in ring_names]
        keys[:, prim] = depth[:, ids].mean(axis=1)
        valid[:, prim] = (depth[:, ids] > _NEAR).all(axis=1)
    keys[:, _PELVIS] += 0.02 * size  # shirt hem over the trousers
    facing = depth[:, index["chest_front"]] < torso_depth
    visible_normal = np.where(facing[:, None], frame.forward, -frame.forward)
    torso_lambert = np.clip(np.sum(visible_normal * light, axis=-1), 0, 1)
    mid_shade[:, _PELVIS:_HEAD] = (0.5 + 0.35 * torso_lambert)[:, None]
    lit_shade[:, _PELVIS:_HEAD] = (0.7 + 0.4 * torso_lambert)[:, None]
    shirt_width = np.ptp(hulls[1][..., 0], axis=1)
    shirt_highlight = light_px * 0.12 * shirt_width[:, None]

    # Head: hair and face ellipses ordered by depth, face marks only when they face the camera.
    head_i = index["head_centre"]
    keys[:, _HEAD] = depth[:, head_i]
    valid[:, _HEAD] = depth[:, head_i] > _NEAR
    mid_shade[:, _HEAD] = lit_shade[:, _HEAD] = 0.9
    head, face_marks, face_first = _head_geometry(pixels, depth, ppm, index, size)

    # Far side of the body darker; everything dimmer when lit from behind.
    dim = front_light[:, None].repeat(_N_PRIMS, axis=1)
    dim[:, :_PELVIS] *= 1 - _FAR_SIDE_DARKENING * far
    mid_shade *= dim
    lit_shade *= dim

    ambient, tint = lighting.ambient, np.asarray(lighting.tint)
    base = _base_colours(style) * tint  # (P, 3)
    mid = np.clip(base[None] * (ambient + (1 - ambient) * mid_shade)[..., None], 0, 255).astype(np.int32)
    lit = np.clip(base[None] * (ambient + (1 - ambient) * lit_shade)[..., None], 0, 255).astype(np.int32)
    colours = [[(tuple(m), tuple(lt)) for m, lt in zip(mid_t, lit_t, strict=True)]
               for mid_t, lit_t in zip(mid.tolist(), lit.tolist(), strict=True)]

    drawing = _Drawing(
        order=np.argsort(-keys, axis=1, kind="stable"),
        valid=valid,
        cap_quads=_fixed(quads),
        cap_ends=_fixed(np.stack([p0, p1], axis=2)),
        cap_radii=_fixed(radii),
        hl_quads=_fixed(hl_quads),
        hl_ends=_fixed(np.stack([hl_p0, hl_p1], axis=2)),
        hl_radii=_fixed(hl_radii),
        hulls=(_fixed(hulls[0]), _fixed(hulls[1])),
        shirt_highlight=_fixed(shirt_highlight),
        head=head,
        face_marks=face_marks,
        colours=colours,
        head_colours=_head_colours(style, tint, ambient, front_light, face_first),
    )
    return FigureFrames(keypoints=pixels[:, :NUM_JOINTS].astype(np.float32), in_front=depth[:, :NUM_JOINTS] > _NEAR,
                        depth=torso_depth, drawing=drawing)


def _fixed(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.rint(values * _ONE), dtype=np.int32)


def _capsule_quads(p0: np.ndarray, p1: np.ndarray, radii: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """(T, C, 4, 2) tapered quads joining the two end circles of each capsule."""
    r0, r1 = radii[..., :1], radii[..., 1:]
    return np.stack([p0 + normal * r0, p1 + normal * r1, p1 - normal * r1, p0 - normal * r0], axis=2)


def _pixels_per_metre(camera: Projector, world: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """(T, K) magnification at each point: the smaller singular value of the projection's Jacobian.

    For a pinhole camera that is exactly focal / depth, the size of a small sphere's image; computing it
    from the projection keeps this module free of any one camera's internals.
    """
    eps = 0.01
    jac = np.stack([(np.asarray(camera.project(world + eps * e), dtype=np.float64) - pixels) / eps
                    for e in np.eye(3)], axis=-1)  # (T, K, 2, 3)
    m = jac @ np.swapaxes(jac, -1, -2)
    a, b, c = m[..., 0, 0], m[..., 0, 1], m[..., 1, 1]
    smallest = 0.5 * (a + c) - np.sqrt(0.25 * (a - c) ** 2 + b**2)
    return np.sqrt(np.clip(smallest, 0, None))


@dataclass
class _BodyFrame:
    """Per-frame body axes and the names of the torso cross-section points."""

    size: float
    forward: np.ndarray  # (T, 3)
    pelvis_rings: list[str]
    shirt_rings: list[str]


def _unit(vectors: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.where(norm > 1e-9, vectors / np.maximum(norm, 1e-9), fallback)


def _body_points(joints: np.ndarray, style: FigureStyle) -> tuple[dict[str, np.ndarray], _BodyFrame]:
    """Named (T, 3) world points: the 17 joints first, then hands, feet, head and torso outline points."""
    j = {name: joints[:, i] for name, i in JOINT_INDEX.items()}
    points = dict(j)
    shoulder_mid = 0.5 * (j["left_shoulder"] + j["right_shoulder"])
    hip_mid = 0.5 * (j["left_hip"] + j["right_hip"])
    torso_len = np.linalg.norm(shoulder_mid - hip_mid, axis=-1)
    size = float(np.clip(np.median(torso_len) / _NOMINAL_TORSO, 0.3, 3.0)) if len(joints) else 1.0
    world_up = np.array([0.0, 1.0, 0.0])
    up = _unit(shoulder_mid - hip_mid, world_up)
    across = (j["left_shoulder"] - j["right_shoulder"]) + (j["left_hip"] - j["right_hip"])
    side = _unit(across - np.sum(across * up, -1, keepdims=True) * up, np.array([1.0, 0.0, 0.0]))
    forward = np.cross(side, up)  # person's left x up = the way they face

    w = size * style.build
    half_shoulders = 0.5 * np.linalg.norm(j["left_shoulder"] - j["right_shoulder"], axis=-1)[:, None]
    half_hips = 0.5 * np.linalg.norm(j["left_hip"] - j["right_hip"], axis=-1)[:, None]

    def ring(name: str, centre: np.ndarray, half_width: np.ndarray, half_depth: float, shift: float = 0.0) -> list[str]:
        """An elliptical cross-section of the body; `shift` moves it forwards (chest) or backwards (seat)."""
        angles = np.linspace(0, 2 * np.pi, _RING, endpoint=False)
        centre = centre + shift * w * forward
        names = []
        for k, angle in enumerate(angles):
            points[f"{name}_{k}"] = centre + np.cos(angle) * half_width * side + np.sin(angle) * half_depth * w * forward
            names.append(f"{name}_{k}")
        return names

    def along(fraction: float) -> np.ndarray:
        return shoulder_mid + fraction * (hip_mid - shoulder_mid)

    shirt = (ring("collar", shoulder_mid + 0.035 * size * up, 0.7 * half_shoulders, 0.07)
             + ring("shoulders", shoulder_mid - 0.03 * size * up, half_shoulders + 0.045 * w, 0.10)
             + ring("chest", along(0.35), half_shoulders + 0.015 * w, 0.125, shift=0.015)
             + ring("hem", along(0.88), half_hips + 0.05 * w, 0.10))
    pelvis = (ring("waist", along(0.72), half_hips + 0.04 * w, 0.095)
              + ring("hips", hip_mid, half_hips + 0.06 * w, 0.115, shift=-0.02)
              + ring("crotch", hip_mid - 0.09 * size * up, half_hips + 0.03 * w, 0.09))
    points["torso_centre"] = along(0.5)
    points["chest_front"] = along(0.35) + 0.11 * w * forward
    points["neckline_top"] = shoulder_mid + 0.01 * size * up + 0.06 * w * forward
    points["neckline_bottom"] = shoulder_mid - 0.09 * size * up + 0.1 * w * forward

    for side_name, s in (_L, _R):
        wrist, elbow, ankle = j[f"{side_name}_wrist"], j[f"{side_name}_elbow"], j[f"{side_name}_ankle"]
        points[f"{s}_hand"] = wrist + 0.085 * size * _unit(wrist - elbow, -up)
        # Feet turn out a little, as people stand; it also tells left from right in a frontal view.
        turn_out = np.radians(12.0) * (1 if s == "l" else -1)
        foot_forward = np.cos(turn_out) * forward + np.sin(turn_out) * side
        foot_forward = _unit(foot_forward - np.sum(foot_forward * world_up, -1, keepdims=True) * world_up, forward)
        points[f"{s}_heel"] = ankle - 0.035 * size * foot_forward - 0.045 * size * world_up
        points[f"{s}_toe"] = ankle + 0.15 * size * foot_forward - 0.06 * size * world_up

    ears = 0.5 * (j["left_ear"] + j["right_ear"])
    head_up = _unit(ears - shoulder_mid, up)
    head_forward = j["nose"] - ears
    head_forward = _unit(head_forward - np.sum(head_forward * head_up, -1, keepdims=True) * head_up, forward)
    head_centre = ears + 0.015 * size * head_up
    points["head_centre"] = head_centre
    points["head_top"] = head_centre + 0.1 * size * head_up
    points["hair_centre"] = head_centre - 0.012 * size * head_forward + 0.012 * size * head_up
    points["face_centre"] = head_centre + 0.02 * size * head_forward - 0.012 * size * head_up
    points["mouth"] = head_centre + 0.085 * size * head_forward - 0.065 * size * head_up
    points["head_base"] = head_centre - 0.07 * size * head_up
    points["neck_base"] = shoulder_mid
    return points, _BodyFrame(size=size, forward=forward, pelvis_rings=pelvis, shirt_rings=shirt)


# Marks drawn on the head: (point, radius, how much nearer than the head centre it must be to show), metres.
# The first is a skin-coloured nose bump, visible only in profile where it breaks the head's outline.
_FACE_MARKS: tuple[tuple[str, float, float], ...] = (
    ("nose", 0.022, -0.02), ("left_eye", 0.013, 0.03), ("right_eye", 0.013, 0.03), ("nose", 0.012, 0.03),
    ("mouth", 0.014, 0.03),
)


def _head_geometry(
    pixels: np.ndarray, depth: np.ndarray, ppm: np.ndarray, index: dict[str, int], size: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hair/face ellipses (drawn in the returned order), face marks, and whether the face is drawn first."""
    centre = pixels[:, index["head_centre"]]
    up2d = pixels[:, index["head_top"]] - centre
    angle = np.degrees(np.arctan2(up2d[:, 1], up2d[:, 0])) + 90.0  # ellipse's y axis along the head's up
    scale = ppm[:, index["head_centre"]] * size
    hair = np.column_stack([pixels[:, index["hair_centre"]], 0.09 * scale, 0.12 * scale, angle])
    face = np.column_stack([pixels[:, index["face_centre"]], 0.08 * scale, 0.106 * scale, angle])
    face_first = depth[:, index["face_centre"]] > depth[:, index["hair_centre"]]
    head = np.where(face_first[:, None, None], np.stack([face, hair], 1), np.stack([hair, face], 1))

    head_depth = depth[:, index["head_centre"]]
    marks = np.zeros((len(pixels), len(_FACE_MARKS), 3))
    for k, (name, radius, min_nearer) in enumerate(_FACE_MARKS):
        i = index[name]
        marks[:, k, :2] = pixels[:, i]
        shown = depth[:, i] < head_depth - min_nearer * size
        marks[:, k, 2] = np.where(shown, radius * ppm[:, i] * size, 0.0)
    return head, marks, face_first


def _base_colours(style: FigureStyle) -> np.ndarray:
    """(P, 3) RGB base colour of every primitive for this style."""
    named = {
        "skin": style.skin,
        "shirt": style.shirt,
        "trousers": style.trousers,
        "shoes": style.shoes,
        "forearm": style.shirt if style.long_sleeves else style.skin,
        "shin": style.skin if style.shorts else style.trousers,
    }
    colours = [named[c.colour] for c in _CAPSULES] + [style.trousers, style.shirt, style.skin]
    return np.asarray(colours, dtype=np.float64)


def _head_colours(style: FigureStyle, tint: np.ndarray, ambient: float, front_light: np.ndarray,
                  face_first: np.ndarray) -> list:
    """Per frame: (first ellipse, second ellipse, face, eye, nose, mouth) colours."""
    out = []
    for light, first_is_face in zip(front_light.tolist(), face_first.tolist(), strict=True):
        shade = ambient + (1 - ambient) * 0.9 * light
        face = _rgb(np.asarray(style.skin) * tint * shade)
        hair = _rgb(np.asarray(style.hair) * tint * shade)
        eye = _rgb(np.asarray([35.0, 28, 25]) * tint)
        nose = _rgb(np.asarray(style.skin) * tint * shade * 0.8)
        mouth = _rgb(np.asarray([150.0, 60, 60]) * tint * shade)
        out.append((face, hair, face, eye, nose, mouth) if first_is_face else (hair, face, face, eye, nose, mouth))
    return out


def _rgb(values: np.ndarray) -> tuple[int, int, int]:
    r, g, b = np.clip(values, 0, 255).astype(int).tolist()
    return (r, g, b)

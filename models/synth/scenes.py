"""Compose rendered figures over backgrounds into video clips with known labels and known 2D keypoints.

Tests, benchmarks and the model card need videos whose truth is known exactly: who is where, doing
what, in every frame. A scene is a camera, a background, a light and a list of people, each a `Motion`
placed on the floor along a path; rendering yields frames with each person's projected COCO-17
joints and per-frame labels, and `write_scene_video` encodes them to H.264 and returns that truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from har_core.skeleton import CLASSES, JOINT_INDEX, NUM_JOINTS
from har_core.video import H264Writer
from models.synth.camera import Camera, random_camera
from models.synth.figure import (
    Colour,
    FigureFrames,
    FigureStyle,
    Lighting,
    figure_frames,
    random_lighting,
    random_style,
)
from models.synth.motion import Motion
from models.synth.procedural import random_clip

BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "noise", "stripes", "floor")
# Ankle joints sit this high above the floor when a person stands (metres).
ANKLE_HEIGHT = 0.07
# Closest a travelling person may come to an evaluation camera, metres.
MIN_CLEARANCE = 2.0
# Random outfits are redrawn until the shirt or the trousers differ this much (RGB distance) from the
# background's mean colour: camouflage would test the pose estimator's limits, not the pipeline.
MIN_CONTRAST = 80.0
_ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]
_HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]


@dataclass(frozen=True)
class PersonSpec:
    """One person in a scene.

    Attributes:
        motion: the 3D motion; it is re-centred so its median hip centre stands at the path position with
            its feet on the floor (y = 0), then turned by `yaw_deg`. Resampled to the scene's frame rate;
            a motion shorter than the scene holds its last frame.
        path: (time_s, x, z) keyframes in metres, linearly interpolated and held before the first and after
            the last: one keyframe stands still, several walk a person across, out of the frame and back.
        yaw_deg: turn about the vertical axis (right-handed, seen from above anticlockwise); 0 faces +z (the
            default camera), 90 faces +x and so shows the person's right side to that camera.
        style: clothing and build; None draws a random one from the scene's seed.
    """

    motion: Motion
    path: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)
    yaw_deg: float = 0.0
    style: FigureStyle | None = None


@dataclass
class SceneFrame:
    """One rendered frame and its truth (P = number of people in the scene).

    Attributes:
        index: frame number from 0.
        image: (H, W, 3) uint8 RGB.
        keypoints: (P, 17, 3) float32: x, y in pixels and 1.0 where the joint lies inside the image and in front
            of the camera, else 0.0. Occlusion by other people or the body itself does not clear the flag.
        labels: (P,) int64 class index per person (har_core.skeleton.CLASSES).
    """

    index: int
    image: np.ndarray
    keypoints: np.ndarray
    labels: np.ndarray


@dataclass
class SceneTruth:
    """The ground truth of a whole rendered video (F frames, P people).

    Attributes:
        fps: frames per second.
        image_size: (width, height).
        labels: (F, P) int64 class index per frame per person.
        keypoints: (F, P, 17, 3) float32 as in `SceneFrame.keypoints`.
    """

    fps: float
    image_size: tuple[int, int]
    labels: np.ndarray
    keypoints: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """(F, P) bool: at least one of the person's joints is inside the image."""
        return self.keypoints[..., 2].max(axis=-1) > 0

    def to_dict(self) -> dict:
        """A JSON-ready form: class names per frame per person, keypoints rounded to 0.1 px."""
        return {
            "fps": self.fps,
            "width": self.image_size[0],
            "height": self.image_size[1],
            "frames": len(self.labels),
            "classes": list(CLASSES),
            "labels": [[CLASSES[c] for c in row] for row in self.labels.tolist()],
            "keypoints": np.round(self.keypoints, 1).tolist(),
        }

    def save(self, path: Path) -> None:
        """Write `to_dict()` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> SceneTruth:
        """Read a file written by `save`."""
        data = json.loads(Path(path).read_text())
        index = {name: i for i, name in enumerate(data["classes"])}
        n_frames = int(data["frames"])
        n_people = len(data["labels"][0]) if n_frames else 0
        labels = np.array([[index[name] for name in row] for row in data["labels"]], dtype=np.int64)
        return cls(
            fps=float(data["fps"]),
            image_size=(int(data["width"]), int(data["height"])),
            labels=labels.reshape(n_frames, n_people),
            keypoints=np.asarray(data["keypoints"], dtype=np.float32).reshape(n_frames, n_people, NUM_JOINTS, 3),
        )


@dataclass
class _Placed:
    """A person's labels, figure and ground-truth keypoints for every scene frame."""

    labels: np.ndarray  # (F,)
    figure: FigureFrames
    keypoints: np.ndarray  # (F, 17, 3) x, y, visible


def render_scene(
    people: Sequence[PersonSpec],
    camera: Camera,
    fps: float = 30.0,
    seconds: float | None = None,
    background: str | np.ndarray = "random",
    lighting: Lighting | None = None,
    seed: int = 0,
) -> Iterator[SceneFrame]:
    """Render a scene frame by frame.

    Args:
        people: who is in the scene; may be empty (a background-only video).
        camera: a fixed camera; its `image_size` is the frame size.
        fps: frame rate of the rendered video.
        seconds: duration; by default the longest motion's.
        background: a kind from BACKGROUNDS, "random", or an (H, W, 3) uint8 RGB image.
        lighting: the scene light; None draws one from the seed.
        seed: everything random (styles, background, light) follows from it.
    Yields:
        `SceneFrame`s in order; each image is a fresh array the caller may keep or modify.
    """
    rng = np.random.default_rng(seed)
    width, height = camera.image_size
    if seconds is None:
        seconds = max((p.motion.duration for p in people), default=1.0)
    n_frames = max(1, round(seconds * fps))
    lighting = lighting or random_lighting(rng)
    if isinstance(background, str):
        backdrop = make_background(background, camera, rng, lighting)
    else:
        backdrop = np.asarray(background, dtype=np.uint8)
        if backdrop.shape != (height, width, 3):
            raise ValueError(f"background must be ({height}, {width}, 3) to match the camera, got {backdrop.shape}")
    backdrop_mean = backdrop.reshape(-1, 3).mean(axis=0)
    placed = [_place(person, n_frames, fps, camera, person.style or _contrasting_style(rng, backdrop_mean), lighting)
              for person in people]
    depths = np.array([p.figure.depth for p in placed]).reshape(len(placed), n_frames)
    for t in range(n_frames):
        image = backdrop.copy()
        for i in np.argsort(-depths[:, t], kind="stable"):  # far people first
            placed[i].figure.draw(image, t)
        yield SceneFrame(
            index=t,
            image=image,
            keypoints=np.array([p.keypoints[t] for p in placed], dtype=np.float32).reshape(-1, NUM_JOINTS, 3),
            labels=np.array([p.labels[t] for p in placed], dtype=np.int64),
        )


def write_scene_video(
    path: Path,
    people: Sequence[PersonSpec],
    camera: Camera,
    fps: float = 30.0,
    seconds: float | None = None,
    background: str | np.ndarray = "random",
    lighting: Lighting | None = None,
    seed: int = 0,
    crf: int = 23,
    preset: str = "veryfast",
) -> SceneTruth:
    """Render a scene (see `render_scene`) into an H.264 MP4 at `path` and return its ground truth.

    `crf` and `preset` are libx264's quality and speed settings: the defaults favour fast test and
    evaluation videos; a bundled file is worth a slower preset for its smaller size.
    """
    labels, keypoints = [], []
    with H264Writer(Path(path), fps, crf=crf, preset=preset) as writer:
        for frame in render_scene(people, camera, fps, seconds, background, lighting, seed):
            writer.write(frame.image)
            labels.append(frame.labels)
            keypoints.append(frame.keypoints)
    return SceneTruth(fps=float(fps), image_size=tuple(camera.image_size), labels=np.stack(labels),
                      keypoints=np.stack(keypoints))


@dataclass(frozen=True)
class EvalClip:
    """One clip of the rendered evaluation set: the video, its `SceneTruth` JSON and its class name."""

    video: Path
    truth: Path
    label: str


def render_eval_clips(
    n_per_class: int,
    seed: int,
    out_dir: Path,
    *,
    seconds: float = 3.5,
    image_size: tuple[int, int] = (640, 480),
    fps: float = 30.0,
    max_yaw_deg: float = 90.0,
) -> list[EvalClip]:
    """Render a labelled evaluation set: `n_per_class` clips of each class, one action per clip.

    Each clip gets its own procedural motion (no lead-in or lead-out, so the whole clip has one label),
    a random camera as in training (turned at most `max_yaw_deg` from the front), figure, light and
    background. Clip k of class c depends only on (seed, c, k), so growing the set keeps earlier clips.
    Writes `<CLASS>_<k>.mp4`, `<CLASS>_<k>.json` (the `SceneTruth`) and `manifest.json` into `out_dir`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = []
    for label, name in enumerate(CLASSES):
        for k in range(n_per_class):
            rng = np.random.default_rng([seed, label, k])
            person, camera = eval_scene(rng, label, seconds, image_size, fps, max_yaw_deg)
            video = out_dir / f"{name}_{k:03d}.mp4"
            truth = write_scene_video(video, [person], camera, fps, seconds, seed=int(rng.integers(2**31)))
            truth.save(video.with_suffix(".json"))
            clips.append(EvalClip(video=video, truth=video.with_suffix(".json"), label=name))
    manifest = [{"video": c.video.name, "truth": c.truth.name, "label": c.label} for c in clips]
    (out_dir / "manifest.json").write_text(json.dumps({"seed": seed, "fps": fps, "clips": manifest}, indent=1))
    return clips


def eval_scene(
    rng: np.random.Generator,
    label: int,
    seconds: float,
    image_size: tuple[int, int],
    fps: float,
    max_yaw_deg: float,
) -> tuple[PersonSpec, Camera]:
    """One person doing class `label` for the whole clip, and a random training-style camera filming them.

    Procedural walks travel a few metres; the camera is pushed back so that the person never comes
    closer than `MIN_CLEARANCE` metres to it, instead of walking into (or through) the lens.
    """
    motion = random_clip(rng, label, fps, seconds, lead_in=False, lead_out=False)
    joints = motion.joints
    # Framing height: top of the highest joint (raised hands included) over the feet, as a body height.
    height = float(np.median(joints[:, :, 1].max(axis=1) - joints[:, _ANKLES, 1].min(axis=1))) / 0.93
    camera = random_camera(rng, image_size, subject_height=height, max_yaw_deg=max_yaw_deg)
    hips = joints[:, _HIPS].mean(axis=1)
    reach = float(np.hypot(hips[:, 0] - np.median(hips[:, 0]), hips[:, 2] - np.median(hips[:, 2])).max())
    if camera.distance < reach + MIN_CLEARANCE:
        camera = replace(camera, distance=reach + MIN_CLEARANCE)
    return PersonSpec(motion), camera


def group_camera(
    image_size: tuple[int, int],
    span: float,
    *,
    centre: tuple[float, float] = (0.0, 0.0),
    subject_height: float = 1.75,
    yaw_deg: float = 0.0,
    pitch_deg: float = 5.0,
    fov_deg: float = 50.0,
    margin: float = 1.25,
) -> Camera:
    """A camera that keeps standing people within `span` metres (side to side) around `centre` in the frame."""
    width, height = image_size
    tan_v = np.tan(np.radians(fov_deg) / 2)
    tan_h = tan_v * width / height
    distance = max(margin * subject_height / (2 * tan_v), margin * span / (2 * tan_h)) + 0.5
    return Camera(
        image_size=(int(width), int(height)),
        fov_deg=fov_deg,
        yaw_deg=yaw_deg,
        pitch_deg=pitch_deg,
        distance=float(distance),
        look_at=np.array([centre[0], 0.5 * subject_height, centre[1]]),
    )


def _contrasting_style(rng: np.random.Generator, background: np.ndarray, attempts: int = 20) -> FigureStyle:
    """A random style whose shirt or trousers stand out from the background colour (see MIN_CONTRAST)."""
    for _ in range(attempts):
        style = random_style(rng)
        contrast = max(np.linalg.norm(np.subtract(style.shirt, background)),
                       np.linalg.norm(np.subtract(style.trousers, background)))
        if contrast >= MIN_CONTRAST:
            break
    return style


def placed_joints(person: PersonSpec, n_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """A person's 3D joints and labels in scene coordinates for each of `n_frames` frames at `fps`.

    The motion is resampled, re-centred on its median hip position with its feet on the floor, turned by
    the person's yaw and moved along their path; a motion shorter than the scene holds its last frame.
    Returns (F, 17, 3) float64 joints in metres and (F,) labels.
    """
    motion = person.motion if abs(person.motion.fps - fps) < 1e-6 else person.motion.resample(fps)
    if len(motion) == 0:
        raise ValueError("a person's motion has no frames")
    frames = np.minimum(np.arange(n_frames), len(motion) - 1)
    joints = motion.joints[frames].astype(np.float64)
    labels = motion.labels[frames]

    hips = motion.joints[:, _HIPS].mean(axis=1)
    floor = np.percentile(motion.joints[:, _ANKLES, 1].min(axis=1), 5)  # jumps only go up, so a low percentile
    joints -= np.array([np.median(hips[:, 0]), floor - ANKLE_HEIGHT, np.median(hips[:, 2])])
    yaw = np.radians(person.yaw_deg)
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    joints = joints @ turn.T
    joints[..., [0, 2]] += _path_positions(person.path, np.arange(n_frames) / fps)[:, None]
    return joints, labels


def _place(person: PersonSpec, n_frames: int, fps: float, camera: Camera, style: FigureStyle,
           lighting: Lighting) -> _Placed:
    """Place a person's motion in the scene, then precompute their figure and visible joints."""
    joints, labels = placed_joints(person, n_frames, fps)
    figure = figure_frames(joints, camera, style, lighting)
    width, height = camera.image_size
    x, y = figure.keypoints[..., 0], figure.keypoints[..., 1]
    visible = (x >= 0) & (x < width) & (y >= 0) & (y < height) & figure.in_front
    keypoints = np.concatenate([figure.keypoints, visible[..., None].astype(np.float32)], axis=-1)
    return _Placed(labels=labels, figure=figure, keypoints=keypoints)


def _path_positions(path: Sequence[tuple[float, float, float]], times: np.ndarray) -> np.ndarray:
    """(F, 2) x, z positions along the keyframed path at the given times."""
    keys = np.asarray(path, dtype=np.float64).reshape(-1, 3)
    if len(keys) == 0:
        raise ValueError("a person's path needs at least one (time_s, x, z) keyframe")
    if np.any(np.diff(keys[:, 0]) < 0):
        raise ValueError("path keyframe times must not decrease")
    return np.stack([np.interp(times, keys[:, 0], keys[:, 1]), np.interp(times, keys[:, 0], keys[:, 2])], axis=-1)


def make_background(
    kind: str,
    camera: Camera,
    rng: np.random.Generator,
    lighting: Lighting | None = None,
    palette: tuple[Colour, Colour] | None = None,
) -> np.ndarray:
    """An (H, W, 3) uint8 RGB backdrop of the given kind ("random" picks one), lit by the scene's light.

    Plain walls, gradients, low-frequency noise (plaster, foliage), stripes (wallpaper, blinds) and a
    tiled floor seen through the camera cover the backdrops of home and gym videos well enough that the
    pose estimator cannot rely on a uniform background. `palette` fixes the two colours (for a floor:
    wall, then floor) instead of drawing them.
    """
    if kind == "random":
        kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    width, height = camera.image_size
    if palette is None:
        first, second = _random_colour(rng), _random_colour(rng)
    else:
        first, second = (np.asarray(colour, dtype=np.float32) for colour in palette)
    if kind == "plain":
        image = np.empty((height, width, 3), dtype=np.float32)
        image[:] = first
    elif kind == "gradient":
        image = _gradient(width, height, first, second, rng.uniform(0, np.pi))
    elif kind == "noise":
        image = _noise(width, height, first, second, rng)
    elif kind == "stripes":
        image = _stripes(width, height, first, second, rng)
    elif kind == "floor":
        image = _floor(camera, first, second, rng)
    else:
        raise ValueError(f"unknown background {kind!r}: choose one of {', '.join(BACKGROUNDS)} or 'random'")
    brightness = rng.uniform(0.8, 1.1) if lighting is not None else 1.0
    tint = np.asarray(lighting.tint if lighting is not None else (1.0, 1.0, 1.0), dtype=np.float32)
    image *= brightness * tint
    image += 2.0 * rng.standard_normal((height, width, 1), dtype=np.float32)  # sensor-like grain on flat areas
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A wall-like colour: mostly muted, sometimes strong."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(10, 160), rng.uniform(70, 235)]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _blend(first: np.ndarray, second: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 mix of two colours by the (H, W) weights t in 0..1."""
    return first + t[..., None] * (second - first)


def _along(width: int, height: int, angle: float) -> np.ndarray:
    """(H, W) float32 pixel coordinate along the direction `angle` (radians from the x axis)."""
    ys = np.arange(height, dtype=np.float32) * np.float32(np.sin(angle))
    xs = np.arange(width, dtype=np.float32) * np.float32(np.cos(angle))
    return np.add.outer(ys, xs)


def _gradient(width: int, height: int, first: np.ndarray, second: np.ndarray, angle: float) -> np.ndarray:
    along = _along(width, height, angle)
    return _blend(first, second, (along - along.min()) / max(float(np.ptp(along)), 1.0))


def _noise(width: int, height: int, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cells = int(rng.integers(3, 24))
    coarse = rng.random((cells, max(2, cells * width // height))).astype(np.float32)
    t = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.random((height // 4, width // 4)).astype(np.float32), (width, height))
    return _blend(first, second, np.clip(0.8 * t + 0.2 * fine, 0, 1))


def _stripes(width: int, height: int, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    period = rng.uniform(12, 120)
    angle = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
    phase = _along(width, height, angle) * np.float32(2 * np.pi / period)
    return _blend(first, second, np.clip(0.5 + 2.0 * np.sin(phase), 0, 1))  # soft-edged bands


def _floor(camera: Camera, wall: np.ndarray, floor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A wall down to the horizon of the floor plane and a tiled floor below it, in the camera's perspective."""
    width, height = camera.image_size
    image = _gradient(width, height, wall, wall * 0.85, np.pi / 2)
    # The floor (y = 0) seen through the camera: project a dense grid of floor points in front of it.
    position = camera.position
    heading = camera.look_at - position
    heading = np.array([heading[0], 0.0, heading[2]])
    heading = heading / max(np.linalg.norm(heading), 1e-9)
    lateral = np.array([heading[2], 0.0, -heading[0]])
    ahead = np.geomspace(0.3, 200.0, 80)
    side = np.linspace(-200.0, 200.0, 81)
    grid = (position * np.array([1, 0, 1]))[None, None] + ahead[:, None, None] * heading + side[None, :, None] * lateral
    in_front = camera.depth(grid) > 0.05
    pixels = camera.project(grid)[in_front].astype(np.float32)
    if len(pixels) >= 3:
        mask = np.zeros((height, width), dtype=np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pixels).astype(np.int32)), 255, cv2.LINE_AA)
        shade = _gradient(width, height, floor * 0.8, floor * 1.1, np.pi / 2)
        lines = _floor_tiles(camera, rng.uniform(0.3, 1.0))
        shade *= 1 - (0.12 / 255) * lines.astype(np.float32)[..., None]
        blend = mask.astype(np.float32)[..., None] / 255
        image += blend * (shade - image)
    return image


# Floor tile lines fade out over this distance from the camera, so no edge of the tiling shows near the horizon.
_TILE_FADE_M = 12.0


def _floor_tiles(camera: Camera, tile: float) -> np.ndarray:
    """(H, W) uint8 strength of floor tile lines (a `tile`-metre grid on y = 0), fading with distance."""
    width, height = camera.image_size
    origin = camera.position
    offsets = np.arange(-_TILE_FADE_M, _TILE_FADE_M + tile, tile)
    t = np.linspace(-_TILE_FADE_M, _TILE_FADE_M, 49)
    const_x = np.stack(np.broadcast_arrays(origin[0] + offsets[:, None], 0.0, origin[2] + t[None]), axis=-1)
    const_z = np.stack(np.broadcast_arrays(origin[0] + t[None], 0.0, origin[2] + offsets[:, None]), axis=-1)
    points = np.concatenate([const_x, const_z])  # (lines, 49, 3)
    front = camera.depth(points) > 0.2
    pixels = np.round(camera.project(points) * 4).astype(np.int32)  # 2 fractional bits for smooth lines
    strength = np.clip(1 - np.hypot(points[..., 0] - origin[0], points[..., 2] - origin[2]) / _TILE_FADE_M, 0, 1) * 255
    drawn = front[:, :-1] & front[:, 1:] & (strength[:, :-1] > 8)
    canvas = np.zeros((height, width), dtype=np.uint8)
    for line, k in zip(*np.nonzero(drawn), strict=True):
        start, end = pixels[line, k], pixels[line, k + 1]
        cv2.line(canvas, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), float(strength[line, k]), 1,
                 cv2.LINE_AA, 2)
    return canvas

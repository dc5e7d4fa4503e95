"""Virtual pinhole cameras that film a `Motion`, and the random camera placement used for training data.

Real clips are filmed from the front, in profile and in between, near and far, a little from above,
with the person anywhere in the frame and sometimes cut off at the knees. The classifier only sees
2D keypoints, so these cameras are where that variety comes from.

Conventions: world x right, y up, z towards the default camera (see motion.py). Image pixels have
their origin at the top-left corner, x to the right and y down, like MoveNet's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Camera yaw is turned through at least +-110 degrees for every class, true profile included: real boxing
# clips are filmed in profile and cameras limited to +-70 degrees never produce that (sim-to-real notes).
MAX_YAW_DEG = 120.0
# Share of cameras drawn near the front (|yaw| <= FRONT_YAW_DEG), because most real footage is frontal.
FRONT_SHARE = 0.4
FRONT_YAW_DEG = 35.0
# Apparent body height as a fraction of the image height; above ~0.95 the legs leave the frame.
FILL_RANGE = (0.3, 1.35)
CLOSE_SHOT_FILL = 0.95
CLOSE_SHOT_SHARE = 0.2


@dataclass
class Camera:
    """A pinhole camera aimed at a point on the person.

    Attributes:
        image_size: (width, height) in pixels.
        fov_deg: vertical field of view; the focal length in pixels follows from it and the height.
        yaw_deg: angle around the vertical axis through `look_at`; 0 puts the camera on +z (in front of a
            person at yaw 0), +90 on +x (the person's left side, so they are seen in profile).
        pitch_deg: elevation; positive puts the camera above `look_at`, looking down.
        distance: metres from the camera centre to `look_at`.
        roll_deg: rotation about the optical axis (a tilted phone); positive turns the camera clockwise as
            seen from behind it, so the scene appears turned anticlockwise in the image.
        look_at: (3,) world point on the optical axis.
        frame_position: (u, v) fractions of the image size where `look_at` appears; (0.5, 0.5) is the
            centre. Implemented as a principal-point shift, i.e. a crop of a wider shot, so moving the
            person in the frame does not change the perspective.
    """

    image_size: tuple[int, int]
    fov_deg: float = 50.0
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    distance: float = 4.0
    roll_deg: float = 0.0
    look_at: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    frame_position: tuple[float, float] = (0.5, 0.5)

    def __post_init__(self) -> None:
        self.look_at = np.asarray(self.look_at, dtype=np.float64).reshape(3)
        width, height = self.image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {self.image_size}")
        if not 1.0 < self.fov_deg < 170.0:
            raise ValueError(f"field of view must be between 1 and 170 degrees, got {self.fov_deg}")
        if not self.distance > 0:
            raise ValueError(f"camera distance must be positive, got {self.distance}")

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels)."""
        return 0.5 * self.image_size[1] / np.tan(np.radians(self.fov_deg) / 2)

    @property
    def principal_point(self) -> np.ndarray:
        """(2,) pixel where the optical axis (and so `look_at`) lands."""
        return np.array(self.frame_position, dtype=np.float64) * np.array(self.image_size, dtype=np.float64)

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        yaw, pitch = np.radians(self.yaw_deg), np.radians(self.pitch_deg)
        direction = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
        return self.look_at + self.distance * direction

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) world-to-camera rotation; rows are the camera's right, down and forward axes in world terms."""
        forward = self.look_at - self.position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        if np.linalg.norm(right) < 1e-9:  # looking straight up or down: any right axis will do
            right = np.array([1.0, 0.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        roll = np.radians(self.roll_deg)
        right, down = np.cos(roll) * right + np.sin(roll) * down, np.cos(roll) * down - np.sin(roll) * right
        return np.stack([right, down, forward])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera coordinates (x right, y down, z forward = depth)."""
        points = np.asarray(points, dtype=np.float64)
        return (points - self.position) @ self.rotation.T

    def depth(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (...) distance in front of the camera along its optical axis, metres."""
        return self.to_camera(points)[..., 2]

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 2) float32 pixel coordinates (origin top-left, y down).

        Points at or behind the camera plane are clamped to 1 mm depth; training cameras stay metres away.
        """
        cam = self.to_camera(points)
        z = np.maximum(cam[..., 2:3], 1e-3)
        return (self.focal * cam[..., :2] / z + self.principal_point).astype(np.float32)


def random_camera(
    rng: np.random.Generator,
    image_size: tuple[int, int],
    *,
    subject_height: float = 1.7,
    ground: float = 0.0,
    centre: tuple[float, float] = (0.0, 0.0),
    max_yaw_deg: float = MAX_YAW_DEG,
) -> Camera:
    """A camera placed as people place phones and webcams, for filming one person.

    Args:
        rng: the source of randomness (the caller owns seeding).
        image_size: (width, height) of the simulated video.
        subject_height: standing height of the person in metres; framing is chosen as a fraction of it.
        ground: world y of the floor under the person.
        centre: (x, z) world position the person stays around.
        max_yaw_deg: largest camera turn from the front; the default covers profile and beyond.
    Returns:
        A `Camera`: yaw within +-max_yaw_deg (a share near the front, the rest uniform), pitch -8..25
        degrees, roll +-5, vertical field of view 35..65, the body filling 0.3..1.35 of the frame height
        (a fifth are close shots with the legs cut off), and the person anywhere reasonable in the frame.
    """
    if rng.random() < FRONT_SHARE:
        yaw = rng.uniform(-FRONT_YAW_DEG, FRONT_YAW_DEG)
    else:
        yaw = rng.uniform(-max_yaw_deg, max_yaw_deg)
    fov = rng.uniform(35.0, 65.0)
    close = rng.random() < CLOSE_SHOT_SHARE
    fill = rng.uniform(CLOSE_SHOT_FILL, FILL_RANGE[1]) if close else rng.uniform(FILL_RANGE[0], CLOSE_SHOT_FILL)
    # Close shots aim at the chest so the head stays in and the legs leave; wide shots aim at mid-body.
    aim_height = rng.uniform(0.68, 0.78) if close else rng.uniform(0.45, 0.6)
    distance = subject_height / (fill * 2 * np.tan(np.radians(fov) / 2))
    if close:
        frame_position = (rng.uniform(0.35, 0.65), rng.uniform(0.45, 0.6))
    else:  # keep the whole body in the frame: the smaller the person, the further off-centre they may stand
        slack = min(0.2, max(0.0, (1 - fill) / 2 - 0.02))
        frame_position = (rng.uniform(0.25, 0.75), 0.5 + rng.uniform(-slack, slack))
    return Camera(
        image_size=(int(image_size[0]), int(image_size[1])),
        fov_deg=float(fov),
        yaw_deg=yaw,
        pitch_deg=rng.uniform(-8.0, 25.0),
        distance=float(distance),
        roll_deg=rng.uniform(-5.0, 5.0),
        look_at=np.array([centre[0], ground + aim_height * subject_height, centre[1]]),
        frame_position=frame_position,
    )

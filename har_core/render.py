"""Draw poses and actions onto video frames.

Annotators are tiny classes with one `annotate(frame, annotations) -> frame` method, composed in a list,
so the pipeline (and a user) can choose what is drawn without the drawing knowing about models. Every
call is an OpenCV primitive (lines, circles, rectangles, text) on the frame in place: a few hundred
microseconds per person, no per-pixel Python.

Frames are (H, W, 3) uint8 in RGB order, as `har_core.video` decodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from har_core.features import KEYPOINT_THRESHOLD
from har_core.poses import Poses
from har_core.skeleton import BONES, CLASS_COLORS, CLASSES, UNCERTAIN, UNCERTAIN_COLOR

Color = tuple[int, int, int]

_LEFT_COLOR: Color = (255, 140, 30)  # orange-ish: the person's left side
_RIGHT_COLOR: Color = (40, 160, 255)  # blue-ish: the person's right side
_CENTRE_COLOR: Color = (235, 235, 235)
_NEUTRAL_COLOR: Color = (200, 200, 200)  # labels without a class (NO_WINDOW)
_SHORT_NAMES = {"JUMPING": "JMP", "JUMPING_JACKS": "JJK", "BOXING": "BOX", "WAVING_2HANDS": "WV2",
                "WAVING_1HAND": "WV1", "CLAPPING_HANDS": "CLP", "OTHER": "OTH"}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def hex_to_rgb(hex_color: str) -> Color:
    """'#RRGGBB' -> (r, g, b)."""
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def label_color(label: str) -> Color:
    """The class colour used everywhere in the app; grey for UNCERTAIN and for frames without a label."""
    if label in CLASS_COLORS:
        return hex_to_rgb(CLASS_COLORS[label])
    if label == UNCERTAIN:
        return hex_to_rgb(UNCERTAIN_COLOR)
    return _NEUTRAL_COLOR


def _side(joint: int) -> int:
    """-1 for the person's left joints, 1 for right, 0 for the nose (COCO: odd = left, even = right)."""
    return 0 if joint == 0 else (-1 if joint % 2 else 1)


def _bone_color(a: int, b: int) -> Color:
    side = _side(a) if _side(a) == _side(b) else 0
    return {-1: _LEFT_COLOR, 1: _RIGHT_COLOR, 0: _CENTRE_COLOR}[side]


_BONE_COLORS: tuple[Color, ...] = tuple(_bone_color(a, b) for a, b in BONES)


def _confidence_colors(scores: np.ndarray) -> list[Color]:
    """Red (barely seen) through yellow to green (sure) for joint scores, as plain int tuples for OpenCV."""
    t = np.clip((scores - KEYPOINT_THRESHOLD) / (1.0 - KEYPOINT_THRESHOLD), 0.0, 1.0)
    red = (255 * np.minimum(1.0, 2 - 2 * t)).astype(int).tolist()
    green = (255 * np.minimum(1.0, 2 * t)).astype(int).tolist()
    return [(r, g, 40) for r, g in zip(red, green, strict=True)]


def _ui_scale(frame: np.ndarray) -> float:
    """Drawing scale so that overlays look the same on 240p and 1080p (1.0 at 480 rows)."""
    return max(0.5, min(frame.shape[:2]) / 480.0)


@dataclass
class FrameAnnotations:
    """What to draw on one frame, parallel to `poses` (n people).

    Attributes:
        poses: the tracked people of the frame (track_ids are the person ids shown).
        labels: n labels (a class, UNCERTAIN, NO_WINDOW, ...).
        confidence: (n,) top probability, NaN where the person has no prediction yet.
        probs: (n, 7) class probabilities, NaN rows where the person has no prediction yet.
    """

    poses: Poses
    labels: list[str]
    confidence: np.ndarray
    probs: np.ndarray


class Annotator(Protocol):
    """Draws one kind of overlay onto a frame in place and returns it."""

    def annotate(self, frame: np.ndarray, annotations: FrameAnnotations) -> np.ndarray: ...


@dataclass
class SkeletonAnnotator:
    """Bones coloured by body side, joints coloured by confidence; joints below `min_score` are skipped."""

    min_score: float = KEYPOINT_THRESHOLD

    def annotate(self, frame: np.ndarray, annotations: FrameAnnotations) -> np.ndarray:
        scale = _ui_scale(frame)
        thickness = max(1, round(2 * scale))
        radius = max(2, round(3 * scale))
        for keypoints in annotations.poses.keypoints:
            seen = (keypoints[:, 2] >= self.min_score).tolist()
            points = [tuple(p) for p in np.round(keypoints[:, :2]).astype(np.int32).tolist()]
            for (a, b), color in zip(BONES, _BONE_COLORS, strict=True):
                if seen[a] and seen[b]:
                    cv2.line(frame, points[a], points[b], color, thickness, cv2.LINE_AA)
            for joint, color in enumerate(_confidence_colors(keypoints[:, 2])):
                if seen[joint]:
                    cv2.circle(frame, points[joint], radius, color, -1, cv2.LINE_AA)
        return frame


@dataclass
class LabelAnnotator:
    """'#id LABEL 0.87' on a tag in the class colour just above each person's head."""

    def annotate(self, frame: np.ndarray, annotations: FrameAnnotations) -> np.ndarray:
        scale = _ui_scale(frame)
        font_scale, thickness = 0.5 * scale, max(1, round(scale))
        poses = annotations.poses
        for i in range(len(poses)):
            label, conf = annotations.labels[i], annotations.confidence[i]
            text = f"#{poses.track_ids[i]} {label}" + ("" if np.isnan(conf) else f" {conf:.2f}")
            x, y = _head_anchor(poses.keypoints[i], poses.boxes[i])
            _draw_tag(frame, text, x, y, label_color(label), font_scale, thickness)
        return frame


def _head_anchor(keypoints: np.ndarray, box: np.ndarray) -> tuple[int, int]:
    """Left edge and top of the person: seen keypoints if any (tighter than the box), else the box."""
    seen = keypoints[:, 2] >= KEYPOINT_THRESHOLD
    if seen.any():
        return int(keypoints[seen, 0].min()), int(keypoints[seen, 1].min())
    return int(box[0]), int(box[1])


def _draw_tag(frame: np.ndarray, text: str, x: int, y: int, color: Color, font_scale: float, thickness: int) -> None:
    """Text on a filled background whose bottom-left corner sits at (x, y - margin), kept inside the frame."""
    (w, h), base = cv2.getTextSize(text, _FONT, font_scale, thickness)
    pad = max(2, h // 4)
    height, width = frame.shape[:2]
    x = int(np.clip(x, 0, max(0, width - w - 2 * pad)))
    top = int(np.clip(y - h - base - 2 * pad - pad, 0, max(0, height - h - base - 2 * pad)))
    cv2.rectangle(frame, (x, top), (x + w + 2 * pad, top + h + base + 2 * pad), color, -1)
    text_color = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(frame, text, (x + pad, top + pad + h), _FONT, font_scale, text_color, thickness, cv2.LINE_AA)


@dataclass
class ProbabilityBarsAnnotator:
    """A compact panel per person in the top-left corner: the id, then one bar per class.

    Panels sit side by side and wrap to a new row when the frame is too narrow; the panel background is
    darkened so bars stay readable on any footage.
    """

    def annotate(self, frame: np.ndarray, annotations: FrameAnnotations) -> np.ndarray:
        scale = _ui_scale(frame)
        font_scale, thickness = 0.33 * scale, 1
        row = max(7, round(10 * scale))
        (text_w, _), _ = cv2.getTextSize("WV2", _FONT, font_scale, thickness)
        bar_w = round(60 * scale)
        panel_w = text_w + bar_w + 3 * row // 2
        panel_h = row * (len(CLASSES) + 1) + row // 2
        height, width = frame.shape[:2]
        x, y = row // 2, row // 2
        for i, person_id in enumerate(annotations.poses.track_ids):
            if x + panel_w > width:
                x, y = row // 2, y + panel_h + row // 2
            if y + panel_h > height or panel_w > width:
                break
            self._panel(frame, x, y, panel_w, panel_h, row, text_w, bar_w, int(person_id),
                        annotations.labels[i], annotations.probs[i], font_scale)
            x += panel_w + row // 2
        return frame

    @staticmethod
    def _panel(frame: np.ndarray, x: int, y: int, w: int, h: int, row: int, text_w: int, bar_w: int,
               person_id: int, label: str, probs: np.ndarray, font_scale: float) -> None:
        roi = frame[y : y + h, x : x + w]
        roi >>= 2  # darken to a quarter: cheap and readable
        cv2.putText(frame, f"#{person_id}", (x + row // 3, y + row - 1), _FONT, font_scale, label_color(label), 1,
                    cv2.LINE_AA)
        bar_x = x + row // 3 + text_w + row // 2
        for c, name in enumerate(CLASSES):
            top = y + row * (c + 1) + row // 4
            cv2.putText(frame, _SHORT_NAMES[name], (x + row // 3, top + row - 2), _FONT, font_scale,
                        (230, 230, 230), 1, cv2.LINE_AA)
            cv2.rectangle(frame, (bar_x, top + 1), (bar_x + bar_w, top + row - 2), (70, 70, 70), 1)
            p = probs[c]
            if not np.isnan(p) and p > 0:
                cv2.rectangle(frame, (bar_x, top + 1), (bar_x + round(p * bar_w), top + row - 2),
                              label_color(name), -1)


def default_annotators() -> list[Annotator]:
    """Skeletons, then per-person tags, then the probability panels (drawn last so they stay on top)."""
    return [SkeletonAnnotator(), LabelAnnotator(), ProbabilityBarsAnnotator()]


def annotate_frame(frame: np.ndarray, annotations: FrameAnnotations, annotators: list[Annotator]) -> np.ndarray:
    """Apply each annotator in order; the frame is modified in place and returned."""
    for annotator in annotators:
        frame = annotator.annotate(frame, annotations)
    return frame


"""Procedural 3D motion for the seven classes, built on the kinematic body model in `body.py`.

Each generator turns a time axis into pose parameters (see `body.PARAMS`) for one kind of motion and
returns the class it shows. `random_clip` strings a lead-in, the main action and a lead-out together
with cross-fades, so windows across the start and end of an action exist, and labels every frame with
the motion that dominates it.

Decisions that are not obvious (see docs/model.md):
- Clapping is wide and low, as filmed in real clips: wrists mostly 0.1-0.6 torso lengths above the hips
  and far apart between claps (sim-to-real notes), with some narrower chest-height clapping too.
- Boxing keeps a guard at the chin between punches; the profile view comes from the cameras.
- Jump rope (hopping with the arms held out low) and hopping with the arms out are JUMPING: the person
  jumps in place and the legs never spread; they are the near-misses that keep JUMPING_JACKS honest.
- Single star jumps are JUMPING_JACKS; overhead two-arm arcs with still legs are WAVING_2HANDS; full arm
  circles, squats without a jump, jogging and stretching are OTHER.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from har_core.skeleton import CLASS_INDEX
from models.synth.body import LIMB_SLICE, PARAMS, Body, P, blend, forward_kinematics, limb_angles
from models.synth.motion import Motion

GRAVITY = 9.81
# Chance of a lead-in (and, separately, a lead-out) of OTHER motion around a clip's action. Windows across
# these transitions are needed, but the first frames after a switch are ambiguous to a causal classifier,
# so they are kept to about 7% of the windows.
LEAD_SHARE = 0.4
SOURCE = "procedural"
# Metres in front of the shoulder a boxer's hand stays when it is pulled back during the other hand's punch.
MIN_GUARD_REACH = 0.12
Generator = Callable[[np.random.Generator, Body, np.ndarray], np.ndarray]


def _deg(x: float | np.ndarray) -> float | np.ndarray:
    return np.radians(x)


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, timescale: float, scale: float) -> np.ndarray:
    """Slowly wandering zero-mean noise (std ~scale, correlated over ~timescale seconds)."""
    if len(t) < 2 or scale == 0:
        return np.zeros(len(t))
    fps = (len(t) - 1) / max(t[-1] - t[0], 1e-9)
    sigma = max(timescale * fps, 0.5)
    noise = gaussian_filter1d(rng.normal(size=len(t)), sigma=sigma, mode="reflect")
    # Normalise by the filter's expected std (sum of squared Gaussian weights = 1 / (2 sqrt(pi) sigma)),
    # not the sample std: in a clip shorter than the timescale the sample std is tiny and dividing by it
    # would blow a near-constant offset up to several radians.
    return scale * noise * np.sqrt(2.0 * np.sqrt(np.pi) * sigma)


def _phase(rng: np.random.Generator, t: np.ndarray, freq: float, drift: float = 0.08) -> np.ndarray:
    """Cycle phase in radians for a tempo that wanders by ~drift (fraction) around `freq` Hz."""
    rate = freq * (1 + _smooth_noise(rng, t, 2.0, drift))
    dt = np.diff(t, prepend=t[0])
    return 2 * np.pi * np.cumsum(rate * dt) + rng.uniform(0, 2 * np.pi)


def set_limb(p: np.ndarray, limb: str, elev=None, plane=None, reach=None, swivel=None) -> None:
    """Write any of a limb's four parameters (scalars or (T,) arrays) into p in place."""
    cols = LIMB_SLICE[limb]
    for k, value in enumerate((elev, plane, reach, swivel)):
        if value is not None:
            p[:, cols.start + k] = value


def neutral_pose(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Relaxed standing with the small sway, breathing and head movement every real person shows."""
    p = np.zeros((len(t), len(PARAMS)))
    stance = _deg(rng.uniform(0, 6))
    for limb, side in (("l_arm", 1), ("r_arm", -1)):
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(3, 12)) + _smooth_noise(rng, t, 1.5, _deg(2)),
            plane=_deg(rng.uniform(-10, 130)),
            reach=rng.uniform(0.93, 0.99),
            swivel=rng.uniform(-0.3, 0.3),
        )
    for limb in ("l_leg", "r_leg"):
        set_limb(p, limb, elev=stance, plane=_deg(rng.uniform(-20, 20)), reach=rng.uniform(0.985, 0.999), swivel=0.0)
    p[:, P["lean_side"]] = _smooth_noise(rng, t, 2.0, _deg(1.5))
    p[:, P["lean_fwd"]] = _deg(rng.uniform(-2, 5)) + _smooth_noise(rng, t, 2.0, _deg(1))
    p[:, P["head_yaw"]] = _smooth_noise(rng, t, 1.5, _deg(8))
    p[:, P["head_pitch"]] = _deg(rng.uniform(-8, 8)) + _smooth_noise(rng, t, 1.5, _deg(4))
    p[:, P["side_speed"]] = _smooth_noise(rng, t, 1.0, 0.01)
    return p


def _wrist_targets(p: np.ndarray, body: Body, limb: str, side: float, offset: np.ndarray) -> None:
    """Point an arm at (T, 3) body-frame wrist offsets from its shoulder."""
    elev, plane, reach = limb_angles(offset, body.arm, side)
    set_limb(p, limb, elev=elev, plane=plane, reach=np.clip(reach, 0.25, 1.0))


def _shoulder(body: Body, side: float) -> np.ndarray:
    return np.array([side * body.shoulder_half, body.torso, 0.0])


# --- the six actions -------------------------------------------------------------------------------------


def jumping(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Two-footed hops in place: pogo hops, ordinary jumps and squat jumps, with varied arm styles."""
    p = neutral_pose(rng, t)
    style = rng.choice(["pogo", "normal", "squat"], p=[0.3, 0.4, 0.3])
    if style == "pogo":
        freq, height, dip = rng.uniform(1.6, 2.8), rng.uniform(0.04, 0.15), rng.uniform(0.02, 0.07)
    elif style == "normal":
        freq, height, dip = rng.uniform(1.0, 2.0), rng.uniform(0.1, 0.3), rng.uniform(0.05, 0.15)
    else:
        freq, height, dip = rng.uniform(0.5, 1.1), rng.uniform(0.25, 0.55), rng.uniform(0.2, 0.5)
    # Flight time follows from the height; keep at least a quarter of each cycle on the ground.
    flight = min(0.75, 2 * np.sqrt(2 * height / GRAVITY) * freq)
    height = GRAVITY / 8 * (flight / freq) ** 2
    u = np.mod(_phase(rng, t, freq, 0.05), 2 * np.pi) / (2 * np.pi)
    airborne = u < flight
    x = np.where(airborne, u / flight, 0.0)
    p[:, P["air"]] = np.where(airborne, 4 * height * x * (1 - x), 0.0) * (1 + _smooth_noise(rng, t, 1.5, 0.1))
    g = np.where(airborne, 0.0, (u - flight) / (1 - flight))
    crouch = dip * np.sin(np.pi * g)
    tuck = rng.uniform(0, 0.06) * np.sin(np.pi * x) * airborne
    for limb in ("l_leg", "r_leg"):
        set_limb(p, limb, elev=_deg(rng.uniform(0, 8)), plane=_deg(rng.uniform(-20, 60)), reach=0.995 - crouch - tuck)
    p[:, P["lean_fwd"]] += crouch * rng.uniform(1.0, 3.0)
    arms = rng.choice(["hang", "swing", "out", "hips", "chest"], p=[0.3, 0.25, 0.2, 0.1, 0.15])
    # Arm drive: -1 at the deepest crouch, +1 at the top of the flight.
    drive = np.where(airborne, np.sin(np.pi * x), -np.sin(np.pi * g))
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        if arms == "hang":
            set_limb(p, limb, elev=_deg(rng.uniform(5, 15)) + _deg(rng.uniform(3, 15)) * drive)
        elif arms == "swing":
            lo, hi = rng.uniform(-35, -10), rng.uniform(50, 150)
            set_limb(p, limb, elev=_deg(lo + (hi - lo) * (drive + 1) / 2), plane=_deg(rng.uniform(75, 100)))
        elif arms == "out":  # jump rope and arms-out hopping: the near-miss for jumping jacks
            circle = _phase(rng, t, freq) if rng.random() < 0.5 else np.zeros(len(t))
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(25, 80)) + _deg(8) * np.sin(circle),
                plane=_deg(rng.uniform(0, 45)) + _deg(10) * np.cos(circle),
                reach=rng.uniform(0.75, 0.97),
            )
        elif arms == "hips":
            set_limb(p, limb, elev=_deg(rng.uniform(20, 35)), plane=_deg(rng.uniform(-60, -20)), reach=0.5, swivel=0.3)
        else:
            set_limb(
                p, limb, elev=_deg(rng.uniform(25, 50)), plane=_deg(rng.uniform(90, 120)), reach=rng.uniform(0.35, 0.5)
            )
    return p


def jumping_jacks(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Arms sweep from the sides to overhead while the feet hop apart and together; also half jacks,
    low-impact step jacks and single star jumps, half of them from a squat (a blind-test star jump from a
    squat was read as JUMPING: the squat before it looked like a squat jump's)."""
    p = neutral_pose(rng, t)
    style = rng.choice(["full", "half", "step", "star"], p=[0.5, 0.25, 0.1, 0.15])
    freq = rng.uniform(0.35, 0.7) if style == "star" else rng.uniform(0.6, 1.6)
    theta = _phase(rng, t, freq, 0.06)
    crouch = np.zeros(len(t))
    if style == "star":  # one big spread jump per cycle, standing still in between
        u = np.mod(theta, 2 * np.pi) / (2 * np.pi)
        duty = rng.uniform(0.3, 0.5)
        spread = np.where(u < duty, np.sin(np.pi * u / duty), 0.0)
        p[:, P["air"]] = rng.uniform(0.2, 0.4) * spread
        if rng.random() < 0.5:  # sink into a squat before each jump, arms low, and spring out of it
            squat = rng.uniform(0.5, 0.85) * (1 - duty)  # the share of the pause spent going down and up
            g = (u - (1 - squat)) / squat
            crouch = np.where(u > 1 - squat, rng.uniform(0.15, 0.4) * np.sin(np.pi * g), 0.0)
            p[:, P["lean_fwd"]] += crouch * rng.uniform(1.0, 2.5)
    else:  # the exponent sets how long the arms stay low versus up
        spread = ((1 - np.cos(theta)) / 2) ** rng.uniform(0.7, 1.5)
        hop = np.maximum(0.0, -np.cos(2 * theta)) ** 1.5
        p[:, P["air"]] = 0.0 if style == "step" else rng.uniform(0.05, 0.22) * hop
    arm_lo, arm_hi = rng.uniform(0, 15), rng.uniform(85, 130) if style == "half" else rng.uniform(140, 185)
    # At the bottom the hands slap the thighs (plane towards the front and midline), at the top they are out wide.
    plane_lo, plane_hi = rng.uniform(40, 150), rng.uniform(-10, 25)
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        lag = _deg(rng.uniform(-8, 8))
        set_limb(
            p,
            limb,
            elev=_deg(arm_lo + (arm_hi - arm_lo) * spread) + lag * np.sin(theta),
            plane=_deg(plane_lo + (plane_hi - plane_lo) * np.minimum(1.0, 3 * spread) + rng.uniform(-8, 8)),
            reach=rng.uniform(0.9, 0.99),
            swivel=rng.uniform(-0.4, 0.4),
        )
    leg_hi = rng.uniform(10, 22) if style != "star" else rng.uniform(18, 30)
    if style == "step":  # one foot steps out at a time
        left = spread * (np.sin(theta / 2) > 0)
        legs = {"l_leg": left, "r_leg": spread - left}
    else:
        legs = {"l_leg": spread, "r_leg": spread}
    for limb, amount in legs.items():
        set_limb(p, limb, elev=_deg(2 + leg_hi * amount), plane=_deg(rng.uniform(-10, 20)), reach=0.985 - crouch)
    return p


def boxing(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Shadow boxing: jabs, crosses, hooks and uppercuts, by a boxer (guard at the chin, bladed stance, bounce)
    or by anyone (upright, feet together, hands held out in front at shoulder height between punches).

    Real shadow boxing (the development boxing clip, filmed side-on, measured with compare_real) throws the
    punching shoulder forward and pulls the other hand back, so the hands come 1 torso length apart at full
    extension (0.7 before this was modelled), and bobs on bent knees (hips travel 0.16 torso lengths over a
    window, 0.09 before): punches drive a large shoulder turn and the other hand's pull-back, and the knees bob.
    The person in that clip is no boxer: upright, feet together, arms held out between punches; the
    synthesiser knew only the boxer's guard, so a share of clips now punches that way.
    """
    p = neutral_pose(rng, t)
    n = len(t)
    casual = rng.random() < 0.35
    lead = 1.0 if rng.random() < 0.7 else -1.0  # orthodox leads with the left
    bounce_freq = rng.uniform(1.4, 2.6)
    # Bob: the knees flex once per bounce, dropping the hips by up to ~10% of the leg.
    bob_depth = rng.uniform(0.0, 0.03) if casual else rng.uniform(0.03, 0.10)
    bob = bob_depth * (1 + np.sin(_phase(rng, t, bounce_freq))) / 2
    # Bladed stance (lead foot forward, rear foot back, knees soft), or feet side by side.
    for limb, side in (("l_leg", 1.0), ("r_leg", -1.0)):
        forward = side == lead
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(0, 6) if casual else rng.uniform(8, 20)) * (1 if forward else -1),
            plane=_deg(rng.uniform(70, 100)),
            reach=rng.uniform(0.94, 0.995) - bob,
        )
    p[:, P["lean_fwd"]] += _deg(rng.uniform(-3, 5) if casual else rng.uniform(3, 15))
    p[:, P["head_pitch"]] += _deg(rng.uniform(0, 12))
    # Boxers stand side-on to their target: the body turns away from the camera by the stance angle.
    p[:, P["heading"]] = -lead * _deg(rng.uniform(10, 70))
    base_twist = -lead * _deg(rng.uniform(0, 30))
    if rng.random() < (0.2 if casual else 0.7):
        p[:, P["air"]] = rng.uniform(0.01, 0.06) * np.maximum(0, np.sin(_phase(rng, t, bounce_freq)))

    # Punch events: times, arm, kind; each gives an extension profile 0 -> 1 -> 0.
    rate = rng.uniform(1.0, 3.2)
    events, time = [], t[0] + rng.uniform(0, 0.5)
    side = lead
    while time < t[-1]:
        kind = rng.choice(["straight", "hook", "upper"], p=[0.7, 0.2, 0.1])
        events.append((time, side, kind, rng.uniform(0.08, 0.18), rng.uniform(0.12, 0.28)))
        side = -side if rng.random() < 0.7 else side
        time += max(0.2, rng.exponential(1 / rate))
    twist = np.full(n, base_twist)
    profiles = [(who, kind, _punch_profile(t - start, out, back)) for start, who, kind, out, back in events]

    def extension_of(side: float, kinds: tuple[str, ...]) -> np.ndarray:
        """How far one arm is out from its punches of `kinds` (the larger where two overlap), 0..1 per frame."""
        return functools.reduce(np.maximum, (profile for who, kind, profile in profiles
                                             if who == side and kind in kinds), np.zeros(n))

    extension = {side: extension_of(side, ("straight", "hook", "upper")) for side in (1.0, -1.0)}
    turn = _deg(rng.uniform(5, 25) if casual else rng.uniform(25, 50))  # shoulder turn at full extension
    pull_back = rng.uniform(0.05, 0.15)  # metres the other hand comes back towards the chin
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        # Between punches: fists at the chin, or (casual) held out in front at or below shoulder height.
        guard = np.array([-side * body.shoulder_half * rng.uniform(0.0, 0.8),
                          rng.uniform(-0.15, 0.02) if casual else rng.uniform(-0.1, 0.1),
                          rng.uniform(0.3, 0.5) if casual else rng.uniform(0.14, 0.3)])
        ext, hook, upper = extension[side], extension_of(side, ("hook",)), extension_of(side, ("upper",))
        straight_target = np.array(
            [-side * body.shoulder_half * rng.uniform(0.3, 1.0), rng.uniform(-0.1, 0.08), body.arm * 0.97]
        )
        hook_target = np.array([-side * body.shoulder_half * 1.2, rng.uniform(0.0, 0.1), body.arm * 0.55])
        upper_target = np.array([-side * body.shoulder_half * 0.6, rng.uniform(0.05, 0.15), body.arm * 0.45])
        straight = ext - hook - upper
        offset = (
            guard[None] * (1 - ext[:, None])
            + straight_target[None] * straight[:, None]
            + hook_target[None] * hook[:, None]
            + upper_target[None] * upper[:, None]
        )
        offset[:, 1] -= 0.2 * upper * (1 - upper)  # uppercuts come from below
        # The other hand comes back while one punches, but stays in front of the shoulder: at the shoulder the
        # arm has no well-defined elbow, and its keypoints jumped between frames (docs/experiments.md).
        back = min(pull_back, max(0.0, guard[2] - MIN_GUARD_REACH))
        offset[:, 2] -= back * extension[-side] * (1 - ext)
        offset += np.stack([_smooth_noise(rng, t, 0.5, 0.02) for _ in range(3)], axis=-1)
        _wrist_targets(p, body, limb, side, offset)
        set_limb(p, limb, swivel=rng.uniform(-0.2, 0.3) + 1.2 * hook)
        twist -= side * turn * ext
    p[:, P["twist"]] = twist
    return p


def _punch_profile(rel: np.ndarray, out: float, back: float) -> np.ndarray:
    """A punch's extension over time from its start (`rel` seconds): 0 -> 1 in `out` s, back to 0 in `back` s."""
    return np.where(
        rel < 0,
        0.0,
        np.where(rel < out, np.sin(0.5 * np.pi * rel / out),
                 np.where(rel < out + back, np.cos(0.5 * np.pi * (rel - out) / back), 0.0)),
    )


def waving_2hands(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Both arms raised and waving: big overhead arcs, windscreen-wiper sweeps, or forearm waves."""
    p = neutral_pose(rng, t)
    style = rng.choice(["arcs", "wipers", "forearms"], p=[0.65, 0.15, 0.2])
    theta = _phase(rng, t, rng.uniform(0.6, 1.6) if style == "arcs" else rng.uniform(0.8, 2.4), 0.08)
    opposite = rng.random() < 0.3
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        sign = -1.0 if (style == "wipers" or opposite) and side < 0 else 1.0
        wave = sign * np.sin(theta)
        if style == "arcs":
            # Arcs out to the side, from the hips or shoulder height up to the hands meeting overhead: the
            # jumping-jack arm motion with still legs (how KTH films hand waving).
            low, high = rng.uniform(5, 95), rng.uniform(175, 200)
            elev = low + (high - low) * (1 + wave) / 2
            set_limb(p, limb, elev=_deg(elev), plane=_deg(rng.uniform(-10, 25)), reach=rng.uniform(0.85, 0.99))
        elif style == "wipers":
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(140, 170) + rng.uniform(12, 30) * wave),
                plane=_deg(rng.uniform(-5, 30)),
                reach=rng.uniform(0.8, 0.98),
            )
        else:
            amp = rng.uniform(15, 30)
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(100, 150)),
                plane=_deg(rng.uniform(0, 40) + amp * wave),
                reach=rng.uniform(0.6, 0.85),
                swivel=rng.uniform(-0.3, 0.3) - _deg(0.8 * amp) * wave,
            )
    return p


def waving_1hand(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """One hand raised and waving (either hand); the other arm stays down or rests."""
    p = neutral_pose(rng, t)
    side = 1.0 if rng.random() < 0.5 else -1.0
    limb = "l_arm" if side > 0 else "r_arm"
    other = "r_arm" if side > 0 else "l_arm"
    style = rng.choice(["side", "forearm", "big"], p=[0.45, 0.35, 0.2])
    theta = _phase(rng, t, rng.uniform(0.6, 1.4) if style == "big" else rng.uniform(0.7, 3.2), 0.08)
    wave = np.sin(theta)
    if style == "side":
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(70, 150)),
            plane=_deg(rng.uniform(-10, 60) + rng.uniform(8, 35) * wave),
            reach=rng.uniform(0.6, 0.95),
        )
    elif style == "forearm":  # the hand swings side to side about a still elbow
        amp = rng.uniform(12, 30)
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(75, 130)),
            plane=_deg(rng.uniform(0, 60) + amp * wave),
            reach=rng.uniform(0.5, 0.75),
            swivel=rng.uniform(-0.2, 0.4) - _deg(0.8 * amp) * wave,
        )
    else:
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(130, 160) + rng.uniform(15, 35) * wave),
            plane=_deg(rng.uniform(-10, 30)),
            reach=rng.uniform(0.85, 0.98),
        )
    rest = rng.choice(["hang", "hip", "front"], p=[0.7, 0.15, 0.15])
    if rest == "hip":
        set_limb(p, other, elev=_deg(rng.uniform(20, 35)), plane=_deg(rng.uniform(-60, -20)), reach=0.5, swivel=0.3)
    elif rest == "front":
        set_limb(
            p, other, elev=_deg(rng.uniform(20, 45)), plane=_deg(rng.uniform(90, 130)), reach=rng.uniform(0.4, 0.6)
        )
    p[:, P["lean_side"]] -= side * _deg(rng.uniform(0, 5))
    return p


def clapping(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Hands meeting in front of the body and swinging apart again; mostly wide and low, as filmed."""
    p = neutral_pose(rng, t)
    scale = body.height / 1.75
    narrow = rng.random() < 0.15
    open_sep = (rng.uniform(0.25, 0.55) if narrow else rng.uniform(0.7, 1.3)) * scale
    high = rng.random() < 0.15
    above_hips = body.torso * (rng.uniform(0.55, 0.85) if high else rng.uniform(0.15, 0.65))
    forward = rng.uniform(0.18, 0.42) * scale
    theta = _phase(rng, t, rng.uniform(0.8, 3.5), 0.06)
    # Hands dwell apart and snap together: a low exponent keeps them open most of the cycle.
    gap = ((1 - np.cos(theta)) / 2) ** rng.uniform(0.3, 0.8)
    half = 0.04 * scale + gap * (open_sep / 2)
    lift = above_hips + gap * rng.uniform(-0.06, 0.06) + _smooth_noise(rng, t, 1.0, 0.02)
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        wrist = np.stack([side * half, lift, forward - gap * rng.uniform(0.0, 0.12)], axis=-1)
        _wrist_targets(p, body, limb, side, wrist - _shoulder(body, side))
        set_limb(p, limb, swivel=rng.uniform(-0.4, 0.3))
    return p


# --- OTHER: everyday motions and near-misses --------------------------------------------------------------


def standing(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Standing, shifting weight, small gestures: hands together, on hips, to the face, arms crossed."""
    p = neutral_pose(rng, t)
    p[:, P["lean_side"]] += _smooth_noise(rng, t, 3.0, _deg(3))
    p[:, P["side_speed"]] += _smooth_noise(rng, t, 2.0, 0.03)
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        pose = rng.choice(["hang", "front", "hip", "face", "cross", "gesture"], p=[0.35, 0.15, 0.12, 0.08, 0.1, 0.2])
        if pose == "front":
            set_limb(
                p, limb, elev=_deg(rng.uniform(20, 45)), plane=_deg(rng.uniform(100, 130)), reach=rng.uniform(0.4, 0.6)
            )
        elif pose == "hip":
            set_limb(p, limb, elev=_deg(rng.uniform(20, 35)), plane=_deg(rng.uniform(-60, -20)), reach=0.5, swivel=0.3)
        elif pose == "face":
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(40, 70)),
                plane=_deg(rng.uniform(110, 140)),
                reach=rng.uniform(0.25, 0.35),
            )
        elif pose == "cross":
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(50, 70)),
                plane=_deg(rng.uniform(140, 160)),
                reach=rng.uniform(0.35, 0.45),
            )
        elif pose == "gesture":  # talking with the hands: slow irregular movement at waist height
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(25, 50)) + _smooth_noise(rng, t, 0.6, _deg(12)),
                plane=_deg(rng.uniform(50, 110)) + _smooth_noise(rng, t, 0.6, _deg(15)),
                reach=rng.uniform(0.5, 0.75) + _smooth_noise(rng, t, 0.6, 0.08),
            )
    return p


def walking(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Walking or jogging, in place or travelling (across, towards, away: the camera decides), with turns."""
    p = neutral_pose(rng, t)
    jog = rng.random() < 0.45  # people running past a still camera were read as JUMPING (issue 16)
    freq = rng.uniform(1.2, 1.6) if jog else rng.uniform(0.75, 1.1)
    swing = _deg(rng.uniform(22, 35) if jog else rng.uniform(12, 25))
    theta = _phase(rng, t, freq, 0.04)
    in_place = rng.random() < 0.35
    knee = rng.uniform(0.15, 0.3) if jog else rng.uniform(0.05, 0.12)
    for limb, sign in (("l_leg", 1.0), ("r_leg", -1.0)):
        phase = theta if sign > 0 else theta + np.pi
        lift = np.maximum(0.0, np.cos(phase)) ** 2
        if in_place:  # marching: knees come up, feet come back under the body
            set_limb(p, limb, elev=swing * 1.5 * lift, plane=_deg(90), reach=1 - 2 * knee * lift)
        else:
            set_limb(p, limb, elev=swing * np.sin(phase), plane=_deg(90), reach=0.995 - knee * lift)
    arm_swing = _deg(rng.uniform(8, 30))
    for limb, sign in (("l_arm", -1.0), ("r_arm", 1.0)):
        set_limb(
            p,
            limb,
            elev=sign * arm_swing * np.sin(theta) + (_deg(20) if jog else 0.0),
            plane=_deg(90),
            reach=rng.uniform(0.55, 0.7) if jog else rng.uniform(0.92, 0.99),
        )
    if jog:
        p[:, P["air"]] = rng.uniform(0.02, 0.06) * np.maximum(0.0, np.sin(2 * theta)) ** 2
        p[:, P["lean_fwd"]] += _deg(rng.uniform(3, 10))
    if not in_place:
        step = 2 * body.leg * np.sin(swing)
        p[:, P["fwd_speed"]] = 2 * freq * step * rng.uniform(0.8, 1.0)
        if rng.random() < 0.6:  # most filmed walks cross the frame
            p[:, P["heading"]] = rng.choice([-1, 1]) * _deg(rng.uniform(50, 110))
    if rng.random() < 0.4:
        p[:, P["turn_rate"]] = _smooth_noise(rng, t, 2.0, rng.uniform(0.2, 0.8))
    return p


def turning(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Turning on the spot with small steps."""
    p = standing(rng, body, t)
    p[:, P["turn_rate"]] = rng.choice([-1, 1]) * rng.uniform(0.5, 2.0) + _smooth_noise(rng, t, 1.0, 0.3)
    theta = _phase(rng, t, rng.uniform(0.8, 1.2))
    for limb, phase in (("l_leg", theta), ("r_leg", theta + np.pi)):
        lift = np.maximum(0.0, np.cos(phase)) ** 2
        set_limb(p, limb, elev=_deg(10) * lift, plane=_deg(90), reach=0.99 - 0.05 * lift)
    return p


def squats(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Squats without leaving the ground: the hips go down and up, the feet stay put."""
    p = neutral_pose(rng, t)
    theta = _phase(rng, t, rng.uniform(0.25, 0.8), 0.05)
    depth = rng.uniform(0.15, 0.4) * (1 - np.cos(theta)) / 2
    for limb in ("l_leg", "r_leg"):
        set_limb(p, limb, elev=_deg(rng.uniform(4, 12)), plane=_deg(rng.uniform(0, 50)), reach=0.995 - depth)
    p[:, P["lean_fwd"]] += depth * rng.uniform(1.5, 3.0)
    arms = rng.choice(["forward", "chest", "hips"])
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        if arms == "forward":
            set_limb(
                p, limb, elev=_deg(rng.uniform(20, 40)) + depth * rng.uniform(1.5, 3.5), plane=_deg(90), reach=0.95
            )
        elif arms == "chest":
            set_limb(p, limb, elev=_deg(rng.uniform(30, 50)), plane=_deg(rng.uniform(100, 130)), reach=0.4)
        else:
            set_limb(p, limb, elev=_deg(25), plane=_deg(-40), reach=0.5, swivel=0.3)
    return p


def arm_circles(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Small circles with the arms held out, or big windmills through overhead."""
    p = neutral_pose(rng, t)
    theta = _phase(rng, t, rng.uniform(0.5, 2.0), 0.05)
    big = rng.random() < 0.4
    for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
        if big:  # full turns in the sagittal or frontal plane
            offset = np.pi if rng.random() < 0.3 and side < 0 else 0.0
            set_limb(p, limb, elev=theta + offset, plane=_deg(rng.choice([10, 80])), reach=0.97)
        else:
            radius = _deg(rng.uniform(8, 25))
            set_limb(
                p,
                limb,
                elev=_deg(rng.uniform(75, 100)) + radius * np.sin(theta),
                plane=_deg(rng.uniform(-5, 20)) + radius * np.cos(theta),
                reach=0.97,
            )
    return p


def stretching(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Slow stretches: side bends with an arm overhead, toe touches, torso twists, reaching up, reaching up
    then folding down to the feet, and windmills (a hand to the opposite foot, arms out)."""
    p = neutral_pose(rng, t)
    kind = rng.choice(["side_bend", "toe_touch", "twist", "reach_up", "up_down", "windmill"])
    theta = _phase(rng, t, rng.uniform(0.15, 0.5), 0.05)
    wave = np.sin(theta)
    if kind == "side_bend":
        p[:, P["lean_side"]] += _deg(rng.uniform(15, 35)) * wave
        for limb, side in (("l_arm", 1.0), ("r_arm", -1.0)):
            up = np.clip(-side * wave, 0, 1)
            set_limb(p, limb, elev=_deg(10 + rng.uniform(120, 160) * up), plane=_deg(10), reach=0.95)
    elif kind == "toe_touch":
        bend = (1 - np.cos(theta)) / 2
        p[:, P["lean_fwd"]] += _deg(rng.uniform(60, 95)) * bend
        for limb in ("l_leg", "r_leg"):
            set_limb(p, limb, elev=_deg(rng.uniform(-12, -4)) * bend, plane=_deg(90))
    elif kind == "twist":
        p[:, P["twist"]] = _deg(rng.uniform(25, 60)) * wave
        for limb in ("l_arm", "r_arm"):
            set_limb(
                p, limb, elev=_deg(rng.uniform(70, 95)), plane=_deg(rng.uniform(0, 30)), reach=rng.uniform(0.5, 0.97)
            )
    elif kind == "up_down":  # arms overhead, then fold forward with the hands towards the feet; legs still
        fold = (1 - np.cos(theta)) / 2
        lean = _deg(rng.uniform(60, 100)) * fold
        p[:, P["lean_fwd"]] += lean
        overhead, down = _deg(rng.uniform(140, 175)), _deg(rng.uniform(0, 20))
        for limb in ("l_arm", "r_arm"):  # arm angles are taken from the vertical, not from the bent torso
            set_limb(p, limb, elev=overhead * (1 - fold) + down * fold, plane=_deg(rng.uniform(60, 95)), reach=0.97)
    elif kind == "windmill":  # wide stance, arms out, twist and bend so one hand meets the opposite foot
        side = np.sin(theta)
        p[:, P["twist"]] = _deg(rng.uniform(30, 55)) * side
        p[:, P["lean_fwd"]] += _deg(rng.uniform(50, 90)) * np.abs(side) ** 0.7
        width = _deg(rng.uniform(12, 25))
        for limb in ("l_leg", "r_leg"):
            set_limb(p, limb, elev=width, plane=_deg(rng.uniform(-10, 10)))
        reach_down, reach_up = _deg(rng.uniform(65, 85)), _deg(rng.uniform(50, 75))
        for limb, sign in (("l_arm", 1.0), ("r_arm", -1.0)):  # one hand down across the body, the other up
            towards = np.clip(sign * side, 0, 1)
            away = np.clip(-sign * side, 0, 1)
            set_limb(p, limb, elev=_deg(90) - reach_down * towards + reach_up * away,
                     plane=_deg(rng.uniform(100, 125)) * towards, reach=0.97)
    else:
        up = (1 - np.cos(theta)) / 2
        for limb in ("l_arm", "r_arm"):
            set_limb(p, limb, elev=_deg(10 + rng.uniform(150, 175) * up), plane=_deg(rng.uniform(20, 90)), reach=0.97)
    return p


def arm_raised(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Near-miss for waving: one or both arms raised and held (pointing, asking, holding still), no wave."""
    p = standing(rng, body, t)
    limbs = ["l_arm", "r_arm"] if rng.random() < 0.3 else [rng.choice(["l_arm", "r_arm"])]
    for limb in limbs:
        set_limb(
            p,
            limb,
            elev=_deg(rng.uniform(60, 170)) + _smooth_noise(rng, t, 1.5, _deg(4)),
            plane=_deg(rng.uniform(-10, 90)) + _smooth_noise(rng, t, 1.5, _deg(4)),
            reach=rng.uniform(0.7, 0.98),
        )
    return p


def arms_overhead(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Near-miss for two-hand waving: both arms raised overhead, held still, lowered, maybe again later.

    Both arms go up together (out to the sides or in front), stay up for 0.3-5 s with only the small drift a
    person holding a pose shows, and come down; between raises the arms rest. A short hold is one raise, up
    and straight back down, which a window of the classifier cannot tell from one arc of waving; the rest
    before and after it can. Arms held up, or raised once, are OTHER: waving needs the hands to swing back and
    forth (real-extra's README gives the same rule). The shipped network read arms held overhead as
    WAVING_2HANDS on real footage (docs/experiments.md, "Real-footage round").
    """
    p = neutral_pose(rng, t)
    plane = _deg(rng.uniform(-10, 30) if rng.random() < 0.5 else rng.uniform(60, 100))
    top = _deg(rng.uniform(150, 190))
    up = np.zeros(len(t))
    start = rng.uniform(-2.0, 1.5)  # may start with the arms already up
    while start < t[-1]:
        rise, hold, fall = rng.uniform(0.4, 1.3), rng.uniform(0.3, 5.0), rng.uniform(0.4, 1.3)
        ramp_up = np.clip((t - start) / rise, 0, 1)
        ramp_down = np.clip((t - start - rise - hold) / fall, 0, 1)
        up = np.maximum(up, (1 - np.cos(np.pi * ramp_up)) / 2 * (1 - (1 - np.cos(np.pi * ramp_down)) / 2))
        start += rise + hold + fall + rng.uniform(1.0, 3.0)
    for limb in ("l_arm", "r_arm"):
        rest = _deg(rng.uniform(3, 15))
        set_limb(
            p,
            limb,
            elev=rest + (top + _deg(rng.uniform(-12, 12)) - rest) * up + _smooth_noise(rng, t, 1.5, _deg(2)),
            plane=plane + _deg(rng.uniform(-10, 10)) + _smooth_noise(rng, t, 1.5, _deg(2)),
            reach=rng.uniform(0.8, 0.99),
        )
    return p


def knee_raises(rng: np.random.Generator, body: Body, t: np.ndarray) -> np.ndarray:
    """Alternating knee raises (an exercise in the CMU set, labelled OTHER)."""
    p = neutral_pose(rng, t)
    theta = _phase(rng, t, rng.uniform(0.4, 1.0), 0.05)
    height = rng.uniform(50, 95)
    for limb, phase in (("l_leg", theta), ("r_leg", theta + np.pi)):
        lift = np.maximum(0.0, np.sin(phase)) ** 1.5
        set_limb(p, limb, elev=_deg(height) * lift, plane=_deg(90), reach=1 - 0.4 * lift)
    return p


@dataclass(frozen=True)
class MotionKind:
    """A generator with the class it shows and how often it is drawn among generators of that class."""

    name: str
    label: int
    generate: Generator
    weight: float = 1.0


KINDS: tuple[MotionKind, ...] = (
    MotionKind("jumping", CLASS_INDEX["JUMPING"], jumping),
    MotionKind("jumping_jacks", CLASS_INDEX["JUMPING_JACKS"], jumping_jacks),
    MotionKind("boxing", CLASS_INDEX["BOXING"], boxing),
    MotionKind("waving_2hands", CLASS_INDEX["WAVING_2HANDS"], waving_2hands),
    MotionKind("waving_1hand", CLASS_INDEX["WAVING_1HAND"], waving_1hand),
    MotionKind("clapping", CLASS_INDEX["CLAPPING_HANDS"], clapping),
    MotionKind("standing", CLASS_INDEX["OTHER"], standing, 2.0),
    MotionKind("walking", CLASS_INDEX["OTHER"], walking, 2.0),
    MotionKind("turning", CLASS_INDEX["OTHER"], turning, 0.5),
    MotionKind("squats", CLASS_INDEX["OTHER"], squats),
    MotionKind("arm_circles", CLASS_INDEX["OTHER"], arm_circles),
    MotionKind("stretching", CLASS_INDEX["OTHER"], stretching, 1.5),
    MotionKind("arm_raised", CLASS_INDEX["OTHER"], arm_raised),
    MotionKind("arms_overhead", CLASS_INDEX["OTHER"], arms_overhead, 1.5),
    MotionKind("knee_raises", CLASS_INDEX["OTHER"], knee_raises, 0.5),
)


STANDING = next(k for k in KINDS if k.name == "standing")


def pick_kind(rng: np.random.Generator, label: int) -> MotionKind:
    """A random generator for `label`, respecting the weights."""
    kinds = [k for k in KINDS if k.label == label]
    if not kinds:
        raise ValueError(f"no motion generator for class index {label}")
    weights = np.array([k.weight for k in kinds])
    return kinds[rng.choice(len(kinds), p=weights / weights.sum())]


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, an S-curve between: the cross-fade weight between two motions."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def random_clip(
    rng: np.random.Generator,
    label: int,
    fps: float,
    duration: float = 12.0,
    body: Body | None = None,
    lead_in: bool | None = None,
    lead_out: bool | None = None,
) -> Motion:
    """One person doing `label` for most of `duration` seconds, maybe with OTHER motion before and after.

    The main action fills at least 60% of the clip; lead-in and lead-out (each drawn with probability
    LEAD_SHARE unless forced) are standing or another OTHER motion, cross-faded over 0.2-0.8 s. A frame's label
    is the motion with the larger weight in the blend, so windows ending just after an action starts
    carry the action's label and windows ending in the lead-out carry OTHER.
    """
    body = body or Body.random(rng)
    n = max(2, round(duration * fps))
    t = np.arange(n) / fps
    other = CLASS_INDEX["OTHER"]
    lead_in = rng.random() < LEAD_SHARE if lead_in is None else lead_in
    lead_out = rng.random() < LEAD_SHARE if lead_out is None else lead_out
    spare = 0.4 * duration
    cuts: list[float] = []
    kinds = [pick_kind(rng, label)]
    if lead_in:
        cuts.append(rng.uniform(0.1, 0.5) * spare)
        kinds.insert(0, STANDING if rng.random() < 0.6 else pick_kind(rng, other))
    if lead_out:
        cuts.append(duration - rng.uniform(0.1, 0.5) * spare)
        kinds.append(STANDING if rng.random() < 0.6 else pick_kind(rng, other))
    params = kinds[0].generate(rng, body, t)
    labels = np.full(n, kinds[0].label, dtype=np.int64)
    for cut, kind in zip(cuts, kinds[1:]):
        fade = rng.uniform(0.2, 0.8)
        weight = smoothstep((t - cut) / fade + 0.5)
        params = blend(params, kind.generate(rng, body, t), weight)
        labels[t >= cut] = kind.label
    return Motion(forward_kinematics(params, body, fps), fps, labels, SOURCE)

"""The automatic pose input size: 256 px, and a larger input for a video whose main person is small in it.

MoveNet finds and places people well when they are about 100-250 px tall in its input and loses them below
about 50 px. On rendered figures (`python -m bench.person_size`; bench/README.md, "Small people"), a person
32 px tall in a 256-px input (81 px in a 640-px-wide frame) was found in 56% of frames, and in 99% at 512; at
65 px, found either way, the keypoint error fell from 0.026 to 0.015 person heights at 512. Where a person
already fills the input, a larger one does not help and, past about two thirds of it, hurts (found in 78% of
frames at 512). Low-resolution video (160x120, 64x64) with the person filling the frame is scaled up to 256
anyway, so its people are 100-200 px tall there: the size rule leaves it alone.

So pass 1 runs at 256 (cheap, and right for most video) and measures the main person's mean box height in
that input; when it is under `RERUN_BELOW_PX`, or nobody was found at all, pass 1 runs again at
`RERUN_INPUT_SIZE` (512: the person twice as tall, for about three times the cost per frame). Most videos pay
nothing; a far person costs one more, slower pass instead of a track full of holes.
"""

from __future__ import annotations

from collections.abc import Iterable

from har_core.auto_number import parse_auto_number
from har_core.tracking import TrackStats, choose_primary

BASE_INPUT_SIZE = 256
# Mean box height of the main person in the 256-px input (about 50 px of joints): below it MoveNet starts to lose
# people (found in 95% of frames at 48 px of joints, 56% at 32), and a larger input gains a lot (PCK 0.80 ->
# 0.93); from 65 to 95 px of box it gains little (PCK 0.91 -> 0.94) for two to three times the pose cost, as in
# a 1280x720 group shot whose people are about 70 px (bench/README.md, "Small people").
RERUN_BELOW_PX = 64
RERUN_INPUT_SIZE = 512
SIZE_STEP = 32  # MoveNet's input sides are multiples of this
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 128, 1024


def main_person_height(stats: Iterable[TrackStats], frame_size: tuple[int, int], input_size: int) -> float | None:
    """The main person's mean box height in MoveNet's input (px), or None when nobody was tracked.

    `frame_size` is the (width, height) the boxes are in; MoveNet scales that frame so its longer side is
    `input_size`. The main person is `choose_primary`'s, the one the results lead with.
    """
    by_id = {track.track_id: track for track in stats}
    if not by_id:
        return None
    track = by_id[choose_primary(by_id.values())]
    mean_height = track.height_sum / max(track.frames_present, 1)
    return mean_height * input_size / max(frame_size)


def larger_input_size(main_height_px: float | None, input_size: int = BASE_INPUT_SIZE) -> int | None:
    """The input size to estimate poses again at, or None when `input_size` already saw the main person well.

    Args:
        main_height_px: the main person's mean box height in the `input_size` input; None when nobody was found.
        input_size: the size pass 1 ran at.
    """
    small = main_height_px is None or main_height_px < RERUN_BELOW_PX
    return RERUN_INPUT_SIZE if small and input_size < RERUN_INPUT_SIZE else None


def parse_input_size(text: str) -> int | None:
    """An input size as typed on a command line: "auto" (None) or a multiple of 32 from 128 to 1024.

    Raises:
        argparse.ArgumentTypeError: anything else, with a message that says what is accepted.
    """
    return parse_auto_number(text, "input size", f"a multiple of {SIZE_STEP} from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}",
                             lambda value: value % SIZE_STEP == 0 and MIN_INPUT_SIZE <= value <= MAX_INPUT_SIZE)

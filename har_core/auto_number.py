"""Command-line values that are either "auto" or a whole number under a rule (`--input-size`, `--pose-every`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def parse_auto_number(text: str, what: str, accepted: str, is_valid: Callable[[int], bool]) -> int | None:
    """None for "auto", else the whole number `text` when `is_valid` accepts it.

    Raises:
        argparse.ArgumentTypeError: "invalid {what} {text!r}: must be auto or {accepted}", so argparse prints a
            message that says what is accepted, the same way for every such option.
    """
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not is_valid(value):
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: must be auto or {accepted}")
    return value

"""Errors users see. Each message is one line that names the problem and, where useful, what to do.

The CLI prints `str(error)` and exits non-zero; the dashboard shows it with `st.error`. Anything that
is not a `HarError` is a bug and is reported as such.
"""

from __future__ import annotations


class HarError(Exception):
    """Base class: the message is written for the user, not the developer."""

    exit_code = 2


class VideoError(HarError):
    """The input is not a readable video: not a video, truncated, no video stream, or no frames."""


class LimitError(HarError):
    """The input exceeds a configured limit (duration, frame count, resolution, file size)."""


class TooShortError(HarError):
    """The video has fewer frames than one classifier window."""


class NoPersonError(HarError):
    """No person was found in any frame."""


class ModelError(HarError):
    """A checkpoint is missing, unreadable, tampered with, or not one this version knows."""


class OutputError(HarError):
    """Results cannot be written (folder not writable, disk full)."""


class ClusterError(HarError):
    """Ray cannot be started here, or the cluster at the given address cannot be reached."""


class LabelError(HarError):
    """A user's labels cannot be learnt from: unknown class, a range outside its clip, a missing person or run."""

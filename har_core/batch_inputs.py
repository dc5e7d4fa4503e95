"""A batch's inputs: the command line's files, folders and glob patterns turned into a list of videos, each
with the name of its output folder.

Names are the file name without its suffix, made unique with "-2", "-3", ... in input order when two inputs
share one. The order is that of the command line, folders and patterns expanded in sorted order, so the
same command gives the same names every time, which is what lets a rerun find (and skip) its results.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from har_core.store import VIDEO_SUFFIXES

_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class BatchInput:
    """One video of a batch: where it is, and the name of its output folder (unique within the batch).

    `missing` holds why the input cannot be read (it does not exist), for the table's error column.
    """

    video: Path
    name: str
    missing: str = ""


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _expand(text: str) -> list[Path] | str:
    """The videos one INPUT stands for, or why it stands for none."""
    path = Path(text).expanduser()
    if path.is_dir():
        return sorted(found for found in path.rglob("*") if _is_video(found))
    if path.exists():
        return [path]
    if _GLOB_CHARACTERS & set(text):
        matches = sorted(Path(found) for found in glob.glob(str(path), recursive=True))
        videos = [found for match in matches
                  for found in ([match] if match.is_file() else sorted(match.rglob("*")))
                  if _is_video(found)]
        return videos or f"No video matches {text}."
    return f"No such file or folder: {text}."


def batch_inputs(inputs: list[str]) -> list[BatchInput]:
    """Expand INPUT arguments into the batch's videos (each once, even when named twice) with unique names.

    A file named explicitly is taken whatever its suffix (the analysis says if it is not a video); folders
    and patterns contribute the files with a video suffix. An input that names nothing becomes one entry
    with `missing` set, so the batch table reports it.
    """
    entries: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for text in inputs:
        expanded = _expand(text)
        if isinstance(expanded, str):
            entries.append((Path(text), expanded))
            continue
        for video in expanded:
            resolved = video.resolve()
            if resolved not in seen:
                seen.add(resolved)
                entries.append((video, ""))
    taken: set[str] = set()
    result = []
    for video, missing in entries:
        base = video.stem or "video"
        name, count = base, 1
        while name in taken:
            count += 1
            name = f"{base}-{count}"
        taken.add(name)
        result.append(BatchInput(video, name, missing))
    return result

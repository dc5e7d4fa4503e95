"""The atomic output folder: a result appears whole in its folder, or the folder is left as it was.

Everything is written into a hidden sibling on the same file system and renamed into place only when it
is complete, so a failure (or a killed process) never leaves a half-written result where a reader looks.
`pipeline.analyze` writes its four files this way, and the batch driver publishes the files a worker
sent back the same way.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from har_core.errors import OutputError
from har_core.outputs import OUTPUT_FILES


def staging_dir(out_dir: Path) -> Path:
    """A hidden, unique sibling of out_dir, on the same file system so the final rename is atomic.

    Made with mkdir (not mkdtemp, which forces mode 0700) so the published folder gets the usual umask.
    """
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.partial")
        staging.mkdir()
        return staging
    except OSError as exc:
        raise OutputError(f"Cannot create the output folder {out_dir}: {exc.strerror or exc}.") from exc


def check_out_dir(out_dir: Path) -> None:
    """out_dir may be missing, empty or a previous result (replaced); anything else is not ours to delete."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputError(f"The output path {out_dir} exists and is not a folder.")
    foreign = [entry.name for entry in out_dir.iterdir() if entry.name not in OUTPUT_FILES]
    if foreign:
        raise OutputError(f"The output folder {out_dir} holds other files ({foreign[0]}, ...); choose an empty "
                          "or new folder.")


def publish(staging: Path, out_dir: Path) -> None:
    """Move the finished staging folder to out_dir, replacing a previous result only after success.

    If the second rename fails, the previous result is moved back, so out_dir always holds a complete run.
    """
    try:
        if not out_dir.exists():
            os.replace(staging, out_dir)
            return
        old = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.old")
        os.replace(out_dir, old)
        try:
            os.replace(staging, out_dir)
        except OSError:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise OutputError(f"Cannot move the results into {out_dir}: {exc.strerror or exc}.") from exc


def publish_files(files: dict[str, bytes], out_dir: Path) -> None:
    """Write a result's files (name -> contents) into out_dir atomically, replacing a previous result."""
    check_out_dir(out_dir)
    staging = staging_dir(out_dir)
    try:
        for name, data in files.items():
            try:
                (staging / name).write_bytes(data)
            except OSError as exc:
                raise OutputError(f"Cannot write {out_dir / name}: {exc.strerror or exc}.") from exc
        publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""OpenVINO's compiled MoveNet kept in the user's cache, so that a run imports it instead of compiling it.

Reading the .tflite and compiling it for one input shape take about 0.4 s on a 2-core Xeon, in series before
the first pose of every analysis; importing the compiled model takes about 0.14 s and gives the same bits
(bench/README.md). A compiled model is only valid for the weights, OpenVINO version, CPU and compile settings
it was made with, so all of them go into its key (`blob_key`).

The cache is an optimisation and never a reason for a run to fail: a blob that is missing, truncated, damaged
or refused by OpenVINO is removed and the model compiled again, and a folder that cannot be written is simply
not used. Each file starts with the SHA-256 of the blob it holds and is renamed into place only once
complete; at most `MAX_BLOBS` files (about 10 MB each) are kept, the least recently used removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BLOBS = 8
SUFFIX = ".blob"
_DIGEST = hashlib.sha256().digest_size


def blob_key(*parts: object) -> str:
    """A file-name-safe key for everything a compiled model depends on (order matters)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CompiledModelCache:
    """Compiled models of one device in `folder`, one file per key."""

    folder: Path
    max_blobs: int = MAX_BLOBS

    def path(self, key: str) -> Path:
        return self.folder / f"movenet-{key}{SUFFIX}"

    def load(self, core: Any, key: str, config: dict[str, Any]) -> Any | None:
        """The compiled model stored under `key`, or None when there is none or it cannot be used."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest, blob = data[:_DIGEST], data[_DIGEST:]
        if len(data) <= _DIGEST or hashlib.sha256(blob).digest() != digest:
            self._discard(path)
            return None
        try:
            compiled = core.import_model(blob, "CPU", config)
        except RuntimeError:  # made by another OpenVINO build or for another CPU despite the key
            self._discard(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        return compiled

    def store(self, compiled: Any, key: str) -> None:
        """Keep `compiled` under `key`, then drop the least recently used files beyond `max_blobs`."""
        partial: Path | None = None
        try:
            blob = compiled.export_model().getvalue()
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".movenet-", suffix=".part",
                                             delete=False) as file:
                partial = Path(file.name)
                file.write(hashlib.sha256(blob).digest() + blob)
            os.replace(partial, self.path(key))
        except (OSError, RuntimeError):  # RuntimeError: OpenVINO could not export it
            if partial is not None:
                self._discard(partial)
            return
        self.prune()

    def prune(self) -> None:
        """Remove the least recently used files beyond `max_blobs`."""
        blobs = []
        for path in self.folder.glob(f"movenet-*{SUFFIX}"):
            with contextlib.suppress(OSError):
                blobs.append((path.stat().st_mtime, path))
        for _, path in sorted(blobs, reverse=True)[self.max_blobs :]:
            self._discard(path)

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

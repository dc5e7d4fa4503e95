"""har_core: human action recognition from video, as a library (no Streamlit here).

The public API, imported lazily so that `import har_core.skeleton` (training, tests) does not pay for
torch, PyAV and LiteRT::

    from har_core import AnalysisSettings, analyze, load_results
    result = analyze(Path("clip.mp4"), Path("out"), AnalysisSettings(people="primary"))
    run = load_results(result.out_dir)   # pandas frames + summary dict
    batch = run_batch(["videos/"], Path("results"), AnalysisSettings(), BatchOptions(workers=2))  # on Ray

Errors users see are `har_core.errors.HarError` subclasses.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisResult": "har_core.pipeline",
    "AnalysisSettings": "har_core.pipeline",
    "Progress": "har_core.pipeline",
    "analyze": "har_core.pipeline",
    "run_batch": "har_core.batch",
    "BatchOptions": "har_core.batch",
    "BatchResult": "har_core.batch",
    "RunResults": "har_core.outputs",
    "load_results": "har_core.outputs",
    "HarError": "har_core.errors",
    "VideoError": "har_core.errors",
    "LimitError": "har_core.errors",
    "NoPersonError": "har_core.errors",
    "TooShortError": "har_core.errors",
    "ModelError": "har_core.errors",
    "OutputError": "har_core.errors",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'har_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value

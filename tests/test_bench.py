"""The speed benchmark stays runnable: its smoke mode prints every figure issues 6 and 17 ask for.

Only that the figures are produced and sane is checked here; the figures themselves are recorded in
bench/README.md, not asserted (timings belong in benchmarks, not in tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_stages_speed_memory_classifier_and_baseline(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--cache", str(tmp_path / "clips"),
                           "--json", str(report)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    for words in ("real-time", "peak RSS", "decode", "pose", "encode", "windows/s", "baseline", "faster",
                  "THROUGHPUT", "thread", "CPU:"):
        assert words in done.stdout, words
    figures = json.loads(report.read_text())
    assert list(figures["runtimes"]) == ["openvino", "litert"]  # side by side, the default first
    for runtime, cases in figures["runtimes"].items():
        (case,) = cases.values()
        assert case["frames"] == 45 and case["wall_s"] > 0 and case["peak_mb"] > 50
        assert case["runtime"]["name"] == runtime and case["runtime"]["threads"] >= 1
    baseline = figures["baseline"]
    assert baseline["frames"] == 45 and baseline["runtime"]["name"] == "openvino"
    assert set(baseline["speedup"]) == set(baseline["cpu_ratio"]) == {"openvino", "litert"}
    assert min(baseline["speedup"].values()) > 0 and min(baseline["cpu_ratio"].values()) > 0
    # timed like the pipeline: from loading the models (a step of its own) to the last frame
    steps = baseline["timings"]
    assert steps["load_models"] > 0 and set(steps) > {"decode", "pose", "lstm", "render", "encode"}
    assert sum(steps.values()) <= baseline["wall_s"]

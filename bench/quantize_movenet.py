"""An INT8 MoveNet by NNCF post-training quantisation, calibrated on frames this project makes (issue 17).

    PYTHONPATH=/path/to/nncf python -m bench.quantize_movenet --out /tmp/movenet-int8/movenet.xml
    python -m bench.pose_runtime --configs openvino-f32,openvino-int8:/tmp/movenet-int8/movenet.xml --sets rendered

NNCF is not a dependency of the project (it would add nine packages for an experiment): install it
outside the project's environment, e.g. `pip install --target DIR --no-deps nncf==3.4.0 joblib ninja psutil
pydot scikit-learn tabulate threadpoolctl cloudpickle`, and put DIR on PYTHONPATH for this script only.

Calibration frames: rendered scenes (`models.synth.scenes.render_eval_clips` with a seed other than the
evaluation's, so the evaluation clips stay unseen) and the bundled sample video, letterboxed exactly as
the pipeline does (`MoveNetBackend.preprocess`) at 640x480 and 1280x720 shapes. The model keeps its
dynamic input; the result is an OpenVINO IR next to `--out`. `Int8Backend` runs it through the same
backend code (`bench.pose_runtime` uses it), and `--speed` prints its CPU cost per frame beside the
shipped model's.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
from pathlib import Path

import numpy as np

from har_core.pose.movenet import MoveNetBackend, load_movenet_bytes
from har_core.pose.movenet_runtime import OpenVINORuntime, read_tflite, user_cache_dir
from har_core.video import iter_frames
from models.evaluate import EVAL_SEED
from models.synth.scenes import render_eval_clips

SAMPLE = Path(__file__).resolve().parent.parent / "har_core" / "data" / "sample.mp4"
CALIBRATION_SEED = EVAL_SEED + 1000  # not the evaluation clips'


class Int8Backend(MoveNetBackend):
    """MoveNetBackend (same letterbox and parsing) running an OpenVINO IR instead of the shipped .tflite."""

    def __init__(self, model: Path, backend: str = "movenet", *, input_size: int = 256, device: str = "auto",
                 num_threads: int = 1, workers: int = 1, **_: object) -> None:
        """Built like `create_pose_backend(backend, ...)`, so it can stand in for it; other options are ignored."""
        super().__init__(input_size=input_size, device=device, num_threads=num_threads, runtime="litert")
        self.runtime = OpenVINORuntime(model, workers=workers, threads=num_threads)


def calibration_tensors(work: Path, clips_per_class: int, every: int) -> list[np.ndarray]:
    """Letterboxed model inputs from rendered clips (640x480 and 1280x720) and the sample video."""
    backend_input, tensors = MoveNetBackend(input_size=256, runtime="litert", num_threads=1), []
    for size in ((640, 480), (1280, 720)):
        clips = render_eval_clips(clips_per_class, CALIBRATION_SEED, work / f"{size[0]}", seconds=2.0, image_size=size)
        for clip in clips:
            tensors += [backend_input.preprocess(frame.image)[0]
                        for frame in itertools.islice(iter_frames(clip.video, 1920), 0, None, every)]
    tensors += [backend_input.preprocess(frame.image)[0]
                for frame in itertools.islice(iter_frames(SAMPLE, 1920), 0, None, every)]
    return tensors


def quantize(out: Path, clips_per_class: int, every: int) -> None:
    import nncf
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="har-int8-") as tmp:
        tensors = calibration_tensors(Path(tmp), clips_per_class, every)
    print(f"calibration: {len(tensors)} frames", flush=True)
    model = read_tflite(ov.Core(), load_movenet_bytes(), user_cache_dir())
    quantized = nncf.quantize(model, nncf.Dataset(tensors), subset_size=len(tensors),
                              preset=nncf.QuantizationPreset.MIXED)
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out))
    print(f"wrote {out}")


def cpu_ms_per_frame(backend: MoveNetBackend, frames: list[np.ndarray], repeats: int = 3) -> float:
    """Least process CPU time per frame over `repeats` passes (CPU time, since the machine may be shared)."""
    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    backend(frames[:4])
    best = float("inf")
    for _ in range(repeats):
        started = cpu()
        backend(frames)
        best = min(best, (cpu() - started) / len(frames) * 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the INT8 IR to write (.xml; .bin beside it)")
    parser.add_argument("--clips-per-class", type=int, default=3, help="rendered calibration clips per class and size")
    parser.add_argument("--every", type=int, default=6, help="calibrate on every Nth frame")
    parser.add_argument("--speed", action="store_true", help="only compare CPU ms/frame of an existing --out")
    args = parser.parse_args(argv)
    if not args.speed:
        quantize(args.out, args.clips_per_class, args.every)
    frames = [frame.image for frame in itertools.islice(iter_frames(SAMPLE, 256), 60)]
    for name, backend in (("litert f32", MoveNetBackend(num_threads=1, runtime="litert")),
                          ("openvino f32", MoveNetBackend(num_threads=1, precision="f32")),
                          ("openvino auto", MoveNetBackend(num_threads=1)),
                          ("openvino int8", Int8Backend(args.out))):
        print(f"{name:14s} {backend.info.runtime['precision']:5s} {cpu_ms_per_frame(backend, frames):6.2f} CPU ms/frame "
              "(1 thread, sample video)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where MoveNet's graph runs: OpenVINO (the default) or LiteRT, behind one small interface.

`MoveNetBackend` owns everything about frames and people (letterbox, thresholds, pixel coordinates); a
runtime only turns one uint8 input tensor [1, H, W, 3] into the model's raw [6, 56] output. Both
runtimes read the same verified .tflite bytes (`load_movenet_bytes`), so switching runtime changes the
arithmetic, never the model.

Every frame is one inference of batch one, whatever the caller's batching, and each runtime holds a
pool of identically configured executors (LiteRT interpreters; OpenVINO infer requests of one compiled
model), so a frame's keypoints do not depend on which other frames were in its batch or which worker
thread ran it. `infer` is thread safe: up to `workers` callers run at once, each on its own executor.

OpenVINO's TFLite reader needs a path ending in `.tflite` (it accepts neither bytes nor a stream in
2026.4), so the verified bytes go to an owner-only file in the user's cache for the instant of reading
and are deleted at once; the graph is then held in memory. It is read only when a compiled model is not
already in the user's cache (`har_core.pose.compiled_cache`: importing one takes a third of the time of
reading and compiling the graph, with the same results). The CPU plugin computes in its own choice of
precision by default (`auto`): bf16 on CPUs with bf16 instructions (AVX512-BF16, AMX), where it takes
about half the CPU time of f32, and f32 elsewhere. bf16 moves keypoints by a median 0.1-0.5 px of the
256-pixel input against LiteRT's f32, which changed the label of 2 of 89 evaluation clips, both near a tie
(bench/README.md); `f32` gives LiteRT's keypoints to within 1e-3 px.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import queue
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from har_core.errors import ModelError
from har_core.pose.compiled_cache import CompiledModelCache, blob_key

RUNTIMES: tuple[str, ...] = ("openvino", "litert")
DEFAULT_RUNTIME = "openvino"
PRECISIONS: tuple[str, ...] = ("auto", "f32", "bf16")
# `auto` flips 2 of 89 evaluation clips against LiteRT (both near a tie) for half the pose time on bf16 CPUs
# (bench/README.md); `f32` reproduces LiteRT exactly at about 85% of its time.
DEFAULT_PRECISION = "auto"


@dataclass(frozen=True)
class RuntimeInfo:
    """How MoveNet ran, for summary.json and the benchmark: runtime, its version, and its parallelism.

    `workers` frames run at once, each on `threads` threads; `hint` is OpenVINO's performance hint
    (LATENCY for one worker, THROUGHPUT for several), empty for LiteRT.
    """

    name: str
    version: str
    workers: int
    threads: int
    hint: str
    precision: str


@dataclass(frozen=True)
class Weights:
    """The .tflite as the runtimes take it: its SHA-256, and `read()`, which returns the verified bytes.

    Why not just the bytes: OpenVINO needs them only when its compiled model is not in the user's cache, and
    the wheel's manifest records the SHA-256, so a run that imports a compiled model never decompresses and
    hashes the 10 MB file (0.06 s of every analysis on a 2-core Xeon).
    """

    sha256: str
    read: Callable[[], bytes]

    @classmethod
    def of(cls, data: bytes) -> Weights:
        """Bytes already in memory."""
        return cls(hashlib.sha256(data).hexdigest(), lambda: data)


class MoveNetRuntime(ABC):
    """Runs the MoveNet graph on one input tensor at a time; thread safe up to `workers` callers."""

    @property
    @abstractmethod
    def info(self) -> RuntimeInfo:
        """The runtime's name, version and thread settings."""

    @abstractmethod
    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The model's (6, 56) float32 output for one uint8 tensor of shape (1, H, W, 3)."""


class _Pool:
    """Idle executors of one kind; a caller takes one (making a new one when all are busy) and gives it back."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._idle: queue.SimpleQueue = queue.SimpleQueue()

    @contextlib.contextmanager
    def taken(self) -> Iterator[Any]:
        try:
            executor = self._idle.get_nowait()
        except queue.Empty:
            executor = self._make()
        try:
            yield executor
        finally:
            self._idle.put(executor)


class LiteRTRuntime(MoveNetRuntime):
    """LiteRT (XNNPACK): one interpreter per concurrent caller, each with `threads` threads.

    An interpreter is re-allocated only when the input shape changes (once per video).
    """

    def __init__(self, weights: bytes, workers: int = 1, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._weights, self._threads, self._workers = weights, threads, workers
        self._interpreter_class = Interpreter
        self._pool = _Pool(self._new_interpreter)

    def _new_interpreter(self) -> list:
        """[interpreter, allocated input shape]: the shape travels with the interpreter it belongs to."""
        return [self._interpreter_class(model_content=self._weights, num_threads=self._threads), ()]

    @property
    def info(self) -> RuntimeInfo:
        from importlib.metadata import version

        return RuntimeInfo(name="litert", version=version("ai-edge-litert"), workers=self._workers,
                           threads=self._threads, hint="", precision="f32")

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        with self._pool.taken() as slot:
            interpreter, shape = slot
            input_index = interpreter.get_input_details()[0]["index"]
            if tensor.shape != shape:
                interpreter.resize_tensor_input(input_index, list(tensor.shape))
                interpreter.allocate_tensors()
                slot[1] = tensor.shape
            interpreter.set_tensor(input_index, tensor)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0].copy()


def user_cache_dir() -> Path:
    """This user's cache folder for har-dashboard (`$XDG_CACHE_HOME` or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "har-dashboard"


class OpenVINORuntime(MoveNetRuntime):
    """OpenVINO CPU: one compiled model per input shape (cached on disk), a pool of infer requests each.

    One worker compiles with the LATENCY hint (one stream on `threads` threads); several with THROUGHPUT
    and one stream per worker, so each concurrent frame has its own stream and cores never split a layer.
    """

    def __init__(self, weights: bytes | Weights | Path, workers: int = 1, threads: int = 1,
                 precision: str = DEFAULT_PRECISION,
                 cache_dir: Path | None = None) -> None:
        """`weights`: the verified .tflite (`Weights`, or its bytes), or the path of an OpenVINO IR (.xml)
        derived from it, such as the INT8 model `bench/quantize_movenet.py` makes (not cached)."""
        import openvino as ov

        if precision not in PRECISIONS:
            raise ModelError(f"unknown OpenVINO precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self._ov = ov
        self._workers, self._threads, self._precision = workers, threads, precision
        self._core = ov.Core()
        if precision == "auto":  # the plugin's default for this CPU, asked for explicitly so it is on record
            self._precision = self._core.get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
        self._weights = Weights.of(weights) if isinstance(weights, bytes) else weights
        self._cache_dir = cache_dir or user_cache_dir()
        self._blobs = CompiledModelCache(self._cache_dir / "openvino")
        self._model: Any = None  # the graph, read on the first cache miss
        self._compiled: dict[tuple[int, ...], _Pool] = {}
        self._lock = threading.Lock()
        self._warm_lock = threading.Lock()

    @property
    def info(self) -> RuntimeInfo:
        return RuntimeInfo(name="openvino", version=self._ov.get_version().split("-")[0], workers=self._workers,
                           threads=self._threads, hint=self._hint(), precision=self._precision)

    def _hint(self) -> str:
        return "LATENCY" if self._workers == 1 else "THROUGHPUT"

    def _config(self) -> dict[str, Any]:
        import openvino.properties as props
        import openvino.properties.hint as hints

        return {
            hints.performance_mode: getattr(hints.PerformanceMode, self._hint()),
            props.num_streams: self._workers,
            props.inference_num_threads: self._workers * self._threads,
            hints.inference_precision: getattr(self._ov.Type, self._precision),
        }

    def _requests(self, shape: tuple[int, ...]) -> _Pool:
        """The infer-request pool of the model compiled for `shape`, compiling it on first use."""
        with self._lock:
            pool = self._compiled.get(shape)
            if pool is None:
                pool = self._compiled[shape] = _Pool(functools.partial(self._warmed_request, self._compile(shape),
                                                                       shape))
        return pool

    def _compile(self, shape: tuple[int, ...]) -> Any:
        """MoveNet compiled for `shape`: imported from the cache when it holds it, else compiled and stored."""
        config = self._config()
        key = self._blob_key(self._weights, shape, config) if isinstance(self._weights, Weights) else None
        compiled = None if key is None else self._blobs.load(self._core, key, config)
        if compiled is not None:
            return compiled
        if self._model is None:
            self._model = (self._core.read_model(self._weights) if isinstance(self._weights, Path)
                           else read_tflite(self._core, self._weights.read(), self._cache_dir))
        self._model.reshape({self._model.inputs[0].get_any_name(): list(shape)})  # compile_model copies it
        try:
            compiled = self._core.compile_model(self._model, "CPU", config)
        except RuntimeError as error:
            raise ModelError(f"OpenVINO could not compile MoveNet for input {shape}: {error}") from error
        if key is not None:
            self._blobs.store(compiled, key)
        return compiled

    def _blob_key(self, weights: Weights, shape: tuple[int, ...], config: dict[str, Any]) -> str:
        """What a compiled model depends on: the weights, OpenVINO's build, the CPU, the settings and the shape."""
        cpu = [self._core.get_property("CPU", name) for name in ("FULL_DEVICE_NAME", "OPTIMIZATION_CAPABILITIES")]
        settings = sorted((str(name), str(value)) for name, value in config.items())
        return blob_key(weights.sha256, self._ov.get_version(), cpu, settings, shape)

    def _warmed_request(self, compiled: Any, shape: tuple[int, ...]) -> Any:
        """A new infer request that has already run once, its first inference alone in the process.

        Two fresh requests running their first inference at the same time can hang for good in the CPU
        plugin when cores are scarce (seen here: both workers asleep in their first `infer` on a busy 2-core
        machine, and reported elsewhere for concurrent first inferences on few cores). After one inference
        each, requests run side by side without trouble, so each new request runs one on zeros first, under
        a lock that only new requests take.
        """
        with self._warm_lock:
            request = compiled.create_infer_request()
            request.infer({0: np.zeros(shape, dtype=np.uint8)})
        return request

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        with self._requests(tensor.shape).taken() as request:
            return request.infer({0: tensor})[0][0].copy()


def read_tflite(core: Any, weights: bytes, cache: Path) -> Any:
    """Read the .tflite into an in-memory OpenVINO model through a file that lives only while it is read."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, prefix="movenet-", suffix=".tflite") as file:
            file.write(weights)
            file.flush()
            return core.read_model(file.name, config={"ENABLE_MMAP": False})
    except OSError as error:
        raise ModelError(f"OpenVINO needs a writable cache folder for reading MoveNet ({cache}: "
                         f"{error.strerror or error}); set XDG_CACHE_HOME or use --pose-runtime litert") from error
    except RuntimeError as error:
        raise ModelError(f"OpenVINO could not read MoveNet: {str(error).strip().splitlines()[-1]}") from error


def create_runtime(name: str, weights: bytes | Weights, workers: int = 1, threads: int = 1,
                   precision: str = DEFAULT_PRECISION) -> MoveNetRuntime:
    """The named runtime on `weights`: `workers` frames at once, each on `threads` threads.

    `precision` is OpenVINO's (`auto`: the CPU plugin's fastest, see the module docstring); LiteRT runs f32.

    Raises:
        ModelError: unknown runtime name or a runtime that cannot load the model.
    """
    if workers < 1 or threads < 1:
        raise ModelError(f"MoveNet needs at least one worker and one thread, got {workers} and {threads}")
    if name == "openvino":
        return OpenVINORuntime(weights, workers=workers, threads=threads, precision=precision)
    if name == "litert":
        return LiteRTRuntime(weights if isinstance(weights, bytes) else weights.read(), workers=workers,
                             threads=threads)
    raise ModelError(f"unknown MoveNet runtime {name!r}: choose one of {', '.join(RUNTIMES)}")

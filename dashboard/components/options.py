"""Option widgets shared by the pages that analyse (Analyze, Live), so both offer the same choices."""

from __future__ import annotations

from streamlit.delta_generator import DeltaGenerator

from dashboard.components import services
from har_core.pose import RUNTIMES

BACKEND_NAMES = {"movenet": "MoveNet MultiPose (fast, CPU)", "detectron2": "Detectron2 Keypoint R-CNN (GPU)"}
RUNTIME_NAMES = {"openvino": "OpenVINO (faster)", "litert": "LiteRT"}
DEVICES = {"auto": "Automatic", "cpu": "CPU", "cuda": "GPU (CUDA)"}


def runtime_choice(column: DeltaGenerator, key: str, disabled: bool = False) -> str:
    """What runs MoveNet (same weights either way)."""
    return column.selectbox("MoveNet runtime", RUNTIMES, format_func=lambda r: RUNTIME_NAMES.get(r, r), key=key,
                            disabled=disabled, help="What runs MoveNet; both read the same weights and find the "
                            "same keypoints within a fraction of a pixel.")


def model_choice(column: DeltaGenerator, key: str, disabled: bool = False) -> str | None:
    """The action model: the active one unless the user picks another of theirs or the shipped one (None)."""
    library = services.library()
    models = {None: "Shipped model", **{str(m.path): f"Fine-tuned {m.model_id}" for m in library.models()}}
    active = library.active()
    default = list(models).index(str(active.path)) if active is not None else 0
    return column.selectbox("Action model", list(models), index=default, format_func=models.get, key=key,
                            disabled=disabled,
                            help="Fine-tune your own on the Teach page; the active one is chosen by default.")

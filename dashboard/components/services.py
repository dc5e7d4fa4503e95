"""The long-lived objects behind every page, created once per server process and shared by all sessions.

The store and the job manager live in `st.cache_resource` so that every browser session (and every
rerun) sees the same jobs: a run started in one tab is followed from another, and survives reloads.
They are keyed by the store root so tests can point each app instance at its own `HAR_RUNS_DIR`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from dashboard.data import read_frame
from har_core.jobs import JobManager
from har_core.outputs import RunResults, load_results
from har_core.store import RunStore, default_runs_dir
from har_core.user_models import FinetuneJobs, ModelLibrary


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    """Open the store once per root; opening marks runs interrupted by a previous crash as failed."""
    return RunStore(Path(root))


@st.cache_resource(show_spinner=False)
def _jobs(root: str) -> JobManager:
    return JobManager(_store(root))


@st.cache_resource(show_spinner=False)
def _finetune_jobs(root: str) -> FinetuneJobs:
    from models.finetune import run_job  # imports Lightning: only when someone opens the Teach page

    return FinetuneJobs(ModelLibrary.of(_store(root)), run_job)


def _root() -> str:
    return str(default_runs_dir().expanduser().resolve())


def store() -> RunStore:
    """The run store at `$HAR_RUNS_DIR` (or the default location)."""
    return _store(_root())


def jobs() -> JobManager:
    """The job manager writing into `store()`."""
    return _jobs(_root())


def library() -> ModelLibrary:
    """The user's fine-tuned models, kept with `store()` (cheap: a folder listing, not cached)."""
    return ModelLibrary.of(store())


def finetune_jobs() -> FinetuneJobs:
    """The fine-tuning jobs writing into `library()`."""
    return _finetune_jobs(_root())


@st.cache_resource(show_spinner=False, max_entries=16)
def _results(results_dir: str) -> RunResults:
    return load_results(Path(results_dir))


def results(run_id: str) -> RunResults | None:
    """The outputs of a finished run, read once and shared (results never change after a run is done).

    None when the run does not exist, is not finished, or its files are not inside the store.
    """
    summary = store().result_file(run_id, "summary.json")
    return None if summary is None else _results(str(summary.parent))


@st.cache_data(show_spinner=False, max_entries=64)
def frame_image(video: str, index: int) -> np.ndarray:
    """One decoded frame of a result video, cached because the inspector revisits frames."""
    return read_frame(Path(video), index)

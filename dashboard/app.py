"""har-dashboard entry point: a router that declares the pages and runs the chosen one.

Start it from the repository root with ``python -m streamlit run dashboard/app.py`` (``make run``).
Runs are stored under ``$HAR_RUNS_DIR`` (default ``~/.local/share/har-dashboard/runs``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root holding
# har_core and the dashboard package; add it (a no-op under `python -m streamlit`).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Imported only now: they need the path set up above.
from dashboard.components import services
from har_core.errors import HarError

st.set_page_config(page_title="HAR Dashboard", page_icon="🏃", layout="wide")
try:
    services.store()
except HarError as exc:  # e.g. HAR_RUNS_DIR not writable: say so instead of failing on every page
    st.error(str(exc), icon=":material/error:")
    st.stop()

PAGES = [
    st.Page("pages/analyze.py", title="Analyze", icon=":material/play_circle:", default=True),
    st.Page("pages/live.py", title="Live", icon=":material/videocam:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
    st.Page("pages/teach.py", title="Teach", icon=":material/school:"),
]

page = st.navigation(PAGES, position="top")
page.run()

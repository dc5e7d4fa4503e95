"""A batch at a glance on the Runs page: videos and failures, time per action across its videos, batch.csv.

The figures come from `har_core.batch_table.summarize_batch` on the copy of batch.csv that
`python -m har_core batch --store` keeps in the run store, so they are the CLI's own.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.components import services
from har_core.batch_table import read_batch_table, summarize_batch

MAX_BARS = 30  # more videos than this are shown as one bar for the whole batch


def _per_action_table(per_video: pd.DataFrame, videos: int) -> pd.DataFrame:
    """The chart's long table (series, action, seconds): a bar per video, or one for the whole batch."""
    table = per_video.rename(columns={"video": "series"})
    if table["series"].nunique() > MAX_BARS:
        table = table.groupby("action", as_index=False)["seconds"].sum().assign(series=f"all {videos} videos")
    return table


def show_batch_summary(name: str) -> None:
    """Counts, the time-per-action chart, the failures and a batch.csv download for the batch `name`."""
    path = services.store().batch_table(name)
    if path is None:
        st.info(f"The batch table of {name} was not recorded in the run store; its runs are listed below.")
        return
    summary = summarize_batch(read_batch_table(path))
    cols = st.columns([1, 1, 1, 1, 1.3], vertical_alignment="bottom")
    cols[0].metric("Videos", summary.videos, border=True)
    cols[1].metric("Analysed", summary.done, border=True)
    cols[2].metric("Already analysed", summary.skipped, border=True)
    cols[3].metric("Failed", summary.failed, border=True)
    cols[4].download_button("batch.csv", data=partial(path.read_bytes), file_name=f"{name}-batch.csv",
                            mime="text/csv", on_click="ignore", icon=":material/download:", key="batch_csv",
                            width="stretch")
    table = _per_action_table(summary.per_video, summary.videos - summary.failed)
    if table.empty:
        st.info("No action was recognised in this batch's videos.")
    else:
        st.subheader("Time per action", anchor=False)
        st.plotly_chart(charts.time_per_action_figure(table), key="batch_time")
    if summary.failures:
        st.subheader("Failures", anchor=False)
        st.dataframe(pd.DataFrame(summary.failures, columns=["video", "error"]), hide_index=True, width="stretch")

"""Plotly figure builders for every chart in the dashboard (no Streamlit here, so each is unit-testable).

Every chart colours a class with `har_core.skeleton.CLASS_COLORS`, so an action looks the same in the
video overlay, the timeline, the bars and the comparison. Lines that should answer clicks are drawn
with markers: Plotly reports selections on markers only, and the frame number rides along in
`customdata` so a click maps to an exact frame even on a thinned-out line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.data import PersonSeries
from har_core.skeleton import BONES, CLASS_COLORS, CLASSES, JOINT_NAMES, UNCERTAIN, UNCERTAIN_COLOR

MAX_POINTS = 1500
"""Points per line before thinning: enough for smooth lines, few enough for SVG and click targets."""

CURSOR_COLOR = "#1F2433"
FONT = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13, "color": "#1F2433"}
GRID = "#E9EBF2"
PERSON_COLORS = ("#4F46E5", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#0072B2", "#7F7F7F")
JOINT_COLORS = ("#4F46E5", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#0072B2", "#882255")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
LABEL_COLORS = {**CLASS_COLORS, UNCERTAIN: UNCERTAIN_COLOR}


def label_color(label: str) -> str:
    """The fixed colour of a class label (grey for UNCERTAIN and anything unknown)."""
    return LABEL_COLORS.get(label, UNCERTAIN_COLOR)


def thin(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices that keep at most `max_points` of `n` evenly spaced, always including the last one."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def _style(fig: go.Figure, height: int, legend: bool = True) -> go.Figure:
    """The dashboard's common look: white background, light grid, compact margins, legend on top."""
    fig.update_layout(
        height=height,
        template="plotly_white",
        font=FONT,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title_text": ""},
        hoverlabel={"font_size": 12},
    )
    fig.update_xaxes(gridcolor=GRID, zeroline=False)
    fig.update_yaxes(gridcolor=GRID, zeroline=False)
    return fig


def _cursor(fig: go.Figure, time_s: float | None) -> None:
    """A vertical line at the inspected time across every subplot."""
    if time_s is not None:
        fig.add_vline(x=time_s, line={"color": CURSOR_COLOR, "width": 1.5, "dash": "dot"}, row="all", col="all")


def timeline_figure(series: PersonSeries, segments: Sequence[dict], threshold: float | None = None,
                    cursor_s: float | None = None, revision: str = "",
                    labelled: Sequence[tuple[float, float, str]] = ()) -> go.Figure:
    """Per-frame class probabilities of one person, with their action segments as a band above.

    Args:
        series: the person's frames, times and probabilities.
        segments: that person's segments from summary.json (label, start_s, end_s, start_frame, ...).
        threshold: the uncertainty threshold, drawn as a dashed line.
        cursor_s: time of the inspected frame.
        revision: `uirevision`; a constant per run keeps zoom and legend state across reruns.
        labelled: the user's labelled ranges of this person (start_s, end_s, class), drawn as tinted bands
            behind the probabilities in the class's colour, named at the top.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.13, 0.87], vertical_spacing=0.04)
    by_label: dict[str, list[dict]] = {}
    for segment in segments:
        by_label.setdefault(segment["label"], []).append(segment)
    for label, items in by_label.items():
        fig.add_trace(go.Bar(
            x=[max(s["end_s"] - s["start_s"], 1e-3) for s in items],
            base=[s["start_s"] for s in items],
            y=["actions"] * len(items),
            orientation="h",
            name=label,
            legendgroup=label,
            showlegend=False,
            marker={"color": label_color(label), "line": {"width": 1, "color": "white"}},
            text=[label.replace("_", " ").lower()] * len(items), textposition="inside", insidetextanchor="middle",
            textfont={"color": "white", "size": 11}, constraintext="both",
            customdata=[[s["start_frame"], s["mean_confidence"], s["start_s"], s["end_s"]] for s in items],
            hovertemplate=(f"<b>{label}</b><br>%{{customdata[2]:.2f}}–%{{customdata[3]:.2f}} s"
                           "<br>mean confidence %{customdata[1]:.2f}<extra></extra>"),
        ), row=1, col=1)
    keep = thin(len(series.times))
    for index, name in enumerate(CLASSES):
        fig.add_trace(go.Scatter(
            x=series.times[keep],
            y=series.probs[keep, index],
            customdata=series.frames[keep],
            mode="lines+markers",
            name=name,
            legendgroup=name,
            line={"color": CLASS_COLORS[name], "width": 2},
            marker={"color": CLASS_COLORS[name], "size": 5},
            selected={"marker": {"size": 10, "opacity": 1}},
            unselected={"marker": {"opacity": 1}},
            hovertemplate=f"{name} %{{y:.2f}}<extra>frame %{{customdata}}</extra>",
        ), row=2, col=1)
    if threshold is not None:
        fig.add_hline(y=threshold, line={"color": "#9AA0B4", "width": 1, "dash": "dash"}, row=2, col=1)
    for start_s, end_s, label in labelled:
        fig.add_vrect(x0=start_s, x1=end_s, fillcolor=label_color(label), opacity=0.16, line_width=0, layer="below",
                      annotation_text=f"labelled {label.replace('_', ' ').lower()}", annotation_position="top left",
                      annotation_font={"size": 10, "color": label_color(label)}, row=2, col=1)
    _cursor(fig, cursor_s)
    fig.update_layout(barmode="overlay", hovermode="closest", uirevision=revision or None, bargap=0.1)
    fig.update_yaxes(showticklabels=False, showgrid=False, fixedrange=True, row=1, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="probability", fixedrange=True, row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    return _style(fig, height=420)


def probability_bars(probs: np.ndarray, threshold: float | None = None) -> go.Figure:
    """Class probabilities at one frame as horizontal bars (all NaN: the person has no prediction there)."""
    values = np.nan_to_num(np.asarray(probs, dtype=float), nan=0.0)
    fig = go.Figure(go.Bar(
        x=values, y=list(CLASSES), orientation="h",
        marker={"color": [CLASS_COLORS[c] for c in CLASSES]},
        text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    if threshold is not None:
        fig.add_vline(x=threshold, line={"color": "#9AA0B4", "width": 1, "dash": "dash"})
    fig.update_xaxes(range=[0, 1.12], title_text="probability", fixedrange=True)
    fig.update_yaxes(autorange="reversed", fixedrange=True)
    return _style(fig, height=260, legend=False)


def skeleton_figure(people: Sequence[tuple[int, np.ndarray]], width: int, height: int,
                    colors: dict[int, str] | None = None, min_score: float = 0.25) -> go.Figure:
    """The people of one frame as stick figures in picture coordinates (y down, equal aspect).

    Args:
        people: (person id, keypoints (17, 3) x, y, score) for each person in the frame.
        width, height: the picture size, so the figure frames the whole picture.
        colors: colour per person id (e.g. the colour of their current action).
        min_score: joints below this are not drawn (the estimator did not see them).
    """
    fig = go.Figure()
    for order, (person_id, keypoints) in enumerate(people):
        color = (colors or {}).get(person_id, PERSON_COLORS[order % len(PERSON_COLORS)])
        seen = keypoints[:, 2] >= min_score
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b in BONES:
            if seen[a] and seen[b]:
                xs += [float(keypoints[a, 0]), float(keypoints[b, 0]), None]
                ys += [float(keypoints[a, 1]), float(keypoints[b, 1]), None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": 4}, hoverinfo="skip",
                                 legendgroup=str(person_id), showlegend=False))
        fig.add_trace(go.Scatter(
            x=keypoints[seen, 0], y=keypoints[seen, 1], mode="markers", name=f"person {person_id}",
            legendgroup=str(person_id),
            marker={"color": "white", "size": 8, "line": {"color": color, "width": 2.5}},
            customdata=np.stack([np.array(JOINT_NAMES)[seen], keypoints[seen, 2].round(2)], axis=1),
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>x %{x:.0f}, y %{y:.0f}<extra></extra>",
        ))
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, showticklabels=False, constrain="domain")
    fig.update_yaxes(range=[height, 0], showgrid=False, zeroline=False, showticklabels=False, scaleanchor="x",
                     scaleratio=1, constrain="domain")
    fig = _style(fig, height=320, legend=len(people) > 1)
    fig.update_layout(plot_bgcolor="#F4F5FA", margin={"l": 0, "r": 0, "t": 30, "b": 0})
    return fig


def trajectory_figure(keypoints: pd.DataFrame, joints: Sequence[str], min_score: float = 0.25,
                      cursor_s: float | None = None) -> go.Figure:
    """x and y of chosen joints over time for one person; unseen joints leave gaps instead of jumps.

    Args:
        keypoints: that person's rows of keypoints.csv.
        joints: joint names to draw.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for index, joint in enumerate(joints):
        rows = keypoints[keypoints["joint"] == joint].sort_values("frame")
        keep = thin(len(rows))
        rows = rows.iloc[keep]
        hidden = rows["score"].to_numpy() < min_score
        color = JOINT_COLORS[index % len(JOINT_COLORS)]
        for row, axis in ((1, "x"), (2, "y")):
            values = rows[axis].to_numpy(dtype=float).copy()
            values[hidden] = np.nan
            fig.add_trace(go.Scatter(
                x=rows["time_s"], y=values, mode="lines", name=joint.replace("_", " "), legendgroup=joint,
                showlegend=row == 1, line={"color": color, "width": 2},
                hovertemplate=f"{joint} {axis} %{{y:.0f}} px<extra></extra>",
            ), row=row, col=1)
    _cursor(fig, cursor_s)
    fig.update_yaxes(title_text="x (px)", row=1, col=1)
    fig.update_yaxes(title_text="y (px, down)", autorange="reversed", row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    return _style(fig, height=420)


def confidence_heatmap(keypoints: pd.DataFrame, cursor_s: float | None = None) -> go.Figure:
    """Keypoint confidence of one person as a joint x time heatmap: where the estimator lost which joint."""
    table = keypoints.pivot_table(index="joint", columns="time_s", values="score", aggfunc="mean")
    table = table.reindex([j for j in JOINT_NAMES if j in table.index])
    keep = thin(table.shape[1])
    table = table.iloc[:, keep]
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=table.columns.to_numpy(), y=[j.replace("_", " ") for j in table.index],
        zmin=0, zmax=1, colorscale="Viridis", colorbar={"title": {"text": "score"}, "thickness": 12},
        hovertemplate="%{y} at %{x:.2f} s: %{z:.2f}<extra></extra>",
    ))
    _cursor(fig, cursor_s)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="time (s)")
    return _style(fig, height=420, legend=False)


def compare_figure(series: Sequence[tuple[str, PersonSeries]], classes: Sequence[str] = CLASSES) -> go.Figure:
    """Class probabilities of several runs or people, one panel per class, aligned on time.

    Each panel uses its class colour; the compared series differ by line style (see the legend).
    """
    fig = make_subplots(rows=len(classes), cols=1, shared_xaxes=True, vertical_spacing=0.045,
                        subplot_titles=[c.replace("_", " ").lower() for c in classes])
    for order, (name, item) in enumerate(series):
        dash = DASHES[order % len(DASHES)]
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, legendgroup=name,
                                 line={"color": "#5B6175", "dash": dash, "width": 2}), row=1, col=1)
        keep = thin(len(item.times))
        for row, cls in enumerate(classes, start=1):
            fig.add_trace(go.Scatter(
                x=item.times[keep], y=item.probs[keep, CLASSES.index(cls)], mode="lines", name=name,
                legendgroup=name, showlegend=False, line={"color": CLASS_COLORS[cls], "dash": dash, "width": 2},
                hovertemplate=f"{name}<br>{cls} %{{y:.2f}} at %{{x:.2f}} s<extra></extra>",
            ), row=row, col=1)
    fig.update_yaxes(range=[-0.05, 1.05], nticks=3, fixedrange=True)
    fig.update_xaxes(title_text="time (s)", row=len(classes), col=1)
    fig.update_annotations(font={"size": 12}, x=0, xanchor="left")
    return _style(fig, height=110 * len(classes) + 80)


def difference_figure(times: np.ndarray, difference: np.ndarray, names: tuple[str, str]) -> go.Figure:
    """Per-class probability difference (first minus second) on a common time grid."""
    fig = go.Figure()
    keep = thin(len(times))
    for index, cls in enumerate(CLASSES):
        fig.add_trace(go.Scatter(x=times[keep], y=difference[keep, index], mode="lines", name=cls,
                                 line={"color": CLASS_COLORS[cls], "width": 2},
                                 hovertemplate=f"{cls} %{{y:+.2f}}<extra></extra>"))
    fig.add_hline(y=0, line={"color": "#9AA0B4", "width": 1})
    fig.update_yaxes(range=[-1.05, 1.05], title_text=f"{names[0]} − {names[1]}")
    fig.update_xaxes(title_text="time (s)")
    fig.update_layout(hovermode="x unified")
    return _style(fig, height=360)


def time_per_action_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars of seconds per action for each compared series.

    Args:
        table: long format with columns series, action, seconds.
    """
    fig = go.Figure()
    for action in [*CLASSES, UNCERTAIN]:
        rows = table[table["action"] == action]
        if rows.empty:
            continue
        fig.add_trace(go.Bar(y=rows["series"], x=rows["seconds"], name=action, orientation="h",
                             marker={"color": label_color(action)},
                             hovertemplate=f"{action}: %{{x:.1f}} s<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="seconds")
    fig.update_yaxes(autorange="reversed")
    return _style(fig, height=90 + 46 * table["series"].nunique())


def training_curves(metrics: pd.DataFrame) -> go.Figure:
    """Loss and accuracy-like columns of a training log (metrics.csv) against epoch (or step).

    An ensemble's log has a `member` column: each member gets its own line per metric (same colour,
    its own dash), so the members' runs can be compared.
    """
    x_name = "epoch" if "epoch" in metrics.columns else "step" if "step" in metrics.columns else None
    skip = {"epoch", "step", "member"}
    numeric = [c for c in metrics.columns if c not in skip and pd.api.types.is_numeric_dtype(metrics[c])]
    losses = [c for c in numeric if "loss" in c]
    scores = [c for c in numeric if c not in losses]
    members = sorted(metrics["member"].unique()) if "member" in metrics.columns else [None]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy and other metrics"], horizontal_spacing=0.08)
    for number, member in enumerate(members):
        rows = metrics if member is None else metrics[metrics["member"] == member]
        x_values = rows[x_name] if x_name else pd.Series(np.arange(len(rows)), index=rows.index)
        suffix = "" if len(members) == 1 else f" · member {member}"
        for col, columns in ((1, losses), (2, scores)):
            for index, name in enumerate(columns):
                mask = rows[name].notna()
                line = {"color": JOINT_COLORS[(index + 3 * (col - 1)) % len(JOINT_COLORS)], "width": 2,
                        "dash": ("solid", "dash", "dot", "dashdot")[number % 4]}
                fig.add_trace(go.Scatter(x=x_values[mask], y=rows[name][mask], mode="lines+markers",
                                         name=f"{name}{suffix}", marker={"size": 4}, line=line), row=1, col=col)
    fig.update_xaxes(title_text=x_name or "row")
    return _style(fig, height=360)


def rolling_probabilities(times: np.ndarray, probs: np.ndarray, now_s: float, window_s: float,
                          threshold: float | None = None) -> go.Figure:
    """One person's class probabilities over the last `window_s` seconds of a live stream, newest on the right.

    The x axis is seconds before `now_s` (fixed from -window_s to 0) so the chart scrolls instead of
    rescaling; rows of NaN (warming up) leave gaps.
    """
    fig = go.Figure()
    for index, name in enumerate(CLASSES):
        fig.add_trace(go.Scatter(x=times - now_s, y=probs[:, index], mode="lines", name=name,
                                 line={"color": CLASS_COLORS[name], "width": 2},
                                 hovertemplate=f"{name} %{{y:.2f}}<extra></extra>"))
    if threshold is not None:
        fig.add_hline(y=threshold, line={"color": "#9AA0B4", "width": 1, "dash": "dash"})
    fig.update_xaxes(range=[-window_s, 0], title_text="seconds ago", fixedrange=True)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="probability", fixedrange=True)
    fig.update_layout(uirevision="live", hovermode="x unified")
    return _style(fig, height=320)

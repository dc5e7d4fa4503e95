"""Model: the action model's card: classes, training data, accuracy, confusion matrix, training curves.

Everything shown is read from the shipped checkpoint folder and `models/model_card.md`, so the page
always describes the model that the analyses actually use.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import charts
from har_core.classifier import CONFIG_FILE, DEFAULT_CHECKPOINT
from har_core.skeleton import CLASS_COLORS, CLASSES

MODEL_CARD = DEFAULT_CHECKPOINT.parent / "model_card.md"
METRICS_FILE = DEFAULT_CHECKPOINT / "metrics.csv"
CONFUSION_FILE = MODEL_CARD.parent / "confusion_matrix.png"
EVALUATION_FILE = MODEL_CARD.parent / "metrics.json"
DIAGNOSTIC_SETS = {"simulated": "simulated windows", "mocap": "real mocap windows", "rendered": "rendered clips"}
REAL_PARTS = {"all": "all real clips", "decide": "decide part", "confirm": "confirm part"}
CLASS_NOTES = {
    "JUMPING": "jumping on the spot or forward",
    "JUMPING_JACKS": "jumping jacks (star jumps)",
    "BOXING": "punching: jabs, hooks, shadow boxing",
    "WAVING_2HANDS": "waving with both arms above the head",
    "WAVING_1HAND": "waving with one hand",
    "CLAPPING_HANDS": "clapping",
    "OTHER": "anything else: standing, walking, sitting…",
}


def _config() -> dict | None:
    try:
        return json.loads((DEFAULT_CHECKPOINT / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _evaluation(model_id: str) -> dict | None:
    """`python -m models.evaluate`'s figures, if they describe this checkpoint (else None: stale card)."""
    try:
        evaluation = json.loads(EVALUATION_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return evaluation if evaluation.get("model_id") == model_id else None


def _diagnostic_metrics(evaluation: dict) -> dict[str, float]:
    """Accuracy on each simulated or rendered evaluation set that was run, under a short name."""
    results = evaluation.get("results") or {}
    return {label: float(results[key]["accuracy"]) for key, label in DIAGNOSTIC_SETS.items()
            if results.get(key, {}).get("accuracy") is not None}


def _real_footage(real: dict) -> None:
    """Clip accuracy on real footage with its interval: overall and per part, then per source and class."""
    summaries = real["summaries"]
    headline = {"all": summaries["all"][0], **{row["group"]: row for row in summaries.get("part", [])}}
    tiles = [(label, headline[key]) for key, label in REAL_PARTS.items() if key in headline]
    for column, (label, row) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(f"clip accuracy, {label}", f"{row['accuracy']:.0%}", border=True,
                      help=f"{row['right']} of {row['clips']} clips; 90% interval {row['low']:.0%}–{row['high']:.0%}; "
                           f"frame accuracy {row['frame_accuracy']:.0%}")
    rows = [{"by": key, "group": row["group"], "clips": row["clips"], "right": row["right"],
             "clip accuracy": row["accuracy"], "90% low": row["low"], "90% high": row["high"],
             "frame accuracy": row["frame_accuracy"]} for key in ("source", "class") for row in summaries.get(key, [])]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={name: st.column_config.NumberColumn(format="%.2f")
                                for name in ("clip accuracy", "90% low", "90% high", "frame accuracy")})


def _classes_table() -> None:
    rows = "".join(
        f"<tr><td><span style='display:inline-block;width:0.9em;height:0.9em;border-radius:3px;"
        f"background:{CLASS_COLORS[name]};margin-right:0.5em;vertical-align:middle'></span>{name}</td>"
        f"<td>{CLASS_NOTES[name]}</td></tr>"
        for name in CLASSES
    )
    st.html(f"<table style='border-collapse:collapse;width:100%'><thead><tr><th align='left'>class</th>"
            f"<th align='left'>what it covers</th></tr></thead><tbody>{rows}</tbody></table>")


st.title("Action model", anchor=False)
config = _config()
if config is None:
    st.error(f"No model checkpoint found at {DEFAULT_CHECKPOINT}. Train one or restore the shipped checkpoint.")
    st.stop()

members = config.get("members", 1)
st.caption(f"Model id `{config.get('model_id')}` · architecture {config.get('architecture')}"
           f"{f' · ensemble of {members} networks' if isinstance(members, int) and members > 1 else ''} · "
           f"window {config.get('window')} frames · {config.get('feature_dim')} features per frame")
evaluation = _evaluation(str(config.get("model_id")))
if evaluation is None:
    st.warning("The model card does not describe this checkpoint: run `python -m models.evaluate`.")
else:
    st.subheader("Real footage", anchor=False)
    if "real_footage" in evaluation:
        _real_footage(evaluation["real_footage"])
        st.caption("The measure: real clips through the whole pipeline (model card, \"Real footage\"). Choices are "
                   "made on the decide part only; the confirm part checks them.")
    else:
        st.info("No real clips were scored for this card (they are read from ../shared/data when present).")
    st.subheader("Diagnostics", anchor=False)
    metrics = _diagnostic_metrics(evaluation)
    for column, (name, value) in zip(st.columns(max(len(metrics), 1)), metrics.items(), strict=False):
        column.metric(f"accuracy, {name}", f"{value:.1%}", border=True)
    st.caption("Simulated and rendered data: useful to find faults, not a claim about real video.")
if config.get("placeholder"):
    st.warning("This checkpoint is marked as a placeholder: its predictions are not meaningful yet.")

left, right = st.columns([1, 1])
with left:
    st.subheader("Classes", anchor=False)
    _classes_table()
with right:
    st.subheader("Confusion matrix", anchor=False)
    if CONFUSION_FILE.is_file():
        st.image(str(CONFUSION_FILE), width="stretch")
    else:
        st.info("No confusion matrix yet: run `python -m models.evaluate`.")

st.subheader("Training curves", anchor=False)
if METRICS_FILE.is_file():
    st.plotly_chart(charts.training_curves(pd.read_csv(METRICS_FILE)), key="training_curves")
else:
    st.info("No training log (metrics.csv) was saved with this checkpoint.")

st.subheader("Model card", anchor=False)
if MODEL_CARD.is_file():
    with st.container(border=True):
        st.markdown(MODEL_CARD.read_text(encoding="utf-8"))
else:
    st.info("The model card (models/model_card.md) has not been written yet.")
with st.expander("Checkpoint configuration"):
    st.json(config, expanded=1)


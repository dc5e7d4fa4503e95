"""Action labels as small chips in their class colour, so a label looks the same as in every chart."""

from __future__ import annotations

import html
from collections.abc import Iterable

from dashboard.charts import label_color


def chips_html(labels: Iterable[str]) -> str:
    """HTML for a row of chips (labels are escaped; colours come from the fixed class palette)."""
    return " ".join(
        f"<span style='display:inline-block;padding:0.1em 0.6em;margin:0 0.25em 0.25em 0;border-radius:999px;"
        f"background:{label_color(label)};color:white;font-size:0.8em;font-weight:600;letter-spacing:0.02em'>"
        f"{html.escape(label.replace('_', ' ').lower())}</span>"
        for label in labels
    )

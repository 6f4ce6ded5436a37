"""The brief's charts (PNG, drawn with matplotlib's Agg canvas, no display and no global pyplot state,
so reports can be drawn in worker threads) and the text every renderer passes through first: post
text can hold any character, and a font that lacks one shows a box, or a PDF library fails on it.

Both charts and the PDF use DejaVu Sans, which matplotlib ships: no system font is needed.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from storage.reports import TargetCounts, TrendPoint

MAX_LINES = 6
MAX_TICKS = 7
WIDTH_INCHES, HEIGHT_INCHES, DPI = 7.5, 3.0, 110
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
REPLACEMENT = "\ufffd"


@cache
def _font_characters() -> frozenset[int]:
    """Code points both the regular and the bold face can draw."""
    regular = set(FT2Font(str(REGULAR_FONT)).get_charmap())
    bold = set(FT2Font(str(BOLD_FONT)).get_charmap())
    return frozenset(regular & bold)


def printable(text: str) -> str:
    """`text` as the report font can draw it: composed (NFC), pictographs and emoji dropped (they
    carry tone, not content, and no text font has them), control and invisible format characters
    (zero-width joiners, variation selectors) dropped, line breaks and tabs made spaces, and each run
    of letters the font lacks (scripts it does not cover) shown as one replacement mark."""
    known = _font_characters()
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char in "\n\r\t":
            out.append(" ")
        elif ord(char) in known and unicodedata.category(char) not in ("Cc", "Cf"):
            out.append(char)
        elif unicodedata.category(char) in ("So", "Sk", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me", "Zl", "Zp"):
            continue
        elif not out or out[-1] != REPLACEMENT:
            out.append(REPLACEMENT if ord(REPLACEMENT) in known else "?")
    return "".join(out)


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name and a value per bucket (None: no value there)."""

    name: str
    values: tuple[float | None, ...]


def bucket_starts(since: datetime, until: datetime, bucket: timedelta) -> list[datetime]:
    starts, at = [], since
    while at < until:
        starts.append(at)
        at += bucket
    return starts


def _by_target(points: Sequence[TrendPoint]) -> dict[str, dict[datetime, TargetCounts]]:
    found: dict[str, dict[datetime, TargetCounts]] = {}
    for point in points:
        found.setdefault(point.counts.target, {})[point.start] = point.counts
    return found


def volume_series(
    points: Sequence[TrendPoint], targets: Sequence[str], starts: Sequence[datetime]
) -> list[Series]:
    by_target = _by_target(points)
    return [
        Series(target, tuple(float(by_target.get(target, {}).get(s, _EMPTY).posts) for s in starts))
        for target in targets
    ]


def net_series(
    points: Sequence[TrendPoint], targets: Sequence[str], starts: Sequence[datetime], measure: str
) -> list[Series]:
    """Per target and bucket: (positive - negative) / posts for `measure` 'sentiment', (favor -
    against) / posts for 'stance'; None in a bucket without posts (no posts is not neutral)."""

    def net(counts: TargetCounts | None) -> float | None:
        if counts is None or counts.posts == 0:
            return None
        if measure == "sentiment":
            return (counts.positive - counts.negative) / counts.posts
        return (counts.favor - counts.against) / counts.posts

    by_target = _by_target(points)
    return [Series(t, tuple(net(by_target.get(t, {}).get(s)) for s in starts)) for t in targets]


_EMPTY = TargetCounts(target="", posts=0)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # draws with Agg whatever backend the process has chosen
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _figure(height: float = HEIGHT_INCHES) -> Figure:
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    figure.set_facecolor("white")
    return figure


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    names: dict[str, str],
    *,
    symmetric: bool = False,
) -> bytes:
    """Lines over the period's buckets (`labels`: one per bucket, a few are shown on the axis);
    `symmetric`: a -1..1 scale with a zero line."""
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    for line in series[:MAX_LINES]:
        values = [float("nan") if v is None else v for v in line.values]
        axes.plot(
            positions,
            values,
            marker="o",
            markersize=2.5,
            linewidth=1.6,
            label=printable(names.get(line.name, line.name)),
        )
    if symmetric:
        axes.axhline(0, color="#888888", linewidth=0.8, linestyle="--")
        axes.set_ylim(-1.05, 1.05)
    else:
        axes.set_ylim(bottom=0)
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
    ticks = positions[::step]
    axes.set_xticks(ticks, [printable(labels[i]) for i in ticks])
    axes.set_title(printable(title), fontsize=11, loc="left")
    axes.grid(alpha=0.3)
    axes.tick_params(labelsize=8)
    if series:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(figure)


def share_chart(title: str, totals: Sequence[TargetCounts], names: dict[str, str]) -> bytes:
    """Horizontal bars: each target's share of the posts naming any target."""
    shown = list(totals[:10])
    whole = sum(t.posts for t in totals) or 1
    figure = _figure(height=max(1.6, 0.35 * len(shown) + 0.9))
    axes = figure.add_subplot()
    labels = [printable(names.get(t.target, t.target)) for t in reversed(shown)]
    shares = [100 * t.posts / whole for t in reversed(shown)]
    bars = axes.barh(labels, shares, color="#3b6ea5")
    axes.bar_label(bars, labels=[f"{s:.0f}%" for s in shares], fontsize=8, padding=2)
    axes.set_xlim(0, max([*shares, 1.0]) * 1.15)
    axes.set_title(printable(title), fontsize=11, loc="left")
    axes.tick_params(labelsize=8)
    axes.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    return _png(figure)

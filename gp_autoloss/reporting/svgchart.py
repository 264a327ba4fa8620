"""Small dependency-free SVG charts for the HTML report: scatter, step and line series on shared axes, and
grouped bars. Output is SVG text to inline in a page; every label is escaped.

Large scatters stay small and fast: points that fall on the same pixel are drawn once, and beyond
:data:`TOOLTIP_LIMIT` points a series is one ``<path>`` instead of one element (with a tooltip) per point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["Series", "line_chart", "bar_chart", "nice_ticks", "PALETTE", "TOOLTIP_LIMIT"]

#: series colours (Tableau 10)
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")  # fmt: skip
TOOLTIP_LIMIT = 800
_M = {"left": 64, "right": 16, "top": 34, "bottom": 46}


@dataclass
class Series:
    """One data series: ``kind`` is ``scatter``, ``step`` (a staircase, as best-so-far) or ``line``."""

    name: str
    points: Sequence[tuple[float, float]]
    color: str = PALETTE[0]
    kind: str = "scatter"
    tips: Sequence[str] | None = field(default=None)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, k = [], 0
    while start + k * step <= hi + step * 1e-9:
        ticks.append(round(start + k * step, 12))
        k += 1
    return ticks


def _fmt_tick(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.0e}"
    return f"{value:.6g}"


class _Scale:
    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool = False) -> None:
        self.log = log
        if log:
            lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(max(v, 1e-12))
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if not self.log:
            return nice_ticks(self.lo, self.hi)
        return [10.0**e for e in range(math.ceil(self.lo - 1e-9), math.floor(self.hi + 1e-9) + 1)]


def _frame(width: int, height: int, title: str, aria: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(aria)}" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]


def _legend(out: list[str], names: Sequence[tuple[str, str]], x0: float, y: float) -> None:
    x = x0
    for name, color in names:
        out.append(f'<rect x="{x:.0f}" y="{y - 8:.0f}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14:.0f}" y="{y + 1:.0f}">{escape(name)}</text>')
        x += 24 + 6.5 * len(name)


def _axes(out: list[str], sx: _Scale, sy: _Scale, width: int, height: int, xlabel: str, ylabel: str,
          integer_x: bool) -> None:  # fmt: skip
    left, right, top, bottom = _M["left"], width - _M["right"], _M["top"], height - _M["bottom"]
    for t in sy.ticks():
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{_fmt_tick(t)}</text>')
    xticks = [t for t in sx.ticks() if not integer_x or float(t).is_integer()]
    for t in xticks:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#f0f0f0"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{_fmt_tick(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{height - 8}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(14 {(top + bottom) / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f"{escape(ylabel)}</text>")  # fmt: skip


def _scatter(out: list[str], s: Series, sx: _Scale, sy: _Scale) -> None:
    seen: set[tuple[int, int]] = set()
    kept = []
    for k, (x, y) in enumerate(s.points):
        px, py = sx(x), sy(y)
        cell = (round(px * 2), round(py * 2))  # half-pixel grid: a point hidden under another is not drawn
        if cell not in seen:
            seen.add(cell)
            kept.append((px, py, k))
    if len(kept) <= TOOLTIP_LIMIT:
        out.append(f'<g fill="{s.color}" fill-opacity="0.75" class="points">')
        for px, py, k in kept:
            tip = f"<title>{escape(s.tips[k])}</title>" if s.tips else ""
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3">{tip}</circle>')
        out.append("</g>")
        return
    d = "".join(f"M{px - 2:.1f} {py:.1f}a2 2 0 1 0 4 0a2 2 0 1 0 -4 0" for px, py, _ in kept)
    out.append(f'<path class="points" fill="{s.color}" fill-opacity="0.75" d="{d}"/>')


def _polyline(out: list[str], s: Series, sx: _Scale, sy: _Scale, right: float) -> None:
    if not s.points:
        return
    x0, y0 = s.points[0]
    d = [f"M{sx(x0):.1f} {sy(y0):.1f}"]
    for x, y in s.points[1:]:
        if s.kind == "step":
            d.append(f"H{sx(x):.1f}V{sy(y):.1f}")
        else:
            d.append(f"L{sx(x):.1f} {sy(y):.1f}")
    if s.kind == "step":
        d.append(f"H{min(sx(s.points[-1][0]) + 6, right):.1f}")
    out.append(f'<path class="line" fill="none" stroke="{s.color}" stroke-width="2" d="{"".join(d)}"/>')


def _clean(s: Series, log_x: bool) -> Series:
    """``s`` without points that cannot be drawn (NaN, infinite, not positive on a log axis), tips kept aligned."""
    keep = [k for k, (x, y) in enumerate(s.points) if math.isfinite(x) and math.isfinite(y) and (x > 0 or not log_x)]
    if len(keep) == len(s.points):
        return s
    tips = [s.tips[k] for k in keep] if s.tips else None
    return Series(s.name, [s.points[k] for k in keep], s.color, s.kind, tips)


def line_chart(series: Sequence[Series], *, title: str, xlabel: str, ylabel: str, log_x: bool = False,
               integer_x: bool = False, x_range: tuple[float, float] | None = None, width: int = 560,
               height: int = 340, empty: str = "no data yet") -> str:
    """Scatter/step/line series on one pair of axes, with a legend; ``empty`` is shown when there are no points.
    ``x_range`` fixes the x axis (default: the data's range, padded)."""
    out = _frame(width, height, title, f"{title}: {ylabel} against {xlabel}")
    pts = [p for s in series for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1])]
    if log_x:
        pts = [p for p in pts if p[0] > 0]
    if not pts:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#777">'
                   f"{escape(empty)}</text></svg>")  # fmt: skip
        return "\n".join(out)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    pad_y = (max(ys) - min(ys)) * 0.06 or max(abs(max(ys)) * 0.05, 0.01)
    pad_x = 0 if log_x else ((max(xs) - min(xs)) * 0.03 or 0.5)
    x_lo, x_hi = x_range if x_range else (min(xs) - pad_x, max(xs) + pad_x)
    sx = _Scale(x_lo, x_hi, _M["left"], width - _M["right"], log=log_x)
    sy = _Scale(min(ys) - pad_y, max(ys) + pad_y, height - _M["bottom"], _M["top"])
    _axes(out, sx, sy, width, height, xlabel, ylabel, integer_x)
    for s in series:
        clean = _clean(s, log_x)
        if s.kind == "scatter":
            _scatter(out, clean, sx, sy)
        else:
            _polyline(out, clean, sx, sy, width - _M["right"])
    _legend(out, [(s.name, s.color) for s in series], _M["left"] + 6, 28)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(categories: Sequence[str], groups: Sequence[tuple[str, str, Sequence[float | None]]], *, title: str,
              ylabel: str, log_y: bool = False, width: int = 600, height: int = 320) -> str:
    """Grouped bars: one group of bars per category, one bar per ``(name, colour, values)``; ``None`` values
    (a stage a strategy does not have) are left out. With ``log_y`` the axis is logarithmic (from 1)."""
    out = _frame(width, height, title, f"{title}: {ylabel}")
    values = [v for _, _, vals in groups for v in vals if v is not None]
    top_v = max(values, default=0) or 1
    sy = _Scale(1 if log_y else 0, top_v * (1.6 if log_y else 1.08), height - _M["bottom"], _M["top"], log=log_y)
    left, right = _M["left"], width - _M["right"]
    sx = _Scale(0, max(len(categories), 1), left, right)
    base = height - _M["bottom"]
    for t in sy.ticks():
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{_fmt_tick(t)}</text>')
    slot = (right - left) / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(groups), 1)
    for k, cat in enumerate(categories):
        out.append(f'<text x="{sx(k + 0.5):.1f}" y="{base + 15}" text-anchor="middle">{escape(cat)}</text>')
        for j, (name, color, vals) in enumerate(groups):
            v = vals[k] if k < len(vals) else None
            if v is None:
                continue
            x = sx(k) + slot * 0.1 + j * bar_w
            y = sy(max(v, 1)) if log_y else sy(v)
            if log_y and v < 1:
                y = base
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{base - y:.1f}" fill="{color}">'
                       f"<title>{escape(name)}: {escape(cat)} {v:g}</title></rect>")  # fmt: skip
    out.append(f'<line x1="{left}" x2="{right}" y1="{base}" y2="{base}" stroke="#888"/>')
    out.append(f'<text transform="translate(14 {(_M["top"] + base) / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f"{escape(ylabel)}</text>")  # fmt: skip
    _legend(out, [(name, color) for name, color, _ in groups], left + 6, 28)
    out.append("</svg>")
    return "\n".join(out)

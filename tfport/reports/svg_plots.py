"""Small inline SVG plots for report.html: no plotting library, no script, nothing fetched to view."""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40  # margins for axes and labels


def _number(value: float) -> str:
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.1e}"


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    x_axis = HEIGHT - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{x_axis}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{x_axis}" x2="{WIDTH - RIGHT}" y2="{x_axis}" class="axis"/>',
        *body,
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 4}" class="label" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="12" y="{(TOP + x_axis) / 2}" class="label" text-anchor="middle" '
        f'transform="rotate(-90 12 {(TOP + x_axis) / 2})">{escape(y_label)}</text>',
        "</svg>",
    ]
    return "".join(parts)


def _tick(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="tick" text-anchor="{anchor}">{escape(text)}</text>'


def error_histogram(edges: list[float], counts: list[int], zeros: int) -> str:
    """Counts of |converted − reference| in log-spaced bins; exact matches are counted apart."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    tallest = max([*counts, 1])
    body = []
    if counts:
        width = plot_width / len(counts)
        for i, count in enumerate(counts):
            height = plot_height * count / tallest
            body.append(f'<rect x="{LEFT + i * width + 1:.1f}" y="{TOP + plot_height - height:.1f}" '
                        f'width="{max(width - 2, 1):.1f}" height="{height:.1f}" class="bar">'
                        f"<title>{_number(edges[i])} – {_number(edges[i + 1])}: {count}</title></rect>")
        body += [_tick(LEFT, HEIGHT - BOTTOM + 14, _number(edges[0]), "start"),
                 _tick(WIDTH - RIGHT, HEIGHT - BOTTOM + 14, _number(edges[-1]), "end")]
    else:
        body.append(_tick(LEFT + plot_width / 2, TOP + plot_height / 2, "every element matches exactly"))
    body += [_tick(LEFT - 4, TOP + 8, str(tallest), "end"), _tick(LEFT - 4, HEIGHT - BOTTOM, "0", "end")]
    return _frame("histogram of absolute errors", body, f"|converted − reference|, log scale ({zeros} exact)",
                  "elements")


def reference_scatter(pairs: list[list[float]]) -> str:
    """Converted against reference values; a faithful port lies on the diagonal."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for pair in pairs for v in pair] or [0.0]
    low, high = min(values), max(values)
    if math.isclose(low, high):
        low, high = low - 1, high + 1

    def x(value: float) -> float:
        return LEFT + plot_width * (value - low) / (high - low)

    def y(value: float) -> float:
        return TOP + plot_height * (1 - (value - low) / (high - low))

    body = [f'<line x1="{x(low):.1f}" y1="{y(low):.1f}" x2="{x(high):.1f}" y2="{y(high):.1f}" class="diagonal"/>']
    body += [f'<circle cx="{x(r):.1f}" cy="{y(c):.1f}" r="2" class="point"/>' for r, c in pairs]
    body += [_tick(LEFT, HEIGHT - BOTTOM + 14, _number(low), "start"),
             _tick(WIDTH - RIGHT, HEIGHT - BOTTOM + 14, _number(high), "end"),
             _tick(LEFT - 4, TOP + 8, _number(high), "end"), _tick(LEFT - 4, HEIGHT - BOTTOM, _number(low), "end")]
    return _frame(f"converted vs reference ({len(pairs)} values)", body, "reference", "converted")


def snr_bars(bars: list[tuple[str, float, float | None]]) -> str:
    """One bar per output: its SNR in dB, and a dashed mark at its limit when it has one."""
    width, left, value_room = WIDTH + 160, LEFT + 120, 64  # room for labels left and values right
    height = TOP + BOTTOM + 26 * len(bars)
    plot_width = width - left - value_room
    top = max([value for _, value, _ in bars] + [limit or 0 for *_, limit in bars] + [1.0])
    body = []
    for i, (label, value, limit) in enumerate(bars):
        row = TOP + 26 * i
        width = plot_width * max(value, 0) / top
        passed = limit is None or value >= limit
        body.append(_tick(left - 6, row + 15, label if len(label) <= 28 else label[:27] + "…", "end"))
        body.append(f'<rect x="{left}" y="{row + 4}" width="{width:.1f}" height="16" '
                    f'class="{"bar" if passed else "bar-fail"}"><title>{escape(label)}: {value:.1f} dB</title></rect>')
        body.append(_tick(left + width + 4, row + 16, f"{value:.1f} dB", "start"))
        if limit is not None:
            mark = left + plot_width * limit / top
            body.append(f'<line x1="{mark:.1f}" y1="{row + 1}" x2="{mark:.1f}" y2="{row + 23}" class="limit">'
                        f"<title>limit {limit:g} dB</title></line>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="SNR per output"><title>SNR per output (dB)</title>'
            f'<line x1="{left}" y1="{TOP}" x2="{left}" y2="{height - BOTTOM}" class="axis"/>{"".join(body)}'
            f'<text x="{left}" y="{height - 12}" class="label">SNR in dB (dashed: limit)</text></svg>')


def divergence_plot(points: list[tuple[int, float, bool]], first: int | None) -> str:
    """SNR of each matched op's value against its graph depth; ops outside the scaled tolerance in
    red, the first divergent one ringed."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    finite = [snr for _, snr, _ in points if math.isfinite(snr)] or [0.0]
    low, high = min(finite + [0.0]), max(finite + [1.0])
    deepest = max([depth for depth, _, _ in points] + [1])

    def x(depth: int) -> float:
        return LEFT + plot_width * depth / deepest

    def y(snr: float) -> float:
        snr = high if not math.isfinite(snr) else snr  # identical values: drawn at the top
        return TOP + plot_height * (1 - (snr - low) / ((high - low) or 1))

    body = [f'<circle cx="{x(d):.1f}" cy="{y(s):.1f}" r="3" class="{"bar-fail" if out else "point"}">'
            f"<title>depth {d}: {s:.1f} dB</title></circle>" for d, s, out in points]
    body += [f'<circle cx="{x(d):.1f}" cy="{y(s):.1f}" r="7" class="ring"/>' for d, s, _ in points if d == first]
    body += [_tick(LEFT, HEIGHT - BOTTOM + 14, "0", "start"), _tick(WIDTH - RIGHT, HEIGHT - BOTTOM + 14, str(deepest), "end"),
             _tick(LEFT - 4, TOP + 8, _number(high), "end"), _tick(LEFT - 4, HEIGHT - BOTTOM, _number(low), "end")]
    return _frame("SNR of each matched op by depth", body, "depth in the SavedModel's graph", "SNR dB")

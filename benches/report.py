#!/usr/bin/env python3
"""Summarise the store benchmarks from criterion's output.

Usage: report.py [CRITERION_DIR] [SVG_OUT]

Reads every `<group>/<function>/<size>/new/{benchmark,estimates}.json` under
CRITERION_DIR (default: $CARGO_TARGET_DIR/criterion, else target/criterion), prints
Markdown tables of the medians with the ratios the targets in BENCHMARKS.md are
stated in, and writes SVG_OUT (default: benches/get_latency.svg): the median `get`
latency against the store size (both axes logarithmic), one line per contender. Standard library only.
"""

import json
import math
import os
import sys
from pathlib import Path

ORDER = ["Cache", "ShardedCache", "client-go", "kube", "kube_prebuilt_key", "floor"]
COLOURS = {
    "Cache": "#1b7837",
    "ShardedCache": "#5aae61",
    "client-go": "#2166ac",
    "kube": "#b2182b",
    "kube_prebuilt_key": "#f4a582",
    "floor": "#555555",
}
GROUPS = [
    "get_hit",
    "get_miss",
    "update",
    "update_keep_old",
    "insert",
    "delete",
    "replace",
    "initial_list",
    "list",
    "by_namespace",
    "mixed_2_threads",
]


def load(root):
    """{(group, function, size): median in ns}"""
    results = {}
    for meta in root.glob("*/*/*/new/benchmark.json"):
        bench = json.loads(meta.read_text())
        estimates = json.loads((meta.parent / "estimates.json").read_text())
        key = (bench["group_id"], bench["function_id"], int(bench["value_str"]))
        results[key] = estimates["median"]["point_estimate"]
    return results


def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def contenders_of(results, group):
    present = {f for (g, f, _) in results if g == group}
    return [f for f in ORDER if f in present] + sorted(present - set(ORDER))


def table(results, group, baselines):
    sizes = sorted({s for (g, _, s) in results if g == group})
    if not sizes:
        return ""
    cols = [f"{s:,}" for s in sizes]
    head = "| contender | " + " | ".join(cols) + " |"
    lines = [f"### {group}", "", head, "|---|" + "---:|" * len(cols)]
    for f in contenders_of(results, group):
        cells = []
        for s in sizes:
            value = results.get((group, f, s))
            if value is None:
                cells.append("")
                continue
            cell = human(value)
            ratios = [
                f"{value / results[(group, b, s)]:.2f}× {b}"
                for b in baselines
                if b != f and (group, b, s) in results and f in ("Cache", "ShardedCache")
            ]
            if ratios:
                cell += " (" + ", ".join(ratios) + ")"
            cells.append(cell)
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def svg(results, out):
    group = "get_hit"
    lines = {f: sorted((s, v) for (g, ff, s), v in results.items() if g == group and ff == f)
             for f in contenders_of(results, group)}
    lines = {f: pts for f, pts in lines.items() if pts}
    if not lines:
        return
    width, height = 720, 440
    left, right, top, bottom = 70, 190, 40, 60
    xs = sorted({s for pts in lines.values() for s, _ in pts})
    values = [v for pts in lines.values() for _, v in pts]
    ly0 = math.floor(math.log10(min(values)))
    ly1 = math.ceil(math.log10(max(values)))
    lx0, lx1 = math.log10(xs[0]), math.log10(xs[-1])

    def x(size):
        span = (lx1 - lx0) or 1
        return left + (math.log10(size) - lx0) / span * (width - left - right)

    def y(ns):
        return top + (1 - (math.log10(ns) - ly0) / ((ly1 - ly0) or 1)) * (height - top - bottom)

    out_lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{(left + width - right) / 2:.0f}" y="22" font-size="15" text-anchor="middle">get (hit) latency, median, random keys</text>',
    ]
    ticks = [m * 10 ** e for e in range(ly0, ly1) for m in (1, 2, 5)] + [10 ** ly1]
    for v in ticks:
        out_lines.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out_lines.append(f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    for s in xs:
        out_lines.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        label = f"{s // 1_000_000}M" if s >= 1_000_000 else f"{s // 1000}k" if s >= 1000 else str(s)
        out_lines.append(f'<text x="{x(s):.1f}" y="{height - bottom + 18}" text-anchor="middle">{label}</text>')
    out_lines.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 15}" text-anchor="middle">objects in the store (log scale)</text>')
    out_lines.append(f'<text x="18" y="{(top + height - bottom) / 2:.0f}" transform="rotate(-90 18 {(top + height - bottom) / 2:.0f})" text-anchor="middle">ns per get (log scale)</text>')
    out_lines.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" fill="none" stroke="#333"/>')
    for n, (f, pts) in enumerate(lines.items()):
        colour = COLOURS.get(f, "#000")
        dash = ' stroke-dasharray="5,4"' if f in ("floor", "kube_prebuilt_key") else ""
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in pts)
        out_lines.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
        for s, v in pts:
            out_lines.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 14 + n * 22
        lx = width - right + 16
        out_lines.append(f'<line x1="{lx}" x2="{lx + 26}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="2.5"{dash}/>')
        out_lines.append(f'<text x="{lx + 32}" y="{ly}">{f}</text>')
    out_lines.append("</svg>")
    out.write_text("\n".join(out_lines) + "\n")


def main():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    root = Path(sys.argv[1] if len(sys.argv) > 1 else f"{target}/criterion")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "benches/get_latency.svg")
    results = load(root)
    if not results:
        sys.exit(f"no criterion results under {root}")
    for group in GROUPS:
        print(table(results, group, ["kube", "client-go", "floor"]))
    svg(results, out)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()

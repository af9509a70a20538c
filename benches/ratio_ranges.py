#!/usr/bin/env python3
"""Same-run ratio ranges of the store benchmarks, from several saved criterion runs.

Usage: ratio_ranges.py SVG_OUT RUN.log [RUN.log ...]

Each RUN.log is the console output of one run of
`STORE_BENCH_SIZES=100000 cargo bench -p store-bench --bench stores -- <filter>`.
For every operation at 100 000 objects it takes each run's medians, divides
Cache's and ShardedCache's by kube's (by the floor's for `get_hit`) in that same
run, prints the ratios per run with their range as Markdown, and writes SVG_OUT:
one bar per operation and store from the lowest to the highest ratio, a tick per
run, and the issue's target as a red mark. Standard library only.
"""

import re
import sys

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# (operation, baseline, target ratio or None)
ROWS = [
    ("get_hit", "floor", 1.05),
    ("update", "kube", 0.8),
    ("update_keep_old", "kube", None),
    ("insert", "kube", None),
    ("delete", "kube", 1.0),
    ("replace", "kube", 1.0),
    ("list", "kube", 1.0),
]
STORES = [("Cache", "#1b7837"), ("ShardedCache", "#5aae61")]


def medians(path):
    """`group/contender/size` → median seconds, from criterion's console output."""
    found, current = {}, None
    for line in open(path, encoding="utf-8"):
        name = re.match(r"^(\S+/\S+/\d+)", line)
        if name:
            current = name.group(1)
        time = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
        if time and current:
            found.setdefault(current, float(time.group(1)) * UNITS[time.group(2)])
            current = None
    return found


def ratios(runs):
    """[(operation, store, target, [ratio per run that has both])]."""
    out = []
    for operation, baseline, target in ROWS:
        for store, _ in STORES:
            values = []
            for run in runs:
                ours = run.get(f"{operation}/{store}/100000")
                base = run.get(f"{operation}/{baseline}/100000")
                if ours and base:
                    values.append(ours / base)
            if values:
                out.append((operation, baseline, store, target, values))
    return out


def svg(rows, path):
    width, left, row_h, top = 760, 230, 22, 40
    scale_max = max(max(v) for *_, v in rows) * 1.1
    scale_max = max(scale_max, 2.0)
    x = lambda r: left + (width - left - 20) * r / scale_max
    height = top + row_h * len(rows) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="20">same-run ratio (ours ÷ kube, get ÷ floor), 100 000 objects; '
        'bar = range over runs, ticks = runs, red = target</text>',
    ]
    for tick in range(0, int(scale_max * 2) + 1):
        r = tick / 2
        parts.append(
            f'<line x1="{x(r):.1f}" y1="{top - 5}" x2="{x(r):.1f}" y2="{height - 30}" '
            f'stroke="{"#999" if r == 1 else "#e5e5e5"}"/>'
        )
        parts.append(f'<text x="{x(r):.1f}" y="{height - 15}" text-anchor="middle">{r:g}</text>')
    colours = dict(STORES)
    for i, (operation, baseline, store, target, values) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{operation} · {store}</text>')
        lo, hi = min(values), max(values)
        parts.append(
            f'<rect x="{x(lo):.1f}" y="{y + 4}" width="{max(x(hi) - x(lo), 2):.1f}" height="12" '
            f'fill="{colours[store]}" opacity="0.6"/>'
        )
        for value in values:
            parts.append(
                f'<line x1="{x(value):.1f}" y1="{y + 2}" x2="{x(value):.1f}" y2="{y + 18}" stroke="#000"/>'
            )
        if target is not None:
            parts.append(
                f'<line x1="{x(target):.1f}" y1="{y}" x2="{x(target):.1f}" y2="{y + 20}" '
                'stroke="#d6301d" stroke-width="3"/>'
            )
    parts.append("</svg>")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(parts) + "\n")


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    rows = ratios([medians(path) for path in sys.argv[2:]])
    if not rows:
        print("no operation with both our store and its baseline in these runs")
        return 1
    print("| operation | store | ÷ | runs | range | target |")
    print("|---|---|---|---|---:|---|")
    for operation, baseline, store, target, values in rows:
        runs = " / ".join(f"{v:.2f}" for v in values)
        print(
            f"| {operation} | {store} | {baseline} | {runs} | {min(values):.2f}–{max(values):.2f} "
            f"| {'' if target is None else f'≤ {target:g}'} |"
        )
    svg(rows, sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

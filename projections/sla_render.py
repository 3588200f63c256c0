"""SLA reports as text: aligned tables, CSV and a PNG chart. No I/O beyond the chart file."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projections.sla import SlaReport


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "/".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value) if value != "" else "(none)"


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return "/".join("" if v is None else str(v) for v in value)
    return "" if value is None else str(value)


def section_table(name: str, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return f"{name}: no data\n"
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [f"{name}:", "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines) + "\n"


def report_table(report: SlaReport) -> str:
    q = report.query
    header = f"SLA {q.start} .. {q.end} by {','.join(q.by) or 'total'} (KPI v1)\n\n"
    return header + "\n".join(section_table(n, rows) for n, rows in report.sections.items())


def report_csv(report: SlaReport) -> str:
    """One CSV block per section, separated by a blank line; lists become ``a/b/c``."""
    out = io.StringIO()
    for name, rows in report.sections.items():
        if not rows:
            continue
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", *rows[0]])
        writer.writerows([name, *(_flat(v) for v in row.values())] for row in rows)
        out.write("\n")
    return out.getvalue()


def plot_on_time(report: SlaReport, path: Path) -> None:
    """Bar chart of on-time rate vs promise (and vs first EDD) per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.sections.get("delivery", [])
    labels = [" ".join(str(row[k]) for k in report.query.by) or "total" for row in rows]
    promise = [row["on_time_vs_promise"] or 0.0 for row in rows]
    edd = [row["on_time_vs_first_edd"] or 0.0 for row in rows]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(rows) + 2), 4))
    positions = range(len(rows))
    axes.bar([p - 0.2 for p in positions], promise, width=0.4, label="vs promised date")
    axes.bar([p + 0.2 for p in positions], edd, width=0.4, label="vs carrier's first EDD")
    axes.set_xticks(list(positions), labels, rotation=45, ha="right")
    axes.set_ylim(0, 1)
    axes.set_ylabel("on-time rate")
    axes.set_title(f"On-time delivery {report.query.start} .. {report.query.end}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

"""Accessibility checks with axe-core (npm, pinned in package-lock.json) inside a real page.

The pages' CSP allows only same-origin scripts, so axe is not added as a ``<script>``: its
source is evaluated through the browser's debugging protocol, which the CSP does not govern and
which leaves the page's own policy in force for everything else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: the impacts a page must have none of
BLOCKING = ("serious", "critical")
#: WCAG 2.x A and AA, and axe's best practices
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_RUN = """async ([tags]) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations.map(v => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({
      target: n.target.join(" "),
      html: n.html.slice(0, 300),
      impact: n.impact,
      summary: n.failureSummary,
    })),
  }));
}"""


@cache
def axe_source() -> str:
    if not AXE.is_file():
        raise FileNotFoundError(f"{AXE} is missing: run `make install` (npm ci)")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """The axe violations of what ``page`` shows now whose impact is one of ``impacts``
    (each with its rule id, help text and the offending elements)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_RUN, [TAGS])
    return [v for v in violations if v["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable list of violations for an assertion message."""
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']} — {v['help']} ({v['helpUrl']})")
        lines.extend(f"    {n['target']}: {n['html']}\n      {n['summary']}" for n in v["nodes"])
    return "\n".join(lines)

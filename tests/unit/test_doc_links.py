"""Every relative link and image in the user docs (README, BENCHMARKS, docs/) reaches a file, every #anchor a heading.

Anchors follow GitHub's rule: the heading lower-cased, punctuation other than ``-`` and ``_`` dropped, spaces made
hyphens, and ``-1``, ``-2`` ... appended to repeats.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "BENCHMARKS.md", *(ROOT / "docs").glob("*.md")])
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")  # links and images
_FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> str:
    """The text without fenced code blocks (links and headings there are not rendered)."""
    out, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the Markdown headings of ``text``."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(text).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_anchor_rule_on_known_headings() -> None:
    headings = ["# Set-up: two commands", "## `--scale cpu`, 3 seeds — partial", "## Repeat", "## Repeat"]
    text = "\n".join([*headings, "```", "# not a heading", "```"])
    assert github_anchors(text) == {"set-up-two-commands", "--scale-cpu-3-seeds--partial", "repeat", "repeat-1"}


def _links(path: Path) -> list[str]:
    return [m.group(1) for m in _LINK.finditer(_prose(path.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target} (no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in github_anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target} (no heading with anchor #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"broken links in {doc.relative_to(ROOT)}: " + "; ".join(broken)

"""The repository documents itself: nothing refers to design notes outside it, and the
paths docs/architecture.md names exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.splitlines() if (ROOT / name).is_file()]


def test_nothing_refers_to_a_design_document_outside_the_repository():
    # Built from pieces so that this file does not name what it looks for.
    outside = [".." + "/shared", "DESIGN" + ".md"]
    found = []
    for path in tracked_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {word}" for word in outside if word in text]
    assert found == [], f"references outside the repository: {found}"


def test_every_path_the_architecture_names_exists():
    named = set(re.findall(r"`((?:infra|src|asl|fixtures|tests|docs)/[\w./<>-]*?)`", ARCHITECTURE.read_text()))
    concrete = {path.rstrip("/") for path in named if "<" not in path}
    assert concrete, "docs/architecture.md names no paths"
    missing = sorted(path for path in concrete if not (ROOT / path).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_readme_points_to_the_architecture():
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()


FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def documentation_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def heading_anchors(page: Path) -> set[str]:
    """The anchors a Markdown renderer gives the page's headings (GitHub's rule: lower case,
    punctuation dropped, spaces to hyphens)."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_of_the_documentation_resolves():
    broken = []
    for page in documentation_pages():
        for target in LINK.findall(FENCE.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue  # http, https, mailto: not checked offline
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == [], f"links that lead nowhere: {broken}"

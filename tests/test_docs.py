"""The README and the docs link only to files inside the repository, and to ones that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def documents() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "CHANGES.md", *(ROOT / "docs").glob("*.md")]
    found += [
        ROOT / "demo" / "README.md",
        ROOT / "channelstream" / "static" / "channelstream" / "README.md",
    ]
    return [path for path in found if path.exists()]


def test_relative_links_name_files_of_the_repository() -> None:
    broken = []
    for document in documents():
        text = document.read_text()
        assert "../shared" not in text, document
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (document.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []

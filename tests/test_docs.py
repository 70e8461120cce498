"""The documents in the repository stay usable: their links resolve, nothing cites the shared
folder outside the repository any more, and the README's configuration table names every
setting the service reads."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tenantmatch.api import Settings

ROOT = Path(__file__).resolve().parents[1]
READMES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / "data" / "README.md"]
DOCS = sorted([*READMES, *(ROOT / "docs").glob("*.md")])
# [text](target) outside code spans; a target with a scheme is not a file of the repository.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(markdown: str) -> list[str]:
    """Link targets of ``markdown`` that name files of the repository (anchors cut off)."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = [t.split("#", 1)[0] for t in _LINK.findall(text)]
    return [t for t in targets if t and not re.match(r"^[a-z]+:", t)]


def test_relative_links_finds_file_links_only() -> None:
    text = "[a](docs/api.md#x) [b](https://x.org) `[c](nowhere.md)` [d](#top) [e](../README.md)"
    assert relative_links(text) == ["docs/api.md", "../README.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in relative_links(doc.read_text(encoding="utf-8")):
        path = (doc.parent / target).resolve()
        if not path.exists() or ROOT not in (path, *path.parents):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)} links to missing files: {broken}"


def test_nothing_cites_the_shared_folder_outside_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = [ROOT / f for f in listed.split("\0") if f.endswith((".md", ".py", ".sh", ".toml"))]
    assert len(files) > 100  # the whole tree, not an empty listing
    me = Path(__file__).resolve()
    citing = [
        str(f.relative_to(ROOT))
        for f in files
        if f.resolve() != me and f.is_file() and "../shared/" in f.read_text(encoding="utf-8")
    ]
    assert not citing, f"cite docs/ instead of ../shared/: {citing}"


def test_the_readme_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        f"TENANTMATCH_{name.upper()}"
        for name in Settings.model_fields
        if f"`TENANTMATCH_{name.upper()}`" not in readme
    ]
    assert not missing, f"README's configuration table lacks {missing}"

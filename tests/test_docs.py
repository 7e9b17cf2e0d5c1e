"""The repository stands on its own: its documents are inside it, and its links work."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# spelled in pieces so that this file does not match itself: the shared folder beside the
# repository and the documents in it, which docs/ replaces (protocol.md, notes.md, design.md)
OUTSIDE = (
    "../" + "shared",
    *(name + ".md" for name in ("PROTOCOL", "PITFALLS", "DESIGN", "STYLE")),
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    paths = [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    texts = []
    for path in paths:
        if path.suffix in {".svg", ".png", ".cast", ".bin"} or not path.is_file():
            continue
        texts.append(path)
    return texts


def test_nothing_points_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(word in line for word in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    "name", ["real-cloud.md", "protocol.md", "terminal.md", "notes.md", "design.md"]
)
def test_readme_links_each_document(name: str) -> None:
    assert (ROOT / "docs" / name).is_file()
    assert f"](docs/{name})" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_relative_links_in_the_documents_resolve() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def test_every_command_is_in_the_readme() -> None:
    from tui.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in commands.choices if f"`iotunnel {name}" not in readme]
    assert not missing, f"commands the README does not mention: {missing}"

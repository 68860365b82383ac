"""Reading the documentation's code blocks: which run, what each command is expected to print.

The convention (docs/design.md, "Docs tests"): a fenced block tagged ``console`` is run; its lines that
start with ``$ `` are commands, a command line ending in a backslash continues on the next line, a
here-document (``<<'EOF'``) runs to its delimiter, and every other line is output expected from the
command above it. Blocks tagged ``text`` (or a data language: toml, json, python, ...) are shown, not run.
Used by tests/e2e/test_docs.py (running) and tests/unit/test_docs_references.py (static checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = "console"
# Tags of blocks that are shown and never run; a block with any other tag (or none) is an error.
NOT_RUN = {"text", "sh-norun", "toml", "json", "python", "csv", "html", "xml", "mermaid", "dot", "diff", "http"}
SERVE_MARKER = "<!-- docs-test: serve -->"
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)")
HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


def doc_files() -> list[Path]:
    """README.md and every guide under docs/ (not the example files beside them)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    tag: str
    lines: list[str]


@dataclass
class Command:
    path: Path
    line: int  # 1-based line of the `$ ` line
    text: str  # the shell text, continuation lines and here-document included
    expected: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with its tag and its lines (fence indentation removed)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, tag = match.groups()
        body: list[str] = []
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            text = lines[i]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            i += 1
        found.append(Block(path, start, tag.lower(), body))
        i += 1
    return found


def outside_fences(path: Path) -> list[tuple[int, str]]:
    """The (line number, text) of every line that is not inside a fenced block."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(text)
        if fence is None and match:
            fence = match.group(2)
        elif fence is not None and text.strip().startswith(fence):
            fence = None
        elif fence is None:
            out.append((number, text))
    return out


def commands(block: Block) -> list[Command]:
    """The commands of a ``console`` block, each with the output lines shown under it."""
    found: list[Command] = []
    lines = block.lines
    i = 0
    while i < len(lines):
        text = lines[i]
        if not text.startswith("$ "):
            if found:
                found[-1].expected.append(text)
            elif text.strip():
                raise ValueError(f"{block.path.name}:{block.line + i}: output before any `$ ` command")
            i += 1
            continue
        number = block.line + i + 1
        parts = [text[2:]]
        while parts[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            parts.append(lines[i])
        heredoc = HEREDOC.search(" ".join(parts))
        if heredoc:
            while i + 1 < len(lines):
                i += 1
                parts.append(lines[i])
                if lines[i].strip() == heredoc.group(1):
                    break
        found.append(Command(block.path, number, "\n".join(parts)))
        i += 1
    return found


def file_commands(path: Path) -> list[Command]:
    return [c for b in blocks(path) if b.tag == RUN for c in commands(b)]


def wants_server(path: Path) -> bool:
    return SERVE_MARKER in "\n".join(path.read_text(encoding="utf-8").splitlines()[:10])


def line_pattern(shown: str) -> re.Pattern[str]:
    """A shown output line as a pattern: the whole line, blanks at its ends ignored, ``...`` = any text."""
    return re.compile(".*".join(re.escape(part) for part in shown.strip().split("...")))


def missing_output(expected: list[str], actual: str) -> str | None:
    """The first shown line not found, in order, among the printed lines; None when all are."""
    printed = [line.strip() for line in actual.splitlines()]
    at = 0
    for shown in expected:
        if not shown.strip() or shown.strip() == "...":
            continue
        pattern = line_pattern(shown)
        while at < len(printed) and not pattern.fullmatch(printed[at]):
            at += 1
        if at == len(printed):
            return shown
        at += 1
    return None

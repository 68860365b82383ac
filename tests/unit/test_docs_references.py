"""What the docs name exists: every block is run or marked not to run, every command and option shown
exists, every COMPLAINTS_* setting is read somewhere, every HTTP endpoint is served.

tests/e2e/test_docs.py runs the ``console`` blocks; this checks the rest (``text`` synopses, tables,
prose) so a renamed option or endpoint cannot linger in a page nobody runs. Convention: docs/design.md,
"Docs tests".
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from api.cli import build_parser
from tests.docs_blocks import NOT_RUN, ROOT, RUN, blocks, doc_files, outside_fences

DOCS = doc_files()
IDS = [p.name for p in DOCS]
COMPLAINTS_CALL = re.compile(r"(?:^|[\s($|;&`])(?:\.venv/bin/)?complaints\s+([^|;)&#`\n]*)")
SETTING = re.compile(r"\bCOMPLAINTS_[A-Z0-9_]+\b")
ENDPOINT = re.compile(r"\b(GET|POST|DELETE|PUT|PATCH)\s+`?(/[^\s`?,)\[\]]*)")
SOURCE_DIRS = ("api", "storage", "service", "scheduler", "workflow", "tests", "bench")


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_block_is_either_run_or_marked_not_to_run(path: Path) -> None:
    for block in blocks(path):
        assert block.tag == RUN or block.tag in NOT_RUN, (
            f"{path.name}:{block.line}: a block tagged {block.tag or '(nothing)'!r}: tag it `console` to run it, "
            f"or one of {sorted(NOT_RUN)} to show it"
        )


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_no_command_hides_outside_a_fenced_block(path: Path) -> None:
    for number, text in outside_fences(path):
        assert not text.strip().startswith("$ "), f"{path.name}:{number}: a command outside a fenced block"
        indented = re.match(r"^ {4,}(complaints|\.venv/bin/|curl)\b", text)
        assert not indented, f"{path.name}:{number}: an indented code block; fence it `console` or `text`"


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check_call(args: str) -> str | None:
    """Why ``complaints ARGS`` names a sub-command or option that does not exist; None when all exist."""
    args = re.sub(r"\$\([^)]*\)?", "X", args)  # a command substitution is a value, not options of ours
    try:
        tokens = shlex.split(args, comments=True)
    except ValueError:
        tokens = args.split()
    parser = build_parser()
    for token in tokens:
        subs = _subcommands(parser)
        word = token.strip("[]")
        if word.startswith("-"):
            for option in word.split("|"):
                option = option.strip("[]").split("=")[0]
                if option.startswith("-") and option not in _options(parser):
                    return f"{parser.prog}: no option {option}"
            continue
        if subs:
            names = word.split("|")
            if not all(name in subs for name in names):
                return f"{parser.prog}: no sub-command {word!r} (there are: {', '.join(subs)})"
            parser = subs[names[0]]
    if _subcommands(parser):
        return f"{parser.prog}: needs a sub-command"
    return None


def _calls(path: Path) -> list[tuple[int, str]]:
    found = []
    for block in blocks(path):
        if block.tag not in (RUN, "text", "sh-norun"):
            continue
        for offset, line in enumerate(block.lines, 1):
            if block.tag == RUN and not line.startswith("$ ") and not line.startswith(" "):
                continue  # output, not a command
            for match in COMPLAINTS_CALL.finditer(line.rstrip("\\")):
                if match.group(1).strip():
                    found.append((block.line + offset, match.group(1)))
    return found


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_complaints_command_and_option_shown_exists(path: Path) -> None:
    problems = [
        f"{path.name}:{n}: complaints {args.strip()}: {why}" for n, args in _calls(path) if (why := check_call(args))
    ]
    assert not problems, "\n".join(problems)


def test_the_call_checker_catches_what_it_should() -> None:
    assert check_call("case open --policy livin --data '{}'") is None
    assert check_call("case show|history|allowed CASE [--json]") is None
    assert check_call("verify [--case ID] [--jobs N]") is None
    assert "no option --cases" in (check_call("verify --cases X") or "")
    assert "no sub-command" in (check_call("frobnicate") or "")
    assert "needs a sub-command" in (check_call("case") or "")


def _source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py")) + (
        ROOT / "Makefile"
    ).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_setting_named_is_read_by_the_code(path: Path) -> None:
    source = _source_text()
    named = set(SETTING.findall(path.read_text(encoding="utf-8")))
    unknown = sorted(s for s in named if f'"{s}"' not in source and f"'{s}'" not in source)
    assert not unknown, f"{path.name} names settings the code never reads: {unknown}"


def _served() -> set[tuple[str, str]]:
    """(method, path with {} for each parameter) of every operation the app documents, and its own pages."""
    from api.http.app import create_app

    app = create_app(None)  # type: ignore[arg-type]  # only the routes are read
    served = {("GET", app.docs_url or ""), ("GET", app.openapi_url or "")}
    for path, operations in app.openapi()["paths"].items():
        served.update((method.upper(), re.sub(r"\{[^}]*\}", "{}", path)) for method in operations)
    return served


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_endpoint_named_is_served(path: Path) -> None:
    served = _served()
    text = path.read_text(encoding="utf-8")
    named = {(m, re.sub(r"\{[^}]*\}", "{}", p.rstrip("."))) for m, p in ENDPOINT.findall(text)}
    unknown = sorted(f"{m} {p}" for m, p in named if (m, p) not in served and (m, p.rstrip("/")) not in served)
    assert not unknown, f"{path.name} names endpoints the app does not serve: {unknown}"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, text in outside_fences(path):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", text)
        if match:
            slug = _slug(match.group(1))
            found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_relative_link_names_a_file_and_heading_that_exist(path: Path) -> None:
    problems = []
    for number, text in outside_fences(path):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", text)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto: - not ours to check
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.name}:{number}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                problems.append(f"{path.name}:{number}: {target}: no heading #{anchor} in {linked.name}")
    assert not problems, "\n".join(problems)


def test_anchors_are_made_as_github_makes_them() -> None:
    assert _slug("HTTP benchmark (`bench/http.py`)") == "http-benchmark-benchhttppy"
    assert _slug("`complaints serve` and the deadline timers") == "complaints-serve-and-the-deadline-timers"


REPO_PATH = re.compile(r"`((?:api|bench|docs|scheduler|scripts|service|storage|tests|workflow)/[A-Za-z0-9_./*-]*)`")


@pytest.mark.parametrize("path", DOCS, ids=IDS)
def test_every_file_of_the_project_named_exists(path: Path) -> None:
    """A module moved or renamed (the restructure moved a dozen) must not leave a guide pointing at nothing."""
    named = set(REPO_PATH.findall(path.read_text(encoding="utf-8")))
    missing = sorted(p for p in named if "..." not in p and not any(ROOT.glob(p.rstrip("/"))))
    assert not missing, f"{path.name} names files that do not exist: {missing}"

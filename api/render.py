"""Graphviz rendering: DOT text to SVG or PNG through the ``dot`` program, cached by source.

Graphviz is a system package (Debian's ``graphviz``), not a Python one: we
run ``dot`` as a subprocess rather than load pygraphviz, which leaks when it
renders on every request (pytransitions issue 310). A rendering depends only
on its DOT text, so results are cached by that text: a policy version's
diagram is drawn once per process. Without ``dot`` the error says how to
install it; Mermaid and DOT output need nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from functools import lru_cache

from workflow.errors import ComplaintsError

FORMATS = ("svg", "png", "dot", "mmd")
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png", "dot": "text/vnd.graphviz", "mmd": "text/plain"}
INSTALL_HINT = "Graphviz's `dot` program is not installed: apt-get install graphviz (or use --format mmd or dot)"
_TIMEOUT_S = 60


class GraphvizMissing(ComplaintsError):
    code = "graphviz_missing"


class GraphvizFailed(ComplaintsError):
    code = "graphviz_failed"


def dot_program() -> str:
    path = shutil.which("dot")
    if path is None:
        raise GraphvizMissing(INSTALL_HINT)
    return path


def source_digest(dot_source: str) -> str:
    return hashlib.sha256(dot_source.encode("utf-8")).hexdigest()


def render(dot_source: str, fmt: str) -> bytes:
    """``svg`` or ``png`` bytes of a DOT source (cached by source and format)."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"Graphviz renders svg or png, not {fmt!r}")
    return _render(dot_program(), dot_source, fmt)


@lru_cache(maxsize=128)
def _render(program: str, dot_source: str, fmt: str) -> bytes:
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"], input=dot_source.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphvizFailed(f"dot could not run: {err}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizFailed(f"dot failed: {message[-1] if message else done.returncode}")
    if fmt == "svg":
        return stamp_svg(done.stdout, dot_source)
    return done.stdout


_STAMP = "<!-- complaints diagram source sha256: {} -->\n"
_STAMP_RE = re.compile(rb"<!-- complaints diagram source sha256: ([0-9a-f]{64}) -->")


def stamp_svg(svg: bytes, dot_source: str) -> bytes:
    """Record which DOT source an SVG was drawn from, so a stale committed SVG is caught on any Graphviz version."""
    stamp = _STAMP.format(source_digest(dot_source)).encode("ascii")
    head, sep, rest = svg.partition(b"<svg")
    return head + stamp + sep + rest if sep else stamp + svg


def svg_source_digest(svg: bytes) -> str | None:
    match = _STAMP_RE.search(svg)
    return match.group(1).decode("ascii") if match else None


def graphviz_version() -> str | None:
    try:
        done = subprocess.run([dot_program(), "-V"], capture_output=True, timeout=_TIMEOUT_S)
    except (GraphvizMissing, OSError, subprocess.TimeoutExpired):
        return None
    return done.stderr.decode("utf-8", "replace").strip() or None

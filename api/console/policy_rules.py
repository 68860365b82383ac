"""A policy file's rules with the seed lines they come from: each setting and the comment above it.

Every shipped policy quotes its seed (the landlord's own document) in a comment
above each setting (DOMAIN.md). The console shows them side by side, so an
analyst reads the rule and the words it encodes together. The TOML itself is
read by workflow/policy.py; this only pairs its text lines with their comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_TABLE = re.compile(r"^\[([A-Za-z0-9_.]+)\]\s*$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=")


@dataclass(frozen=True)
class Rule:
    key: str | None  # "stage_1.response"; None for a note that stands on its own (a comment block)
    text: str  # the setting as written (may span lines)
    seed: str  # the comment lines above it, without the '#'


def _depth(line: str) -> int:
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line.split(" #")[0] if not line.lstrip().startswith("#") else "")
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


@lru_cache(maxsize=64)
def rules_of(path: str) -> tuple[Rule, ...]:
    """The rules of one policy file, in file order (empty when the file cannot be read)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    out: list[Rule] = []
    table = ""
    comments: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith("#"):
            comments.append(line.lstrip("#").strip())
        elif not line:
            if comments:
                out.append(Rule(None, "", " ".join(comments)))
                comments = []
        elif match := _TABLE.match(line):
            table = match.group(1)
        elif match := _KEY.match(line):
            block, depth = [lines[i - 1].rstrip()], _depth(line)
            while depth > 0 and i < len(lines):
                block.append(lines[i].rstrip())
                depth += _depth(lines[i].strip())
                i += 1
            key = f"{table}.{match.group(1)}" if table else match.group(1)
            out.append(Rule(key, "\n".join(block), " ".join(comments)))
            comments = []
    if comments:
        out.append(Rule(None, "", " ".join(comments)))
    return tuple(out)

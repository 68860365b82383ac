"""The dependency direction is one way: workflow <- storage/scheduler <- service <- api."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "workflow": {
        "sqlalchemy",
        "apscheduler",
        "fastapi",
        "starlette",
        "uvicorn",
        "alembic",
        "psycopg",
        "httpx",
        "subprocess",
        "storage",
        "scheduler",
        "service",
        "api",
    },
    "storage": {"apscheduler", "fastapi", "starlette", "uvicorn", "scheduler", "service", "api"},
    "scheduler": {"sqlalchemy", "fastapi", "starlette", "uvicorn", "storage", "service", "api"},
    "service": {"apscheduler", "fastapi", "starlette", "uvicorn", "scheduler", "api"},
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_inward(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert offenders == {}

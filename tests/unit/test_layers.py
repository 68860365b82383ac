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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_imports(path: Path, modules: set[str]) -> set[str]:
    """Every project module this file imports, anywhere in it (TYPE_CHECKING blocks and functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    found.add(f"{node.module}.{alias.name}")
                elif node.module in modules:
                    found.add(node.module)
    return found


def test_no_import_cycles_between_modules() -> None:
    """A cycle (service.complaints <-> service.firing was one) means two modules are one idea split badly."""
    files = {
        _module_name(path): path
        for package in ("workflow", "storage", "scheduler", "service", "api")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    graph = {name: _project_imports(path, set(files)) - {name} for name, path in files.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target) :] + [target] if target in trail else [name, target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []

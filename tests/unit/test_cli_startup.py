"""The command line starts without the web stack: every docs example and script pays for each import.

``complaints token ...`` once imported FastAPI through api.http.deps, which cost about 0.65 s of CPU on
every CLI call (the docs tests make about a hundred). Only ``complaints serve`` needs FastAPI and uvicorn,
and it imports them when it runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.docs_blocks import ROOT

WEB = ("fastapi", "uvicorn", "starlette")


def test_building_the_cli_and_making_a_token_import_no_web_framework() -> None:
    code = (
        "import sys, api.cli, api.cli_token, api.tokens; api.cli.build_parser(); "
        f"print(','.join(m for m in {WEB!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "", f"the CLI imports {loaded.stdout.strip()} before any command runs"


def test_the_http_layer_still_offers_the_token_functions() -> None:
    from api import tokens
    from api.http import deps

    assert deps.create_token is tokens.create_token and deps.ROLES == tokens.ROLES


def test_a_store_at_head_is_opened_without_alembic(tmp_path: Path) -> None:
    """Every command brings the schema up to date first; once it is, that costs one read, not Alembic."""
    code = (
        "import sys; from storage.database import make_engine, upgrade; "
        f"upgrade(make_engine('sqlite:///{tmp_path}/s.db')); print('alembic' in sys.modules)"
    )
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)]
    runs.append(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True))
    assert [r.stdout.strip() for r in runs] == ["True", "False"]

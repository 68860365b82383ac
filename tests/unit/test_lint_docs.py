"""docs/code_self_assessment.md shows what the lint says today about every shipped policy."""

from __future__ import annotations

from pathlib import Path

from api.report_format import render
from workflow.catalog import shipped
from workflow.lint import lint

DOC = Path(__file__).resolve().parents[2] / "docs" / "code_self_assessment.md"


def test_the_recorded_self_assessment_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    code = shipped().get("code_2024")
    for policy in shipped().all():
        table = render(lint(policy, code).to_dict(), "md")
        assert table in text, f"{policy.ref} changed: regenerate with `complaints policy lint all --format md`"

"""The timeline and the what-if as text for a terminal and as one self-contained HTML file.

The HTML has its CSS inline and no scripts, fonts or images from anywhere,
so an auditor can attach it to a report and it reads the same offline. Every
value is escaped: event data is whatever a back-office system sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from workflow.calendar import LONDON
from workflow.vocabulary import WINDOWS

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:2rem;max-width:1200px}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.meta{color:#57606a;margin:.2rem 0}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.45rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa;font-weight:600}tr.timer td{background:#fbfbfd}td.seq{color:#57606a;text-align:right}
.state{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;background:#eef1f4;
border-radius:4px;padding:0 .3rem}
.tag{display:inline-block;border-radius:10px;padding:0 .5rem;margin:.1rem .2rem .1rem 0;font-size:12px}
.opened{background:#ddf4ff;color:#0550ae}.met{background:#dafbe1;color:#116329}.breach{background:#ffebe9;color:#a40e26}
.passed{background:#fff8c5;color:#7d4e00}.other{background:#eaeef2;color:#424a53}
.data{font-size:12px;color:#424a53;word-break:break-word}.data b{font-weight:600;color:#57606a}
.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;color:#8c959f}
.note{color:#57606a;font-size:12px;margin-top:1.5rem}
"""


def local_time(text: str) -> str:
    """An ISO instant as a person in England reads it: local date and time, and the zone (GMT/BST)."""
    return datetime.fromisoformat(text).astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _change_words(change: dict[str, Any]) -> str:
    kind, due, status = change["kind"], change["due"], change["status"]
    window = kind in WINDOWS
    if status == "opened":
        return f"opened {kind} due {due}" + ("" if window else f" ({change['working_days_allowed']} WD away)")
    if status == "met":
        taken, allowed = change["working_days_taken"], change["working_days_allowed"]
        return f"met {kind} due {due}" + ("" if window else f": {taken} WD taken of {allowed} WD")
    if status == "passed":
        return f"BREACHED {kind} due {due}" if change["breach"] else f"window passed: {kind} due {due}"
    return f"{status} {kind} due {due}"


def timeline_text(view: dict[str, Any]) -> str:
    case = view["case"]
    lines = [
        f"case {case['id']}  policy {case['policy']}@{case['policy_version']}  version {case['version']}",
        f"  state: {case['state']}" + (f" ({case['closure_reason']})" if case["closure_reason"] else ""),
        f"  breaches: {', '.join(case['breaches']) or 'none'}",
        f"  history: {'verified (hash chain intact, replay equals the store)' if view['verified'] else 'NOT VERIFIED'}",
        *(f"    {p}" for p in view["problems"]),
        "",
    ]
    for e in view["events"]:
        back = "  (back-dated)" if e["recorded_at"] != e["occurred_at"] and e["name"] != "deadline_passed" else ""
        lines.append(
            f"{e['seq']:>3} {e['name']:<20} {e['state_before']} -> {e['state_after']}  by {e['actor']}"
            f"\n      occurred {local_time(e['occurred_at'])}  recorded {local_time(e['recorded_at'])}{back}"
        )
        if e["data"] and e["name"] != "deadline_passed":
            lines.append(f"      data {json.dumps(e['data'], ensure_ascii=False)}")
        for change in [*e["closed"], *e["opened"]]:
            lines.append(f"      - {_change_words(change)}")
    lines.append("")
    lines.append("Refused events are not stored (a refusal changes nothing); the service's log lists them.")
    return "\n".join(lines) + "\n"


def _tag(change: dict[str, Any]) -> str:
    status = change["status"]
    css = {"opened": "opened", "met": "met"}.get(status, "other")
    if status == "passed":
        css = "breach" if change["breach"] else "passed"
    return f'<span class="tag {css}">{escape(_change_words(change))}</span>'


def timeline_html(view: dict[str, Any]) -> str:
    case = view["case"]
    closure = f" ({escape(case['closure_reason'])})" if case["closure_reason"] else ""
    verdict = (
        '<span class="ok">verified: hash chain intact, replay equals the store</span>'
        if view["verified"]
        else '<span class="bad">NOT VERIFIED</span><ul>'
        + "".join(f"<li>{escape(p)}</li>" for p in view["problems"])
        + "</ul>"
    )
    open_deadlines = ", ".join(f"{escape(d['kind'])} due {escape(d['due'])}" for d in case["deadlines"]) or "none"
    rows = []
    for e in view["events"]:
        timer = e["name"] == "deadline_passed"
        back = e["recorded_at"] != e["occurred_at"] and not timer
        data = (
            ""
            if timer
            else "<br>".join(
                f"<b>{escape(str(k))}</b>: {escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))}"
                for k, v in e["data"].items()
            )
        )
        changes = "".join(_tag(c) for c in [*e["closed"], *e["opened"]])
        recorded = (
            "recorded at once" if e["recorded_at"] == e["occurred_at"] else f"recorded {local_time(e['recorded_at'])}"
        )
        rows.append(
            f'<tr class="{"timer" if timer else "event"}"><td class="seq">{e["seq"]}</td>'
            f'<td><strong>{escape(e["name"])}</strong><br><span class="meta">by {escape(e["actor"])}</span></td>'
            f'<td>{escape(local_time(e["occurred_at"]))}<br><span class="meta">{escape(recorded)}'
            f"{' (back-dated)' if back else ''}</span></td>"
            f'<td><span class="state">{escape(e["state_before"])}</span> &rarr; '
            f'<span class="state">{escape(e["state_after"])}</span></td>'
            f"<td>{changes}</td>"
            f'<td><div class="data">{data}</div><div class="hash">{escape(e["hash"][:16])}</div></td></tr>'
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Case {escape(case["id"])}: history</title>
<style>{_CSS}</style></head>
<body>
<h1>Complaint case {escape(case["id"])}</h1>
<p class="meta">Policy {escape(case["policy"])} version {case["policy_version"]} &middot; {case["version"]} events</p>
<p>State <span class="state">{escape(case["state"])}</span>{closure} &middot; open deadlines: {open_deadlines}
&middot; breaches: {escape(", ".join(case["breaches"]) or "none")}</p>
<p>{verdict}</p>
<p class="hash">head hash {escape(view["head_hash"] or "")}</p>
<h2>Timeline</h2>
<table>
<thead><tr><th>#</th><th>Event</th><th>Occurred</th><th>State</th><th>Deadlines</th><th>Data</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="note">Times are local to England (Europe/London, GMT or BST). WD = working days (England and Wales),
counted from the local date of the event that opened the deadline.
Refused events are not stored: a refusal changes nothing. Each event's hash is SHA-256 over its canonical
JSON (RFC 8785) including the previous event's hash.</p>
</body></html>
"""


def what_if_text(view: dict[str, Any]) -> str:
    a, b = view["policy"], view["what_if_policy"]
    lines = [f"case {view['case_id']}: {a} (as stored) vs {b} (what if), until {view['until']}"]
    for step in view["steps"]:
        where = f"seq {step['seq']}" if step["seq"] is not None else "      "
        if step["kind"] == "event":
            mine, theirs = step["original"], step["what_if"]
            outcome = f"refused: {', '.join(theirs['reasons'])}" if not theirs["applied"] else theirs["state_after"]
            lines.append(f"{where:>7} {step['at']}  {step['name']:<20} {mine['state_after']} | {outcome}")
        else:
            lines.append(f"{where:>7} {step['at']}  {step['name']} passes")
        lines.extend(f"          differs: {d}" for d in step["differences"])
    for label, side in ((a, view["original"]), (b, view["what_if"])):
        closure = f" ({side['closure_reason']})" if side["closure_reason"] else ""
        deadlines = ", ".join(f"{k} due {v}" for k, v in side["open_deadlines"].items()) or "none"
        lines.append(
            f"{label}: {side['state']}{closure}; breaches: {', '.join(side['breaches']) or 'none'}; open: {deadlines}"
        )
    lines.append("outcome differs" if view["differs"] else "same outcome under both policies")
    return "\n".join(lines) + "\n"


def replay_text(view: dict[str, Any]) -> str:
    when = []
    if view["as_of"]:
        when.append(f"as of {view['as_of']} (events that had occurred)")
    if view["known_at"]:
        when.append(f"known at {view['known_at']} (events that had been recorded)")
    closure = f" ({view['closure_reason']})" if view["closure_reason"] else ""
    lines = [
        f"case {view['id']}  policy {view['policy']}@{view['policy_version']}  " + (", ".join(when) or "now"),
        f"  state: {view['state']}{closure}",
        *(f"  open: {d['kind']} due {d['due']}{' (window)' if d['window'] else ''}" for d in view["deadlines"]),
        f"  breaches: {', '.join(view['breaches']) or 'none'}",
        f"  events folded: {', '.join(map(str, view['events_folded'])) or 'none'}"
        + (f"; left out: {', '.join(map(str, view['events_left_out']))}" if view["events_left_out"] else ""),
    ]
    return "\n".join(lines) + "\n"

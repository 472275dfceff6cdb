"""The class report: ``report.html`` next to the grader's ``grades.csv`` and ``submissions.csv``.

A teacher who graded thirty hand-ins wants to know which misconception to address next, not only
who passed. :func:`write_report` reads the two CSV files that ``python -m mmlab grade --out DIR``
writes and writes ``DIR/report.html``: one self-contained page (inline SVG chart, inline CSS, no
script, nothing fetched from the network) with, per exercise, the share of hand-ins that passed,
the most frequent hints of failed checks with how many students got each, the hand-ins that could
not be run and why, and the time taken.

No student's solution text goes into the page. The hints are the checks' own messages; an error
raised by a student's cell is reduced to its exception type (its message may quote the student's
code), and so is any exception quoted in a reason. Every text is HTML-escaped.
"""
from __future__ import annotations

import csv
import html
import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["redact", "write_report"]

#: An exception named in a message, with whatever follows it (possibly the student's code or data).
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration))\b\s*:.*",
                        re.DOTALL)
MAX_HINT = 400       # characters kept of one hint
TOP_HINTS = 5        # hints listed per exercise


def redact(text: str) -> str:
    """Keep the check's own words, drop what may quote a student's code.

    ``"the check cell raised NameError: name 'foo' is not defined (earlier, cell 3 raised ...)"``
    becomes ``"the check cell raised NameError"``: an exception's message, and anything after it,
    can repeat the student's code lines, so only the exception's type is kept.
    """
    text = " ".join(str(text).split()).removeprefix("✅ ").removeprefix("❌ ")  # (no emoji font everywhere)
    head, sep, earlier = text.partition(" (earlier, ")
    text = _EXCEPTION.sub(lambda m: m.group(1), head)
    if sep:  # "... (earlier, cell 2 raised RuntimeError: <the student's text>)"
        text += sep + _EXCEPTION.sub(lambda m: m.group(1), earlier.rstrip(")")) + ")"
    if len(text) > MAX_HINT:
        text = text[:MAX_HINT - 1] + "…"
    return text


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _seconds(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _chart(shares: list[tuple[str, int, int]]) -> str:
    """A horizontal bar chart (inline SVG) of passed / hand-ins per exercise."""
    bar_w, label_w, row_h = 320, 260, 26
    height = row_h * len(shares) + 30
    width = label_w + bar_w + 110
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="share of hand-ins that passed, per exercise">']
    for i, (name, passed, total) in enumerate(shares):
        y = 10 + i * row_h
        share = passed / total if total else 0.0
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13" '
                     f'font-family="sans-serif">{html.escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="18" fill="#eee"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{share * bar_w:.1f}" height="18" '
                     f'fill="{"#2e7d32" if share >= 0.7 else "#f9a825" if share >= 0.4 else "#c62828"}"/>')
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}" font-size="13" font-family="sans-serif">'
                     f'{share:.0%} ({passed}/{total})</text>')
    parts.append("</svg>")
    return "".join(parts)


CSS = """body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}.n{text-align:right}h2{margin-top:2rem}
.muted{color:#666}"""


def write_report(out_dir: str | Path) -> Path:
    """Read ``out_dir/grades.csv`` and ``out_dir/submissions.csv``; write and return ``out_dir/report.html``."""
    out = Path(out_dir)
    grades = _read(out / "grades.csv")
    subs = _read(out / "submissions.csv")
    e = html.escape

    # Per exercise: who passed, and the hints of those who did not.
    exercises: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {"all": set(), "passed": set()})
    hints: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in grades:
        if not r.get("exercise"):
            continue
        key = (r.get("notebook", ""), r["exercise"])
        sub = r.get("submission", "")
        exercises[key]["all"].add(sub)
        if r.get("passed") == "True":
            exercises[key]["passed"].add(sub)
        else:
            status = r.get("status", "")
            hint = redact(r.get("message", "")) or "(no message)"
            if status not in ("ok", ""):
                hint = f"[{status.replace('_', ' ')}] {hint}"
            hints[key][hint] += 1
    order = sorted(exercises)
    shares = [(ex, len(exercises[(nb, ex)]["passed"]), len(exercises[(nb, ex)]["all"])) for nb, ex in order]

    graded = [s for s in subs if s.get("status") == "graded"]
    failed = [s for s in subs if s.get("status") != "graded"]
    seconds = sorted(_seconds(s.get("seconds", "")) for s in subs)
    total = sum(seconds)

    html_parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
                  '<meta name="viewport" content="width=device-width, initial-scale=1">',
                  f"<title>Class report</title><style>{CSS}</style></head><body>",
                  "<h1>Class report</h1>",
                  f"<p>{len(subs)} hand-ins: {len(graded)} graded, {len(failed)} could not be run to the end. "
                  f"{len(order)} exercises. Grading took {total:.0f} s in all"
                  + (f" (median {seconds[len(seconds) // 2]:.0f} s, longest {seconds[-1]:.0f} s per hand-in)"
                     if seconds else "") + ".</p>",
                  '<p class="muted">Built from grades.csv and submissions.csv. No student\'s code is shown: '
                  "hints are the checks' own messages, errors keep only the exception type.</p>",
                  "<h2>Share passed, per exercise</h2>"]
    html_parts.append(_chart(shares) if shares else "<p>No exercise was graded.</p>")

    html_parts.append("<h2>The most frequent hints (the class's misconceptions)</h2>")
    for nb, ex in order:
        counted = hints[(nb, ex)].most_common()
        n_all = len(exercises[(nb, ex)]["all"])
        n_pass = len(exercises[(nb, ex)]["passed"])
        html_parts.append(f"<h3>{e(ex)} <span class=\"muted\">({e(nb)}; {n_pass}/{n_all} passed)</span></h3>")
        if not counted:
            html_parts.append("<p>Every hand-in passed.</p>")
            continue
        html_parts.append('<table><tr><th class="n">students</th><th>hint</th></tr>')
        for hint, n in counted[:TOP_HINTS]:
            html_parts.append(f'<tr><td class="n">{n}</td><td>{e(hint)}</td></tr>')
        if len(counted) > TOP_HINTS:
            rest = sum(n for _, n in counted[TOP_HINTS:])
            html_parts.append(f'<tr><td class="n">{rest}</td><td class="muted">{len(counted) - TOP_HINTS} '
                              "other hints</td></tr>")
        html_parts.append("</table>")

    html_parts.append("<h2>Hand-ins that could not be run</h2>")
    if failed:
        html_parts.append("<table><tr><th>hand-in</th><th>status</th><th>why</th></tr>")
        for s in failed:
            html_parts.append(f"<tr><td>{e(s.get('submission', ''))}</td><td>{e(s.get('status', ''))}</td>"
                              f"<td>{e(redact(s.get('reason', '')))}</td></tr>")
        html_parts.append("</table>")
    else:
        html_parts.append("<p>None: every hand-in ran to the end.</p>")

    html_parts.append("<h2>Time taken per hand-in</h2>")
    html_parts.append('<table><tr><th>hand-in</th><th>notebook</th><th class="n">seconds</th></tr>')
    for s in sorted(subs, key=lambda s: -_seconds(s.get("seconds", ""))):
        html_parts.append(f"<tr><td>{e(s.get('submission', ''))}</td><td>{e(s.get('notebook', ''))}</td>"
                          f"<td class=\"n\">{_seconds(s.get('seconds', '')):.1f}</td></tr>")
    html_parts.append("</table></body></html>\n")

    path = out / "report.html"
    path.write_text("\n".join(html_parts), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m mmlab.grade_report DIR
    import sys

    print(write_report(sys.argv[1]))

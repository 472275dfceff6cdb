"""``python -m mmlab grade``: run submitted notebooks and turn their checks into a gradebook.

Each submission runs in a fresh kernel contained by ``mmlab.sandbox`` (an allow-listed
environment, a throwaway HOME and cache, memory / file-size / process limits, no network and
another user where the system allows it), in an empty work folder, cell by cell, with a
per-cell and a per-notebook time limit; outputs kept are capped, and a submission that raises,
loops forever, prints megabytes or kills its kernel only loses the exercises it did not reach. Results are never read from printed text: every check ends in
``mmlab.exercises._feedback.report``, which appends a JSON line to ``$MMLAB_GRADE_LOG``, and
the grader reads the lines that appeared while each cell ran.

An exercise counts only if its result came from the released check cell and from mmlab's
own check code:

- the check cell is found (by its nbgrader grade id, else by its content) and its locked
  lines (``mmlab.student.locked_lines``) are unchanged, else *edited* or *missing*;
- the result line names the exercise and carries the fingerprint of the code that produced
  it (``code_fingerprint`` of the check function's frame); it must equal the fingerprint
  this process computes from its own copy of mmlab, else *tampered*;
- after the last cell the grader runs a cell of its own that fingerprints ``mm.checks.X``,
  the check modules' ``X`` and their ``report``: a replaced one (``mm.checks.nb01_x =
  lambda *a: True``) marks the exercise *tampered* even if the replacement never reported.

- the same cell also fingerprints every function of the check modules (their helpers too),
  checks that the modules they import are the real ones, and compares the functions of
  ``numpy``, ``numpy.linalg``, ``math``, ``torch`` and ``torch.nn.functional`` with this
  process's copies: ``np.allclose = lambda *a, **k: True`` marks every exercise *tampered*;
- a check reports once per call: two results for one exercise from its check cell (a line
  forged into the log beside the real one) mark it *tampered*; lines written by other cells
  are never counted.

This catches the tampering a learner can do from the notebook without reading mmlab's
source. Code running in the kernel can still forge anything in the kernel (patch a function
and restore it before the last cell; write the only result line itself): the limits of the
fingerprint are spelled out in docs/teaching.md, and the feedback files say which cells a
teacher should read when a result looks wrong.
"""
from __future__ import annotations

import copy
import csv
import inspect
import json
import logging
import os
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sandbox
from .exercises import _feedback
from .student import MANIFEST, locked_matches, release_manifest

__all__ = ["Result", "grade_notebook", "load_release", "main"]

#: Statuses of a row of grades.csv; only "ok" rows can have passed.
STATUSES = ("ok", "not_run", "error", "no_result", "edited", "missing", "tampered", "could_not_run")
MAX_CELL_OUTPUT = 100_000     # characters kept per cell (for error messages only)


@dataclass
class Result:
    """One row of grades.csv."""

    submission: str
    notebook: str
    exercise: str
    status: str
    passed: bool = False
    points: float = 0.0
    max_points: float = 0.0
    message: str = ""


@dataclass
class Run:
    """How the execution of one submission went."""

    results: dict[int, list[dict]] = field(default_factory=dict)  # cell index -> result lines
    errors: dict[int, str] = field(default_factory=dict)          # cell index -> "Error: message"
    executed: set[int] = field(default_factory=set)
    stopped: str = ""                                             # why execution stopped early
    replaced: dict[str, list[str]] = field(default_factory=dict)  # exercise -> where it was replaced
    unverified: str = ""                                          # why the final verification failed
    seconds: float = 0.0


def load_release(release: str | os.PathLike) -> list[dict]:
    """The manifest entries of a folder of student copies (``make student`` writes ``manifest.json``)."""
    folder = Path(release)
    if (folder / MANIFEST).is_file():
        return list(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["exercises"])
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"release: expected a folder of student copies with {MANIFEST} "
                                f"(run `make student`), got {str(folder)!r}")
    import nbformat

    return [e for p in notebooks for e in release_manifest(nbformat.read(p, as_version=4), p.name)]


def _expected_fingerprints() -> dict[str, str]:
    """Fingerprints of mmlab's own checks and report, computed in this process."""
    from . import exercises

    names = [n for n in dir(exercises) if n.startswith("nb") and callable(getattr(exercises, n))
             and hasattr(getattr(exercises, n), "__code__")]
    found = {n: _feedback.code_fingerprint(getattr(exercises, n).__code__) for n in names}
    found["report"] = _feedback.code_fingerprint(_feedback.report.__code__)
    return found


#: Libraries whose functions the checks rely on; a replaced function marks the run tampered.
LIBRARIES = ("numpy", "numpy.linalg", "math", "torch", "torch.nn.functional")


def _describe(obj) -> str:
    """What a callable is, the same in every process with the same packages: a fingerprint or a type.

    Libraries wrap their own functions as they load (importing ``torch._dynamo`` replaces
    ``torch.manual_seed`` by a wrapper in ``torch/_compile.py``), so a wrapper whose code lies in
    the library's installation is described by the function it wraps.
    """
    import os
    import sys

    files = [getattr(sys.modules.get(name), "__file__", None) for name in ("numpy", "torch")]
    roots = tuple(os.path.dirname(f) + os.sep for f in files if isinstance(f, str))
    while (getattr(obj, "__wrapped__", None) is not None and getattr(obj, "__code__", None) is not None
           and obj.__code__.co_filename.startswith(roots)):
        obj = obj.__wrapped__
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        return "code:" + _feedback.code_fingerprint(code)
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}:{getattr(obj, '__name__', '')}"


def _module_descriptions(module) -> dict[str, str]:
    """Every public callable attribute of ``module`` (and, for check modules, private ones) described."""
    described = {}
    for name, obj in sorted(vars(module).items()):
        if name.startswith("__") or isinstance(obj, types.ModuleType) or isinstance(obj, type):
            continue
        if callable(obj):
            described[name] = _describe(obj)
    return described


def _expected_state(check_modules: list[str]) -> dict[str, dict]:
    """What the grader's last cell compares: check modules' functions and imported modules, libraries."""
    import importlib

    state: dict[str, dict] = {"functions": {}, "modules": {}}
    for name in [*check_modules, "mmlab.exercises._feedback"]:
        module = importlib.import_module(name)
        state["functions"][name] = _module_descriptions(module)
        state["modules"][name] = {k: v.__name__ for k, v in vars(module).items() if isinstance(v, types.ModuleType)}
    for name in LIBRARIES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        state["functions"][name] = {k: v for k, v in _module_descriptions(module).items() if not k.startswith("_")}
    return state


def _verify_source(exercises: dict[str, str], expected: dict[str, str], state: dict[str, dict], out: Path) -> str:
    """A cell that fingerprints the check functions and the libraries as the kernel holds them, into ``out``."""
    # The fingerprint function's own text is sent, so the cell does not call into mmlab,
    # which the notebook may have patched; everything it uses is imported locally, so
    # names the notebook defined (json, open, ...) do not matter.
    return "\n".join([
        "def _mmlab_grade_verify():",
        "    import hashlib, importlib, io, json, sys, types",
        *("    " + line for line in inspect.getsource(_feedback.code_fingerprint).splitlines()),
        *("    " + line for line in inspect.getsource(_describe).splitlines()),
        f"    expected, modules, state = {expected!r}, {exercises!r}, {state!r}",
        "    _feedback = types.SimpleNamespace(code_fingerprint=code_fingerprint)",
        "    replaced, changed = {}, []",
        "    for name, module in modules.items():",
        "        bad = []",
        "        for where, attr in (('mmlab.checks', name), (module, name), (module, 'report'),",
        "                            ('mmlab.exercises._feedback', 'report')):",
        "            fn = getattr(importlib.import_module(where), attr, None)",
        "            code = getattr(fn, '__code__', None)",
        "            if not isinstance(code, types.CodeType) or code_fingerprint(code) != expected[attr]:",
        "                bad.append(f'{where}.{attr}')",
        "        if bad:",
        "            replaced[name] = bad",
        "    for where, described in state['functions'].items():",
        "        module = sys.modules.get(where)",
        "        if module is None:",
        "            continue",
        "        for attr, want in described.items():",
        "            if _describe(getattr(module, attr, None)) != want:",
        "                changed.append(f'{where}.{attr}')",
        "    for where, imported in state['modules'].items():",
        "        module = sys.modules.get(where)",
        "        for attr, real in imported.items():",
        "            if module is not None and getattr(module, attr, None) is not sys.modules.get(real):",
        "                changed.append(f'{where}.{attr}')",
        "    if changed:",
        "        for name in modules:",
        "            replaced.setdefault(name, []).extend(changed[:5])",
        f"    with io.open({str(out)!r}, 'w', encoding='utf-8') as f:",
        "        json.dump(replaced, f)",
        "_mmlab_grade_verify()",
        "del _mmlab_grade_verify",
    ])


def _new_lines(log: Path, offset: int) -> tuple[list[dict], int]:
    """JSON result lines appended to ``log`` since ``offset``, and the new offset."""
    if not log.exists():
        return [], offset
    with open(log, "rb") as f:
        f.seek(offset)
        data = f.read()
    lines = []
    for raw in data.decode("utf-8", "replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a half-written line from a killed kernel
        if isinstance(line, dict):
            lines.append(line)
    return lines, offset + len(data)


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most MAX_CELL_OUTPUT characters of each cell's output (errors always)."""

        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if out is not None and out.get("output_type") != "error":
                kept = self.__dict__.setdefault("_mmlab_kept", {})  # characters kept so far, per cell
                size = kept.get(cell_index, 0) + len(json.dumps(out))
                if size > MAX_CELL_OUTPUT:
                    outs.remove(out)
                else:
                    kept[cell_index] = size
            return out

    return CappedClient


def _kernel_manager(box):
    """A kernel manager that starts the kernel through ``box``'s launcher, over Unix sockets in its work folder.

    Unix sockets, not TCP: a kernel in its own network namespace has no loopback the grader can
    reach. The manager must be the asynchronous one that nbclient makes by itself: a blocking
    client waits for output inside the event loop, so a kernel that dies is never noticed.
    """
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class ContainedKernelManager(AsyncKernelManager):
        def write_connection_file(self, **kwargs):
            super().write_connection_file(**kwargs)
            if box.uid is not None:  # the kernel runs as another user and must read its connection file
                os.chown(self.connection_file, box.uid, box.uid)

    km = ContainedKernelManager(transport="ipc", ip=str(box.work / ".kernel"),
                                connection_file=str(box.work / ".kernel.json"))
    km._kernel_spec = KernelSpec(argv=box.kernel_argv(), display_name="mmlab grading", language="python")
    return km


def _execute(nb, workdir: Path, log: Path, env: dict[str, str], km,
             cell_timeout: float, notebook_timeout: float, verify: str | None, verified: Path) -> Run:
    """Run the cells of ``nb`` one by one, attributing result lines to the cell that wrote them."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = Run()
    quiet = logging.getLogger("mmlab.grade.nbclient")
    quiet.setLevel(logging.CRITICAL)
    # Run a copy: nbclient writes each executed cell back into the notebook, and the
    # grader's own verification cell goes at its end.
    work = copy.deepcopy(nb)
    verify_index = len(work.cells) if verify is not None else None
    if verify is not None:
        work.cells.append(nbformat.v4.new_code_cell(verify))
    client = _client_class()(work, km=km, allow_errors=True, timeout=int(cell_timeout),
                             log=quiet, resources={"metadata": {"path": str(workdir)}},
                             record_timing=False, store_widget_state=False)
    client.owns_km = True  # given a manager, nbclient would leave its kernel running at the end
    start = time.monotonic()
    deadline = start + notebook_timeout
    offset = 0
    try:
        # The kernel's own log (not the notebook's stderr, which comes over Jupyter's
        # protocol) goes to a file, so warnings do not interleave with the progress bar.
        with open(log.with_suffix(".kernel.log"), "wb") as kernel_log, \
                client.setup_kernel(env=env, stdout=kernel_log, stderr=kernel_log):
            for index, cell in enumerate(work.cells):
                if cell.cell_type != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    run.stopped = f"the notebook ran out of time ({notebook_timeout:g} s per notebook) before cell {index}"
                    break
                client.timeout = max(1, int(min(cell_timeout, left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    which = ("per cell" if cell_timeout <= left else "per notebook")
                    limit = cell_timeout if cell_timeout <= left else notebook_timeout
                    run.stopped = f"cell {index} did not finish within the time limit ({limit:g} s {which})"
                    break
                finally:
                    lines, offset = _new_lines(log, offset)
                    run.results.setdefault(index, []).extend(lines)
                run.executed.add(index)
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        run.errors[index] = f"{out.get('ename')}: {str(out.get('evalue'))[:300]}"
                if index == verify_index:
                    try:
                        run.replaced = json.loads(verified.read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        # The check functions could not even be looked at: count nothing.
                        run.unverified = run.errors.get(index, "it wrote no result")
    except DeadKernelError:
        run.stopped = "the kernel died (the notebook crashed or exited Python)"
    except Exception as exc:  # a kernel that cannot start: report it as the reason, keep grading others
        tail = log.with_suffix(".kernel.log").read_text(errors="replace")[-300:] if log.with_suffix(
            ".kernel.log").exists() else ""
        run.stopped = f"the notebook could not be run: {type(exc).__name__}: {exc} {tail}".strip()
    run.seconds = time.monotonic() - start
    return run


def _find_cell(nb, entry: dict) -> tuple[int | None, bool]:
    """The submitted cell that is ``entry``'s check cell, and whether its locked lines are intact."""
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    by_id = [i for i, c in code if c.metadata.get("nbgrader", {}).get("grade_id") == entry["grade_id"]]
    intact = [i for i, c in code if locked_matches(c.source, entry["locked"], entry["whole_cell"])]
    if by_id:
        return by_id[-1], by_id[-1] in intact
    if intact:
        return intact[-1], True
    calls = [i for i, c in code if f"checks.{entry['exercise']}" in c.source]
    return (calls[-1], False) if calls else (None, False)


def grade_notebook(nb, entries: list[dict], run: Run, expected: dict[str, str], submission: str) -> list[Result]:
    """Turn the run of one submission into one Result per exercise of its notebook."""
    rows = []
    for entry in entries:
        name, points = entry["exercise"], float(entry["points"])
        row = Result(submission, entry["notebook"], name, "ok", max_points=points)
        index, intact = _find_cell(nb, entry)
        lines = [r for r in run.results.get(index, []) if r.get("exercise") == name] if index is not None else []
        if index is None:
            row.status, row.message = "missing", (
                f"the check cell of {name} is missing from the notebook; the exercise counts as not passed. "
                "Copy the cell back from the released notebook.")
        elif not intact:
            row.status, row.message = "edited", (
                f"the check cell of {name} (cell {index}) differs from the released copy; the exercise counts as "
                "not passed. Restore the cell from the released notebook.")
        elif run.replaced.get(name):
            row.status, row.message = "tampered", (
                f"{', '.join(run.replaced[name])} was replaced in the kernel, so the check that ran was not "
                "mmlab's; the exercise counts as not passed.")
        elif run.unverified:
            row.status, row.message = "tampered", (
                f"the grader could not check mmlab's functions after the last cell ({run.unverified}); "
                "the exercise counts as not passed.")
        elif len(lines) > 1:
            row.status, row.message = "tampered", (
                f"the check cell of {name} produced {len(lines)} results where the check reports once: a result "
                "was written by something other than the check; the exercise counts as not passed.")
        elif lines and (lines[-1].get("fingerprint") != expected.get(name)
                        or not str(lines[-1].get("module", "")).startswith("mmlab.exercises.")):
            row.status, row.message = "tampered", (
                "the result did not come from mmlab's own check code; the exercise counts as not passed.")
        elif lines:
            row.passed = bool(lines[-1].get("passed"))
            row.points = points if row.passed else 0.0
            row.message = str(lines[-1].get("message", ""))
        elif index not in run.executed:
            row.status, row.message = "not_run", f"not run: {run.stopped or 'the notebook stopped before it'}."
        elif index in run.errors:
            earlier = [f"cell {i} raised {e}" for i, e in sorted(run.errors.items()) if i < index]
            row.status, row.message = "error", f"the check cell raised {run.errors[index]}" + (
                f" (earlier, {earlier[0]})" if earlier else "")
        else:
            row.status, row.message = "no_result", (
                f"the check cell ran but {name} reported nothing (was mm.checks.{name} replaced, or "
                "MMLAB_GRADE_LOG removed?); the exercise counts as not passed.")
        rows.append(row)
    return rows


def _identify(nb, path: Path, release: dict[str, list[dict]]) -> str | None:
    """Which released notebook a submission is: its metadata, its file name, or the checks it calls."""
    named = nb.metadata.get("mmlab", {}).get("release")
    if named in release:
        return str(named)
    if path.name in release:
        return path.name
    stems = [n for n in release if Path(n).stem in path.name]
    if stems:
        return max(stems, key=len)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    overlap = {n: sum(f"checks.{e['exercise']}" in text for e in es) for n, es in release.items()}
    best = max(overlap, key=lambda n: overlap[n], default=None)
    return best if best is not None and overlap[best] > 0 else None


def _submission_ids(paths: list[Path]) -> list[str]:
    """Short unique names: the path below the submissions' common folder, '/' -> '__'."""
    resolved = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in resolved]))
    ids = ["__".join(p.relative_to(root).with_suffix("").parts) for p in resolved]
    return [f"{i}_{n}" if ids.count(i) > 1 else i for n, i in enumerate(ids)]


def _grade_one(path: Path, sid: str, release: dict[str, list[dict]], expected: dict[str, str],
               args) -> tuple[list[Result], dict]:
    import nbformat

    info: dict[str, Any] = {"submission": sid, "path": str(path), "notebook": "", "status": "graded",
                            "seconds": 0.0, "reason": "", "contained": ""}
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook: one row that says so
        info.update(status="could_not_run", reason=f"not a readable notebook: {type(exc).__name__}: {exc}")
        return [Result(sid, "", "", "could_not_run", message=info["reason"])], info
    name = _identify(nb, path, release)
    if name is None:
        info.update(status="could_not_run", reason="none of its check cells belongs to a released notebook")
        return [Result(sid, "", "", "could_not_run", message=info["reason"])], info
    info["notebook"] = name
    entries = release[name]
    modules = {e["exercise"]: "mmlab.exercises." + e["exercise"].split("_")[0] for e in entries
               if e["exercise"] in expected}
    with tempfile.TemporaryDirectory(prefix="mmlab-grade-") as tmp:
        box = sandbox.prepare(Path(tmp) / "box", warm_cache=args.warm_cache, limits=args.limits,
                              isolate_network=not args.allow_network)
        log = box.root / "results.jsonl"
        if box.uid is not None:
            os.chmod(tmp, 0o755)  # the kernel's user must reach its folders inside
        log.touch()
        if box.uid is not None:
            os.chown(log, box.uid, box.uid)  # the kernel appends its results here
        env = box.env({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                       "MMLAB_JOINT_MODEL": "conse", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg",
                       "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MMLAB_GRADE_NOTEBOOK": name,
                       _feedback.GRADE_LOG_ENV: str(log)})
        verified = box.work / ".verified.json"
        verify = _verify_source(modules, expected, args.state, verified) if modules else None
        run = _execute(nb, box.work, log, env, _kernel_manager(box), args.timeout_cell, args.timeout_notebook,
                       verify, verified)
        info["contained"] = "; ".join(box.notes) or "fully"
    info["seconds"] = round(run.seconds, 1)
    if run.stopped:
        info.update(status="stopped", reason=run.stopped)
    return grade_notebook(nb, entries, run, expected, sid), info


def _feedback_md(sid: str, info: dict, rows: list[Result]) -> str:
    score = sum(r.points for r in rows)
    total = sum(r.max_points for r in rows)
    out = [f"# Feedback for {sid}", "", f"Notebook: {info['notebook'] or '(not recognised)'}  ",
           f"Score: {score:g} / {total:g}", ""]
    if info["reason"]:
        out += [f"**Note:** {info['reason']}.", ""]
    for r in rows:
        if not r.exercise:
            continue
        mark = "✅" if r.passed else "❌"
        out += [f"## {mark} {r.exercise} ({r.points:g}/{r.max_points:g})", ""]
        if r.status != "ok":
            out += [f"*{r.status.replace('_', ' ')}*", ""]
        out += ["```", r.message.strip() or "(no message)", "```", ""]
    return "\n".join(out)


def _summary(rows: list[Result]) -> str:
    table: dict[tuple[str, str], list[Result]] = {}
    for r in rows:
        if r.exercise:
            table.setdefault((r.notebook, r.exercise), []).append(r)
    width = max([len(e) for _, e in table] + [8])
    lines = [f"{'exercise':<{width}}  passed  of  flagged (edited/missing/tampered)"]
    for (_, exercise), rs in table.items():
        flagged = sum(r.status in ("edited", "missing", "tampered") for r in rs)
        lines.append(f"{exercise:<{width}}  {sum(r.passed for r in rs):>6}  {len(rs):>2}  {flagged:>7}")
    return "\n".join(lines)


def main(args) -> int:
    """Grade every submission; write grades.csv, submissions.csv, feedback/*.md and report.html into ``args.out``."""
    from tqdm.auto import tqdm

    paths = [Path(p) for p in args.submissions]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"submissions: expected .ipynb files, not found: {missing[:3]}")
    if args.timeout_cell <= 0 or args.timeout_notebook <= 0:
        raise ValueError(f"--timeout-cell, --timeout-notebook: expected positive seconds, got "
                         f"{args.timeout_cell}, {args.timeout_notebook}")
    if not args.memory_gib > 0:
        raise ValueError(f"--memory-gib: expected a positive number of GiB, got {args.memory_gib:g}")
    release: dict[str, list[dict]] = {}
    for entry in load_release(args.release):
        release.setdefault(entry["notebook"], []).append(entry)
    args.limits = sandbox.Limits(memory=int(args.memory_gib * sandbox.GiB))
    from .cache import cache_dir

    args.warm_cache = Path(args.cache) if args.cache else cache_dir()
    expected = _expected_fingerprints()
    args.state = _expected_state(sorted({"mmlab.exercises." + e.split("_")[0] for e in expected if e != "report"}))
    out = Path(args.out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    rows: list[Result] = []
    infos = []
    for path, sid in tqdm(list(zip(paths, _submission_ids(paths))), desc="grading", unit="notebook",
                          file=sys.stderr):
        got, info = _grade_one(path, sid, release, expected, args)
        rows += got
        infos.append(info)
        (out / "feedback" / f"{sid}.md").write_text(_feedback_md(sid, info, got), encoding="utf-8")
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "notebook", "exercise", "status", "passed", "points", "max_points", "message"])
        for r in rows:
            writer.writerow([r.submission, r.notebook, r.exercise, r.status, r.passed, f"{r.points:g}",
                             f"{r.max_points:g}", r.message])
    with open(out / "submissions.csv", "w", newline="", encoding="utf-8") as f:
        table = csv.DictWriter(f, fieldnames=["submission", "path", "notebook", "status", "seconds", "reason",
                                              "contained"])
        table.writeheader()
        table.writerows(infos)
    from .grade_report import write_report

    report = write_report(out)  # the class's pass rates and most frequent hints, no solution text
    print(_summary(rows))
    notes = sorted({i["contained"] for i in infos if i.get("contained") not in ("", "fully")})
    print("kernels contained: " + ("; ".join(notes) if notes else "fully (own user, no network, limits, "
                                                                   "private HOME and cache)"))
    stopped = [i for i in infos if i["status"] != "graded"]
    print(f"{len(infos)} submission(s), {len(stopped)} stopped early or not run; "
          f"{out / 'grades.csv'}, {out / 'feedback'}/, {report}")
    return 0

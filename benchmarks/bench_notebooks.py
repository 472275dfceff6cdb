"""Wall time and peak memory of each notebook executed fresh, as a learner would run it.

Each notebook runs in its own process (nbclient, like `make notebooks`, but writing
nothing back), with a cold embedding cache unless --warm is given. Peak memory is the
largest resident set of the whole process tree (runner + kernel), sampled every 0.1 s.

The cold cache holds no embeddings, but it is seeded (hard links) with the model folders that
``make install`` builds once, the converted generator and the trained reranker of notebook 06
(as tests/conftest.py does), because a learner's machine has them from the install.

This is the one measured file the documentation quotes: it writes
``results/notebooks.json`` (the numbers, and when, where and on what they were measured)
and ``results/notebooks.md`` (the same as a table). ``--update-docs`` then rewrites the
blocks between ``<!-- notebook-times:begin -->`` and ``<!-- notebook-times:end -->`` in
README.md and docs/teaching.md from the JSON, so the docs cannot drift from the measurement
(``--update-docs`` alone, with no notebooks, only rewrites the docs from the existing JSON).

    .venv/bin/python benchmarks/bench_notebooks.py [--warm] [notebooks/NN_*.ipynb ...]
    .venv/bin/python benchmarks/bench_notebooks.py --update-docs     # docs from the last measurement
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = (ROOT / "README.md", ROOT / "docs" / "teaching.md")
BEGIN, END = "<!-- notebook-times:begin -->", "<!-- notebook-times:end -->"
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


#: Cache folders that ``make install`` builds (see the Makefile); seeded into every cold cache.
INSTALL_TIME_MODELS = ("generator", "reranker")


def seeded_cache() -> str:
    """A new empty cache holding only the install-time model folders of the user's cache."""
    root = Path(tempfile.mkdtemp(prefix="mmlab-bench-cache-"))
    user = os.environ.get("MMLAB_CACHE")
    source = Path(user) if user and user != "off" else Path.home() / ".cache" / "mmlab"

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for name in INSTALL_TIME_MODELS:
        if (source / name).is_dir():
            shutil.copytree(source / name, root / name, copy_function=link)
    return str(root)


def tree_rss(proc) -> int:
    """Resident bytes of a process and all its descendants."""
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(notebook: Path, cache_dir: str) -> tuple[float, int, int, float]:
    """Execute one notebook; return (seconds, peak bytes, exit code, mean 1-minute load average)."""
    import psutil

    env = dict(os.environ, MMLAB_CACHE=cache_dir, MMLAB_JOINT_MODEL="conse",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-c", RUNNER, str(notebook), str(notebook.parent)],
                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, loads = 0, []
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc))
        loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
        time.sleep(0.1)
    load = sum(loads) / len(loads) if loads else float("nan")
    return time.perf_counter() - start, peak, proc.returncode, load


def machine() -> dict:
    """Where the numbers were measured: enough to tell a quiet laptop from a busy server."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return {"date": time.strftime("%Y-%m-%d"), "commit": commit, "os": f"{platform.system()} {platform.release()}",
            "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version(), "torch": torch_version,
            "load_average_at_start": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
            "started": time.strftime("%Y-%m-%d %H:%M %Z")}


def markdown(data: dict) -> str:
    """The measurement as the table README.md and docs/teaching.md show (and results/notebooks.md)."""
    m = data["machine"]
    rows = data["notebooks"]
    total = sum(r["seconds"] for r in rows)
    lines = [
        f"Measured {m['date']} by `benchmarks/bench_notebooks.py` ({data['cache']} embedding cache, with the "
        f"models `make install` builds present; each notebook in a fresh kernel) on {m['os']}, {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, CPU only, "
        f"Python {m['python']}, torch {m['torch']}; commit {m['commit']}. The load average is the machine's "
        f"(number of busy or waiting processes): above the {m['cores']} cores, other work slowed the run down.",
        "",
        "| notebook | run time (s) | peak memory (GiB) | load average during the run | status |",
        "|---|---:|---:|---:|---|",
        *(f"| {r['notebook']} | {r['seconds']:.0f} | {r['peak_gib']:.1f} | {r['load']:.1f} | {r['status']} |"
          for r in rows),
        f"| all {len(rows)} | {total:.0f} ({total / 60:.1f} min) | {max(r['peak_gib'] for r in rows):.1f} (max) | | |",
    ]
    if any(r["status"] != "ok" for r in rows):
        lines += ["", "A FAILED notebook stopped with an error at that commit: its time is not a full run."]
    return "\n".join(lines) + "\n"


def update_docs(data: dict) -> list[Path]:
    """Rewrite the notebook-times block of each doc that has one; return the files changed."""
    block = f"{BEGIN}\n{markdown(data)}{END}"
    changed = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        if BEGIN not in text:
            continue
        new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        if new != text:
            doc.write_text(new, encoding="utf-8")
            changed.append(doc)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--warm", action="store_true", help="share one cache across notebooks (a second run)")
    parser.add_argument("--update-docs", action="store_true",
                        help="rewrite the notebook-times blocks of README.md and docs/teaching.md from the JSON; "
                             "alone (no notebooks), measure nothing")
    parser.add_argument("--out", type=Path, default=RESULTS / "notebooks.json")
    args = parser.parse_args()

    if args.update_docs and not args.notebooks:
        data = json.loads(args.out.read_text(encoding="utf-8"))
        for doc in update_docs(data):
            print(f"updated {doc.relative_to(ROOT)}")
        return 0

    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    data = {"cache": "warm" if args.warm else "cold", "machine": machine(), "notebooks": []}
    shared = seeded_cache()
    for nb in notebooks:
        cache = shared if args.warm else seeded_cache()
        seconds, peak, code, load = run(nb, cache)
        row = {"notebook": nb.name, "seconds": round(seconds, 1), "peak_gib": round(peak / 2**30, 2),
               "load": round(load, 1), "status": "ok" if code == 0 else f"FAILED ({code})"}
        data["notebooks"].append(row)
        print(row, flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(
        f"# Notebook run time and peak memory ({data['cache']} embedding cache)\n\n{markdown(data)}", encoding="utf-8")
    print(f"written to {args.out} and {args.out.with_suffix('.md')}")
    if args.update_docs:
        for doc in update_docs(data):
            print(f"updated {doc.relative_to(ROOT)}")
    return 0 if all(r["status"] == "ok" for r in data["notebooks"]) else 1


if __name__ == "__main__":
    sys.exit(main())

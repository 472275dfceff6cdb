"""Wall time and peak memory of each notebook executed fresh, as a learner would run it.

Each notebook runs in its own process (nbclient, like `make notebooks`, but writing
nothing back), with a cold embedding cache unless --warm is given. Peak memory is the
largest resident set of the whole process tree (runner + kernel), sampled every 0.1 s.

    .venv/bin/python benchmarks/bench_notebooks.py [--warm] [notebooks/NN_*.ipynb ...]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(notebook: Path, cache_dir: str) -> tuple[float, int, int]:
    """Execute one notebook; return (seconds, peak bytes, exit code)."""
    env = dict(os.environ, MMLAB_CACHE=cache_dir, MMLAB_JOINT_MODEL="conse",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-c", RUNNER, str(notebook), str(notebook.parent)],
                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc))
        time.sleep(0.1)
    return time.perf_counter() - start, peak, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--warm", action="store_true", help="share one cache across notebooks (a second run)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "notebooks.md")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

    rows = []
    shared = tempfile.mkdtemp(prefix="mmlab-bench-cache-")
    for nb in notebooks:
        cache = shared if args.warm else tempfile.mkdtemp(prefix="mmlab-bench-cache-")
        seconds, peak, code = run(nb, cache)
        status = "ok" if code == 0 else f"FAILED ({code})"
        rows.append(f"| {nb.name} | {seconds:.1f} | {peak / 2**30:.2f} | {'yes' if seconds < 90 else 'NO'} | {status} |")
        print(rows[-1], flush=True)

    cores = os.cpu_count()
    mem = psutil.virtual_memory().total / 2**30
    header = [
        f"# Notebook wall time and peak memory ({'warm' if args.warm else 'cold'} embedding cache)",
        "",
        f"Machine: {cores} cores, {mem:.0f} GiB RAM, CPU only. Measured {time.strftime('%Y-%m-%d')}.",
        "",
        "| notebook | wall time (s) | peak RSS (GiB) | under 90 s | status |",
        "|---|---|---|---|---|",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header + rows) + "\n")
    print(f"written to {args.out.relative_to(ROOT)}")
    return 0 if all("ok |" in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

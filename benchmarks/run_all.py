"""Run every benchmark in this folder, one after another (`make bench`).

Each script prints its table and writes it to benchmarks/results/. Pass --quick to
use the smaller settings each script offers.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_search.py", "bench_ann.py", "bench_encode.py", "bench_notebooks.py"]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for name in SCRIPTS:
        script = HERE / name
        if not script.exists():
            print(f"== {name}: missing, skipped")
            continue
        cmd = [sys.executable, str(script)]
        if quick and name != "bench_notebooks.py":
            cmd.append("--quick")
        print(f"== {name}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

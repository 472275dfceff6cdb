"""Small commands: ``python -m mmlab fetch``, ``run-notebooks``, ``student``, ``notebooks``, ``solution``, ``grade``, ``info``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _cmd_fetch(args) -> int:
    from . import models

    return models.fetch(args.names or None)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def strip_widgets(nb) -> int:
    """Drop progress-bar widget outputs from an executed notebook; return how many were dropped.

    A stored widget shows on a code host as its frozen first frame ("0% 0/103"), which reads as
    a hung cell. The bars are useful while a cell runs, not afterwards.
    """
    dropped = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = [o for o in cell.get("outputs", []) if WIDGET_MIME not in o.get("data", {})]
        dropped += len(cell.get("outputs", [])) - len(kept)
        cell["outputs"] = kept
    nb.metadata.pop("widgets", None)
    return dropped


def _cmd_run_notebooks(args) -> int:
    import nbformat
    from nbclient import NotebookClient

    for path in args.notebooks:
        path = Path(path)
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        client = NotebookClient(nb, timeout=args.timeout, kernel_name=args.kernel,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
        strip_widgets(nb)
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_student(args) -> int:
    from . import student

    return student.main(args.notebooks, args.out)


def _cmd_notebooks(args) -> int:
    from . import notebooks_cli

    return notebooks_cli.main(args.dest, student=not args.solutions, force=args.force)


def _cmd_solution(args) -> int:
    from . import student

    try:
        student.show_solution(args.exercise)
    except (ValueError, FileNotFoundError) as exc:
        print(f"python -m mmlab solution: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_grade(args) -> int:
    from . import grade

    return grade.main(args)


def _cmd_info(args) -> int:
    import mmlab

    print(f"mmlab {mmlab.__version__}, python {sys.version.split()[0]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch", help="download online model weights now, so a workshop can run offline")
    p.add_argument("names", nargs="*", help="models to fetch (default: clip)")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("run-notebooks", help="execute notebooks in place")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.add_argument("--kernel", default="python3")
    p.set_defaults(func=_cmd_run_notebooks)

    p = sub.add_parser("student", help="write student copies with solutions replaced by stubs")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--out", default="student")
    p.set_defaults(func=_cmd_student)

    p = sub.add_parser("notebooks", help="copy the numbered notebooks into a folder of your own "
                       "(keeps files you have edited)")
    p.add_argument("dest", help="folder to copy into, e.g. ~/mmlab (created if missing)")
    p.add_argument("--student", action="store_true",
                   help="student copies: exercises empty, outputs cleared (the default)")
    p.add_argument("--solutions", action="store_true",
                   help="copy the solved reference notebooks instead of student copies")
    p.add_argument("--force", action="store_true",
                   help="overwrite notebooks that differ from mmlab's (your edits are lost)")
    p.set_defaults(func=_cmd_notebooks)

    p = sub.add_parser("solution", help="print the reference solution of one exercise (after you have tried it)")
    p.add_argument("exercise", help="the check's name as the check cell calls it, e.g. nb01_cosine_similarity")
    p.set_defaults(func=_cmd_solution)

    p = sub.add_parser("grade", help="run submitted notebooks and write grades.csv and feedback per student")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    p.add_argument("--out", required=True, help="folder for grades.csv, submissions.csv and feedback/")
    p.add_argument("--release", default="student",
                   help="the folder of released student copies with manifest.json (default: student)")
    p.add_argument("--timeout-cell", type=float, default=120, help="seconds per cell (default 120)")
    p.add_argument("--timeout-notebook", type=float, default=600, help="seconds per notebook (default 600)")
    p.add_argument("--memory-gib", type=float, default=8,
                   help="address-space limit of each hand-in's kernel, GiB (default 8)")
    p.add_argument("--cache", default=None,
                   help="a warm mmlab cache each hand-in's private cache is seeded from "
                        "(default: $MMLAB_CACHE or ~/.cache/mmlab)")
    p.add_argument("--allow-network", action="store_true",
                   help="let kernels reach the network (by default it is cut off where the system allows it)")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("info", help="print versions")
    p.set_defaults(func=_cmd_info)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

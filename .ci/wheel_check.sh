#!/usr/bin/env bash
# Proves that mmlab works outside this checkout, offline, as a teacher or learner installs it:
#   1. build the wheel from the repo (offline: setuptools comes from the venv, no isolation);
#   2. install it into a throwaway venv where the checkout is NOT importable. Torch and the
#      other third-party packages are reused from the project's venv, not reinstalled: one
#      .pth line puts that venv's site-packages on sys.path as a plain path, so its .pth files
#      (among them the editable install's finder for this checkout) never run;
#   3. from a temporary folder outside the repo: load the data, copy the notebooks out with
#      `python -m mmlab notebooks --solutions`, and execute the copies of $NOTEBOOKS with nbclient in a
#      kernel of the throwaway venv, checking that the kernel imported the installed wheel.
# Usage: .ci/wheel_check.sh   (make wheel-check; make test runs it after the tests)
# Env: PY (the project's venv python), WHEEL (test this wheel instead of building one),
#      NOTEBOOKS (default "00_start_here 02_fusion_strategies"), KEEP=1 (keep the temp folder),
#      WHEEL_CHECK_ALSO (packages made visible beyond the runtime dependencies; default none).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
NOTEBOOKS="${NOTEBOOKS:-00_start_here 02_fusion_strategies}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mmlab-wheel-check.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then echo "wheel-check: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
case "$WORK" in "$REPO"/*) echo "wheel-check: TMPDIR must lie outside the repo" >&2; exit 1;; esac

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export MMLAB_JOINT_MODEL="${MMLAB_JOINT_MODEL:-conse}"
unset PYTHONPATH MMLAB_DATA PYTHONHOME
t0=$SECONDS

# 1. The wheel. A fresh build/ so nothing stale from an earlier build slips into it.
if [[ -z "${WHEEL:-}" ]]; then
    rm -rf "$REPO/build"
    (cd "$REPO" && "$PY" -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
        -w "$WORK/dist" .)
    WHEEL="$(ls "$WORK"/dist/mmlab-*.whl)"
    rm -rf "$REPO/build"
fi
echo "wheel-check: $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)) built in $((SECONDS - t0)) s"

# 2. The throwaway venv: the wheel in its own site-packages, then a folder of symlinks to
#    the project venv's packages holding ONLY the wheel's declared runtime dependencies
#    (and what they need), so a notebook that imports a dev tool (pytest, nbval, ...) or a
#    package nobody declared fails here, as it would after `pip install mmlab-*.whl`.
#    pip --target ignores what is installed elsewhere: it neither sees nor touches the
#    editable mmlab of the project venv.
"$PY" -m venv --without-pip "$WORK/venv"
VPY="$WORK/venv/bin/python"
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
"$PY" -m pip install --quiet --no-deps --no-index --target "$SITE" "$WHEEL"
"$PY" - "$SITE"/mmlab-*.dist-info/METADATA "$WORK/deps" "${WHEEL_CHECK_ALSO-}" <<'EOF'
# Symlink every top-level entry of the runtime dependency closure into one folder.
import email
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

wheel_meta, farm, also = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split()
todo = [Requirement(r) for r in email.message_from_string(wheel_meta.read_text()).get_all("Requires-Dist")]
todo = [r for r in todo if not r.marker or r.marker.evaluate({"extra": ""})] + [Requirement(a) for a in also]
seen: dict[str, set[str]] = {}
farm.mkdir()
while todo:
    req = todo.pop()
    try:
        dist = metadata.distribution(req.name)
    except metadata.PackageNotFoundError:
        continue  # optional, and not installed in the project venv either
    name = dist.metadata["Name"].lower().replace("_", "-")
    if name in seen and set(req.extras) <= seen[name]:
        continue
    seen.setdefault(name, set()).update(req.extras)
    for spec in dist.requires or []:
        r = Requirement(spec)
        if not r.marker or any(r.marker.evaluate({"extra": e}) for e in seen[name] | {""}):
            todo.append(r)
    for f in dist.files or []:
        top = f.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth") and not (farm / top).exists():
            (farm / top).symlink_to(Path(dist.locate_file(top)))
print(f"wheel-check: {len(seen)} distributions visible: the wheel's runtime dependencies"
      + (f" and {', '.join(also)} (WHEEL_CHECK_ALSO)" if also else ""))
EOF
echo "$WORK/deps" > "$SITE/zz_mmlab_ci_runtime_deps.pth"
"$VPY" -m ipykernel install --prefix "$WORK/venv" --name mmlab-wheel-check >/dev/null 2>&1

# 3. From a folder outside the repo, as a learner would.
mkdir -p "$WORK/home"
cd "$WORK/home"
"$VPY" - "$REPO" "$SITE" <<'EOF'
import sys
from pathlib import Path

import mmlab

repo, site = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
where = Path(mmlab.__file__).resolve()
assert not where.is_relative_to(repo), f"mmlab imported from the checkout ({where}), not the wheel"
assert where.is_relative_to(site), f"mmlab imported from {where}, not the wheel in {site}"
assert mmlab.data.data_dir().resolve() == site / "mmlab" / "_data", mmlab.data.data_dir()
print(f"wheel-check: mmlab {mmlab.__version__} from {where.parent}")
EOF
"$VPY" -c "import mmlab; print('wheel-check: load_emoji():', mmlab.data.load_emoji())"
"$VPY" -m mmlab notebooks "$WORK/home/mmlab" --solutions | tail -n 2

"$VPY" - "$WORK/home/mmlab" "$SITE" $NOTEBOOKS <<'EOF'
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

dest, site, names = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), sys.argv[3:]
for name in names:
    path = dest / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    # One extra cell: which mmlab and which data did the kernel itself use?
    nb.cells.append(nbformat.v4.new_code_cell(
        "import mmlab, sys; print(mmlab.__file__); print(mmlab.data.data_dir())"))
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    NotebookClient(nb, timeout=300, kernel_name="mmlab-wheel-check",
                   resources={"metadata": {"path": str(dest)}}).execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
    assert len(out) == 2 and Path(out[0]).resolve().is_relative_to(site), f"{name}: kernel used {out}"
    assert Path(out[1]).resolve() == site / "mmlab" / "_data", f"{name}: kernel read data from {out[1]}"
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel, once it has exited
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(f"wheel-check: {path.name} executed offline with the wheel's mmlab in "
          f"{time.perf_counter() - start:.1f} s ({cpu_s:.1f} s CPU)")
EOF
echo "wheel-check: passed in $((SECONDS - t0)) s"

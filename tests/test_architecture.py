"""The package's shape: no import cycles at load time, small modules, lazy heavy imports."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mmlab

PACKAGE = Path(mmlab.__file__).parent
# "No module over about 500 lines" (DESIGN.md §5); the gate leaves room for "about".
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        if "_data" in path.parts or "_notebooks" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _load_time_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The mmlab modules ``name`` imports at module level (imports inside functions are lazy)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            # "from . import sub" loads sub, not the package that is already loading
            found.update(subs or ([module] if module in known else []))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
    found.discard(name)
    return found


def test_no_import_cycle_at_load_time():
    mods = _modules()
    graph = {m: _load_time_imports(m, p, set(mods)) for m, p in mods.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_is_large():
    sizes = {m: len(p.read_text().splitlines()) for m, p in _modules().items()}
    large = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not large, f"split these modules by concept: {large}"


def test_importing_mmlab_loads_no_heavy_library():
    code = ("import sys, mmlab; heavy = [m for m in ('torch', 'faiss', 'pymilvus', 'transformers', 'sklearn') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import mmlab loaded {out}"

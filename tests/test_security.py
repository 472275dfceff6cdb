"""Security: no pickle from checkpoints, no filter injection, no decompression bombs.

- Every ``torch.load`` in mmlab passes ``weights_only=True`` (an AST scan of the source, and a
  checkpoint that would run code on load is refused); no ``pickle``/``allow_pickle=True``.
- A Milvus filter value is always a quoted literal: ``x" or id > 0 or "``, backslashes, quotes
  and newlines match only a row holding exactly that text, in ``search`` and in ``delete``.
  (test_search.py checks the escaping itself and four such groups end to end; this adds the
  escape characters, control characters and deletion.)
- Images are size-checked from the header before any pixel is decoded, in every common
  format, and whether or not PIL's own guard is switched on (the PNG case with PIL's guard
  on is in test_data.py).
"""
from __future__ import annotations

import ast
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import mmlab
from mmlab import data
from mmlab.search import MilvusStore, filter_expression

PACKAGE = Path(mmlab.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))  # the subpackages too: models/, search/, rag/, ...


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


# --------------------------------------------------------------------------- checkpoints


def _dotted(node: ast.AST) -> str:
    """``torch.load`` for Attribute(Name('torch'), 'load'); '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def unsafe_loads(source: str) -> list[str]:
    """Every deserialising call in ``source`` that could run pickled code, as 'line: reason'."""
    tree = ast.parse(source)
    torch_names = {"torch"}  # names bound to the torch module ("import torch as th")
    load_names = set()  # names bound to torch.load ("from torch import load")
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch":
                    torch_names.add(alias.asname or "torch")
                if alias.name in ("pickle", "dill", "cloudpickle", "joblib"):
                    problems.append(f"{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module == "torch":
                load_names |= {a.asname or a.name for a in node.names if a.name == "load"}
            if node.module in ("pickle", "dill", "cloudpickle", "joblib"):
                problems.append(f"{node.lineno}: imports from {node.module}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        is_torch_load = name in load_names or (name.count(".") == 1 and name.split(".")[0] in torch_names
                                               and name.endswith(".load"))
        if is_torch_load:
            flag = kwargs.get("weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                problems.append(f"{node.lineno}: {name}(...) without weights_only=True")
        if name.endswith(("np.load", "numpy.load")):
            flag = kwargs.get("allow_pickle")
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                problems.append(f"{node.lineno}: {name}(...) with allow_pickle not False")
        if name in ("pickle.load", "pickle.loads", "torch.serialization.load"):
            problems.append(f"{node.lineno}: {name}")
    return problems


def test_the_scanner_finds_unsafe_loads():
    bad = """
import torch
import torch as th
from torch import load as tl
import numpy as np
torch.load("a.pt")
th.load("b.pt", weights_only=False)
tl("c.pt")
torch.load("d.pt", weights_only=flag)
np.load("e.npy", allow_pickle=True)
"""
    assert [p.split(":")[0] for p in unsafe_loads(bad)] == ["6", "7", "8", "9", "10"]
    good = 'import torch\nimport numpy as np\ntorch.load("a.pt", map_location="cpu", weights_only=True)\nnp.load("x.npy")'
    assert unsafe_loads(good) == []


# Every place mmlab deserialises a checkpoint or array file, by module: a new one fails the test
# below until it is looked at and added here.
CHECKPOINT_LOADS = {("models/effnet.py", "torch.load"), ("lit/heads.py", "torch.load"),
                    ("models/conse.py", "np.load"), ("cache.py", "np.load")}


def load_sites(source: str) -> set[str]:
    """The names of the deserialising calls in ``source`` (torch.load, np.load)."""
    return {name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for name in [_dotted(node.func)] if name in ("torch.load", "np.load", "numpy.load")}


def test_the_scan_sees_every_module_of_the_package():
    names = {rel(p) for p in SOURCES}
    assert {"models/effnet.py", "search/milvus.py", "rag/generator.py", "fusion/intermediate.py"} <= names


def test_every_checkpoint_load_in_mmlab_is_weights_only():
    problems = {rel(p): unsafe_loads(p.read_text()) for p in SOURCES}
    assert {name: found for name, found in problems.items() if found} == {}
    found = {(rel(p), name) for p in SOURCES for name in load_sites(p.read_text())}
    assert found == CHECKPOINT_LOADS  # exactly the known sites: the scan really saw them, and no new one


class _Payload:
    """Unpickling this runs ``Path(marker).touch()``: what a malicious checkpoint would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    from mmlab import lit

    marker = tmp_path / "pwned"
    evil = tmp_path / "heads.pt"
    torch.save({"format": "mmlab-heads-1", "config": {}, "state_dict": {}, "metadata": _Payload(str(marker))}, evil)
    with pytest.raises(Exception, match=r"(?i)weights.only|unpickl|unsupported"):
        lit.load_heads(evil)
    assert not marker.exists()  # the payload never ran


def test_heads_round_trip_through_weights_only(tmp_path):
    from mmlab import lit

    heads = lit.ProjectionHeads(5, 3, dim=2)
    path = lit.save_heads(heads, tmp_path / "h.pt", note="ok", sizes=[5, 3])
    torch.load(path, weights_only=True)  # what load_heads does: plain tensors and containers only
    again, meta = lit.load_heads(path)
    assert meta == {"note": "ok", "sizes": [5, 3]}
    for a, b in zip(heads.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_numpy_cache_entries_never_unpickle(tmp_path):
    from mmlab import cache

    store = cache.EmbeddingCache("sec/v1", 2, root=tmp_path)
    key = cache.text_key("x")
    store.put_many([key], np.ones((1, 2), np.float32))
    marker = tmp_path / "pwned"
    for part in tmp_path.rglob("*.npy"):  # both arrays of the shard: keys and vectors
        np.save(part, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
        with pytest.warns(RuntimeWarning, match="unreadable shard"):
            assert cache.EmbeddingCache("sec/v1", 2, root=tmp_path).get_many([key]) == [None]
        assert not marker.exists()


# --------------------------------------------------------------------------- filter injection

HOSTILE = [
    'x" or id > 0 or "',
    "x' or id > 0 or '",
    'ends with a backslash \\',
    '\\" or id >= 0 or \\"',
    'two\nlines',
    'tab\there and\rreturn',
    'quote " in the middle',
    '"',
    "\\",
    '" or true or "',
    "name == name",
    "Ünïcödé 🐱 \u2028 separator",
    "",
]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("security") / "inject.db")
    n = len(HOSTILE)
    vectors = np.random.default_rng(0).standard_normal((n + 2, 4)).astype(np.float32)
    names = [*HOSTILE, "plain a", "plain b"]
    with MilvusStore(uri, "items", dim=4, fields=["name", "group"]) as store:
        store.insert(np.arange(n + 2), vectors, {"name": names, "group": ["g"] * (n + 2)})
        yield store, vectors, names


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v)[:30] for v in HOSTILE])
def test_a_hostile_filter_value_matches_only_itself(hostile_store, value):
    store, vectors, names = hostile_store
    want = [i for i, name in enumerate(names) if name == value]
    _, ids = store.search(vectors[:2], k=len(names), where={"name": value})
    for row in ids:
        assert sorted(row[row >= 0].tolist()) == want
        assert all(r["name"] == value for r in store.get(row))
    # inside a list, and combined with another condition
    _, ids = store.search(vectors[:1], k=len(names), where={"name": [value, "plain a"], "group": "g"})
    assert sorted(ids[0][ids[0] >= 0].tolist()) == sorted([*want, names.index("plain a")])


def test_a_hostile_value_deletes_only_its_own_row(tmp_path):
    names = ['x" or id > 0 or "', "keep 1", "keep\\", "keep 2"]
    with MilvusStore(str(tmp_path / "del.db"), "items", dim=2, fields=["name"]) as store:
        store.insert([0, 1, 2, 3], np.eye(4, 2, dtype=np.float32) + 0.1, {"name": names})
        assert store.delete(where={"name": names[0]}) == 1
        assert store.delete(where={"name": 'keep\\" or id > 0 or "'}) == 0  # escapes cannot be unbalanced
        assert sorted(r["id"] for r in store.get([0, 1, 2, 3])) == [1, 2, 3]


@pytest.mark.parametrize("key", ["name or id", "id > 0 or name", "name\n", 'name"', "1name", "na me", ""])
def test_a_hostile_field_name_is_refused(key):
    with pytest.raises((ValueError, TypeError), match=r"field name|unknown field"):
        filter_expression({key: "a"})


def _read_literal(expr: str, start: int) -> tuple[str, int]:
    """Read the double-quoted literal at ``expr[start]`` the way Milvus does; return (value, index after it)."""
    assert expr[start] == '"'
    out, i = [], start + 1
    escapes = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    while expr[i] != '"':
        if expr[i] == "\\":
            out.append(escapes[expr[i + 1]])
            i += 2
        else:
            out.append(expr[i])
            i += 1
    return "".join(out), i + 1


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\n\r\t\'')),
       st.lists(st.text(max_size=5), max_size=3))
def test_a_quoted_value_always_reads_back_as_itself(value, others):
    # One scalar: `name == "<literal>"` and nothing after the literal, whatever the value holds.
    expr = filter_expression({"name": value})
    assert expr.startswith('name == "')
    got, end = _read_literal(expr, len("name == "))
    assert got == value and end == len(expr)
    # A list: every literal reads back, separated only by ", ".
    expr = filter_expression({"name": [value, *others]})
    i, values = len("name in ["), []
    while expr[i] != "]":
        got, i = _read_literal(expr, i)
        values.append(got)
        if expr[i] == ",":
            assert expr[i:i + 2] == ", "
            i += 2
    assert values == [value, *others] and i == len(expr) - 1


# --------------------------------------------------------------------------- decompression bombs


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    raw[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")
    return bytes(raw)


def _gif(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    raw = bytearray(buf.getvalue())
    raw[6:10] = struct.pack("<HH", width, height)  # the logical screen size in the header
    return bytes(raw)


def _bmp(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    raw = bytearray(buf.getvalue())
    raw[18:26] = struct.pack("<ii", width, height)  # BITMAPINFOHEADER width, height
    return bytes(raw)


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    raw = bytearray(buf.getvalue())
    sof = raw.index(b"\xff\xc0")  # start of frame: length(2) precision(1) height(2) width(2)
    raw[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


def _tiff(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "TIFF")
    image = Image.open(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    info = image.tag_v2
    info[256], info[257] = width, height  # ImageWidth, ImageLength
    image.save(out, "TIFF", tiffinfo=info)
    return out.getvalue()


BOMBS = {"png": _png, "gif": _gif, "bmp": _bmp, "jpg": _jpeg}


@pytest.mark.parametrize("pil_guard", ["on", "off"])
@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_a_decompression_bomb_is_skipped_before_decoding(tmp_path, monkeypatch, fmt, pil_guard):
    if pil_guard == "off":  # some code (or a learner) sets PIL's guard to None; mmlab's own check still holds
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    side = 60_000 if fmt in ("gif", "jpg") else 100_000  # GIF and JPEG store sides in 16 bits
    (tmp_path / f"bomb.{fmt}").write_bytes(BOMBS[fmt](side, side))
    Image.new("RGB", (16, 16), "blue").save(tmp_path / "fine.png")
    with pytest.warns(UserWarning, match=r"skipped .*bomb"):
        folder = data.load_image_folder(tmp_path)
    assert [p.name for p in folder.paths] == ["fine.png"]
    ((path, reason),) = folder.skipped
    assert path.name == f"bomb.{fmt}" and reason.startswith("too large")


def test_the_tiff_header_size_is_checked_too(tmp_path):
    try:
        bomb = _tiff(50_000, 50_000)
    except Exception as exc:
        pytest.skip(f"PIL cannot write a TIFF with a forged size here: {exc}")
    (tmp_path / "bomb.tif").write_bytes(bomb)
    with pytest.warns(UserWarning):
        folder = data.load_image_folder(tmp_path, max_pixels=1_000_000)
    assert len(folder) == 0 and len(folder.skipped) == 1


def test_mmlab_never_switches_off_pils_bomb_guard():
    for module in SOURCES:
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                assert not any(_dotted(t).endswith("MAX_IMAGE_PIXELS") for t in targets), \
                    f"{module.name}:{node.lineno} changes PIL's MAX_IMAGE_PIXELS"
    for name in mmlab._SUBMODULES:
        getattr(mmlab, name)
    assert isinstance(Image.MAX_IMAGE_PIXELS, int) and Image.MAX_IMAGE_PIXELS > 0

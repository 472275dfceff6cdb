"""`make book`: the course website, built once from the committed notebooks, checked page by page.

Every notebook has its page; every internal link and every file a page loads exists; no page
loads anything from outside the site (it must display from a USB stick, offline); math is served
from the site; the audio players and the download / student-copy links are there.
"""
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("myst_nb")
pytest.importorskip("sphinx_book_theme")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LOADS = {"script": "src", "img": "src", "audio": "src", "source": "src", "iframe": "src", "video": "src",
         "link": "href", "embed": "src"}


class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.loads, self.links, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in LOADS and a.get(LOADS[tag]):
            self.loads.append((tag, a[LOADS[tag]]))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    src, out = tmp_path_factory.mktemp("book-src"), tmp_path_factory.mktemp("book")
    subprocess.run([sys.executable, str(ROOT / "book" / "prepare.py"), str(src)], check=True, cwd=ROOT,
                   capture_output=True, timeout=300)
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    pages = {}
    for page in out.rglob("*.html"):
        if "_static" in page.relative_to(out).parts:   # the theme's template fragments, not pages
            continue
        refs = Refs()
        refs.feed(page.read_text(encoding="utf-8"))
        pages[page] = refs
    return out, pages


def test_every_notebook_has_its_page_and_its_downloads(site):
    out, _ = site
    for name in NOTEBOOKS:
        html = (out / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        assert f'href="../notebooks/{name}.ipynb"' in html and f'href="../student/{name}.ipynb"' in html
        assert (out / "notebooks" / f"{name}.ipynb").exists() and (out / "student" / f"{name}.ipynb").exists()
    assert (out / "index.html").exists() and (out / "teaching.html").exists()
    assert (out / "search.html").exists() and (out / "searchindex.js").exists()


def test_nothing_is_loaded_from_outside_the_site_and_every_file_exists(site):
    out, pages = site
    for page, refs in pages.items():
        for tag, url in refs.loads:
            parts = urlsplit(url)
            assert not parts.scheme.startswith("http") and not url.startswith("//"), (page, tag, url)
            if parts.scheme == "data":
                continue
            assert (page.parent / unquote(parts.path)).resolve().exists(), (page, tag, url)
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_no_broken_internal_link(site):
    _, pages = site
    for page, refs in pages.items():
        for url in refs.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.exists(), (page, url)
            if parts.fragment and target.suffix == ".html" and target in pages:
                assert parts.fragment in pages[target].ids, (page, url)


def test_math_figures_and_audio_are_in_the_pages(site):
    out, pages = site
    text = "".join((out / "notebooks" / f"{n}.html").read_text(encoding="utf-8") for n in NOTEBOOKS)
    assert re.search(r'<audio[^>]*>\s*<source src="data:audio/', text) or 'src="data:audio/' in text
    assert sum(tag == "img" for refs in pages.values() for tag, _ in refs.loads) >= 10
    assert "mathjax/tex-chtml.js" in text and ("\\(" in text or "\\[" in text)

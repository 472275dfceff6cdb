"""`make book-check`: load every page of the built site (and a class report) in headless Chromium.

Offline by construction: every request that is not file:// or data: is blocked and counted as a
failure. Per page: no console error, no failed request, every <img> decoded (naturalWidth > 0),
math rendered where the page has math (MathJax's mjx-container elements). Screenshots go to
build/book-screens/. Uses the system Chromium (Debian: apt-get install chromium) through playwright.

    python book/browser_check.py SITE_DIR [EXTRA.html ...]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

SCREENS = Path("build/book-screens")


def main(site: str, *extra: str) -> int:
    root = Path(site).resolve()
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    pages += [Path(e).resolve() for e in extra]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        print("no Chromium found (Debian: apt-get install chromium)")
        return 2
    SCREENS.mkdir(parents=True, exist_ok=True)
    bad = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for page_path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m, pr=problems: pr.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e, pr=problems: pr.append(f"page error: {e}"))
            page.on("requestfailed", lambda r, pr=problems: pr.append(f"request failed: {r.url}"))

            def route(r, pr=problems):
                if r.request.url.startswith(("file:", "data:", "blob:")):
                    r.continue_()
                else:
                    pr.append(f"outside request: {r.request.url}")
                    r.abort()
            page.route("**/*", route)
            page.goto(page_path.as_uri(), wait_until="load")
            has_math = page.evaluate("() => /\\\\\\(|\\\\\\[|\\$\\$/.test(document.body.innerText) || "
                                     "document.querySelector('.math') !== null")
            if has_math:
                try:
                    page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
                except Exception:
                    problems.append("math not rendered (no mjx-container)")
            page.wait_for_timeout(300)
            broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                                   ".map(i => i.src.slice(0, 80))")
            problems += [f"image not decoded: {s}" for s in broken]
            n_img = page.evaluate("() => document.images.length")
            n_math = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            n_audio = page.evaluate("() => document.querySelectorAll('audio').length")
            name = "report" if page_path.name == "report.html" else str(page_path.relative_to(root)).replace("/", "_")
            page.screenshot(path=str(SCREENS / (Path(name).stem + ".png")))
            print(f"{'FAIL' if problems else 'ok  '} {page_path.name}: {n_img} images, {n_math} math, "
                  f"{n_audio} audio")
            for msg in problems[:10]:
                print("     ", msg[:200])
            bad += bool(problems)
            page.close()
        browser.close()
    print(f"{len(pages)} pages, {bad} with problems; screenshots in {SCREENS}/")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

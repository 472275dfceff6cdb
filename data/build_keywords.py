"""Join CLDR's English emoji keywords to the shipped emoji: data/emoji_keywords.csv.

Learners never run this: its output ships with the repo. It needs one Debian package:

    sudo apt-get update && sudo apt-get install -y unicode-cldr-core
    python data/build_keywords.py                 # writes data/emoji_keywords.csv
    python data/build_keywords.py --out /tmp/x    # somewhere else

CLDR's annotations give each emoji a few lower-case keywords ("beverage | coffee | drink |
hot | steaming | tea" for hot beverage). They are a second text view of an emoji: notebook 06
uses each keyword as a query whose relevant items are all the emoji that carry it, while the
search index holds only the names. Annotations are keyed by the emoji character without
variation selectors (U+FE0F), so both sides are compared with U+FE0F removed. ZWJ sequences,
flags and keycaps have no entry in ``annotations/en.xml`` (their keywords are derived, in
``annotationsDerived``), so they get none here: that file is not used, because its keywords are
mostly generic ("flag", "person") and would flood the evaluation with one-word queries.
"""
from __future__ import annotations

import argparse
import csv
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ANNOTATIONS = Path("/usr/share/unicode/cldr/common/annotations/en.xml")
HERE = Path(__file__).resolve().parent
CSV_FIELDS = ["id", "char", "name", "keywords"]
INSTALL_HINT = (
    "install the Debian package first:\n"
    "    sudo apt-get update && sudo apt-get install -y unicode-cldr-core"
)


def read_annotations(path: Path) -> dict[str, list[str]]:
    """CLDR character (without U+FE0F) -> its keywords, in CLDR's (alphabetical) order."""
    keywords: dict[str, list[str]] = {}
    for node in ET.parse(path).getroot().iter("annotation"):
        if node.get("type") == "tts":  # the short name, already in emoji.csv
            continue
        words = [w.strip() for w in (node.text or "").split("|") if w.strip()]
        keywords[node.get("cp", "").replace("\ufe0f", "")] = words
    return keywords


def build(out_dir: Path, annotations: Path = ANNOTATIONS) -> tuple[int, int]:
    """Write ``emoji_keywords.csv`` (one row per emoji of emoji.csv that CLDR annotates).

    Returns:
        (rows written, emoji without keywords).
    """
    if not annotations.is_file():
        sys.exit(f"{annotations} is missing; {INSTALL_HINT}")
    by_char = read_annotations(annotations)
    with open(HERE / "emoji.csv", newline="", encoding="utf-8") as f:
        emoji = list(csv.DictReader(f))
    rows, missing = [], 0
    for e in emoji:
        words = by_char.get(e["char"].replace("\ufe0f", ""))
        if not words:
            missing += 1
            continue
        rows.append({"id": e["id"], "char": e["char"], "name": e["name"],
                     "keywords": " | ".join(words)})
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "emoji_keywords.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows), missing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: data/)")
    args = parser.parse_args(argv)
    n, missing = build(args.out)
    print(f"wrote {args.out / 'emoji_keywords.csv'}: {n} emoji with keywords, "
          f"{missing} without (ZWJ sequences, flags, keycaps)")


if __name__ == "__main__":
    main()

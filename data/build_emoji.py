"""Render the emoji data set: one PNG sprite sheet plus one CSV of metadata.

Learners never run this: its output (data/emoji.png, data/emoji.csv) ships with the repo.
It needs two Debian packages and Pillow built with libraqm (the pip wheels are):

    sudo apt-get install fonts-noto-color-emoji unicode-data
    python data/build_emoji.py                 # writes data/emoji.png and data/emoji.csv
    python data/build_emoji.py --out /tmp/x    # somewhere else

Which emoji: every "fully-qualified" line of Unicode's emoji-test.txt, except the
"Component" group and anything carrying a skin-tone modifier (U+1F3FB..U+1F3FF), so each
concept appears once. Each is drawn from Noto Color Emoji (a CBDT bitmap font whose only
strike is 109 px, giving 136x128 bitmaps), centred in a 136x136 cell, composited on white,
and downscaled with Lanczos to --size px. A sequence that does not shape to exactly one
glyph (no raqm, or a font older than the emoji list), or that renders blank or as the
font's missing-glyph box, is dropped and listed.
"""
from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin, features

EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_SIZE = 109          # the one bitmap strike of NotoColorEmoji.ttf
CELL = 136               # glyph bitmaps are 136 wide x 128 tall; pad to a square
SKIN_TONES = range(0x1F3FB, 0x1F3FF + 1)
COLUMNS = 48             # sprite-sheet columns
CSV_FIELDS = ["index", "id", "char", "codepoints", "name", "group", "subgroup"]
INSTALL_HINT = (
    "install the Debian packages first:\n"
    "    sudo apt-get update && sudo apt-get install -y fonts-noto-color-emoji unicode-data"
)


@dataclass
class Entry:
    id: str            # "1F408-200D-2B1B"
    char: str
    codepoints: str    # "1F408 200D 2B1B", as in emoji-test.txt
    name: str
    group: str
    subgroup: str


def read_emoji_test(path: Path = EMOJI_TEST) -> list[Entry]:
    """Parse emoji-test.txt into the entries we keep, in the file's (CLDR) order."""
    entries, group, subgroup = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            fields, comment = line.split("#", 1)
            codepoints, status = (part.strip() for part in fields.split(";"))
            cps = codepoints.split()
            if status != "fully-qualified" or group == "Component":
                continue
            if any(int(cp, 16) in SKIN_TONES for cp in cps):
                continue
            # comment: " 😀 E1.0 grinning face"
            _char, _version, name = comment.strip().split(" ", 2)
            char = "".join(chr(int(cp, 16)) for cp in cps)
            entries.append(Entry("-".join(cps), char, " ".join(cps), name, group, subgroup))
    return entries


def load_font() -> ImageFont.FreeTypeFont:
    # raqm shapes ZWJ sequences, flags and keycaps into one glyph; the basic layout
    # engine draws their parts side by side (they would all be dropped below).
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(FONT), FONT_SIZE, layout_engine=engine)


def render(font: ImageFont.FreeTypeFont, text: str) -> Image.Image:
    """Draw ``text`` in colour on a transparent CELL x CELL canvas (RGBA)."""
    canvas = Image.new("RGBA", (CELL, CELL), (255, 255, 255, 0))
    # glyphs occupy y in [0, 128): shift down 4 px to centre them in the square
    ImageDraw.Draw(canvas).text((0, (CELL - 128) // 2), text, font=font, embedded_color=True)
    return canvas


def check_glyph(font, entry: Entry, rgba: Image.Image, single_advance: float,
                missing: np.ndarray) -> str | None:
    """Return why ``entry`` cannot be used (or None if it rendered as one real glyph)."""
    advance = font.getlength(entry.char)
    if abs(advance - single_advance) > 0.25 * single_advance:
        return f"shaped into {advance / single_advance:.1f} glyphs"
    alpha = np.asarray(rgba.getchannel("A"))
    if not alpha.any():
        return "rendered blank"
    if np.array_equal(np.asarray(rgba), missing):
        return "rendered as the missing-glyph box"
    return None


def to_tile(rgba: Image.Image, size: int) -> Image.Image:
    """Composite on white and downscale to ``size`` x ``size`` RGB."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    white.alpha_composite(rgba)
    return white.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def build(out_dir: Path, size: int = 72, compress_level: int = 9) -> tuple[list[Entry], list[tuple[Entry, str]]]:
    for path in (EMOJI_TEST, FONT):
        if not path.exists():
            sys.exit(f"build_emoji: {path} not found; {INSTALL_HINT}")
    if not features.check("raqm"):
        print("build_emoji: warning: Pillow has no raqm; multi-code-point emoji will be dropped",
              file=sys.stderr)
    font = load_font()
    single_advance = font.getlength("\U0001F600")
    missing = np.asarray(render(font, "\U000F0000"))  # a private-use code point: .notdef

    kept, dropped, tiles = [], [], []
    for entry in read_emoji_test():
        rgba = render(font, entry.char)
        reason = check_glyph(font, entry, rgba, single_advance, missing)
        if reason:
            dropped.append((entry, reason))
            continue
        kept.append(entry)
        tiles.append(to_tile(rgba, size))

    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * size, rows * size), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % COLUMNS) * size, (i // COLUMNS) * size))

    out_dir.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("tile_size", str(size))
    info.add_text("columns", str(COLUMNS))
    info.add_text("count", str(len(tiles)))
    info.add_text("Source", "Noto Color Emoji (SIL Open Font License 1.1), rendered by data/build_emoji.py")
    sheet.save(out_dir / "emoji.png", pnginfo=info, compress_level=compress_level,
               optimize=compress_level == 9)
    with open(out_dir / "emoji.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for i, e in enumerate(kept):
            writer.writerow([i, e.id, e.char, e.codepoints, e.name, e.group, e.subgroup])
    return kept, dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output directory (default: data/)")
    parser.add_argument("--size", type=int, default=72, help="tile size in pixels (default 72)")
    parser.add_argument("--fast", action="store_true",
                        help="light PNG compression (same pixels, bigger file; for tests)")
    args = parser.parse_args(argv)
    kept, dropped = build(args.out, args.size, compress_level=1 if args.fast else 9)
    groups: dict[str, int] = {}
    for e in kept:
        groups[e.group] = groups.get(e.group, 0) + 1
    print(f"build_emoji: kept {len(kept)} emoji at {args.size} px, dropped {len(dropped)}")
    for group, n in groups.items():
        print(f"  {n:5d}  {group}")
    for entry, reason in dropped:
        print(f"  dropped {entry.id} ({entry.name}): {reason}")
    print(f"wrote {args.out / 'emoji.png'} and {args.out / 'emoji.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

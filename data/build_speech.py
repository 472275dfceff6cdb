"""Speak the names of the animal and food emoji with espeak-ng: one FLAC plus one CSV.

Learners never run this: its output (data/speech.flac, data/speech.csv) ships with the repo.
It needs the Debian package espeak-ng and reads the emoji names from data/emoji.csv, so
every clip carries the id of an emoji that exists in the image set:

    sudo apt-get install espeak-ng
    python data/build_speech.py                 # writes data/speech.flac and data/speech.csv
    python data/build_speech.py --out /tmp/x    # somewhere else

Each name is spoken in every voice of VOICES, resampled from espeak-ng's 22,050 Hz to
16 kHz with soxr (high quality), trimmed of leading and trailing silence, and stored as
16-bit PCM. All clips are concatenated, in CSV order, into one FLAC file; the CSV gives each
clip's start and length in samples.
"""
from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

HERE = Path(__file__).resolve().parent
GROUPS = ("Animals & Nature", "Food & Drink")
# (label stored in the CSV, espeak-ng voice argument): an American male voice and a
# British voice with espeak-ng's "f3" female variant, so a model must generalise across
# accent and pitch, not memorise one speaker.
VOICES = (("en-us", "en-us"), ("en-gb-f3", "en-gb+f3"))
SAMPLE_RATE = 16_000
TOP_DB = 40              # trim: anything 40 dB below the clip's peak counts as silence
CSV_FIELDS = ["index", "id", "name", "group", "voice", "start", "length"]
INSTALL_HINT = "install espeak-ng first:\n    sudo apt-get update && sudo apt-get install -y espeak-ng"


def read_names(emoji_csv: Path = HERE / "emoji.csv") -> list[dict[str, str]]:
    """The emoji rows (id, name, group) whose names are spoken, in emoji.csv order."""
    with open(emoji_csv, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["group"] in GROUPS]


def clip_table(emoji_csv: Path = HERE / "emoji.csv") -> list[dict[str, str]]:
    """One row per clip (emoji-major, then voice): id, name, group, voice, and espeak's voice arg."""
    return [
        {"id": r["id"], "name": r["name"], "group": r["group"], "voice": label, "espeak": arg}
        for r in read_names(emoji_csv)
        for label, arg in VOICES
    ]


def synthesize(text: str, voice: str) -> np.ndarray:
    """Speak ``text`` with espeak-ng voice ``voice``: 1-D int16 at SAMPLE_RATE, silence trimmed."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text],
                         check=True, capture_output=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
    audio, _ = librosa.effects.trim(audio, top_db=TOP_DB)
    return np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)


def build(out_dir: Path, emoji_csv: Path = HERE / "emoji.csv") -> list[dict]:
    if shutil.which("espeak-ng") is None:
        sys.exit(f"build_speech: espeak-ng not found; {INSTALL_HINT}")
    table = clip_table(emoji_csv)
    clips, start = [], 0
    for row in tqdm(table, desc="espeak-ng", unit="clip"):
        clip = synthesize(row["name"], row["espeak"])
        row.update(start=start, length=len(clip))
        start += len(clip)
        clips.append(clip)
    out_dir.mkdir(parents=True, exist_ok=True)
    sf.write(out_dir / "speech.flac", np.concatenate(clips), SAMPLE_RATE,
             format="FLAC", subtype="PCM_16")
    with open(out_dir / "speech.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for i, r in enumerate(table):
            writer.writerow([i, r["id"], r["name"], r["group"], r["voice"], r["start"], r["length"]])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: data/)")
    parser.add_argument("--emoji-csv", type=Path, default=HERE / "emoji.csv",
                        help="where the emoji names come from (default: data/emoji.csv)")
    args = parser.parse_args(argv)
    table = build(args.out, args.emoji_csv)
    seconds = sum(r["length"] for r in table) / SAMPLE_RATE
    print(f"build_speech: {len(table)} clips ({len(table) // len(VOICES)} names x {len(VOICES)} voices), "
          f"{seconds:.0f} s of audio at {SAMPLE_RATE} Hz")
    print(f"wrote {args.out / 'speech.flac'} and {args.out / 'speech.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tests of mmlab.data: the shipped emoji and speech sets, splits, photos, the folder loader,
and (when the Debian packages are installed) that the build scripts reproduce data/."""
from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from mmlab import data

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def emoji():
    return data.load_emoji()


@pytest.fixture(scope="module")
def speech():
    return data.load_spoken_names()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- emoji

def test_emoji_lists_are_aligned_and_images_are_rgb_72px(emoji):
    n = len(emoji)
    assert n == len(read_csv(DATA / "emoji.csv")) > 1800
    for attr in ("ids", "chars", "names", "groups", "subgroups", "images"):
        assert len(getattr(emoji, attr)) == n, attr
    assert {im.mode for im in emoji.images} == {"RGB"}
    assert {im.size for im in emoji.images} == {(72, 72)}
    assert len(set(emoji.ids)) == n


def test_emoji_has_the_nine_groups_in_order_and_about_a_hundred_subgroups(emoji):
    assert list(dict.fromkeys(emoji.groups)) == list(data.EMOJI_GROUPS)
    assert len(data.EMOJI_GROUPS) == 9 and "Component" not in emoji.groups
    assert 80 <= len(set(emoji.subgroups)) <= 120


def test_emoji_ids_are_the_code_points_of_the_chars_without_skin_tones(emoji):
    for id_, char in zip(emoji.ids, emoji.chars):
        assert re.fullmatch(r"[0-9A-F]{4,6}(-[0-9A-F]{4,6})*", id_), id_
        assert id_ == "-".join(f"{ord(c):04X}" for c in char)  # as emoji-test.txt writes them
        assert not any(0x1F3FB <= ord(c) <= 0x1F3FF for c in char)


def test_cat_face_is_labelled_and_drawn_on_white(emoji):
    i = emoji.ids.index("1F431")
    assert (emoji.names[i], emoji.groups[i], emoji.subgroups[i]) == ("cat face", "Animals & Nature", "animal-mammal")
    pixels = np.asarray(emoji.images[i])
    assert (pixels[0, 0] == 255).all() and (pixels[-1, -1] == 255).all()  # white background
    centre = pixels[24:48, 24:48].reshape(-1, 3)
    assert (centre < 200).any()  # something is drawn in the middle
    # every tile holds a drawing (no blank glyph slipped through)
    assert min(int((np.asarray(im) < 240).any(axis=-1).sum()) for im in emoji.images) > 20


def test_load_emoji_filters_groups_and_resizes():
    animals = data.load_emoji("Animals & Nature")
    assert set(animals.groups) == {"Animals & Nature"} and len(animals) > 100
    two = data.load_emoji(["Food & Drink", "Flags"], size=32)
    assert set(two.groups) == {"Food & Drink", "Flags"}
    assert {im.size for im in two.images} == {(32, 32)} and {im.mode for im in two.images} == {"RGB"}


def test_load_emoji_is_deterministic_and_returns_fresh_objects():
    a = data.load_emoji("Activities")
    b = data.load_emoji("Activities")
    assert a.ids == b.ids and a.names == b.names
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.images, b.images))
    # a learner scribbling on what they got must not change the next load
    a.images[0].paste((0, 0, 0), (0, 0, 72, 72))
    a.names[0] = "changed"
    c = data.load_emoji("Activities")
    assert c.names[0] == b.names[0] and np.array_equal(np.asarray(c.images[0]), np.asarray(b.images[0]))


def test_emoji_subset(emoji):
    sub = emoji.subset([3, 0, 3])
    assert sub.ids == [emoji.ids[3], emoji.ids[0], emoji.ids[3]] and len(sub) == 3
    assert sub.images[1] is emoji.images[0]
    mask = np.array([g == "Flags" for g in emoji.groups])
    assert set(emoji.subset(mask).groups) == {"Flags"}
    assert len(emoji.subset(np.array([], dtype=int))) == 0
    with pytest.raises(ValueError, match=r"indices: positions must lie in"):
        emoji.subset([len(emoji)])
    with pytest.raises(TypeError, match=r"indices: expected a 1-D list"):
        emoji.subset([[0, 1]])
    with pytest.raises(ValueError, match=r"boolean mask must have shape"):
        emoji.subset(np.ones(3, dtype=bool))
    assert "EmojiSet(" in repr(emoji) and "9 groups" in repr(emoji)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"groups": "Animals"}, ValueError, r"groups: unknown group\(s\) \['Animals'\]; expected some of \['Smileys & Emotion'"),
    ({"groups": ["Flags", "Component"]}, ValueError, r"unknown group\(s\) \['Component'\]"),
    ({"groups": []}, ValueError, r"groups: expected a non-empty list"),
    ({"groups": 3}, TypeError, r"groups: expected a list of strings"),
    ({"size": 0}, ValueError, r"size: expected an int >= 8, got 0"),
    ({"size": 10_000}, ValueError, r"size: expected an int <= 512"),
    ({"size": 64.0}, TypeError, r"size: expected an int"),
    ({"size": "72"}, TypeError, r"size: expected an int"),
])
def test_load_emoji_rejects_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        data.load_emoji(**kwargs)


def test_missing_data_folder_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_DATA", str(tmp_path))
    monkeypatch.setattr(data._files, "_CACHE", {})
    with pytest.raises(FileNotFoundError, match=r"emoji.csv is missing.*MMLAB_DATA"):
        data.load_emoji()


# --------------------------------------------------------------------------- data_dir

def test_data_dir_prefers_mmlab_data_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv("MMLAB_DATA")
    assert data.data_dir() == DATA  # running from this checkout (editable install)


def test_installed_package_reads_its_own_copy_not_a_stray_data_folder(tmp_path):
    """A package in site-packages (no pyproject.toml beside it) reads mmlab/_data, even when
    another distribution left a top-level ``data`` folder next to it."""
    site = tmp_path / "site-packages"
    shutil.copytree(DATA.parent / "mmlab", site / "mmlab",
                    ignore=shutil.ignore_patterns("__pycache__", "assets"))
    (site / "mmlab" / "_data").mkdir()
    shutil.copy(DATA / "emoji.csv", site / "mmlab" / "_data")
    (site / "data").mkdir()
    (site / "data" / "emoji.csv").write_text("not ours\n")
    env = {k: v for k, v in os.environ.items() if k != "MMLAB_DATA"}
    env["PYTHONPATH"] = str(site)
    # The editable install's finder comes after PYTHONPATH, so this imports the copy.
    code = ("import mmlab, mmlab.data as d; print(mmlab.__file__); print(d.data_dir()); "
            "d.load_emoji()")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    out = run.stdout.splitlines()
    assert out[:2] == [str(site / "mmlab" / "__init__.py"), str(site / "mmlab" / "_data")], run.stderr
    # emoji.png was not copied: the error names the file and both places it ships.
    assert "emoji.png is missing" in run.stderr and "mmlab/_data" in run.stderr, run.stderr


# --------------------------------------------------------------------------- speech

def test_spoken_names_are_aligned_float32_clips_at_16khz(speech):
    n = len(speech)
    for attr in ("waveforms", "voices", "ids", "names", "groups"):
        assert len(getattr(speech, attr)) == n, attr
    assert speech.sample_rate == 16_000
    assert all(w.dtype == np.float32 and w.ndim == 1 for w in speech.waveforms)
    seconds = np.array([len(w) for w in speech.waveforms]) / speech.sample_rate
    assert seconds.min() > 0.2 and seconds.max() < 5.0
    peaks = np.array([np.abs(w).max() for w in speech.waveforms])
    assert peaks.min() > 0.05 and peaks.max() <= 1.0  # audible, not clipped past full scale


def test_spoken_names_join_the_emoji_by_id_in_every_voice(speech, emoji):
    voices = sorted(set(speech.voices))
    assert len(voices) >= 2
    by_id = {i: (name, group) for i, name, group in zip(emoji.ids, emoji.names, emoji.groups)}
    for id_, name, group in zip(speech.ids, speech.names, speech.groups):
        assert by_id[id_] == (name, group)
    assert set(speech.groups) == set(data.SPOKEN_GROUPS)
    # every animal and food emoji is spoken once per voice
    spoken = {g: sum(gr == g for gr in emoji.groups) for g in data.SPOKEN_GROUPS}
    assert len(speech) == len(voices) * sum(spoken.values())
    pairs = set(zip(speech.ids, speech.voices))
    assert len(pairs) == len(speech)
    # two voices say the same word differently
    i, j = (k for k, x in enumerate(speech.ids) if x == "1F431")
    assert speech.voices[i] != speech.voices[j]
    assert len(speech.waveforms[i]) != len(speech.waveforms[j]) or not np.allclose(speech.waveforms[i], speech.waveforms[j])


def test_load_spoken_names_filters_and_is_deterministic(speech):
    food = data.load_spoken_names(groups="Food & Drink", voices=["en-us"])
    assert set(food.groups) == {"Food & Drink"} and set(food.voices) == {"en-us"}
    again = data.load_spoken_names(groups="Food & Drink", voices=["en-us"])
    assert again.ids == food.ids
    assert all(np.array_equal(a, b) for a, b in zip(food.waveforms, again.waveforms))
    food.waveforms[0][:] = 0  # must not leak into the cache
    assert np.array_equal(data.load_spoken_names(groups="Food & Drink", voices="en-us").waveforms[0],
                          again.waveforms[0])
    sub = speech.subset([1, 0])
    assert sub.ids == speech.ids[1::-1] and sub.sample_rate == speech.sample_rate
    assert "SpokenNames(" in repr(speech)
    with pytest.raises(ValueError, match=r"voices: unknown voice\(s\) \['robot'\]; expected some of"):
        data.load_spoken_names(voices="robot")
    with pytest.raises(ValueError, match=r"groups: unknown group\(s\) \['Flags'\]"):
        data.load_spoken_names(groups="Flags")


# --------------------------------------------------------------------------- splits

def test_split_by_id_is_deterministic_disjoint_and_complete(emoji):
    train, test = data.split_by_id(emoji.ids)
    train2, test2 = data.split_by_id(emoji.ids)
    assert np.array_equal(train, train2) and np.array_equal(test, test2)
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(emoji)))
    assert 0.20 < len(test) / len(emoji) < 0.30
    other_train, _ = data.split_by_id(emoji.ids, seed=1)
    assert not np.array_equal(train, other_train)
    _, small_test = data.split_by_id(emoji.ids, test_fraction=0.1)
    assert set(small_test) <= set(test)  # the same hash, a lower threshold


def test_split_by_id_puts_an_emoji_on_the_same_side_for_images_and_speech(emoji, speech):
    _, test = data.split_by_id(emoji.ids)
    test_ids = {emoji.ids[i] for i in test}
    _, speech_test = data.split_by_id(speech.ids)
    assert {speech.ids[i] for i in speech_test} == test_ids & set(speech.ids)
    # order and company do not matter: only the id string does
    shuffled = list(reversed(emoji.ids[:50]))
    _, t = data.split_by_id(shuffled)
    assert {shuffled[i] for i in t} == test_ids & set(shuffled)


def test_split_by_id_does_not_depend_on_python_hash_salt():
    code = "import mmlab as mm; print(mm.data.split_by_id([str(i) for i in range(40)])[1].tolist())"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert outs.pop().strip() == str(data.split_by_id([str(i) for i in range(40)])[1].tolist())


@pytest.mark.parametrize("args, error, pattern", [
    (([], 0.25), ValueError, r"ids: expected a non-empty list"),
    (("1F431", 0.25), TypeError, r"ids: expected a list of strings, got a single string"),
    ((["a", 3], 0.25), TypeError, r"ids\[1\]: expected a string"),
    ((["a"], 0.0), ValueError, r"test_fraction: expected a number > 0.0"),
    ((["a"], 1.0), ValueError, r"test_fraction: expected a number in \(0, 1\)"),
    ((["a"], 1.5), ValueError, r"test_fraction: expected a number <= 1.0"),
    ((["a"], "0.2"), TypeError, r"test_fraction: expected a number"),
])
def test_split_by_id_rejects_bad_arguments(args, error, pattern):
    with pytest.raises(error, match=pattern):
        data.split_by_id(*args)


def test_split_by_id_rejects_a_bad_seed():
    with pytest.raises(TypeError, match=r"seed: expected an int"):
        data.split_by_id(["a", "b"], seed=0.5)


# --------------------------------------------------------------------------- photos

def test_sample_photos_are_rgb_and_include_the_classic_demos():
    photos = data.sample_photos()
    assert {"chelsea", "coffee", "astronaut", "rocket", "camera", "horse", "china", "flower"} <= set(photos)
    assert all(im.mode == "RGB" and min(im.size) >= 100 for im in photos.values())
    photos["chelsea"].paste((0, 0, 0), (0, 0, 50, 50))
    assert data.sample_photos()["chelsea"].getpixel((0, 0)) != (0, 0, 0)


def test_sample_photos_match_the_library_loaders():
    import skimage.data

    photos = data.sample_photos()
    assert np.array_equal(np.asarray(photos["chelsea"]), skimage.data.chelsea())
    camera = np.asarray(photos["camera"])
    assert np.array_equal(camera[..., 0], skimage.data.camera()) and np.array_equal(camera[..., 0], camera[..., 2])
    horse = np.asarray(photos["horse"])[..., 0] > 127
    assert (horse == skimage.data.horse()).mean() > 0.97  # same silhouette, smoother edges


# --------------------------------------------------------------------------- your own folder

def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width`` x ``height``: a decompression bomb's calling card."""
    raw = bytearray(png_bytes(Image.new("RGB", (4, 4), "red")))
    raw[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")  # IHDR crc over type + data
    return bytes(raw)


@pytest.fixture()
def messy_folder(tmp_path):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    good = png_bytes(noise)
    (tmp_path / "a_good.png").write_bytes(good)
    (tmp_path / "sub").mkdir()
    noise.save(tmp_path / "sub" / "b_good.jpg", quality=90)
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(tmp_path / "c_transparent.png")
    Image.new("L", (3000, 1000), 128).save(tmp_path / "d_wide.png")
    (tmp_path / "e_random.jpg").write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    broken = bytearray(good)
    broken[len(good) // 2: len(good) // 2 + 200] = b"\x00" * 200
    (tmp_path / "f_corrupt.png").write_bytes(bytes(broken))
    (tmp_path / "g_truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "h_empty.png").write_bytes(b"")
    (tmp_path / "i_notes.txt").write_text("not a picture")
    (tmp_path / "j_bomb.png").write_bytes(png_with_header_size(100_000, 100_000))
    (tmp_path / "k_big.png").write_bytes(png_with_header_size(10_000, 10_000))
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01junk")
    ramp = (np.arange(30 * 40).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "l_deep.png")  # 16-bit greyscale
    rotated = Image.new("RGB", (40, 20), "blue")
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees", as a phone writes it
    rotated.save(tmp_path / "m_rotated.jpg", exif=exif)
    Image.new("P", (10, 10), 0).save(tmp_path / "n_palette.gif", transparency=0)
    return tmp_path


def test_load_image_folder_skips_each_broken_file_with_one_warning(messy_folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = data.load_image_folder(messy_folder)
    names = [p.name for p in folder.paths]
    assert names == ["a_good.png", "c_transparent.png", "d_wide.png", "l_deep.png", "m_rotated.jpg",
                     "n_palette.gif", "b_good.jpg"]  # sorted by path
    assert all(im.mode == "RGB" for im in folder.images)
    image = dict(zip(names, folder.images))
    assert image["a_good.png"].size == (64, 64)
    assert image["c_transparent.png"].getpixel((5, 5)) == (255, 255, 255)  # transparent -> white
    assert image["n_palette.gif"].getpixel((5, 5)) == (255, 255, 255)
    assert image["d_wide.png"].size == (1024, 341)  # max_side shrinks, keeping the aspect ratio
    deep = np.asarray(image["l_deep.png"])[..., 0]
    assert deep.max() == 255 and deep[0, 0] == 0  # 16-bit rescaled, not clipped to white
    assert image["m_rotated.jpg"].size == (20, 40)  # EXIF orientation applied
    reasons = {p.name: r for p, r in folder.skipped}
    assert set(reasons) == {"e_random.jpg", "f_corrupt.png", "g_truncated.png", "h_empty.png",
                            "i_notes.txt", "j_bomb.png", "k_big.png"}
    assert reasons["h_empty.png"] == "empty file"
    assert reasons["i_notes.txt"].startswith("not an image")
    assert reasons["e_random.jpg"].startswith("not an image")
    assert reasons["f_corrupt.png"].startswith("corrupt or truncated")
    assert reasons["g_truncated.png"].startswith("corrupt or truncated")
    assert reasons["j_bomb.png"].startswith("too large")
    assert reasons["k_big.png"].startswith("too large: 10000 x 10000")
    # exactly one warning per skipped file, naming it; PIL's own bomb warning is not leaked
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(folder.skipped)
    for path, _ in folder.skipped:
        assert sum(str(path) in m for m in messages) == 1
    assert all(w.category is UserWarning for w in caught)
    assert repr(folder) == "ImageFolder(7 images, 7 skipped)"


def test_load_image_folder_options(messy_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = data.load_image_folder(str(messy_folder), recursive=False, max_pixels=5_000, max_side=None)
    assert "b_good.jpg" not in [p.name for p in flat.paths]
    assert [p.name for p in flat.paths] == ["a_good.png", "c_transparent.png", "l_deep.png", "m_rotated.jpg", "n_palette.gif"]
    assert any(p.name == "d_wide.png" and r.startswith("too large: 3000 x 1000") for p, r in flat.skipped)


def test_load_image_folder_warns_when_nothing_is_readable(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.warns(UserWarning) as caught:
        folder = data.load_image_folder(tmp_path)
    assert "x.txt: not an image" in str(caught[0].message)
    assert "no readable images" in str(caught[-1].message)
    assert len(folder) == 0 and len(folder.skipped) == 1


def test_load_image_folder_rejects_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: expected an existing folder.*nowhere.*does not exist"):
        data.load_image_folder(tmp_path / "nowhere")
    file = tmp_path / "photo.png"
    Image.new("RGB", (4, 4)).save(file)
    with pytest.raises(NotADirectoryError, match=r"path: expected a folder of images, got the file .*photo.png"):
        data.load_image_folder(file)
    with pytest.raises(TypeError, match=r"path: expected a folder path"):
        data.load_image_folder(3)
    with pytest.raises(ValueError, match=r"max_pixels: expected an int >= 1"):
        data.load_image_folder(tmp_path, max_pixels=0)
    with pytest.raises(TypeError, match=r"recursive: expected True or False"):
        data.load_image_folder(tmp_path, recursive="yes")


# --------------------------------------------------------------------------- build scripts

EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


@pytest.mark.skipif(not (EMOJI_TEST.exists() and EMOJI_FONT.exists()),
                    reason="needs Debian packages fonts-noto-color-emoji and unicode-data")
@pytest.mark.skipif(not features.check("raqm"), reason="needs Pillow with libraqm to shape emoji sequences")
def test_build_emoji_reproduces_the_shipped_files(tmp_path):
    subprocess.run([sys.executable, str(DATA / "build_emoji.py"), "--fast", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert (tmp_path / "emoji.csv").read_bytes() == (DATA / "emoji.csv").read_bytes()
    with Image.open(tmp_path / "emoji.png") as new, Image.open(DATA / "emoji.png") as shipped:
        assert new.size == shipped.size and new.info["count"] == shipped.info["count"]
        diff = np.abs(np.asarray(new, dtype=np.int16) - np.asarray(shipped, dtype=np.int16))
    assert diff.mean() < 0.5 and diff.max() <= 16  # identical with the same Pillow/FreeType


def _import_script(name):
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the Debian package espeak-ng")
def test_build_speech_reproduces_the_shipped_clips():
    build = _import_script("build_speech")
    shipped = read_csv(DATA / "speech.csv")
    table = build.clip_table(DATA / "emoji.csv")
    assert [(r["id"], r["name"], r["group"], r["voice"]) for r in table] == \
        [(r["id"], r["name"], r["group"], r["voice"]) for r in shipped]
    speech = data.load_spoken_names()
    for i in range(0, len(table), len(table) // 6):  # a deterministic sample: a full rebuild takes ~30 s
        clip = build.synthesize(table[i]["name"], table[i]["espeak"]).astype(np.float32) / 32768
        assert len(clip) == len(speech.waveforms[i]), table[i]
        assert np.abs(clip - speech.waveforms[i]).max() <= 4 / 32768, table[i]

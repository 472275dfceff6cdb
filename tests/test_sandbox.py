"""The containment of grading kernels (mmlab.sandbox, mmlab._jail); the grader's use of it is in test_grade."""
import os
import subprocess
import sys

import pytest

from mmlab import sandbox


@pytest.mark.parametrize("name, value", [("memory", 0), ("file_size", -1), ("processes", 2.5), ("memory", True)])
def test_limits_refuse_what_is_not_a_positive_count(name, value):
    with pytest.raises(ValueError, match=f"{name}: expected a positive whole number, got {value!r}"):
        sandbox.Limits(**{name: value})


def test_prepare_refuses_limits_of_another_type(tmp_path):
    with pytest.raises(TypeError, match=r"limits: expected mmlab\.sandbox\.Limits, got dict"):
        sandbox.prepare(tmp_path, warm_cache=None, limits={"memory": 1})


def test_the_kernel_environment_keeps_only_the_allow_list(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_TEST_SECRET", "s3cr3t")
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    box = sandbox.prepare(tmp_path, warm_cache=None, isolate_network=False)
    env = box.env({"MMLAB_GRADE_NOTEBOOK": "x.ipynb"})
    assert "MMLAB_TEST_SECRET" not in env and "HF_TOKEN" not in env
    assert env["HOME"] == str(box.home) and env["MMLAB_CACHE"] == str(box.cache)
    assert env["MMLAB_GRADE_NOTEBOOK"] == "x.ipynb"
    assert set(env) - set(sandbox.ENV_ALLOWED) <= {
        "HOME", "MMLAB_CACHE", "PYTHONNOUSERSITE", "OMP_WAIT_POLICY", "XDG_CACHE_HOME", "MPLCONFIGDIR", "TMPDIR",
        "MMLAB_GRADE_NOTEBOOK"}


def test_the_cache_is_seeded_and_a_write_to_it_does_not_reach_the_warm_cache(tmp_path):
    warm = tmp_path / "warm"
    (warm / "minilm").mkdir(parents=True)
    (warm / "minilm" / "vectors.npy").write_bytes(b"warm")
    box = sandbox.prepare(tmp_path / "box", warm_cache=warm, isolate_network=False)
    seeded = box.cache / "minilm" / "vectors.npy"
    assert seeded.read_bytes() == b"warm"
    assert seeded.stat().st_ino == (warm / "minilm" / "vectors.npy").stat().st_ino  # a link, not a copy
    if box.uid is not None:  # owned by root, read-only to the kernel's user
        assert seeded.stat().st_uid != box.uid and not seeded.stat().st_mode & 0o022
    from mmlab.cache import atomic_file

    with atomic_file(seeded) as f:  # how mmlab writes a cache file: a new file renamed into place
        f.write(b"the hand-in's own")
    assert seeded.read_bytes() == b"the hand-in's own"
    assert (warm / "minilm" / "vectors.npy").read_bytes() == b"warm"


def test_what_could_not_be_applied_is_said(tmp_path):
    box = sandbox.prepare(tmp_path, warm_cache=None, isolate_network=True)
    if box.uid is None:
        assert any("teacher's own user" in n for n in box.notes)
    if not box.network_isolated:
        assert any("network could not be cut off" in n for n in box.notes)
    if box.uid is not None and box.network_isolated:
        assert box.notes == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resource limits are applied on Linux")
def test_the_jail_applies_the_memory_limit_then_runs_the_command():
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"
    proc = subprocess.run([sys.executable, "-m", "mmlab._jail", "--memory", str(2**31), "--", sys.executable,
                           "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(2**31)


def test_the_jail_without_a_command_says_how_to_call_it():
    proc = subprocess.run([sys.executable, "-m", "mmlab._jail", "--memory", "1"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "usage: python -m mmlab._jail" in proc.stderr

"""cuda_ext's loader: import never compiles, reasons are precise, stale builds are not used."""

import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cuda_ext
from cuda_ext import _sources, build
from cuda_ext.errors import ExtensionUnavailable

REPO = Path(__file__).resolve().parents[1]


def test_import_compiles_nothing(tmp_path):
    """A fresh interpreter imports cuda_ext with no compiler and an empty cache: no build, no error."""
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"), "AVATAR_EXT_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    code = "import cuda_ext, cuda_ext.blend; assert cuda_ext.loaded() == {}; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert not (tmp_path / "cache").exists()


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="cpu, cuda"):
        cuda_ext.load("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_unavailable_says_why():
    with pytest.raises(ExtensionUnavailable, match="CPU-only build|no CUDA device"):
        cuda_ext.load("cuda")


def _fake_stamp() -> dict:
    return _sources.build_stamp("cpu", torch.__version__, False)


def test_cached_build_is_used_only_when_its_stamp_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("AVATAR_EXT_CACHE", str(tmp_path))
    stamp = _fake_stamp()
    directory = build.build_dir("cpu", stamp)
    directory.mkdir(parents=True)
    (directory / "avatar_ext_cpu.so").write_bytes(b"")
    _sources.write_stamp(directory / build.STAMP_NAME, {**stamp, "library": "avatar_ext_cpu.so"})
    assert build.cached_library("cpu", stamp) == directory / "avatar_ext_cpu.so"
    assert build.cached_library("cpu", {**stamp, "debug": True}) is None  # other flags: other folder
    _sources.write_stamp(directory / build.STAMP_NAME, {**stamp, "torch": "0.0", "library": "avatar_ext_cpu.so"})
    assert build.cached_library("cpu", stamp) is None


def test_installed_module_is_skipped_when_stale(tmp_path, monkeypatch):
    stamp = _fake_stamp()
    monkeypatch.setattr(_sources, "PACKAGE_DIR", tmp_path)
    library = tmp_path / f"_cpu{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    library.write_bytes(b"")
    _sources.write_stamp(tmp_path / "_cpu.build.json", stamp)
    assert cuda_ext._installed_library("cpu", stamp) == library
    stale = {**stamp, "source_hash": "0" * 64}
    assert cuda_ext._installed_library("cpu", stale) is None


def test_installed_module_matches_the_sources_when_present():
    """After `pip install`, the module built by setup.py is the one loaded (same stamp as now)."""
    installed = [p for p in _sources.PACKAGE_DIR.glob("_cpu.*") if p.suffix in (".so", ".pyd")]
    if not installed:
        pytest.skip("no installed cpu module in this checkout (built on first use instead)")
    cuda_ext.load("cpu")
    assert Path(cuda_ext.loaded()["cpu"]).parent == _sources.PACKAGE_DIR


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "c++")) is None, reason="no C++ compiler")
def test_build_error_names_the_log(tmp_path, monkeypatch):
    broken = tmp_path / "broken_cpu.cpp"
    broken.write_text("this is not C++;\n")
    stamp = {**_fake_stamp(), "source_hash": "f" * 64}
    monkeypatch.setenv("AVATAR_EXT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_sources, "sources", lambda kind: [broken])
    with pytest.raises(ExtensionUnavailable, match="compiler output in .*build.log") as info:
        build.build_library("cpu", stamp)
    log = Path(str(info.value).rsplit(" ", 1)[-1])
    assert "broken_cpu.cpp" in log.read_text()


def _installed_cpu_module() -> Path:
    installed = [p for p in _sources.PACKAGE_DIR.glob("_cpu.*") if p.suffix in (".so", ".pyd")]
    if not installed:
        pytest.skip("no installed cpu module in this checkout (built on first use instead)")
    return installed[0]


def _run_fresh(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_fresh_process_loads_the_cpu_module_and_runs_its_ops():
    _installed_cpu_module()
    code = ("import torch, cuda_ext; cuda_ext.load('cpu'); "
            "print(torch.ops.avatar_ext.rgb_to_uint8(torch.full((1, 2, 3), 0.5)).tolist())")
    assert _run_fresh(code) == str([[[128] * 3] * 2])


def test_the_compiled_module_defines_no_op():
    """The module only implements the schemas of cuda_ext/ops.py: loaded alone its ops do not exist
    (so the CUDA module needs nothing from the CPU one), and they run once ops.py defines them."""
    library = _installed_cpu_module()
    code = (f"import torch; torch.ops.load_library({str(library)!r}); "
            "print(hasattr(torch.ops.avatar_ext, 'rgb_to_uint8')); import cuda_ext.ops; "
            "print(torch.ops.avatar_ext.rgb_to_uint8(torch.ones(1, 1, 3)).tolist())")
    assert _run_fresh(code).splitlines() == ["False", str([[[255] * 3]])]


def test_the_build_stamp_covers_the_schemas(tmp_path, monkeypatch):
    """A kernel's C++ signature must match its schema: editing ops.py asks for a fresh build."""
    for folder in (_sources.CSRC_DIR, _sources.INCLUDE_DIR):  # a copy of the package's sources
        shutil.copytree(folder, tmp_path / folder.name)
    shutil.copy(_sources.SCHEMA_FILE, tmp_path / _sources.SCHEMA_FILE.name)
    for name, path in (("PACKAGE_DIR", tmp_path), ("CSRC_DIR", tmp_path / _sources.CSRC_DIR.name),
                       ("INCLUDE_DIR", tmp_path / _sources.INCLUDE_DIR.name),
                       ("SCHEMA_FILE", tmp_path / _sources.SCHEMA_FILE.name)):
        monkeypatch.setattr(_sources, name, path)
    before = {kind: _sources.source_hash(kind) for kind in _sources.KINDS}
    with _sources.SCHEMA_FILE.open("a") as schemas:
        schemas.write("# edited\n")
    assert all(_sources.source_hash(kind) != before[kind] for kind in _sources.KINDS)

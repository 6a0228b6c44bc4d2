"""``scripts/progress.py`` (``make install-local``): a long build shows progress, keeps the full log,
and a failure shows the log's tail and keeps the exit code."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "progress.py"

FAKE_BUILD = """
import sys, time
print("Collecting llama-cpp-python")
print("Building wheel for llama-cpp-python (pyproject.toml): started")
for i in range(0, 101, 5):
    print(f"[{i:3d}%] Building CXX object vendor/llama.cpp/x{i}.o")
    print("/usr/bin/g++ -O3 -c a-very-long-compiler-line.cpp")
print("[7/8] Linking CXX shared library libllama.so")
time.sleep(0.3)  # quiet for longer than --every: the heartbeat speaks
sys.exit(int(sys.argv[1]))
"""


def _run(tmp_path: Path, code: int) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "install.log"
    command = [
        sys.executable,
        str(SCRIPT),
        str(log),
        "--every",
        "0.05",
        "--",
        sys.executable,
        "-c",
        FAKE_BUILD,
    ]
    return subprocess.run([*command, str(code)], capture_output=True, text=True, timeout=60)


def test_progress_is_shown_and_the_log_kept(tmp_path: Path) -> None:
    result = _run(tmp_path, 0)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.endswith("building 0%") for line in lines)
    assert any(line.endswith("building 100%") for line in lines)
    assert any("Building wheel for llama-cpp-python" in line for line in lines)
    assert any("still working" in line for line in lines)
    assert not any("g++" in line for line in lines)  # compiler lines stay in the log
    assert not any("building 87%" in line for line in lines)  # progress never goes backwards
    log = (tmp_path / "install.log").read_text()
    assert "a-very-long-compiler-line.cpp" in log and "[100%]" in log


def test_a_failure_keeps_its_exit_code_and_shows_the_tail(tmp_path: Path) -> None:
    result = _run(tmp_path, 3)
    assert result.returncode == 3
    assert "Linking CXX shared library" in result.stderr and "failed with exit code 3" in result.stderr


def test_make_and_ninja_progress_lines() -> None:
    spec = importlib.util.spec_from_file_location("progress", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.percent("[ 42%] Building CXX object ggml.o") == 42
    assert module.percent("[7/8] Linking CXX shared library libllama.so") == 87
    assert module.percent("/usr/bin/g++ -c x.cpp") is None


def test_make_install_local_builds_through_it() -> None:
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    recipe = makefile.split("$(LOCAL_STAMP): $(STAMP)\n", 1)[1].split("\n\n", 1)[0]
    assert "scripts/progress.py" in recipe and "'.[dev,local]'" in recipe
    build = recipe.split("scripts/progress.py", 1)[1].split("\n\t$(PY)", 1)[0]
    assert " -q " not in build  # pip's -q is what hid the build

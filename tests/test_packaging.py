"""`pip install .` must give a working tinyflash outside the repository: templates/, firmware/
and boards/ ship inside the wheel as package data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy: setuptools writes build/lib inside the source tree it builds.
    source = tmp_path_factory.mktemp("src") / "tinyflash"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            ".pio",
            "__pycache__",
            "*.egg-info",
            ".hypothesis",
            ".pytest_cache",
        ),
    )
    wheels = tmp_path_factory.mktemp("wheels")
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        cwd=build,
        env=env,
        capture_output=True,
    )
    (wheel,) = wheels.glob("tinyflash-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return target


def _run(target: Path, code: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_wheel_carries_the_data_folders(installed: Path, tmp_path: Path) -> None:
    out = _run(
        installed,
        "import json, tinyflash, tinyflash.resources as r;"
        "print(json.dumps([tinyflash.__file__, str(r.boards_dir()), str(r.firmware_dir()),"
        " str(r.templates_dir())]))",
        tmp_path,
    )
    module, boards, firmware, templates = json.loads(out)
    for path in (module, boards, firmware, templates):
        assert path.startswith(str(installed)), path
    assert (Path(boards) / "mps2-an386.json").is_file()
    assert (Path(firmware) / "runtime" / "include" / "tfl_runtime.h").is_file()
    assert (Path(firmware) / "platform" / "platform.json").is_file()
    assert any(Path(templates).rglob("*.j2"))


def test_installed_cli_lists_boards_and_generates(installed: Path, tmp_path: Path) -> None:
    boards = json.loads(
        _run(
            installed,
            "import sys; sys.argv=['tinyflash','boards','--json'];"
            "from tinyflash.cli import main; main()",
            tmp_path,
        )
    )
    ids = {b["id"] for b in (boards["boards"] if isinstance(boards, dict) else boards)}
    assert {"mps2-an386", "microbit", "host"} <= ids
    shared = REPO.parent / "shared" / "models" / "ad01_int8.tflite"
    if not shared.is_file():
        pytest.skip("../shared is absent")
    _run(
        installed,
        f"import sys; sys.argv=['tinyflash','generate',{str(shared)!r},'--board','mps2-an386',"
        f"'-o',{str(tmp_path / 'fw')!r},'--selftest','0']; from tinyflash.cli import main; main()",
        tmp_path,
    )
    ini = (tmp_path / "fw" / "platformio.ini").read_text()
    assert str(installed) in ini  # the platform and runtime come from the installed package


def test_installed_cli_prints_the_ops_table(installed: Path, tmp_path: Path) -> None:
    """The operator table (tinyflash/ops_table.json) ships in the wheel."""
    table = json.loads(
        _run(
            installed,
            "import sys; sys.argv=['tinyflash','ops','--json'];"
            "from tinyflash.cli import main; main()",
            tmp_path,
        )
    )
    assert any(r["op"] == "ARG_MAX" and r["tinyflash"] for r in table["rows"])

"""A labgrid board farm on loopback: coordinator, two exporters with one emulated board each
(tinyflash farm exporter, QEMU) and the jobs, all in a private network namespace (`ip netns`).

Fan-out of three models over the two places, two jobs competing for one place, and a job killed
while it holds a place, whose place the next job recovers. Every wait is on an event: a line a
process prints (the coordinator's and exporters' readiness, a job's "on place" line) or a process
ending; nothing sleeps. Skipped with the reason when labgrid, QEMU or network namespaces are
unavailable.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.qemu]

BIN = Path(sys.executable).parent
COORDINATOR = "127.0.0.1:20408"
REPO = Path(__file__).resolve().parents[1]
#: Generous bounds on how long one event may take on a loaded two-core machine; the waits end
#: at the event, these only turn a hang into a failure.
READY_SECONDS = 60.0
JOB_SECONDS = 240.0


def _namespace_reason() -> str | None:
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (network namespaces are made with `ip netns`)"
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add`)"
    probe = subprocess.run(
        ["ip", "netns", "add", f"tfprobe-{os.getpid()}"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"`ip netns add` failed: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"tfprobe-{os.getpid()}"], capture_output=True)
    return None


@dataclass
class Proc:
    """A process in the namespace whose output lines arrive on a queue."""

    popen: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def wait_for(self, text: str, timeout: float = READY_SECONDS) -> str:
        """Returns the first output line containing `text`; fails if the process ends first."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line with {text!r} within {timeout:.0f} s:\n" + self.output)
            if line is None:
                self.lines.put(None)  # keep the end visible to later waits
                pytest.fail(f"the process ended before printing {text!r}:\n" + self.output)
            if text in line:
                return line

    def finish(self, timeout: float = JOB_SECONDS) -> int:
        code = self.popen.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return code

    def json(self) -> dict:
        """The JSON document the process printed (its lines from the first `{` on)."""
        lines = self.output.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("{"))
        return json.loads("\n".join(lines[start:]))

    @property
    def output(self) -> str:
        return "".join(self.seen)


class Lab:
    """The namespace and what runs in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.netns = f"tfarm-{os.getpid()}"
        self.procs: list[Proc] = []
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.env = {**os.environ, "LG_COORDINATOR": COORDINATOR, "COLUMNS": "200"}

    def start(self, *command: str, cwd: Path | None = None) -> Proc:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd or self.root,
            env=self.env,
        )
        proc = Proc(popen)

        def read() -> None:
            assert popen.stdout is not None
            for line in popen.stdout:
                proc.seen.append(line)
                proc.lines.put(line)
            proc.lines.put(None)

        proc.reader = threading.Thread(target=read, daemon=True)
        proc.reader.start()
        self.procs.append(proc)
        return proc

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=READY_SECONDS,
        )

    def client(self, *args: str) -> str:
        done = self.run(str(BIN / "labgrid-client"), "-x", COORDINATOR, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
                try:
                    proc.popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(timeout=5)
        # Whatever still runs in the namespace (a QEMU an exporter could not stop, say).
        pids = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True)
        for pid in pids.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


def _exporter_yaml(path: Path, group: str, port: int) -> Path:
    path.write_text(
        f"{group}:\n  TinyflashQEMU:\n    port: {port}\n    control_port: {port + 1}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    try:
        import labgrid  # noqa: F401
    except ImportError:
        pytest.skip("labgrid is not installed (tinyflash's farm extra: `make setup`)")
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    reason = _namespace_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("farm")
    lab = Lab(root)
    try:
        coordinator = lab.start(str(BIN / "labgrid-coordinator"), "-l", COORDINATOR)
        coordinator.wait_for("Coordinator ready")
        for name, group, port in (("exa", "board-a", 5601), ("exb", "board-b", 5611)):
            config = _exporter_yaml(root / f"{name}.yaml", group, port)
            exporter = lab.start(
                str(BIN / "tinyflash"),
                "farm",
                "exporter",
                str(config),
                "--name",
                name,
                "--hostname",
                "127.0.0.1",
            )
            exporter.wait_for("Exporter ready")
        # Each labgrid-client command returns once the coordinator has applied it.
        for place, name, group, lane in (
            ("pa", "exa", "board-a", "a"),
            ("pb", "exb", "board-b", "b"),
        ):
            lab.client("-p", place, "create")
            lab.client("-p", place, "add-match", f"{name}/{group}/TinyflashQEMU")
            lab.client("-p", place, "set-tags", "emulator=qemu", f"lane={lane}")
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def models(lab: Lab) -> list[Path]:
    from support.models import fc_model, small_model

    folder = lab.root / "models"
    folder.mkdir()
    paths = []
    for name, data in (("small", small_model()), ("fc24x10", fc_model(24, 10))):
        path = folder / f"{name}.tflite"
        path.write_bytes(data)
        paths.append(path)
    paths.append(REPO / "examples" / "digits" / "digits_int8.tflite")
    return paths


def test_fan_out_three_models_over_two_places(lab: Lab, models: list[Path]) -> None:
    job = lab.start(
        str(BIN / "tinyflash"),
        "farm",
        "run",
        *map(str, models),
        "--boards",
        "mps2-an386",
        "--workdir",
        str(lab.root / "work"),
        "--samples",
        "2",
        "--json",
        "--html",
        str(lab.root / "matrix.html"),
    )
    assert job.finish() == 0, job.output
    result = job.json()
    assert result["workers"] == 2 and sorted(result["places"]) == ["pa", "pb"]
    jobs = result["jobs"]
    assert [j["model"] for j in jobs] == [m.stem for m in models]
    assert all(j["passed"] and j["exact"] and j["instructions"] > 0 for j in jobs), jobs
    assert all(j["flash_bytes"] > 0 and j["ram_bytes"] > 0 for j in jobs)
    # Three jobs over two places: both places ran at least one.
    assert {j["place"] for j in jobs} == {"pa", "pb"}
    html = (lab.root / "matrix.html").read_text()
    assert all(m.stem in html for m in models) and "bit-exact" in html
    # Released afterwards: nobody holds a place.
    assert "acquired: None" in lab.client("-p", "pa", "show")
    assert "acquired: None" in lab.client("-p", "pb", "show")


def _project(lab: Lab, model: Path) -> Path:
    """The project the fan-out built for `model` on mps2-an386."""
    project = lab.root / "work" / f"{model.stem}-mps2-an386"
    if not (project / "tinyflash.json").is_file():
        pytest.skip("the fan-out test (which builds the projects) did not run")
    return project


def test_two_jobs_compete_for_one_place(lab: Lab, models: list[Path]) -> None:
    project = _project(lab, models[0])
    first = lab.start(
        str(BIN / "tinyflash"), "verify", str(project), "--tag", "lane=a", "--samples", "2"
    )
    first.wait_for("on place pa")
    # While the first job holds pa: acquiring it by name fails at once, naming the holder ...
    grab = lab.run(str(BIN / "tinyflash"), "probe", "--place", "pa")
    assert grab.returncode == 1, grab.stdout + grab.stderr
    assert "place pa is held by" in grab.stderr and "tinyflash-job" in grab.stderr
    # ... and a reservation for the same tag waits until the first job has released it.
    second = lab.start(str(BIN / "tinyflash"), "probe", "--tag", "lane=a", "--json")
    assert first.finish() == 0, first.output
    assert "PASS" in first.output
    assert second.finish() == 0, second.output
    assert "on place pa" not in second.output  # --json: quiet
    probe = second.json()
    assert probe["info"]["board"] == "mps2-an386"


def test_killed_job_place_is_recovered(lab: Lab, models: list[Path]) -> None:
    project = _project(lab, models[1])
    doomed = lab.start(str(BIN / "tinyflash"), "verify", str(project), "--place", "pb")
    doomed.wait_for("on place pb")
    doomed.popen.kill()  # SIGKILL: no finally runs, the place stays acquired
    doomed.finish()
    assert "acquired: None" not in lab.client("-p", "pb", "show")
    after = lab.start(
        str(BIN / "tinyflash"), "verify", str(project), "--place", "pb", "--samples", "2"
    )
    assert after.finish() == 0, after.output
    assert f"pid {doomed.popen.pid}" in after.output and "released it" in after.output
    assert "PASS" in after.output
    assert "acquired: None" in lab.client("-p", "pb", "show")

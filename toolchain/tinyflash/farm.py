"""Board farms through labgrid: the one module that imports labgrid (lazily, inside functions).

Client side: `Farm` talks to a labgrid coordinator (gRPC, HOST:PORT, default from the
LG_COORDINATOR environment variable), acquires a place by name or reserves one by tags and waits
for it, resolves the place's serial resource to a pyserial URL and flashes its board, and
`lease()` releases the place on every exit path (an exception, Ctrl-C). A place held by a job
of this host whose process is gone is detected (tinyflash writes its pid into the place's
comment while it holds the place), reported and released; a place held elsewhere is named with
its holder when the wait times out.

Exporter side: `TinyflashQEMU`, a labgrid resource for emulated boards. labgrid's exporter has
no plugin entry point, so `run_exporter` registers the export class in labgrid's table before
calling the exporter's main. While a place holds the resource, a control port on the exporter
accepts `FLASH <place> <board> <bytes>` followed by an ELF and (re)starts QEMU with the same
command line `tinyflash verify` uses (emulator.qemu_argv: -icount shift=0, semihosting), its
UART on the resource's TCP port (`socket://host:port` for the client, as labgrid's
NetworkSerialPort with protocol raw). Real boards export labgrid's NetworkSerialPort (ser2net,
`rfc2217://host:port?ign_set_control`, or raw).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option

COORDINATOR_ENV = "LG_COORDINATOR"
#: The resource class of an emulated board on an exporter (the YAML key in its config).
QEMU_RESOURCE = "TinyflashQEMU"
#: Prefix of the place comment a tinyflash job writes while it holds a place.
_HOLDER = "tinyflash-job"
#: How often a waiting job polls its reservation (labgrid's own client polls every second;
#: the coordinator drops a waiting reservation not polled for 60 s).
_POLL_SECONDS = 0.5


def coordinator_address(farm: str | None) -> str:
    """The coordinator's HOST:PORT: `farm`, else $LG_COORDINATOR."""
    address = farm or os.environ.get(COORDINATOR_ENV, "")
    if not address:
        raise TinyflashError(
            f"no labgrid coordinator given: pass {option('farm')} HOST:PORT or set "
            f"{COORDINATOR_ENV}",
            EXIT_BAD_INPUT,
        )
    return address


def serial_url(cls: str, params: dict[str, Any]) -> str | None:
    """The pyserial URL of an exported serial resource, or None for another resource class."""
    host, port = params.get("host"), params.get("port")
    if cls == QEMU_RESOURCE or (cls == "NetworkSerialPort" and params.get("protocol") == "raw"):
        return f"socket://{host}:{port}"
    if cls == "NetworkSerialPort":  # ser2net speaking RFC 2217 (labgrid's default protocol)
        return f"rfc2217://{host}:{port}?ign_set_control"
    return None


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def holder_comment(job: str) -> str:
    """The place comment that names this process as the job holding the place."""
    pid = os.getpid()
    return f"{_HOLDER} host={socket.gethostname()} pid={pid} start={_process_start(pid)} job={job}"


def dead_holder(comment: str) -> str | None:
    """For a place comment written by holder_comment(): a description of the job when it ran on
    this host and its process is gone (or the pid now belongs to another process), else None."""
    if not comment.startswith(_HOLDER):
        return None
    fields = dict(part.split("=", 1) for part in comment.split()[1:] if "=" in part)
    if fields.get("host") != socket.gethostname() or not fields.get("pid", "").isdigit():
        return None
    if _process_start(int(fields["pid"])) == fields.get("start"):
        return None
    return f"job {fields.get('job', '?')} (pid {fields['pid']} on {fields['host']}, now gone)"


@dataclass
class PlaceState:
    name: str
    tags: dict[str, str]
    acquired: str | None
    comment: str
    reserved: bool


@dataclass
class Lease:
    """A place held by this job: its serial port URL and how to flash its board."""

    place: str
    url: str
    resource: str  # the serial resource's class
    params: dict[str, Any]
    job: str
    #: Notes for the user (a dead job's place recovered, say).
    notes: list[str] = field(default_factory=list)

    def flash(self, board: str, elf: Path, timeout: float = 60.0) -> None:
        """Puts `elf` on the place's board and starts it (QEMU places: upload and restart)."""
        if self.resource != QEMU_RESOURCE:
            raise TinyflashError(
                f"place {self.place} exports a {self.resource}, which tinyflash cannot flash; "
                "flash the board with labgrid-client (e.g. `labgrid-client -p "
                f"{self.place} flashscript …`) and verify with {option('port')} {self.url}",
                EXIT_BAD_INPUT,
            )
        data = Path(elf).read_bytes()
        address = (str(self.params["host"]), int(self.params["control_port"]))
        try:
            with socket.create_connection(address, timeout=timeout) as conn:
                conn.sendall(f"FLASH {self.place} {board} {len(data)}\n".encode() + data)
                reply = conn.makefile("rb").readline().decode("utf-8", "replace").strip()
        except OSError as error:
            raise TinyflashError(
                f"could not flash place {self.place} through its exporter at "
                f"{address[0]}:{address[1]} ({error}); is the exporter running?",
                EXIT_CHECK_FAILED,
            ) from None
        if reply != "OK":
            raise TinyflashError(
                f"the exporter of place {self.place} refused the firmware: "
                f"{reply.removeprefix('ERROR ') or 'no answer'}",
                EXIT_CHECK_FAILED,
            )


def _labgrid(module: str) -> Any:
    """labgrid.remote.<module>, or the sentence that says how to install labgrid."""
    import importlib

    try:
        return importlib.import_module(f"labgrid.remote.{module}")
    except ImportError:
        raise TinyflashError(
            "labgrid is not installed; install tinyflash's farm extra "
            "(pip install 'tinyflash[farm]', or `make setup` in a checkout)",
            EXIT_BAD_INPUT,
        ) from None


class Farm:
    """One connection to a labgrid coordinator; its session runs on an event loop in a thread of
    its own, so jobs in several threads can share it."""

    def __init__(self, farm: str | None = None) -> None:
        self.address = coordinator_address(farm)
        client = _labgrid("client")
        # labgrid logs a lost coordinator with tracebacks on the root logger; the user gets
        # tinyflash's sentence instead (a caller that configured logging keeps its handlers).
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(logging.NullHandler())
        # One event loop in a thread of its own runs the session (grpc.aio binds its channel to
        # the loop it was created on): jobs in other threads share the session through it.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def open_session() -> Any:
            from labgrid.util import proxy

            address = proxy.proxymanager.get_grpc_address(self.address, default_port=20408)
            session = client.ClientSession(address, asyncio.get_running_loop())
            await session.start()
            return session

        try:
            self.session = self._run(open_session(), timeout=30.0)
        except Exception as error:  # labgrid raises its own errors and gRPC's
            self._stop_loop()
            raise TinyflashError(
                f"cannot reach the labgrid coordinator at {self.address} ({_short(error)}); "
                f"start it (`labgrid-coordinator -l {self.address}`) or give the right "
                f"{option('farm')} / {COORDINATOR_ENV}",
                EXIT_CHECK_FAILED,
            ) from None

    def _run(self, coroutine: Any, timeout: float | None = None) -> Any:
        """Runs `coroutine` on the session's loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def close(self) -> None:
        try:
            self._run(self.session.stop(), timeout=10)
            self._run(self.session.close(), timeout=10)
        except Exception:  # the coordinator may be gone already
            pass
        self._stop_loop()

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the coordinator's calls ----------------------------------------------------------

    def _call(self, what: str, request: Any) -> Any:
        """One gRPC call on the coordinator; a lost coordinator becomes one sentence."""
        import grpc

        if self.session.stopping.is_set():
            raise self._lost(what, "the connection was closed")
        try:

            async def call() -> Any:  # the gRPC call is made on the session's loop
                answer = await getattr(self.session.stub, what)(request)
                await self.session.sync_with_coordinator()
                return answer

            answer = self._run(call())
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise self._lost(what, error.details()) from None
            raise TinyflashError(
                f"the labgrid coordinator refused {what}: {error.details()}", EXIT_CHECK_FAILED
            ) from None
        if self.session.stopping.is_set():
            raise self._lost(what, "the connection was closed")
        return answer

    def _lost(self, what: str, detail: str | None) -> TinyflashError:
        return TinyflashError(
            f"lost the labgrid coordinator at {self.address} during {what} ({detail}); "
            "the job stopped: run it again once the coordinator is back",
            EXIT_CHECK_FAILED,
        )

    def _pb2(self) -> Any:
        from labgrid.remote.generated import labgrid_coordinator_pb2

        return labgrid_coordinator_pb2

    # ---- places ---------------------------------------------------------------------------

    def places(self) -> list[PlaceState]:
        """Every place the coordinator knows, sorted by name."""
        if self.session.stopping.is_set():
            raise self._lost("listing places", "the connection was closed")

        async def snapshot() -> list[PlaceState]:  # read on the loop that updates them
            return [
                PlaceState(
                    name,
                    dict(place.tags),
                    place.acquired,
                    place.comment or "",
                    bool(place.reservation),
                )
                for name, place in sorted(self.session.places.items())
            ]

        return list(self._run(snapshot()))

    def place(self, name: str) -> PlaceState:
        for state in self.places():
            if state.name == name:
                return state
        known = ", ".join(p.name for p in self.places()) or "none"
        raise TinyflashError(
            f"the coordinator at {self.address} has no place {name!r} (places: {known})",
            EXIT_BAD_INPUT,
        )

    def acquire(self, name: str, job: str) -> None:
        """Acquires place `name` (exclusive) and writes this job into its comment."""
        state = self.place(name)
        if state.acquired:
            raise TinyflashError(_held_sentence(state), EXIT_CHECK_FAILED)
        pb2 = self._pb2()
        self._call("AcquirePlace", pb2.AcquirePlaceRequest(placename=name))
        self._call(
            "SetPlaceComment",
            pb2.SetPlaceCommentRequest(placename=name, comment=holder_comment(job)),
        )

    def release(self, name: str) -> None:
        """Releases place `name` and clears the job's comment."""
        pb2 = self._pb2()
        self._call("SetPlaceComment", pb2.SetPlaceCommentRequest(placename=name, comment=""))
        self._call("ReleasePlace", pb2.ReleasePlaceRequest(placename=name))

    def recover_dead(self, candidates: Sequence[PlaceState]) -> list[str]:
        """Releases every place in `candidates` held by a job of this host that is gone; returns
        one note per place recovered."""
        notes = []
        pb2 = self._pb2()
        for state in candidates:
            dead = dead_holder(state.comment) if state.acquired else None
            if dead is None:
                continue
            self._call("ReleasePlace", pb2.ReleasePlaceRequest(placename=state.name))
            self._call(
                "SetPlaceComment", pb2.SetPlaceCommentRequest(placename=state.name, comment="")
            )
            notes.append(f"place {state.name} was held by {dead}: released it")
        return notes

    def reserve(
        self, tags: dict[str, str], job: str, timeout: float, notes: list[str]
    ) -> tuple[str, str]:
        """Reserves a place whose tags include `tags`, waits (at most `timeout` s) until the
        coordinator allocates one, acquires it and returns (place, reservation token)."""
        from labgrid.remote.common import Reservation, ReservationState

        pb2 = self._pb2()
        matching = [p for p in self.places() if all(p.tags.get(k) == v for k, v in tags.items())]
        wanted = " ".join(f"{k}={v}" for k, v in sorted(tags.items()))
        if not matching:
            raise TinyflashError(
                f"no place on the coordinator at {self.address} has the tags {wanted}; "
                "tag one with `labgrid-client -p NAME set-tags "
                f"{wanted}`",
                EXIT_BAD_INPUT,
            )
        names = {p.name for p in matching}
        filters = {"main": pb2.Reservation.Filter(filter=tags)}
        created = self._call("CreateReservation", pb2.CreateReservationRequest(filters=filters))
        token = Reservation.from_pb2(created.reservation).token
        deadline = time.monotonic() + timeout
        try:
            while True:
                polled = self._call("PollReservation", pb2.PollReservationRequest(token=token))
                reservation = Reservation.from_pb2(polled.reservation)
                if reservation.state is ReservationState.allocated:
                    name = reservation.allocations["main"][0]
                    self.acquire(name, job)
                    return name, token
                if reservation.state is not ReservationState.waiting:
                    raise TinyflashError(
                        f"the reservation for {wanted} ended as {reservation.state.name}",
                        EXIT_CHECK_FAILED,
                    )
                candidates = [p for p in self.places() if p.name in names]
                notes.extend(self.recover_dead(candidates))
                if time.monotonic() > deadline:
                    held = "; ".join(_held_sentence(p) for p in candidates if p.acquired)
                    raise TinyflashError(
                        f"no place with {wanted} came free within {timeout:.0f} s"
                        + (f": {held}" if held else ""),
                        EXIT_CHECK_FAILED,
                    )
                time.sleep(_POLL_SECONDS)
        except BaseException:
            self.cancel(token)
            raise

    def cancel(self, token: str) -> None:
        """Cancels a reservation (after the job, or when it gave up); a lost coordinator is
        ignored here (its reservations are gone with it or expire)."""
        try:
            self._call("CancelReservation", self._pb2().CancelReservationRequest(token=token))
        except TinyflashError:
            pass

    def serial_resource(self, name: str) -> tuple[str, str, dict[str, Any]]:
        """(pyserial URL, resource class, params) of the serial resource of acquired place
        `name`."""
        state = self.place(name)

        async def resources() -> list[tuple[str, str, dict[str, Any], bool]]:
            found = []
            for exporter, group, cls, resource_name in self.session.places[name].acquired_resources:
                entry = self.session.resources.get(exporter, {}).get(group, {}).get(resource_name)
                url = serial_url(cls, dict(entry.params)) if entry is not None else None
                if entry is not None and url is not None:
                    found.append((url, cls, dict(entry.params), bool(entry.avail)))
            return found

        found = self._run(resources())
        if not found:
            raise TinyflashError(
                f"place {state.name} has no serial resource (a NetworkSerialPort or a "
                f"{QEMU_RESOURCE}) that its exporter provides; add one with `labgrid-client -p "
                f"{state.name} add-match EXPORTER/GROUP/NetworkSerialPort`",
                EXIT_BAD_INPUT,
            )
        url, cls, params, avail = found[0]
        if not avail:
            raise TinyflashError(
                f"the serial resource of place {state.name} is not available on its exporter "
                "(board unplugged or exporter stopped)",
                EXIT_CHECK_FAILED,
            )
        return url, cls, params


def _short(error: BaseException) -> str:
    text = str(getattr(error, "details", lambda: None)() or error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _held_sentence(state: PlaceState) -> str:
    who = state.comment if state.comment.startswith(_HOLDER) else "no tinyflash job"
    dead = dead_holder(state.comment)
    return (
        f"place {state.name} is held by {state.acquired} ({dead or who}); free it with "
        f"`labgrid-client -p {state.name} release --kick` if that job is gone"
    )


@contextmanager
def lease(
    farm: str | None,
    place: str | None = None,
    tags: dict[str, str] | None = None,
    *,
    job: str = "1",
    timeout: float = 600.0,
    session: Farm | None = None,
) -> Iterator[Lease]:
    """Holds a place for the block: `place` by name (acquired now, or an error naming its
    holder), else the first place with `tags` (reserved, waiting at most `timeout` s). The place
    is released (and the reservation cancelled) on every way out of the block, Ctrl-C included.
    `session`: an open Farm to share (parallel jobs), else one is opened for the block."""
    if not place and not tags:
        raise TinyflashError(
            f"give a place ({option('place')} NAME) or tags to reserve one by", EXIT_BAD_INPUT
        )
    with ExitStack() as stack:
        if session is None:
            session = stack.enter_context(Farm(farm))
        notes: list[str] = []
        token = None
        if place:
            notes.extend(session.recover_dead([session.place(place)]))
            session.acquire(place, job)
            name = place
        else:
            name, token = session.reserve(dict(tags or {}), job, timeout, notes)
        try:
            url, cls, params = session.serial_resource(name)
            yield Lease(name, url, cls, params, job, notes)
        finally:
            try:
                session.release(name)
            finally:
                if token is not None:
                    session.cancel(token)


def place_runner(
    farm: str | None, place: str | None, tags: dict[str, str]
) -> Callable[[Any, Path], AbstractContextManager[str]]:
    """A bench runner: (board, elf) -> a context manager that holds the place (or one with
    `tags`), flashes elf for board there and gives the place's serial URL."""

    @contextmanager
    def run(board: Any, elf: Path) -> Iterator[str]:
        with lease(farm, place, tags, job=f"bench:{Path(elf).parent.name}") as held:
            held.flash(board.id, elf)
            yield held.url

    return run


def parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE strings to a tag filter."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise TinyflashError(
                f"{pair!r} is not a tag filter; write KEY=VALUE (e.g. board=mps2-an386)",
                EXIT_BAD_INPUT,
            )
        tags[key] = value
    return tags


# ---- jobs: build here, run on a place -------------------------------------------------------


@dataclass
class FarmJob:
    model: Path
    board: str
    place: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.result.get("exact"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.stem,
            "board": self.board,
            "place": self.place,
            "passed": self.passed,
            "error": self.error,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
            **self.result,
        }


def job_tags(board: str, extra: dict[str, str]) -> dict[str, str]:
    """The reservation filter of a job on `board`: places tagged board=<id> for real boards;
    an emulated board runs on any QEMU place (tagged emulator=qemu). `extra` is added."""
    from tinyflash.boards import load_board

    tags = {"emulator": "qemu"} if load_board(board).emulated else {"board": board}
    return {**tags, **extra}


def run_on_place(
    project: Path,
    lease_: Lease,
    *,
    build: Any = None,
    samples: int = 10,
    **options: Any,
) -> Any:
    """Flashes a built project's firmware on the leased place and runs the unchanged
    verification against it; returns the VerifyResult."""
    from tinyflash.platformio import build_project
    from tinyflash.verify import read_project, verify_device

    target = read_project(project)
    built = build if build is not None else build_project(target.project_dir)
    lease_.flash(target.board, built.elf)
    return verify_device(lease_.url, target.model, board=target.board, samples=samples, **options)


def _build_job(job: FarmJob, workdir: Path) -> tuple[Path, Any, int]:
    """The job's project, its build, and its model's MACs (the job's expected work)."""
    from tinyflash.pipeline import Pipeline

    pipeline = Pipeline.start(job.model, job.board)
    project = pipeline.generate(workdir / f"{job.model.stem}-{job.board}", force=True)
    built = pipeline.build(project.project_dir)
    return project.project_dir, built, pipeline.model.info.total_macs


def _run_job(
    job: FarmJob,
    project: Path,
    build: Any,
    session: Farm,
    tags: dict[str, str],
    samples: int,
    timeout: float,
    index: int,
    reference_lock: threading.Lock,
) -> None:
    from tinyflash.bench import instructions_per_tick

    start = time.monotonic()
    try:
        with lease(
            None,
            tags=tags,
            job=f"{index}:{job.model.stem}@{job.board}",
            timeout=timeout,
            session=session,
        ) as held:
            job.place = held.place
            job.notes.extend(held.notes)
            result = run_on_place(
                project, held, build=build, samples=samples, reference_lock=reference_lock
            )
        ticks = result.ticks.median if result.ticks else 0
        job.result = {
            "exact": bool(result.passed),
            "instructions": round(ticks * instructions_per_tick(result.tick_unit, job.board)),
            "ticks": ticks,
            "tick_unit": result.tick_unit,
            "flash_bytes": build.size.flash_used,
            "ram_bytes": build.size.ram_used,
            "arena_used": result.arena_used,
            "samples": result.samples,
        }
    except TinyflashError as error:
        job.error = error.message
    finally:
        job.seconds = time.monotonic() - start


@dataclass
class FarmRun:
    jobs: list[FarmJob]
    coordinator: str
    seconds: float  # builds and jobs
    places: list[str]
    build_seconds: float = 0.0  # the builds and imports here, before the jobs start
    workers: int = 1  # jobs at once

    def to_dict(self) -> dict[str, Any]:
        return {
            "coordinator": self.coordinator,
            "seconds": round(self.seconds, 2),
            "build_seconds": round(self.build_seconds, 2),
            "run_seconds": round(self.seconds - self.build_seconds, 2),
            "workers": self.workers,
            "places": self.places,
            "jobs": [job.to_dict() for job in self.jobs],
        }


def farm_run(
    models: Sequence[Path],
    boards: Sequence[str],
    *,
    farm: str | None = None,
    tags: dict[str, str] | None = None,
    workdir: Path | None = None,
    samples: int = 10,
    parallel: int | None = None,
    timeout: float = 600.0,
    progress: Callable[[str], None] | None = None,
) -> FarmRun:
    """Every model x board: builds here (once per pair), then runs the jobs in parallel, one
    reservation each, over the places the coordinator allocates (at most `parallel` at once,
    default: as many as there are matching places)."""
    from concurrent.futures import ThreadPoolExecutor

    if not models or not boards:
        raise TinyflashError(
            f"give at least one model ({option('models')}) and one board ({option('boards')})",
            EXIT_BAD_INPUT,
        )
    for model in models:
        if not Path(model).is_file():
            raise TinyflashError(f"{model} does not exist; give int8 .tflite files", EXIT_BAD_INPUT)
    extra = dict(tags or {})
    jobs = [FarmJob(Path(m), b) for b in boards for m in models]
    with Farm(farm) as session:
        known = session.places()
        filters = {job.board: job_tags(job.board, extra) for job in jobs}
        usable = sorted(
            {
                p.name
                for p in known
                for f in filters.values()
                if all(p.tags.get(k) == v for k, v in f.items())
            }
        )
        if not usable:
            wanted = "; ".join(" ".join(f"{k}={v}" for k, v in f.items()) for f in filters.values())
            raise TinyflashError(
                f"no place on the coordinator at {session.address} matches {wanted}; tag "
                "places with `labgrid-client -p NAME set-tags KEY=VALUE`",
                EXIT_BAD_INPUT,
            )
        work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tinyflash-farm-"))
        work.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        built = []
        for job in jobs:
            if progress:
                progress(f"build {job.model.stem} for {job.board}")
            built.append(_build_job(job, work))
        # TensorFlow and tflite-micro load once here, not inside the first job's lease.
        from tinyflash.floatmodel import import_tensorflow

        import_tensorflow()
        build_seconds = time.monotonic() - start
        workers = max(1, min(parallel or len(usable), len(jobs)))
        reference_lock = threading.Lock()
        # Longest first (MACs stand for a job's time on its board): the last jobs to start are
        # the short ones, so the places finish close together.
        order = sorted(range(len(jobs)), key=lambda i: (-built[i][2], i))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = []
            for index in order:
                job, (project, build, _) = jobs[index], built[index]
                if progress:
                    progress(f"queue {job.model.stem} on {job.board}")
                futures.append(
                    pool.submit(
                        _run_job,
                        job,
                        project,
                        build,
                        session,
                        filters[job.board],
                        samples,
                        timeout,
                        index,
                        reference_lock,
                    )
                )
            for future in futures:
                future.result()
        return FarmRun(
            jobs,
            session.address,
            time.monotonic() - start,
            usable,
            build_seconds=build_seconds,
            workers=workers,
        )


def html_matrix(run: FarmRun) -> str:
    """A self-contained HTML page: board x model, each cell bit-exact or not, instructions,
    flash/RAM bytes and the place it ran on."""
    from html import escape

    models = list(dict.fromkeys(job.model.stem for job in run.jobs))
    boards = list(dict.fromkeys(job.board for job in run.jobs))
    cells = {(job.board, job.model.stem): job for job in run.jobs}
    rows = []
    for board in boards:
        tds = []
        for model in models:
            job = cells[(board, model)]
            if job.error:
                tds.append(f'<td class="fail">error<br><small>{escape(job.error)}</small></td>')
                continue
            r = job.result
            verdict = "bit-exact" if r.get("exact") else "differs"
            tds.append(
                f'<td class="{"ok" if r.get("exact") else "fail"}">{verdict}<br>'
                f"{r.get('instructions', 0):,} instr<br>flash {r.get('flash_bytes', 0):,} B, "
                f"RAM {r.get('ram_bytes', 0):,} B<br><small>{escape(job.place or '')}</small></td>"
            )
        rows.append(f"<tr><th>{escape(board)}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{escape(m)}</th>" for m in models)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>tinyflash farm run</title>'
        "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:4px 8px;"
        "text-align:right}.ok{background:#dfd}.fail{background:#fdd}</style></head><body>"
        f"<h1>tinyflash farm run</h1><p>coordinator {escape(run.coordinator)}, places "
        f"{escape(', '.join(run.places))}, {run.seconds:.1f} s</p>"
        f"<table><tr><th>board \\ model</th>{head}</tr>{''.join(rows)}</table></body></html>\n"
    )


# ---- the exporter side -----------------------------------------------------------------------


class QemuSlot:
    """One emulated board on an exporter: a control port that accepts `FLASH <place> <board>
    <n>` + n bytes of ELF while `place` holds the resource, and the QEMU process it (re)starts
    with the board's UART on host:port."""

    def __init__(self, host: str, port: int, control_port: int) -> None:
        self.host, self.port, self.control_port = host, port, control_port
        self.holder: str | None = None
        self.device: Any = None
        self.folder = Path(tempfile.mkdtemp(prefix="tinyflash-slot-"))
        self.lock = threading.Lock()
        self.server: socketserver.TCPServer | None = None

    def open(self, holder: str) -> None:
        """Starts accepting firmware for place `holder` (the place that acquired the resource)."""
        slot = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                header = self.rfile.readline(256).decode("utf-8", "replace").split()
                try:
                    if len(header) != 4 or header[0] != "FLASH" or not header[3].isdigit():
                        raise TinyflashError("expected FLASH <place> <board> <bytes>")
                    data = self.rfile.read(int(header[3]))
                    slot.flash(header[1], header[2], data)
                    self.wfile.write(b"OK\n")
                except TinyflashError as error:
                    self.wfile.write(f"ERROR {error.message}\n".encode())

        socketserver.TCPServer.allow_reuse_address = True
        self.holder = holder
        self.server = socketserver.TCPServer((self.host, self.control_port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stops accepting firmware (the place was released); the board keeps running."""
        self.holder = None
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def flash(self, place: str, board_id: str, elf: bytes) -> None:
        from tinyflash.boards import load_board
        from tinyflash.emulator import open_device

        if place != self.holder:
            raise TinyflashError(f"place {place} does not hold this board ({self.holder} does)")
        board = load_board(board_id)
        if not board.emulated or not board.qemu_machine:
            raise TinyflashError(f"board {board_id} is not a QEMU board")
        with self.lock:
            self.stop_board()
            program = self.folder / "firmware.elf"
            program.write_bytes(elf)
            self.device = open_device(board, program, port=self.port, host=self.host, attempts=5)

    def stop_board(self) -> None:
        if self.device is not None:
            self.device.stop()
            self.device = None

    def shutdown(self) -> None:
        self.close()
        self.stop_board()
        shutil.rmtree(self.folder, ignore_errors=True)


def _register_qemu_export(slots: list[QemuSlot]) -> None:
    """Adds TinyflashQEMU to labgrid's exporter table (labgrid has no plugin entry point); each
    resource the exporter creates appends its slot to `slots`."""
    import attr
    from labgrid.remote import exporter

    class Always:
        avail = True

        def poll(self) -> None:
            pass

    @attr.s(eq=False)
    class TinyflashQEMUExport(exporter.ResourceExport):
        def __attrs_post_init__(self) -> None:
            super().__attrs_post_init__()
            self.local = Always()
            bind = str(self.local_params.get("host", self.host))
            self.slot = QemuSlot(
                bind, int(self.local_params["port"]), int(self.local_params["control_port"])
            )
            slots.append(self.slot)

        def _get_params(self) -> dict[str, Any]:
            return {
                "host": self.slot.host,
                "port": self.slot.port,
                "control_port": self.slot.control_port,
            }

        def _get_start_params(self) -> dict[str, Any]:
            return {"holder": self.acquired}

        def _start(self, start_params: dict[str, Any]) -> None:
            self.slot.open(str(start_params["holder"]))

        def _stop(self, start_params: dict[str, Any]) -> None:
            self.slot.close()

    exporter.exports[QEMU_RESOURCE] = TinyflashQEMUExport


def run_exporter(config: Path, farm: str | None, name: str | None, hostname: str | None) -> int:
    """Runs labgrid's exporter on `config` with the TinyflashQEMU resource registered; returns
    its exit status (labgrid's exporter asks to be restarted with 100 when the coordinator went
    away)."""
    if not Path(config).is_file():
        raise TinyflashError(f"{config} does not exist; give the exporter's YAML", EXIT_BAD_INPUT)
    exporter = _labgrid("exporter")
    slots: list[QemuSlot] = []
    _register_qemu_export(slots)
    argv = ["labgrid-exporter", "-c", coordinator_address(farm)]
    if name:
        argv += ["-n", name]
    if hostname:
        argv += ["--hostname", hostname]
    saved = sys.argv
    sys.argv = [*argv, str(config)]
    try:
        exporter.main()
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        sys.argv = saved
        for slot in slots:
            slot.shutdown()
    return 0

"""`deploy`: convert → check → generate → build → flash/run → verify, the stages in order."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError
from tinyflash.verify import Progress, VerifyResult, verify_project

Stage = Callable[[str], None]  # called with the name of each stage as it starts


@dataclass
class DeployResult:
    output_dir: Path
    model: Path  # the deployed .tflite
    project_dir: Path
    converted: bool
    arena_bytes: int
    lower_bound: int
    verify: VerifyResult

    def to_dict(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "model": str(self.model),
                "project_dir": str(self.project_dir), "converted": self.converted,
                "arena_bytes": self.arena_bytes, "lower_bound": self.lower_bound,
                "verify": self.verify.to_dict()}


def project_for_model(model: Path, board: str, output: Optional[Path], force: bool,
                      stage: Optional[Stage] = None) -> Path:
    """Generates the firmware project for a .tflite into `output` (default: a fresh temporary
    directory) and returns its path."""
    from tinyflash.codegen import generate

    if output is None:
        output = Path(tempfile.mkdtemp(prefix="tinyflash-")) / "project"
    if stage:
        stage("generate")
    return generate(model, board, output, force=force).project_dir


def _flash_real_board(project: Path, board_id: str, port: Optional[str],
                      stage: Optional[Stage]) -> Optional[str]:
    """Real boards are built and flashed with PlatformIO's upload (to `port`, or the one board
    connected); emulated boards and the host are started by verify instead. Returns the serial
    port verify should use."""
    from tinyflash.boards import load_board
    from tinyflash.platformio import build_project, detect_serial_port, upload_project

    board = load_board(board_id)
    if board.emulated or board.is_host:
        return port
    if port is None:
        port = detect_serial_port(board)
    if stage:
        stage("build and flash")
    build_project(project)
    uploaded = upload_project(project, upload_port=port)
    if uploaded.exit_code != 0:
        raise TinyflashError(f"flashing {board_id} at {port} failed; see {uploaded.log}",
                             EXIT_CHECK_FAILED)
    return port


def deploy(model: str, *, board: str, output_dir: Path, data: Optional[Path] = None,
           samples: int = 10, mode: str = "int8", force: bool = False,
           float_model: Optional[Path] = None, tolerance: int = 0, per_layer: bool = True,
           port: Optional[str] = None, stage: Optional[Stage] = None,
           progress: Optional[Progress] = None, debug: bool = False) -> DeployResult:
    """Runs every stage; artefacts stay in `output_dir` (model.tflite, project/)."""
    from tinyflash.model import load_model
    from tinyflash.opcheck import check_model
    from tinyflash.plan import plan_memory

    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not force:
        raise TinyflashError(f"{output_dir} is not empty; pass --force to replace tinyflash's "
                             "files in it, or choose another --output", EXIT_BAD_INPUT)
    output_dir.mkdir(parents=True, exist_ok=True)
    source = Path(model.split(":")[0]) if model.endswith(".py") or ".py:" in model else Path(model)
    converted = source.suffix.lower() != ".tflite"
    if converted:
        from tinyflash.convert import convert_model

        if data is None:
            raise TinyflashError(f"{model} is a float model: deploy needs calibration data to "
                                 "convert it (--data CALIB.npz)", EXIT_BAD_INPUT)
        if stage:
            stage("convert")
        tflite = output_dir / "model.tflite"
        convert_model(model, tflite, data, mode=mode, debug=debug, force=force)
        reference_float = float_model or (Path(model) if ":" not in model else None)
    else:
        tflite = source
        reference_float = float_model
    if stage:
        stage("check")
    info = load_model(tflite)
    report = check_model(info)
    if not report.deployable:
        raise TinyflashError(f"{tflite} is not deployable; run `tinyflash check {tflite}` for "
                             "each offender and its fix", EXIT_CHECK_FAILED)
    from tinyflash.boards import load_board

    plan = plan_memory(info, load_board(board).kernels)  # the project's default kernel set
    project = project_for_model(tflite, board, output_dir / "project", force, stage)
    port = _flash_real_board(project, board, port, stage)
    if stage:
        stage("build and verify")
    # Calibration data is float (what the float model takes); verify quantizes it per input.
    result = verify_project(project, port=port, data=data, samples=samples, tolerance=tolerance,
                            per_layer=per_layer, float_model=reference_float, progress=progress)
    return DeployResult(output_dir=output_dir, model=tflite, project_dir=project,
                        converted=converted, arena_bytes=plan.arena_bytes,
                        lower_bound=plan.lower_bound, verify=result)

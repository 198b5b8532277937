"""`deploy`: convert → check → generate → build → flash/run → verify, the stages in order."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option
from tinyflash.pipeline import Stage
from tinyflash.records import field_dict
from tinyflash.render import check_output_dir
from tinyflash.verify import Progress, VerifyResult

if TYPE_CHECKING:
    from tinyflash.model import ModelInfo


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
        return field_dict(self)


def project_for_model(
    model: Path, board: str, output: Path | None, force: bool, stage: Stage | None = None
) -> tuple[Path, ModelInfo]:
    """Checks a .tflite once (the pipeline's check stage), generates its firmware project into
    `output` (default: a fresh temporary directory) and returns the project's path and the
    model's ModelInfo (for verify, so the model is not parsed again)."""
    from tinyflash.pipeline import Pipeline

    if output is None:
        output = Path(tempfile.mkdtemp(prefix="tinyflash-")) / "project"
    pipeline = Pipeline.start(model, board, stage)
    return pipeline.generate(output, force=force).project_dir, pipeline.model.info


def _may_go_without_data(model: str, mode: str) -> bool:
    """A quantization-aware trained model converts with its own ranges (convert.py decides;
    None from preflight: only loading the model can tell)."""
    from tinyflash.convert import MODE_TABLE
    from tinyflash.floatmodel import parse_model_spec
    from tinyflash.preflight import quantization_aware

    row = MODE_TABLE.get(mode)
    return bool(row and row.trained_ranges) and quantization_aware(parse_model_spec(model)) in (
        True,
        None,
    )


def deploy(
    model: str,
    *,
    board: str,
    output_dir: Path,
    data: Path | None = None,
    samples: int = 10,
    mode: str = "int8",
    force: bool = False,
    float_model: Path | None = None,
    tolerance: int = 0,
    per_layer: bool = True,
    port: str | None = None,
    stage: Stage | None = None,
    progress: Progress | None = None,
    debug: bool = False,
    labels: Path | None = None,
    preprocess: Any = None,
    runtime: str = "tinyflash",
    tflm_path: Path | None = None,
    farm_lease: Callable[[], AbstractContextManager[Any]] | None = None,
) -> DeployResult:
    """Runs every stage; artefacts stay in `output_dir` (model.tflite, project/). With
    `farm_lease` (a context manager factory from tinyflash.farm, say `lambda: lease(farm,
    place)`), the firmware is flashed on the labgrid place it holds and verified there."""
    from tinyflash.boards import load_board
    from tinyflash.convert import check_mode
    from tinyflash.pipeline import Pipeline

    # Everything that can be refused without TensorFlow is refused before the conversion.
    source = Path(model.split(":")[0]) if model.endswith(".py") or ".py:" in model else Path(model)
    converted = source.suffix.lower() != ".tflite"
    check_mode(mode, device=converted)  # a .tflite is not converted: its mode is check's matter
    load_board(board)
    output_dir = Path(output_dir)
    check_output_dir(output_dir, force, flag="output_dir")
    if converted and data is None and not _may_go_without_data(model, mode):
        raise TinyflashError(
            f"{model} is a float model: deploy needs calibration data to "
            f"convert it ({option('data')} CALIB.npz)",
            EXIT_BAD_INPUT,
        )
    if not converted and not source.is_file():
        raise TinyflashError(
            f"{source}: no such file — give a float model or a .tflite.", EXIT_BAD_INPUT
        )
    if labels is not None and data is None:
        raise TinyflashError(
            f"{option('labels')} needs {option('data')}: labels name the classes of the data's "
            "samples (random inputs have none)",
            EXIT_BAD_INPUT,
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    if converted:
        from tinyflash.convert import convert_model

        if stage:
            stage("convert")
        tflite = output_dir / "model.tflite"
        convert_model(
            model, tflite, data, mode=mode, debug=debug, force=force, preprocess=preprocess
        )
        reference_float = float_model or (Path(model) if ":" not in model else None)
    else:
        tflite = source
        reference_float = float_model
    pipeline = Pipeline.start(tflite, board, stage, progress)
    if not pipeline.model.deployable:
        raise TinyflashError(
            f"{tflite} is not deployable; run `tinyflash check {tflite}` for "
            "each offender and its fix",
            EXIT_CHECK_FAILED,
        )
    project = pipeline.generate(
        output_dir / "project", force=force, runtime=runtime, tflm_path=tflm_path
    ).project_dir
    build = pipeline.build(project)
    with ExitStack() as held_place:
        if farm_lease is not None:
            held = held_place.enter_context(farm_lease())
            if stage:
                stage(f"flash on place {held.place}")
            held.flash(board, build.elf)
            port = held.url
        else:
            port = pipeline.flash(project, port)
        # Calibration data is float (what the float model takes); verify quantizes it per input.
        result = pipeline.verify(
            build,
            port,
            data=data,
            samples=samples,
            tolerance=tolerance,
            per_layer=per_layer,
            float_model=reference_float,
            labels=labels,
            preprocess=preprocess,
        )
    plan = pipeline.model.plan
    return DeployResult(
        output_dir=output_dir,
        model=tflite,
        project_dir=project,
        converted=converted,
        arena_bytes=plan.arena_bytes,
        lower_bound=plan.lower_bound,
        verify=result,
    )

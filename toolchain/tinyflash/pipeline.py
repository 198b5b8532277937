"""The stages after conversion as one object: check → generate → build → flash → verify.

The model is loaded, checked and planned once (`check_model_file`: ModelInfo + verdict + memory
plan, a `CheckedModel`); a `Pipeline` carries it with the board through the later stages, each
a method that returns the stage's data:

    pipeline = Pipeline.start(Path("model.tflite"), "mps2-an386")   # check
    generated = pipeline.generate(Path("out/project"))              # codegen
    build = pipeline.build(generated.project_dir)                    # pio run
    port = pipeline.flash(generated.project_dir, port=None)          # real boards only
    result = pipeline.verify(build, port)                            # emulator started here

`deploy` is convert + these stages in order; `bench` uses check, generate and build, then runs
the firmware with the emulator's monitor. Each stage announces itself through `stage(name)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError

if TYPE_CHECKING:
    from tinyflash.boards import Board
    from tinyflash.codegen import GenerateResult
    from tinyflash.model import ModelInfo
    from tinyflash.opcheck import CheckReport
    from tinyflash.plan import MemoryPlan
    from tinyflash.platformio import BuildResult
    from tinyflash.verify import Progress, VerifyResult

Stage = Callable[[str], None]  # called with the name of each stage as it starts


@dataclass(frozen=True)
class CheckedModel:
    """A .tflite parsed once (ModelInfo), with its verdict and memory plan: what every later
    stage reads instead of loading the file again."""

    path: Path
    info: ModelInfo
    report: CheckReport
    plan: MemoryPlan
    kernels: str = "portable"  # the kernel set the plan is for (the DSP kernels take scratch)
    inplace: bool = True  # the plan has in-place operators (plan.alias_rule)

    @property
    def deployable(self) -> bool:
        return bool(self.report.deployable)

    def for_kernels(self, kernels: str, inplace: bool | None = None) -> CheckedModel:
        """The same model planned for the kernel set `kernels` (no reparse), with in-place
        operators or not (`inplace`; None keeps this plan's choice)."""
        inplace = self.inplace if inplace is None else inplace
        if kernels == self.kernels and inplace == self.inplace:
            return self
        from tinyflash.plan import plan_memory, verify_plan

        plan = plan_memory(self.info, kernels, inplace=inplace)
        verify_plan(self.info, plan)
        return dataclasses.replace(self, plan=plan, kernels=kernels, inplace=inplace)


def check_model_file(model: Path, kernels: str = "portable", inplace: bool = True) -> CheckedModel:
    """The check stage: parse the flatbuffer, check it against the runtime, plan its memory for
    a firmware with the kernel set `kernels` ("portable" or "dsp"), with in-place operators
    unless `inplace` is False."""
    from tinyflash.opcheck import check_file

    checked = check_file(model, kernels, inplace)
    return CheckedModel(Path(model), checked.info, checked.report, checked.plan, kernels, inplace)


@dataclass
class Pipeline:
    """One model on one board through generate → build → flash → verify."""

    model: CheckedModel
    board: Board
    stage: Stage | None = None
    progress: Progress | None = None

    @classmethod
    def start(
        cls,
        model: Path,
        board_id: str,
        stage: Stage | None = None,
        progress: Progress | None = None,
    ) -> Pipeline:
        """Loads the board manifest, then runs the check stage."""
        from tinyflash.boards import load_board

        board = load_board(board_id)
        if stage:
            stage("check")
        return cls(check_model_file(Path(model), board.kernels), board, stage, progress)

    def _announce(self, name: str) -> None:
        if self.stage:
            self.stage(name)

    def generate(self, output_dir: Path, *, force: bool = False, **options: Any) -> GenerateResult:
        """The generate stage (codegen.generate with this checked model; `options` are its
        keyword options: vendor, selftest, kernels, runtime, tflm_path)."""
        from tinyflash.codegen import generate

        self._announce("generate")
        return generate(
            self.model.path,
            self.board.id,
            Path(output_dir),
            force=force,
            checked=self.model,
            **options,
        )

    def build(self, project_dir: Path) -> BuildResult:
        """The build stage: `pio run` on the generated project (every board, real or emulated)."""
        from tinyflash.platformio import build_project

        self._announce("build")
        return build_project(Path(project_dir), progress=self.progress)

    def flash(self, project_dir: Path, port: str | None = None) -> str | None:
        """The flash stage: real boards are flashed with PlatformIO's upload (to `port`, or the one
        board connected) and the serial port verify should use is returned; emulated boards and
        the host have nothing to flash (verify starts them) and `port` is returned unchanged."""
        from tinyflash.platformio import detect_serial_port, upload_project

        if self.board.emulated or self.board.is_host:
            return port
        if port is None:
            port = detect_serial_port(self.board)
        self._announce("flash")
        uploaded = upload_project(Path(project_dir), upload_port=port)
        if uploaded.exit_code != 0:
            raise TinyflashError(
                f"flashing {self.board.id} at {port} failed; see {uploaded.log}", EXIT_CHECK_FAILED
            )
        return port

    def verify(self, build: BuildResult, port: str | None = None, **options: Any) -> VerifyResult:
        """The verify stage: the device at `port`, or (emulated boards, host) the built firmware
        started here, against the host references (`options`: verify_device's keywords)."""
        from tinyflash.render import MODEL_COPY
        from tinyflash.verify import memory_figures, verify_firmware

        self._announce("verify")
        # The project's copy of the model (the bytes the firmware embeds) names the model in the
        # report, as `tinyflash verify DIR` does; it is the checked model, so no reload.
        result = verify_firmware(
            self.board,
            build.elf,
            build.project_dir / MODEL_COPY,
            port=port,
            info=self.model.info,
            progress=self.progress,
            **options,
        )
        result.memory = memory_figures(build)
        return result

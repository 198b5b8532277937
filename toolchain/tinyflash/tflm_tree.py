"""A TensorFlow Lite Micro source tree given with --tflm-path: its layout checked, its flavour
(reference kernels or CMSIS-NN) read from its contents, and the sources one model needs chosen
from it (the TFLM core, the kernels of the model's operators with their shared helpers, and for a
CMSIS-NN tree the CMSIS-NN functions those kernels call), each with the optimisation level TFLM's
own Makefile gives it (core -Os, kernels and third-party kernels -O2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option

GENERIC = "generic"
CMSIS_NN = "cmsis-nn"

_MICRO = "tensorflow/lite/micro"
_KERNELS = f"{_MICRO}/kernels"
_CMSIS_KERNELS = f"{_KERNELS}/cmsis_nn"
_CMSIS_NN_DIR = "third_party/cmsis_nn"
#: Folders of a TFLM checkout or tree that hold no library code (tests, examples, tools, other
#: targets' ports), relative to the tree; never compiled.
_NOT_LIBRARY = (
    f"{_MICRO}/examples/",
    f"{_MICRO}/tools/",
    f"{_MICRO}/testing/",
    f"{_MICRO}/benchmarks/",
    f"{_MICRO}/integration_tests/",
    f"{_MICRO}/python/",
    f"{_MICRO}/docs/",
)
#: Core files that exist only for TFLM's tests (fake contexts, mock graphs, kernel runner).
_TEST_SUPPORT = frozenset(
    {
        f"{_MICRO}/fake_micro_context.cc",
        f"{_MICRO}/mock_micro_graph.cc",
        f"{_MICRO}/test_helpers.cc",
        f"{_MICRO}/test_helper_custom_ops.cc",
        f"{_KERNELS}/kernel_runner.cc",
    }
)
#: The include folders TFLM's sources need, relative to the tree (those that exist are used).
INCLUDE_DIRS: tuple[str, ...] = (
    "",
    "third_party/flatbuffers/include",
    "third_party/gemmlowp",
    "third_party/ruy",
    "third_party/kissfft",
)
CMSIS_INCLUDE_DIRS: tuple[str, ...] = (
    _CMSIS_NN_DIR,
    f"{_CMSIS_NN_DIR}/Include",
    "third_party/cmsis/CMSIS/Core/Include",
)
#: TFLM's Makefile optimisation levels (gcc): core, kernels, third-party kernels.
CORE_OPT = "-Os"
KERNEL_OPT = "-O2"
THIRD_PARTY_OPT = "-O2"

_RESOLVER_ADD = re.compile(
    r"TfLiteStatus\s+(Add\w+)\(\s*const\s+TFLMRegistration&\s+registration\s*=\s*"
    r"(?:[\w:]*::)?(Register_\w+)\(\)"
)
_REGISTER_DEF = re.compile(r"^TFLMRegistration\s+(Register_\w+)\s*\(\s*\)\s*\{", re.MULTILINE)
_KERNEL_INCLUDE = re.compile(r'^#include\s+"tensorflow/lite/micro/kernels/(\w+)\.h"', re.MULTILINE)
_ARM_CALL = re.compile(r"\b(arm_\w+)\s*\(")
_ARM_DEF = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(arm_\w+)\s*\([^;{]*\)\s*\{", re.MULTILINE)


@dataclass(frozen=True)
class TflmTree:
    """An exported TFLM tree: where it is and which kernels it carries."""

    root: Path
    flavour: str  # GENERIC or CMSIS_NN

    @property
    def defines(self) -> tuple[str, ...]:
        """Preprocessor definitions TFLM's Makefile passes for this flavour (without -D)."""
        base = ("TF_LITE_STATIC_MEMORY",)
        if self.flavour == CMSIS_NN:
            # CMSIS_NN: the kernels' CMSIS-NN paths; PROJECT_GENERATION: cortex_m_generic's
            # micro_time.cc without a device header (the exported tree has none).
            return (*base, "CMSIS_NN", "PROJECT_GENERATION")
        return base

    @property
    def include_dirs(self) -> tuple[Path, ...]:
        dirs = INCLUDE_DIRS + (CMSIS_INCLUDE_DIRS if self.flavour == CMSIS_NN else ())
        return tuple(self.root / d if d else self.root for d in dirs)


@dataclass(frozen=True)
class TflmSources:
    """The tree's sources one op set needs (paths relative to the tree, sorted), by the
    optimisation level TFLM gives them."""

    flavour: str
    core: tuple[str, ...]
    kernels: tuple[str, ...]
    third_party: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.core) + len(self.kernels) + len(self.third_party)

    def groups(self) -> list[dict[str, object]]:
        """[{"name": ..., "flags": [...], "sources": [...]}, ...]: what tflm/sources.json
        records; each group is one library (and one cache entry: the core is shared by every
        op set)."""
        return [
            {"name": name, "flags": [opt], "sources": list(files)}
            for name, opt, files in (
                ("core", CORE_OPT, self.core),
                ("kernels", KERNEL_OPT, self.kernels),
                ("cmsis-nn", THIRD_PARTY_OPT, self.third_party),
            )
            if files
        ]


def _bad_tree(path: Path, why: str) -> TinyflashError:
    return TinyflashError(
        f"{option('tflm_path')} {path}: {why}; export a tree from a tflite-micro checkout with "
        "TFLM's create_tflm_tree.py (docs/boards.md)",
        EXIT_BAD_INPUT,
    )


def inspect_tree(path: Path | str) -> TflmTree:
    """Checks that `path` is a TFLM tree exported with create_tflm_tree.py and reads its flavour."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise _bad_tree(root, "is not a directory")
    root = root.resolve()
    if not (root / _MICRO / "micro_interpreter.h").is_file():
        raise _bad_tree(root, f"has no {_MICRO}/micro_interpreter.h, so it is not a TFLM tree")
    if not (root / "third_party/flatbuffers/include/flatbuffers/flatbuffers.h").is_file():
        checkout = (root / _MICRO / "tools/make/Makefile").is_file()
        why = (
            "is a tflite-micro checkout, not an exported tree (its third-party code, e.g. "
            "flatbuffers, is downloaded by the Makefile, not in third_party/)"
            if checkout
            else "has no third_party/flatbuffers/include/flatbuffers/flatbuffers.h"
        )
        raise _bad_tree(root, why)
    if not (root / _MICRO / "micro_mutable_op_resolver.h").is_file():
        raise _bad_tree(root, f"has no {_MICRO}/micro_mutable_op_resolver.h")
    cmsis_kernels = sorted((root / _CMSIS_KERNELS).glob("*.cc"))
    if cmsis_kernels:
        if not (root / _CMSIS_NN_DIR / "Include/arm_nnfunctions.h").is_file():
            raise _bad_tree(
                root,
                f"has CMSIS-NN kernels ({_CMSIS_KERNELS}) but not the CMSIS-NN library "
                f"({_CMSIS_NN_DIR}/Include/arm_nnfunctions.h)",
            )
        return TflmTree(root, CMSIS_NN)
    return TflmTree(root, GENERIC)


def resolver_registrations(tree: TflmTree) -> dict[str, str]:
    """MicroMutableOpResolver method -> the Register_...() function its default argument calls,
    read from the tree's micro_mutable_op_resolver.h."""
    text = (tree.root / _MICRO / "micro_mutable_op_resolver.h").read_text(errors="replace")
    return dict(_RESOLVER_ADD.findall(text))


def _is_test(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(("_test.cc", "_test.c")) or "/test_" in rel or rel.startswith(_NOT_LIBRARY)


def _library_files(root: Path, under: str, suffixes: tuple[str, ...]) -> list[str]:
    base = root / under
    if not base.is_dir():
        return []
    found = (p.relative_to(root).as_posix() for p in base.rglob("*") if p.suffix in suffixes)
    return sorted(f for f in found if not _is_test(f) and f not in _TEST_SUPPORT)


def _core_files(root: Path) -> list[str]:
    return [
        f
        for f in _library_files(root, "tensorflow", (".cc", ".c"))
        if not f.startswith(f"{_KERNELS}/")
    ]


def _kernel_files(root: Path, flavour: str) -> list[str]:
    files = [f for f in _library_files(root, _KERNELS, (".cc",)) if f.count("/") == 4]
    if flavour == CMSIS_NN:
        files += _library_files(root, _CMSIS_KERNELS, (".cc",))
    return files


def _read(root: Path, rel: str) -> str:
    return (root / rel).read_text(errors="replace")


def _kernel_closure(root: Path, start: Iterable[str], helpers: dict[str, list[str]]) -> set[str]:
    """`start` plus the helper sources (files defining no Register_ function) of every kernel
    header the chosen files include, and each chosen kernel's NAME_common.cc, transitively."""
    chosen: set[str] = set()
    todo = list(start)
    while todo:
        rel = todo.pop()
        if rel in chosen:
            continue
        chosen.add(rel)
        stem = rel.rsplit("/", 1)[-1].removesuffix(".cc")
        names = {stem, *_KERNEL_INCLUDE.findall(_read(root, rel))}
        for name in names:
            todo.extend(helpers.get(name, []))
    return chosen


def _cmsis_closure(root: Path, kernel_sources: Iterable[str]) -> list[str]:
    """The CMSIS-NN sources defining the arm_ functions the chosen kernels call, transitively."""
    defined: dict[str, str] = {}
    for rel in _library_files(root, f"{_CMSIS_NN_DIR}/Source", (".c",)):
        for name in _ARM_DEF.findall(_read(root, rel)):
            defined.setdefault(name, rel)
    chosen: set[str] = set()
    todo = [name for rel in kernel_sources for name in _ARM_CALL.findall(_read(root, rel))]
    while todo:
        source = defined.get(todo.pop())
        if source is None or source in chosen:
            continue
        chosen.add(source)
        todo.extend(_ARM_CALL.findall(_read(root, source)))
    return sorted(chosen)


def select_sources(tree: TflmTree, resolver_methods: Iterable[str]) -> TflmSources:
    """The sources of the TFLM core and of the kernels behind `resolver_methods` (the
    MicroMutableOpResolver Add...() calls of the model), with their helpers."""
    root = tree.root
    registrations = resolver_registrations(tree)
    defines: dict[str, list[str]] = {}
    helpers: dict[str, list[str]] = {}
    for rel in _kernel_files(root, tree.flavour):
        regs = _REGISTER_DEF.findall(_read(root, rel))
        for reg in regs:
            defines.setdefault(reg, []).append(rel)
        stem = rel.rsplit("/", 1)[-1].removesuffix(".cc")
        if not regs and "/cmsis_nn/" not in rel:
            helpers.setdefault(stem.removesuffix("_common"), []).append(rel)
    start: list[str] = []
    for method in sorted(set(resolver_methods)):
        reg = registrations.get(method)
        files = defines.get(reg or "", [])
        if not files:
            raise _bad_tree(
                root,
                f"has no kernel for MicroMutableOpResolver::{method}() "
                f"({reg or 'not in its micro_mutable_op_resolver.h'} is defined in no file "
                f"under {_KERNELS})",
            )
        # A CMSIS-NN kernel replaces the reference kernel of the same operator.
        optimized = [f for f in files if "/cmsis_nn/" in f]
        start.extend(optimized or files)
    core = _core_files(root)
    kernels = _kernel_closure(root, [*start, *core], helpers) - set(core)
    third_party = _cmsis_closure(root, sorted(kernels)) if tree.flavour == CMSIS_NN else []
    return TflmSources(tree.flavour, tuple(core), tuple(sorted(kernels)), tuple(third_party))


def tree_versions(tree: TflmTree) -> str:
    """What an exported tree says of its versions (TFLM itself records none): flatbuffers's,
    and CMSIS-NN's revision for a CMSIS-NN tree."""
    base = (tree.root / "third_party/flatbuffers/include/flatbuffers/base.h").read_text(
        errors="replace"
    )
    parts = [
        re.search(rf"#define FLATBUFFERS_VERSION_{p}\s+(\d+)", base) for p in ("MAJOR", "MINOR")
    ]
    revision = re.search(r"#define FLATBUFFERS_VERSION_REVISION\s+(\d+)", base)
    found = [m.group(1) for m in (*parts, revision) if m]
    text = f"flatbuffers {'.'.join(found) if len(found) == 3 else 'unknown'}"
    if tree.flavour == CMSIS_NN:
        header = (tree.root / _CMSIS_NN_DIR / "Include/arm_nnfunctions.h").read_text(
            errors="replace"
        )
        rev = re.search(r"\$Revision:\s*(\S+)", header)
        text += f", CMSIS-NN {rev.group(1) if rev else 'unknown'}"
    return text


def tree_checks(path: Path | str) -> list[tuple[str, bool, str, str]]:
    """`tinyflash doctor --tflm-path`: (name, ok, what was found or why not, fix) for the tree's
    layout and flavour, its versions and its kernels."""
    fix = "export a tree with TFLM's create_tflm_tree.py (docs/boards.md)"
    try:
        tree = inspect_tree(path)
    except TinyflashError as error:
        return [("tflm tree", False, error.message, fix)]
    kernels = _kernel_files(tree.root, tree.flavour)
    registered = {reg for rel in kernels for reg in _REGISTER_DEF.findall(_read(tree.root, rel))}
    methods = resolver_registrations(tree)
    missing = sorted(m for m, reg in methods.items() if reg not in registered)
    checks = [
        ("tflm tree", True, f"{tree.root} ({tree.flavour} kernels)", ""),
        ("tflm versions", True, tree_versions(tree), ""),
        (
            "tflm kernels",
            not missing,
            f"{len(methods) - len(missing)} of {len(methods)} resolver methods have a kernel"
            + (f"; missing: {', '.join(missing)}" if missing else ""),
            fix,
        ),
    ]
    return checks

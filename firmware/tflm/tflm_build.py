# PlatformIO extra script (post) of a `tinyflash generate --runtime tflm --tflm-path DIR` project:
# builds the TensorFlow Lite Micro sources the model needs as one static library, libtflm.a, and
# links it. The sources, their optimisation levels (TFLM's Makefile: core -Os, kernels -O2) and
# TFLM's defines and include folders are listed in tflm/sources.json, which tinyflash generate
# writes. TFLM's sources are compiled with TFLM's flags, not the project's warnings or -Os.
#
# Cache: the library is kept in $TINYFLASH_CACHE_DIR/tflm/KEY/libtflm.a (default
# $XDG_CACHE_HOME/tinyflash, else ~/.cache/tinyflash), KEY a hash of the tree's contents, the
# board, the compiler and its flags and the source list, so another project for the same board and
# op set links it without compiling TFLM again. TINYFLASH_TFLM_CACHE=off turns the cache off.
#
# Runs inside PlatformIO (SCons), so it does not import tinyflash.
import hashlib
import json
import os
import subprocess
import sys

Import("env")  # noqa: F821  (SCons)

SPEC_PATH = os.path.join(env.subst("$PROJECT_DIR"), "tflm", "sources.json")  # noqa: F821
with open(SPEC_PATH, encoding="utf8") as fp:
    SPEC = json.load(fp)
TREE = SPEC["tree"]
DROP = ("-Wall", "-Wextra", "-Werror", "-Os", "-O0", "-O1", "-O2", "-O3", "-Og")


def _cache_root():
    base = os.environ.get("TINYFLASH_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "tinyflash")
    return os.path.join(base, "tflm")


def _tree_digest(root):
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode("utf8") + b"\0")
            with open(path, "rb") as fp:
                digest.update(hashlib.sha256(fp.read()).digest())
    return digest.hexdigest()


def _compiler_version(tool):
    try:
        done = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return tool
    return (done.stdout.splitlines() or [tool])[0]


def _lib_env(base, opt):
    """The project's environment (its compiler and machine flags) with TFLM's defines, include
    folders and optimisation level in place of the project's warnings, -O level and paths."""
    lib = base.Clone()
    for var in ("CCFLAGS", "CFLAGS", "CXXFLAGS"):
        lib.Replace(**{var: [f for f in lib.get(var, []) if str(f) not in DROP]})
    lib.Replace(CPPPATH=list(SPEC["include_dirs"]), CPPDEFINES=list(SPEC["defines"]))
    lib.Append(CCFLAGS=[opt])
    return lib


envs = [(_lib_env(env, group["flags"][0]), group) for group in SPEC["groups"]]  # noqa: F821
key_text = json.dumps(
    {
        "tree": _tree_digest(TREE),
        "board": env.subst("$BOARD"),  # noqa: F821
        "cc": _compiler_version(env.subst("$CC")),  # noqa: F821
        "cxx": _compiler_version(env.subst("$CXX")),  # noqa: F821
        "flags": [
            lib.subst("$CC $CCFLAGS $CFLAGS | $CXX $CXXFLAGS | $_CPPDEFFLAGS $_CPPINCFLAGS")
            for lib, _ in envs
        ],
        "groups": SPEC["groups"],
    },
    sort_keys=True,
)
KEY = hashlib.sha256(key_text.encode("utf8")).hexdigest()[:24]
CACHE_ON = os.environ.get("TINYFLASH_TFLM_CACHE", "on").lower() not in ("off", "0", "no")
CACHED = os.path.join(_cache_root(), KEY, "libtflm.a")
COUNT = sum(len(group["sources"]) for _, group in envs)

if CACHE_ON and os.path.isfile(CACHED):
    print("tinyflash: TFLM library from the cache: %s" % CACHED)
    env.Prepend(LIBS=[env.File(CACHED)])  # noqa: F821
else:
    print("tinyflash: compiling %d TFLM sources (cache key %s)" % (COUNT, KEY))
    objects = []
    for lib, group in envs:
        for rel in group["sources"]:
            stem = os.path.splitext(rel)[0]
            objects += lib.Object(
                target=os.path.join("$BUILD_DIR", "tflm", stem + ".o"),
                source=os.path.join(TREE, rel),
            )
    archive = envs[0][0].StaticLibrary(os.path.join("$BUILD_DIR", "tflm", "libtflm"), objects)
    env.Prepend(LIBS=archive)  # noqa: F821

    def _store(target, source, env):  # noqa: ARG001  (SCons action signature)
        if not CACHE_ON:
            return 0
        os.makedirs(os.path.dirname(CACHED), exist_ok=True)
        partial = "%s.%d.part" % (CACHED, os.getpid())
        with open(str(target[0]), "rb") as src, open(partial, "wb") as dst:
            dst.write(src.read())
        os.replace(partial, CACHED)  # atomic: a concurrent build sees all of it or nothing
        sys.stdout.write("tinyflash: TFLM library cached in %s\n" % CACHED)
        return 0

    env.AddPostAction(archive, _store)  # noqa: F821

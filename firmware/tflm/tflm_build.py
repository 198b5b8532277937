# PlatformIO extra script (post) of a `tinyflash generate --runtime tflm --tflm-path DIR` project:
# builds the TensorFlow Lite Micro sources the model needs as static libraries and links them.
# The sources, their optimisation levels (TFLM's Makefile: core -Os, kernels and CMSIS-NN -O2),
# TFLM's defines and include folders are listed in tflm/sources.json, which tinyflash generate
# writes, in groups: core (shared by every op set), the model's kernels, the CMSIS-NN functions
# they call. TFLM's sources are compiled with TFLM's flags, not the project's warnings or -Os.
#
# Cache: each group's library is kept in $TINYFLASH_CACHE_DIR/tflm/KEY/libtflm_GROUP.a (default
# $XDG_CACHE_HOME/tinyflash, else ~/.cache/tinyflash), KEY a hash of the tree's contents, the
# board, the compiler and its flags and the group's sources, so another project for the same board
# (and op set, for the kernels) links it without compiling TFLM again. TINYFLASH_TFLM_CACHE=off
# turns the cache off.
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


TREE_DIGEST = _tree_digest(TREE)
COMPILERS = [_compiler_version(env.subst(tool)) for tool in ("$CC", "$CXX")]  # noqa: F821
CACHE_ON = os.environ.get("TINYFLASH_TFLM_CACHE", "on").lower() not in ("off", "0", "no")


def _key(lib, group):
    text = json.dumps(
        {
            "tree": TREE_DIGEST,
            "board": env.subst("$BOARD"),  # noqa: F821
            "compilers": COMPILERS,
            "flags": lib.subst("$CCFLAGS $CFLAGS | $CXXFLAGS | $_CPPDEFFLAGS $_CPPINCFLAGS"),
            "group": group,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf8")).hexdigest()[:24]


def _store(cached):
    def action(target, source, env):  # noqa: ARG001  (SCons action signature)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        partial = "%s.%d.part" % (cached, os.getpid())
        with open(str(target[0]), "rb") as src, open(partial, "wb") as dst:
            dst.write(src.read())
        os.replace(partial, cached)  # atomic: a concurrent build sees all of it or nothing
        sys.stdout.write("tinyflash: TFLM %s library cached in %s\n" % (name, cached))
        return 0

    name = os.path.basename(cached)
    return action


LINK_ORDER = {"kernels": 0, "cmsis-nn": 1, "core": 2}  # callers before callees
libraries = []
for group in sorted(SPEC["groups"], key=lambda g: LINK_ORDER.get(g.get("name"), 0)):
    lib = _lib_env(env, group["flags"][0])  # noqa: F821
    name = group.get("name", "tflm")
    cached = os.path.join(_cache_root(), _key(lib, group), "libtflm_%s.a" % name)
    if CACHE_ON and os.path.isfile(cached):
        print("tinyflash: TFLM library from the cache: %s" % cached)
        libraries.append(env.File(cached))  # noqa: F821
        continue
    print("tinyflash: compiling %d TFLM %s sources" % (len(group["sources"]), name))
    objects = []
    for rel in group["sources"]:
        objects += lib.Object(
            target=os.path.join("$BUILD_DIR", "tflm", os.path.splitext(rel)[0] + ".o"),
            source=os.path.join(TREE, rel),
        )
    archive = lib.StaticLibrary(os.path.join("$BUILD_DIR", "tflm", "libtflm_" + name), objects)
    if CACHE_ON:
        env.AddPostAction(archive, _store(cached))  # noqa: F821
    libraries.extend(archive)

# The kernels call CMSIS-NN and the core, the core calls kernel helpers: the libraries twice let
# GNU ld resolve the references between them.
env.Prepend(LIBS=libraries + libraries)  # noqa: F821

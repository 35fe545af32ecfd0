"""The Dockerfile's recipe, rehearsed without a container engine (CI has none): the build
context as .dockerignore leaves it, the builder stage's `pip wheel` command, the runtime stage's
`pip install --no-index` into an empty environment, and the demo run as uid 10001 from a
read-only install with the image's ENV. Nothing is cached between runs (fresh directories,
--no-cache-dir as the Dockerfile says), so a missing file or dependency fails here as it would
in `docker build`."""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from gateway_process import REPO, free_port
from test_docker import _ignored, _pip_command, _runs, stages

import unprivileged

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="dropping to uid 10001 needs root and setpriv (util-linux)")


def build_context(destination: Path) -> Path:
    """The files `docker build .` would send: everything .dockerignore does not drop."""
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for dirpath, dirnames, filenames in os.walk(REPO):
        rel_dir = os.path.relpath(dirpath, REPO)
        dirnames[:] = [d for d in dirnames if not _ignored(os.path.normpath(os.path.join(rel_dir, d)), patterns)]
        for name in [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:  # sanic_app/specs
            rel = os.path.normpath(os.path.join(rel_dir, name))
            (destination / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(REPO / rel), destination / rel)  # docker sends links as links
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if not _ignored(rel, patterns):
                (destination / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, destination / rel, follow_symlinks=False)
    return destination


def _command(stage, verb: str, wheels: Path) -> list[str]:
    """The stage's pip command, with the image's /wheels folder replaced by ours."""
    text = _pip_command(next(r for r in _runs(stage) if f"pip {verb}" in r), verb)
    return [arg.replace("/wheels", str(wheels)) for arg in shlex.split(text)][1:]


def _image_env() -> dict[str, str]:
    env = {}
    for keyword, args in stages()[-1]:
        if keyword == "ENV":
            env.update(item.partition("=")[::2] for item in args.split())
    return env


@pytest.fixture
def scratch():
    root = Path(tempfile.mkdtemp(prefix="recipe-", dir="/tmp"))  # short: AF_UNIX path limits
    root.chmod(0o755)
    yield root
    if not os.environ.get("KEEP_RECIPE"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheels_install_offline_and_the_demo_answers_as_uid_10001(scratch):
    builder, runtime = stages()[0], stages()[-1]
    context = build_context(scratch / "context")
    assert not (context / "tests").exists() and (context / "setup.py").exists()

    # builder stage: our wheel (compiled here) and a wheel of every runtime dependency
    wheels = scratch / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", *_command(builder, "wheel", wheels)], cwd=context,
                           capture_output=True, text=True, timeout=480)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert list(wheels.glob("tfserving_gateway-*.whl")) and not list(wheels.glob("tensorflow*"))

    # runtime stage: an empty environment, the builder's wheels only
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", *_command(runtime, "install", wheels)],
                               capture_output=True, text=True, timeout=300,
                               env={"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull})
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    shutil.rmtree(wheels)  # the mount is gone after the RUN step
    for path in sorted(venv.rglob("*"), reverse=True):  # the image layer: nobody writes it
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else (0o555 if os.access(path, os.X_OK) else 0o444))
    workdir = scratch / "specs"  # WORKDIR /specs, empty and read-only
    workdir.mkdir()
    workdir.chmod(0o555)
    home = scratch / "home"  # what a container's writable layer would hold: only TMPDIR here
    home.mkdir()
    os.chown(home, unprivileged.POD_UID, unprivileged.POD_GID)

    port = free_port()
    env = dict(_image_env(), PATH=f"{venv}/bin:/usr/bin:/bin", HOME=str(home), TMPDIR=str(home),
               GATEWAY_HOST="127.0.0.1", GATEWAY_PORT=str(port))  # loopback: a shared test machine
    user = unprivileged.as_pod_user(python)
    where = subprocess.run(user + [python, "-c", "import sanic_app, fastpack._codec_c as c; print(sanic_app.__file__, c.__file__)"],
                           env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0 and where.stdout.count(str(venv)) == 2, where  # the install, compiled
    entry = [python, "-m", "sanic_app"]  # the image's ENTRYPOINT, run by its interpreter
    log = open(scratch / "gateway.log", "wb")
    gateway = subprocess.Popen(user + entry, env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while True:
                assert gateway.poll() is None, (scratch / "gateway.log").read_text()
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (scratch / "gateway.log").read_text()
                time.sleep(0.3)
            png = (REPO / "specs" / "examples" / "digit-3.png").read_bytes()
            r = client.post("/v1/models/digits:predict", content=png, headers={"Content-Type": "image/png"})
            assert r.status_code == 200, r.text
            assert r.json()["predictions"][0][0]["class"] == 3
        # Not at once: a SIGTERM within ~0.3 s of the first answer can leave Sanic's main process
        # waiting forever (seen in 3 of 4 tries; README, Deploy on Kubernetes: why preStop pauses).
        time.sleep(1.0)
    finally:
        if gateway.poll() is None:
            os.kill(gateway.pid, 15)  # as `docker stop`: SIGTERM to PID 1 only
            try:
                gateway.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(gateway.pid, 9)
                gateway.wait()
        log.close()
    assert gateway.returncode == 0, (scratch / "gateway.log").read_text()

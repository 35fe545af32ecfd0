"""The gateway started as the kubelet would start the sidecar overlay's gateway container:
its env and args, the image's ENV, the service-link variables of every Service (and of one
named "gateway", whose GATEWAY_PORT=tcp://... used to stop start-up), uid 10001, a read-only
code tree and only the emptyDir volumes writable. TF Serving's place is taken by the embedded
backend on the shared socket, run as the same user, as the sidecar would be.

One change to the kubelet's environment: absolute paths of the volumes (/run/gateway/...,
/tmp, /etc/gateway/specs) are mapped under a scratch directory, and GATEWAY_PORT onto a free
port (a container's port mapping), since a test cannot own /run or port 8000 of a shared machine.
"""
import concurrent.futures
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from gateway_process import REPO, free_port
from test_docker import stages

import kustomize_lite
import pod_rehearsal as pod
import unprivileged

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="dropping to uid 10001 needs root and setpriv (util-linux)")

DEPLOY = REPO / "deploy" / "kubernetes"
IMAGE = (1, 299, 299, 3)


def image_env() -> dict[str, str]:
    """The runtime stage's ENV lines of the Dockerfile."""
    env = {}
    for keyword, args in stages()[-1]:
        if keyword == "ENV":
            for item in args.split():
                key, _, value = item.partition("=")
                env[key] = value
    return env


def _read_ready(process: subprocess.Popen, timeout: float) -> dict:
    deadline, buffer = time.monotonic() + timeout, b""
    while b"\n" not in buffer:
        assert process.poll() is None, f"backend exited with {process.returncode}"
        assert time.monotonic() < deadline, "backend did not report ready"
        if select.select([process.stdout], [], [], 0.5)[0]:
            buffer += os.read(process.stdout.fileno(), 4096)
    return json.loads(buffer.split(b"\n", 1)[0])


def _in_flight(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("gateway_in_flight "):
            return float(line.split()[1])
    return 0.0


def _body() -> bytes:
    return json.dumps({"instances": [[[[0.5] * 3] * 299] * 299]}).encode()


@pytest.fixture
def pod_root():
    """A short scratch root: AF_UNIX paths (multiprocessing's, the backend's socket) stop at 107
    bytes, so pytest's long tmp_path would fail where the pod's /tmp and /run would not."""
    root = Path(tempfile.mkdtemp(prefix="pod-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_the_sidecar_pod_starts_serves_and_drains(tmp_path, pod_root):
    docs = kustomize_lite.render(DEPLOY / "overlays" / "sidecar")
    every_service = [d for d in kustomize_lite.render(DEPLOY / "overlays" / "pool") if d["kind"] == "Service"]
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "gateway")
    pod_spec = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod_spec["containers"] if c["name"] == "gateway")
    [sidecar] = pod_spec["initContainers"]
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    assert {s["metadata"]["name"] for s in every_service} >= {"gateway", "tfserving"}

    root = pod_root
    files = pod.PodFiles(root / "volumes", pod_spec, configmaps, unprivileged.POD_UID, unprivileged.POD_GID)
    code = unprivileged.read_only_tree(REPO, root / "image" / "app")
    workdir = root / "image" / "specs"
    workdir.mkdir(parents=True)
    workdir.chmod(0o555)
    user = unprivileged.as_pod_user(sys.executable)

    env = files.map_env(pod.container_env(container, every_service, image_env()))
    assert env["GATEWAY_SERVICE_HOST"] and env["GATEWAY_PORT_8000_TCP_ADDR"]  # the links are there
    port = free_port()
    env.update(GATEWAY_PORT=str(port), PYTHONPATH=str(code))
    assert env["GATEWAY_WORKERS"] == "2" and env["GATEWAY_TARGET"].startswith("unix:" + str(root))
    args = files.map_args(container["args"])
    probe = subprocess.run(user + [sys.executable, "-c", "import os, sanic_app, fastpack._codec_c as c; "
                                   "print(os.getuid(), sanic_app.__file__, c.__file__)"],
                           env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
    uid, package, extension = probe.stdout.split()
    assert uid == "10001" and package.startswith(f"{code}/") and extension.startswith(f"{code}/"), probe

    # the sidecar: the embedded backend on the socket TF Serving's flag names, same uid
    socket_path = files.path(next(a for a in sidecar["args"] if a.startswith("--grpc_socket_path=")).split("=", 1)[1])
    backend_env = {"PATH": env["PATH"], "PYTHONPATH": str(code), "HOME": env["HOME"], "TMPDIR": env["TMPDIR"],
                   "PYTHONDONTWRITEBYTECODE": "1"}
    gateway_log = open(tmp_path / "gateway.log", "wb")
    gateway = subprocess.Popen(user + [sys.executable, "-m", "sanic_app", *args], env=env, cwd=workdir,
                               stdin=subprocess.DEVNULL, stdout=gateway_log, stderr=subprocess.STDOUT)
    backend = None
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:  # the startup probe
            assert gateway.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gateway.log").read_text()
            time.sleep(0.2)
        # no backend yet: not ready, and the reason names the model
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503 and "inceptionv3" in not_ready.json()["error"]

        backend = subprocess.Popen(
            user + [sys.executable, "-m", "sanic_app.localserve", "--port", "0", "--delay_ms", "1000",
                    "--grpc_socket_path", socket_path,
                    "--null_model", "inceptionv3:images=float32[-1,299,299,3]:scores=float32[-1,1001]"],
            env=backend_env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert _read_ready(backend, 60)["socket"] == f"unix:{socket_path}"
        deadline = time.monotonic() + 10
        while (ready := client.get("/readyz")).status_code != 200:  # the readiness probe
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.3)
        assert ready.json() == {"status": "ready"}

        r = client.post("/v1/models/inceptionv3:predict", content=_body())
        assert r.status_code == 200, r.text
        assert len(r.json()["predictions"][0]) == 5  # the spec's top-5, from the ConfigMap

        log = (tmp_path / "gateway.log").read_text()
        assert log.count("enableServiceLinks: false") == 1, log  # warned once, in the main process
        assert "Traceback" not in log, log

        # Termination: the preStop hook first (run as the kubelet runs it), requests still served
        # during it; then SIGTERM to PID 1 while requests are in flight: all answered, clean exit.
        pool = concurrent.futures.ThreadPoolExecutor(8)

        def predict(_):
            with httpx.Client(timeout=30) as c:
                return c.post(f"http://127.0.0.1:{port}/v1/models/inceptionv3:predict", content=_body()).status_code

        pre_stop = subprocess.Popen(container["lifecycle"]["preStop"]["exec"]["command"])
        during_pause = [pool.submit(predict, i) for i in range(4)]
        pre_stop.wait(30)
        in_flight = [pool.submit(predict, i) for i in range(6)]
        deadline = time.monotonic() + 10
        while _in_flight(client) < 6:  # all inside the gateway, waiting on the 1 s backend
            assert time.monotonic() < deadline, "requests never got in flight"
            time.sleep(0.05)
        client.close()
        started = time.monotonic()
        gateway.send_signal(signal.SIGTERM)
        assert [f.result(timeout=30) for f in during_pause + in_flight] == [200] * 10
        assert gateway.wait(pod_spec["terminationGracePeriodSeconds"]) == 0
        assert time.monotonic() - started < float(env["GATEWAY_GRACEFUL_SHUTDOWN_S"])
        pool.shutdown()
    finally:
        client.close()
        for process in (gateway, backend):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        if backend is not None:
            backend.stdout.close()
        gateway_log.close()

    # it wrote only into its emptyDirs: the metric cells landed in the metrics volume, and the
    # pod's user owns nothing anywhere else we can look
    metrics_dir = Path(env["GATEWAY_METRICS_DIR"])
    assert any(p.name.startswith("tfsgw_") for p in metrics_dir.iterdir())
    strays = [p for p in unprivileged.files_owned_by(unprivileged.POD_UID, [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), root])
              if not any(p == str(w) or p.startswith(f"{w}/") for w in files.writable)]
    assert strays == []

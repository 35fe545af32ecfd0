"""LocalServe: run the embedded backend as a child process and know when it answers.

    with LocalServe("--null_model", "m:x=float32[-1,4]:y=float32[-1,2]") as backend:
        channel = grpc.insecure_channel(backend.target)

The child binds a free loopback port itself (--port 0) and reports it on stdout, so there
is no pick-then-bind race. start() returns once a GetModelStatus call succeeds; stop()
sends SIGTERM, then SIGKILL after a grace period. The child also exits on its own when
this process dies (--parent_pid), so no backend outlives its parent.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

_READY_KEY = "ready"


class LocalServeError(RuntimeError):
    """The backend did not come up (its stderr is in the message)."""


def _flag_value(args, name):
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


class LocalServe:
    """Context manager owning one `python -m sanic_app.localserve` child process.

    `cli_args` are the backend's flags (see cli.py); --port defaults to 0 (a free port) and
    --parent_pid to this process. After start(): `.target` is "host:port", `.pid` the
    child's pid, `.models` the served model names, `.socket_target` "unix:PATH" when
    --grpc_socket_path was given (else None).
    """

    def __init__(self, *cli_args: str, startup_timeout: float = 60.0,
                 stop_timeout: float = 5.0, env: dict | None = None, probe_credentials=None):
        self.cli_args = [str(a) for a in cli_args]
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.env = env
        # A TLS backend (--ssl_cert) is probed through these grpc.ChannelCredentials.
        self.probe_credentials = probe_credentials
        self.target: str | None = None
        self.socket_target: str | None = None
        self.models: list[str] = []
        self._process: subprocess.Popen | None = None
        self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> "LocalServe":
        if self._process is not None:
            raise LocalServeError("LocalServe already started")
        args = list(self.cli_args)
        if _flag_value(args, "--port") is None:
            args += ["--port", "0"]
        if _flag_value(args, "--parent_pid") is None:
            args += ["--parent_pid", str(os.getpid())]
        # stderr goes to a file: a pipe nobody drains could fill and stall the child.
        self._stderr = tempfile.TemporaryFile(prefix="localserve-", suffix=".log")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sanic_app.localserve", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            env=self.env, close_fds=True,
        )
        try:
            self._await_ready(time.monotonic() + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL; always reaps the child. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "LocalServe":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __del__(self):
        if getattr(self, "_process", None) is not None:
            self.stop()

    def stderr_text(self) -> str:
        """What the child has written to stderr so far (its log)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        position = self._stderr.tell()
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        self._stderr.seek(position)
        return text

    # --- readiness ----------------------------------------------------------------------

    def _fail(self, why: str):
        raise LocalServeError(f"embedded backend {why}; its stderr:\n{self.stderr_text()[-4000:]}")

    def _read_ready_line(self, deadline: float) -> dict:
        stream = self._process.stdout
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"did not report ready within {self.startup_timeout:.0f} s")
            readable, _, _ = select.select([stream], [], [], min(remaining, 0.5))
            if readable:
                chunk = os.read(stream.fileno(), 4096)
                if not chunk:
                    self._process.wait(2)
                    self._fail(f"exited with code {self._process.returncode} before serving")
                buffer += chunk
        try:
            line = json.loads(buffer.split(b"\n", 1)[0])
            line[_READY_KEY]
        except (ValueError, KeyError, TypeError):
            self._fail(f"wrote an unexpected first line {buffer[:200]!r}")
        return line

    def _await_ready(self, deadline: float) -> None:
        line = self._read_ready_line(deadline)
        self.target = line[_READY_KEY]
        if self.target.startswith("0.0.0.0:"):
            self.target = "127.0.0.1:" + self.target.split(":", 1)[1]
        self.models = list(line.get("models", []))
        self.socket_target = line.get("socket")
        self._probe_status(deadline)

    def _probe_status(self, deadline: float) -> None:
        """Retry GetModelStatus for the first model until it answers OK."""
        import grpc

        from sanic_app.protos import GET_MODEL_STATUS, serving_pb2
        from sanic_app.protos.requests import status_request

        request = status_request(self.models[0] if self.models else "")
        last_error = None
        channel = grpc.insecure_channel(self.target) if self.probe_credentials is None \
            else grpc.secure_channel(self.target, self.probe_credentials)
        with channel:
            call = channel.unary_unary(
                GET_MODEL_STATUS, request_serializer=serving_pb2.GetModelStatusRequest.SerializeToString,
                response_deserializer=serving_pb2.GetModelStatusResponse.FromString)
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    self._fail(f"exited with code {self._process.returncode}")
                try:
                    call(request, timeout=max(0.1, min(2.0, deadline - time.monotonic())))
                    return
                except grpc.RpcError as error:
                    last_error = error
                    time.sleep(0.05)
        self._fail(f"did not answer GetModelStatus in time (last error: {last_error})")

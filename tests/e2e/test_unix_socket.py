"""TF Serving as a sidecar: the backend listens on a Unix domain socket (--grpc_socket_path),
the gateway reaches it with a unix: target, in both spellings gRPC knows."""
import os
import stat

import pytest
from gateway_process import SPECS

PNG3 = (SPECS / "examples" / "digit-3.png").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("form", ["unix:{path}", "unix://{path}"])
def test_gateway_serves_through_a_unix_socket(tmp_path, gateway_factory, localserve_factory, form):
    socket_path = tmp_path / "shared" / "tfserving.sock"
    socket_path.parent.mkdir()
    with localserve_factory("--grpc_socket_path", str(socket_path)) as backend:
        assert backend.socket_target == f"unix:{socket_path}"
        assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
        target = form.format(path=socket_path)  # an absolute path: unix:/abs or unix:///abs
        with gateway_factory("--workers", "1", "--target", target) as gw:
            r = gw.post("/v1/models/digits:predict", content=PNG3, headers={"Content-Type": "image/png"})
            assert r.status_code == 200, r.text
            assert r.json()["predictions"][0][0]["class"] == 3
            ready = gw.get("/readyz")
            assert ready.status_code == 200, ready.text
        backend.stop()
        # the socket's backend is gone: a clear 503 names the socket, nothing leaks
        with gateway_factory("--workers", "1", "--target", target) as gw:
            r = gw.post("/v1/models/digits:predict", content=PNG3, headers={"Content-Type": "image/png"})
            assert r.status_code == 503 and str(socket_path) in r.json()["error"], r.text


def test_a_stale_socket_file_is_replaced(tmp_path, localserve_factory):
    """A killed sidecar leaves its socket file in the emptyDir; the restart must still bind."""
    import socket

    path = tmp_path / "tfs.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    with localserve_factory("--grpc_socket_path", str(path)) as backend:
        assert backend.socket_target == f"unix:{path}"

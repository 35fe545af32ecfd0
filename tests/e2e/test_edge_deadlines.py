"""Both sides of each edge deadline over raw sockets: in time is served, late gets 408 (or a
close) at the deadline however the bytes trickle (sanic_app/ops/edge.py)."""
import select
import socket
import time

import pytest
from ops_support import GOOD_BODY, NULL_MODEL, write_spec

DEADLINE_S = 1.0
SLACK_S = 0.8  # the sweep's 0.25 s step, the event loop's turn, a loaded box
HEAD = b"POST /v1/models/m:predict HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def gw(tmp_path_factory, gateway_factory, localserve_factory):
    with localserve_factory("--null_model", NULL_MODEL) as backend:
        spec = write_spec(tmp_path_factory.mktemp("deadlines"), addresses=[backend.target])
        with gateway_factory("--spec", spec, "--no-passthrough", "--header-timeout-s", str(DEADLINE_S),
                             "--body-timeout-s", str(DEADLINE_S), "--keep-alive-timeout-s", str(DEADLINE_S)) as g:
            yield g


def connect(gw):
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    return sock, time.monotonic()


def status_and_time(sock, started):
    data = sock.recv(65536)
    return (int(data.split()[1]) if data else None), time.monotonic() - started


def trickle(sock, parts, every_s):
    """Send a part every ``every_s`` until the server answers (or the parts run out)."""
    for part in parts:
        try:
            sock.sendall(part)
        except OSError:
            return
        if select.select([sock], [], [], every_s)[0]:
            return


@pytest.mark.slow
def test_request_head(gw):
    sock, started = connect(gw)
    with sock:  # a header line every 0.3 s keeps Sanic's own timer alive, not ours
        sock.sendall(HEAD)
        trickle(sock, [b"X-Slow: 1\r\n"] * 8, 0.3)
        status, took = status_and_time(sock, started)
        assert status == 408 and DEADLINE_S - 0.1 <= took <= DEADLINE_S + SLACK_S + 0.3, took
    sock, started = connect(gw)
    with sock:  # the same head, complete within the deadline
        sock.sendall(HEAD)
        time.sleep(DEADLINE_S / 2)
        sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(GOOD_BODY), GOOD_BODY))
        assert status_and_time(sock, started)[0] == 200


@pytest.mark.slow
def test_request_body(gw):
    sock, started = connect(gw)
    with sock:
        sock.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
        trickle(sock, [b" "] * 8, 0.3)
        status, took = status_and_time(sock, started)
        assert status == 408 and took <= DEADLINE_S + SLACK_S + 0.3, took
    sock, started = connect(gw)
    with sock:  # in two parts, within the deadline
        sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(GOOD_BODY) + GOOD_BODY[:5])
        time.sleep(DEADLINE_S / 2)
        sock.sendall(GOOD_BODY[5:])
        assert status_and_time(sock, started)[0] == 200


@pytest.mark.slow
def test_chunked_body_that_stalls(gw):
    sock, started = connect(gw)
    with sock:
        sock.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        trickle(sock, [b"1\r\n \r\n"] * 8, 0.3)
        status, took = status_and_time(sock, started)
        assert status == 408 and took <= DEADLINE_S + SLACK_S + 0.3, took


@pytest.mark.slow
def test_keep_alive_and_silent_connections(gw):
    request = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(GOOD_BODY), GOOD_BODY)
    sock, _ = connect(gw)
    with sock:
        sock.sendall(request)
        assert status_and_time(sock, 0)[0] == 200
        time.sleep(DEADLINE_S / 3)
        sock.sendall(request)  # within the idle timeout: the same connection serves it
        assert status_and_time(sock, 0)[0] == 200
        idle_from = time.monotonic()
        assert sock.recv(100) == b""  # then closed for idling
        assert DEADLINE_S - 0.1 <= time.monotonic() - idle_from <= DEADLINE_S + 2.0
    sock, started = connect(gw)
    with sock:  # connects and never sends: closed by the head deadline, counted from the accept
        assert sock.recv(100) == b""
        assert time.monotonic() - started <= DEADLINE_S + SLACK_S

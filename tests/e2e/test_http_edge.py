"""Raw-socket HTTP edge cases: each gets a 4xx (or a clean close), never a hang, and the same
worker answers the next request."""
import json
import socket

import pytest
from ops_support import GOOD_BODY, NULL_MODEL, write_spec

PREDICT = b"/v1/models/m:predict"
HOST = b"Host: gw\r\n"


@pytest.fixture(scope="module")
def gw(tmp_path_factory, gateway_factory, localserve_factory):
    with localserve_factory("--null_model", NULL_MODEL) as backend:
        spec = write_spec(tmp_path_factory.mktemp("edge"), addresses=[backend.target])
        with gateway_factory("--spec", spec, "--no-passthrough", "--max-headers", "50") as gateway:
            yield gateway


def read_response(stream, head_only=False):
    """(status, headers, body) of one response from ``sock.makefile("rb")``; (None, {}, b"")
    when the server closed the connection instead."""
    line = stream.readline()
    if not line:
        return None, {}, b""
    status = int(line.split()[1])
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", 0))
    body = stream.read(length)
    assert len(body) == length, "closed mid-body"
    return status, headers, body


def exchange(gw, data, head_only=False, responses=1):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:  # a hang fails here
        sock.sendall(data)
        stream = sock.makefile("rb")
        return [read_response(stream, head_only) for _ in range(responses)]


def worker_pid(gw):
    return gw.get("/healthz").json()["pid"]


def request(method, path=PREDICT, headers=b"", body=b""):
    return method + b" " + path + b" HTTP/1.1\r\n" + HOST + headers + b"\r\n" + body


CASES = {
    "garbage request line": (b"GARBAGE\r\n\r\n", {400}),
    "unknown HTTP version": (b"GET /healthz HTTP/9.9\r\n" + HOST + b"\r\n", {400}),
    "no HTTP version": (b"GET /healthz\r\n\r\n", {400}),
    "header without colon": (b"GET /healthz HTTP/1.1\r\nHost gw\r\n\r\n", {400}),
    "non-ASCII path": ("GET /h\u00e9 HTTP/1.1\r\nHost: gw\r\n\r\n".encode(), {400}),
    "head over 8 KiB": (request(b"GET", b"/healthz", b"X-Big: " + b"a" * 9000 + b"\r\n"), {431}),
    "too many headers": (request(b"GET", b"/healthz", b"".join(b"X-%d: 1\r\n" % i for i in range(60))), {431}),
    "chunk size not hex": (request(b"POST", PREDICT, b"Transfer-Encoding: chunked\r\n", b"ZZ\r\nabc\r\n0\r\n\r\n"), {400}),
    "chunk size negative": (request(b"POST", PREDICT, b"Transfer-Encoding: chunked\r\n", b"-5\r\nabc\r\n0\r\n\r\n"), {400}),
    "chunked trailer": (request(b"POST", PREDICT, b"Transfer-Encoding: chunked\r\n",
                                b"2\r\n{}\r\n0\r\nX-Smuggle: 1\r\n\r\n"), {400}),
    "Content-Length with Transfer-Encoding": (
        request(b"POST", PREDICT, b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), {400}),
    "two Content-Lengths": (request(b"POST", PREDICT, b"Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"), {400}),
    "Content-Length not a number": (request(b"POST", PREDICT, b"Content-Length: 12abc\r\n"), {400}),
    "unknown Expect": (request(b"POST", PREDICT, b"Content-Length: 2\r\nExpect: 999-x\r\n", b"{}"), {417}),
    # Methods a route does not take: TF Serving's "Malformed request" 400 under /v1, 405 elsewhere.
    "PUT on /v1": (request(b"PUT", PREDICT, b"Content-Length: 0\r\n"), {400}),
    "DELETE on /v1 status": (request(b"DELETE", b"/v1/models/m"), {400}),
    "OPTIONS on /v1 (no CORS)": (request(b"OPTIONS", PREDICT), {400}),
    "DELETE on /healthz": (request(b"DELETE", b"/healthz"), {405}),
    "OPTIONS on /healthz": (request(b"OPTIONS", b"/healthz"), {405}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_malformed_or_refused_requests_get_a_4xx(gw, name):
    data, expected = CASES[name]
    before = worker_pid(gw)
    [(status, headers, body)] = exchange(gw, data)
    assert status in expected, (status, body)
    assert "error" in json.loads(body)
    assert len(headers["x-request-id"]) == 16  # every answer, refusals included, can be traced
    if status == 405:
        assert headers["allow"] == "GET"
    if " on /v1" in name:
        method = data.split(b" ", 1)[0].decode()
        assert json.loads(body)["error"].startswith(f"Malformed request: {method} /v1/")
    assert worker_pid(gw) == before  # the same worker, alive, serves the next request


@pytest.mark.slow
def test_head_requests_get_a_bodiless_4xx(gw):
    [(status, headers, body)] = exchange(gw, request(b"HEAD", b"/healthz"), head_only=True)
    assert status == 405 and body == b""
    [(status, _, _)] = exchange(gw, request(b"HEAD", b"/v1/models/m"), head_only=True)
    assert status == 400


@pytest.mark.slow
def test_pipelined_requests_are_answered_in_order(gw):
    predict = request(b"POST", PREDICT, b"Content-Length: %d\r\n" % len(GOOD_BODY), GOOD_BODY)
    answers = exchange(gw, predict + request(b"GET", b"/healthz") + predict + request(b"GET", b"/nowhere"),
                       responses=4)
    assert [a[0] for a in answers] == [200, 200, 200, 404]
    assert "predictions" in json.loads(answers[0][2]) and json.loads(answers[1][2])["status"] == "alive"


@pytest.mark.slow
def test_a_refused_request_keeps_a_sound_connection_usable(gw):
    """A 405 leaves the stream in sync: the next request on the same connection is served;
    a broken body (bad chunk) closes it instead of reading leftovers as a request."""
    answers = exchange(gw, request(b"DELETE", b"/healthz") + request(b"GET", b"/healthz"), responses=2)
    assert [a[0] for a in answers] == [405, 200]
    smuggle = request(b"POST", PREDICT, b"Transfer-Encoding: chunked\r\n", b"ZZ\r\n") + request(b"GET", b"/healthz")
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        sock.sendall(smuggle)
        stream = sock.makefile("rb")
        assert read_response(stream)[0] == 400
        assert read_response(stream)[0] is None  # closed, the rest never parsed


@pytest.mark.slow
def test_a_body_in_many_pieces_is_read_whole(gw):
    """A body far larger than one socket read, sent at once, trickled, and chunk-encoded, reaches
    the model whole: the answer is the one its compact form gets."""
    padded = GOOD_BODY[:-1] + b" " * (600 * 1024) + GOOD_BODY[-1:]  # whitespace is valid JSON
    [(status, _, expected)] = exchange(gw, request(b"POST", PREDICT, b"Content-Length: %d\r\n" % len(GOOD_BODY),
                                                   GOOD_BODY))
    assert status == 200
    head = request(b"POST", PREDICT, b"Content-Length: %d\r\n" % len(padded))
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(padded[i:i + 5000]), padded[i:i + 5000])
                       for i in range(0, len(padded), 5000)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        stream = sock.makefile("rb")
        sock.sendall(head + padded)
        assert read_response(stream)[::2] == (200, expected)
        sock.sendall(head)
        for i in range(0, len(padded), 100 * 1024):  # a slow client: the body in six sends
            sock.sendall(padded[i:i + 100 * 1024])
        assert read_response(stream)[::2] == (200, expected)
        sock.sendall(request(b"POST", PREDICT, b"Transfer-Encoding: chunked\r\n", chunked))
        assert read_response(stream)[::2] == (200, expected)

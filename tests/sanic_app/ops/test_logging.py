"""Log formats of the two run modes, and the request id's round trip over a real socket."""
import contextvars
import io
import logging
import logging.config
import re
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from types import SimpleNamespace

import orjson
import pytest
from sanic import Request

from bench.procs import free_port, wait_ready
from sanic_app.ops import logging as applog


def _fake_request(request_id=None, header=None, timings=None, started=None):
    headers = {applog.REQUEST_ID_HEADER: header} if header is not None else {}
    ctx = SimpleNamespace()
    if request_id is not None:
        ctx.request_id = request_id
    if timings is not None:
        ctx.timings = timings
    if started is not None:
        ctx.received_at = started
    return SimpleNamespace(method="POST", path="/v1/models/digits:predict", headers=headers, ctx=ctx)


def _emit(env, logger_name, message="", *, within=None, level=logging.INFO, exc=False, **extra):
    """Format one record the way the run mode's config would, inside a request if given."""
    stream = io.StringIO()
    config = applog.log_config(env)
    config["handlers"]["stdout"]["stream"] = stream

    def run():
        if within is not None:
            Request._current.set(within)
        logging.config.dictConfig(config)
        logger = logging.getLogger(logger_name)
        if exc:
            try:
                raise RuntimeError("kaboom")
            except RuntimeError:
                logger.exception(message)
        else:
            logger.log(level, message, extra=extra)

    contextvars.copy_context().run(run)
    return stream.getvalue()


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                               "root": {"level": "WARNING", "handlers": []}})


def test_production_access_line_is_one_json_object_with_request_fields():
    request = _fake_request(request_id="rid-7", timings={"decode": 0.0012, "backend": 0.004},
                            started=time.perf_counter() - 0.010)
    out = _emit("production", "sanic.access", within=request, status=200, byte="41",
                host="127.0.0.1:5", request="POST http://x/", duration=" 1ms")
    assert out.count("\n") == 1
    line = orjson.loads(out)
    assert line["level"] == "INFO" and line["logger"] == "sanic.access"
    assert line["request_id"] == "rid-7"
    assert (line["method"], line["path"], line["status"], line["bytes"]) == (
        "POST", "/v1/models/digits:predict", 200, 41)
    assert line["message"] == "POST /v1/models/digits:predict 200"
    assert 9.0 <= line["latency_ms"] < 1000.0
    assert line["timings_ms"] == {"decode": 1.2, "backend": 4.0}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    stamp = datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs(stamp.timestamp() - time.time()) < 60
    assert "duration" not in line and "byte" not in line  # Sanic's raw extras are renamed


def test_production_error_keeps_traceback_inside_the_one_line():
    out = _emit("production", "sanic.error", "handler failed", within=_fake_request(request_id="r"), exc=True)
    assert out.count("\n") == 1
    line = orjson.loads(out)
    assert line["level"] == "ERROR" and line["request_id"] == "r"
    assert "RuntimeError: kaboom" in line["exception"]


def test_extras_and_unencodable_values_do_not_break_the_line():
    out = _emit("production", "sanic_app.core.pipeline", "done", model="digits", weird=object())
    line = orjson.loads(out)
    assert line["model"] == "digits" and line["weird"].startswith("<object object")
    assert "request_id" not in line  # no request in this context


def test_development_line_is_readable_and_carries_the_request_id():
    request = _fake_request(request_id="abc123", timings={"decode": 0.002}, started=time.perf_counter())
    out = _emit("development", "sanic.access", within=request, status=404, byte=0)
    assert out.count("\n") == 1 and not out.startswith("{")
    assert "[abc123]" in out and "POST /v1/models/digits:predict 404" in out and "decode=2.00ms" in out


def test_development_logs_debug_production_does_not():
    assert "detail" in _emit("development", "sanic_app.x", "detail", level=logging.DEBUG)
    assert _emit("production", "sanic_app.x", "detail", level=logging.DEBUG) == ""
    assert _emit("production", "sanic.server", "up") != ""


def test_levels_per_mode():
    dev, prod = applog.log_config("development"), applog.log_config("production")
    assert dev["root"]["level"] == "DEBUG" and prod["root"]["level"] == "INFO"
    assert prod["loggers"]["sanic.access"]["level"] == "INFO"
    with pytest.raises(ValueError, match="production, development"):
        applog.log_config("prod")


@pytest.mark.parametrize(
    "header, kept",
    [("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("bad id", False),
     ('x"}{"level":"CRITICAL', False), ("", False)],
)
def test_client_request_id_is_kept_only_when_plain(header, kept):
    request = _fake_request(header=header)
    request_id = applog.request_id_of(request)
    assert (request_id == header) is kept
    if not kept:
        assert len(request_id) == 16 and int(request_id, 16) >= 0
    assert applog.request_id_of(request) == request_id  # made once, then kept


APP = """
import logging, sys
from sanic import Sanic, json
from sanic_app.ops import logging as applog

app = Sanic("logtest", log_config=applog.log_config(sys.argv[1]))
app.on_request(applog.stamp_request, priority=1000)
app.on_response(applog.echo_request_id, priority=1000)

@app.get("/work")
async def work(request):
    logging.getLogger("sanic_app.work").info("working")
    return json({"ok": True})

app.run(host="127.0.0.1", port=int(sys.argv[2]), single_process=True, motd=False, access_log=True)
"""


def test_request_id_round_trip_over_a_real_server(tmp_path):
    httpx = pytest.importorskip("httpx")
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), "production", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"

        def answers():
            try:
                httpx.get(base + "/nothing", timeout=1)
                return True
            except httpx.TransportError:
                return False

        wait_ready(proc, answers, 30.0, what="the log test app", interval=0.05)
        sent = httpx.get(base + "/work", headers={"X-Request-ID": "client-id-1"})
        made = httpx.get(base + "/missing")
        assert sent.headers["x-request-id"] == "client-id-1"
        assert made.status_code == 404 and len(made.headers["x-request-id"]) == 16
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [orjson.loads(line) for line in out.decode().splitlines() if line.strip()]
    mine = [line for line in lines if line.get("request_id") == "client-id-1"]
    assert [(line["logger"], line["message"]) for line in mine] == [
        ("sanic_app.work", "working"), ("sanic.access", "GET /work 200")]
    missing = [line for line in lines if line.get("request_id") == made.headers["x-request-id"]]
    assert missing and missing[-1]["status"] == 404


def test_protocol_access_line_has_the_formatters_fields():
    """The production protocol writes the access line without a LogRecord: same fields, same order."""
    timings = SimpleNamespace(items=lambda: {"decode": 0.0012, "pack": 0.0, "backend": 0.004}.items(),
                              batch_size=2)
    request = _fake_request(request_id="rid-9", started=time.perf_counter() - 0.010)
    request.ctx.timings, request.ctx.model = timings, "digits"
    request.client_ip, request.port = "127.0.0.1", 5
    response = SimpleNamespace(status=200, headers={"content-length": 41})
    formatted = orjson.loads(_emit("production", "sanic.access", within=request, status=200, byte=41,
                                   host="127.0.0.1:5", request="POST http://x/", duration=" 1ms"))
    fast = applog.access_line(request, response, None, applog._UtcClock())
    assert fast.endswith(b"\n") and fast.count(b"\n") == 1
    fast = orjson.loads(fast)
    assert list(fast) == list(formatted)
    for varying in ("timestamp", "latency_ms"):
        fast.pop(varying), formatted.pop(varying)
    assert fast == formatted
    assert fast["timings_ms"] == {"decode": 1.2, "backend": 4.0} and fast["client"] == "127.0.0.1:5"
    chunked = SimpleNamespace(status=200, headers={"transfer-encoding": "chunked"})
    assert "bytes" not in orjson.loads(applog.access_line(request, chunked, None, applog._UtcClock()))


def test_json_lines_handler_batches_lines_in_the_event_loop_and_keeps_their_order():
    import asyncio

    stream = io.StringIO()
    handler = applog.JsonLinesHandler(stream)
    handler.setFormatter(applog.JsonLineFormatter())
    log = logging.getLogger("sanic_app.batching")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.info("outside the loop")  # no event loop here: written at once
        assert stream.getvalue().count("\n") == 1

        async def serve():
            log.info("first")
            handler.add(b'{"access":1}\n')
            assert stream.getvalue().count("\n") == 1  # held in the buffer
            log.warning("problem")  # written at once, after what it waited behind
            assert stream.getvalue().count("\n") == 4
            log.info("later")
            await asyncio.sleep(applog.FLUSH_INTERVAL_S * 3)  # the timer writes it
            assert stream.getvalue().count("\n") == 5

        asyncio.run(serve())
    finally:
        log.removeHandler(handler)
        handler.close()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("message", line.get("access")) for line in lines] == [
        "outside the loop", "first", 1, "problem", "later"]
    assert applog._json_lines is not handler  # closed: the protocol falls back to Sanic's line

"""Run modes, each started as a real `python -m sanic_app` process on a free port.

production (+ 2 workers, + the profile switch): JSON log lines carrying the request id, one
profile file per prediction, the OpenAPI document and the docs page; development in one
process: readable lines; development + reload: the worker restarts after a source file
changes; bad mode values stop start-up with the variable and the allowed values.
"""
import base64
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

# not `from conftest import`: with several conftest modules that picks whichever loaded last
REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"

PNG = (SPECS / "examples" / "digit-3.png").read_bytes()
BODY = {"instances": [{"b64": base64.b64encode(PNG).decode()}]}
READABLE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+ ")
WORKER_STARTED = re.compile(r"Starting worker \[(\d+)\]")


def _predict(gw, request_id):
    r = gw.post("/v1/models/digits:predict", json=BODY, headers={"X-Request-ID": request_id})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == request_id
    assert r.json()["predictions"][0][0]["class"] == 3
    return r


def _wait_for(condition, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- production, 2 workers, profiling ----------------------------------------------------------
@pytest.fixture(scope="module")
def production(gateway_factory, tmp_path_factory):
    profiles = tmp_path_factory.mktemp("profiles")
    with gateway_factory("--workers", "2", "--profile", "--profile-dir", str(profiles),
                         env={"APP_ENV": "production"}) as gw:
        gw.profiles = profiles
        yield gw


def test_production_lines_are_json_with_the_request_id(production):
    _predict(production, "modes-prod-1")
    generated = production.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)

    def access_lines():
        lines = [orjson.loads(line) for line in production.log_text().splitlines() if line.strip()]
        return [line for line in lines if line["logger"] == "sanic.access"] or None

    # every line is one JSON object (orjson.loads above fails otherwise)
    lines = _wait_for(access_lines, what="access lines")
    mine = _wait_for(lambda: [x for x in access_lines() if x.get("request_id") == "modes-prod-1"],
                     what="the prediction's access line")
    line = mine[0]
    assert {"timestamp", "level", "logger", "message", "method", "path", "status", "latency_ms"} <= set(line)
    assert (line["method"], line["path"], line["status"], line["model"]) == (
        "POST", "/v1/models/digits:predict", 200, "digits")
    assert {"decode", "preprocess", "backend"} <= set(line["timings_ms"])
    assert line["latency_ms"] >= line["timings_ms"]["backend"]
    assert any(x.get("request_id") == generated for x in lines) or _wait_for(
        lambda: any(x.get("request_id") == generated for x in access_lines()), what="health line")
    assert "DEBUG" not in {x["level"] for x in lines}
    every_line = [orjson.loads(line) for line in production.log_text().splitlines() if line.strip()]
    assert any(x["message"] == "run mode production, 2 worker(s), profile" for x in every_line)


def test_profile_switch_writes_a_readable_profile_per_prediction(production):
    for i in range(3):
        _predict(production, f"modes-profile-{i}")
    production.get("/healthz")  # not a prediction: no profile

    def files():
        found = sorted(production.profiles.glob("*-modes-profile-*.html"))
        return found if len(found) == 3 else None

    for path in _wait_for(files, what="three profile files"):
        page = path.read_text()
        assert page.lstrip().lower().startswith("<!doctype html")
        assert "pipeline.py" in page  # the prediction's own code is in it
    assert not list(production.profiles.glob("*healthz*"))


def test_openapi_document_validates_and_lists_the_predict_route(production):
    from openapi_spec_validator import validate

    doc = production.get("/openapi.json").json()
    validate(doc)
    assert "post" in doc["paths"]["/v1/models/digits:predict"]
    assert "digits.PredictRequest" in doc["components"]["schemas"]
    for page in ("/docs", "/"):
        r = production.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "openapi.json" in r.text and "<script src" not in r.text  # self-contained


# --- development, one process -------------------------------------------------------------------
def test_development_single_process_lines_are_readable(gateway_factory):
    with gateway_factory("--single-process", env={"APP_ENV": "development"}) as gw:
        _predict(gw, "modes-dev-1")
        text = _wait_for(lambda: gw.log_text() if "[modes-dev-1]" in gw.log_text() else None,
                         what="the request's line")
    lines = [line for line in text.splitlines() if line.strip()]
    head_lines = [line for line in lines if READABLE.match(line)]
    assert not any(line.startswith("{") for line in lines)
    assert any(" DEBUG " in line for line in head_lines)
    access = [line for line in head_lines if "[modes-dev-1]" in line and "sanic.access" in line]
    assert access and "POST /v1/models/digits:predict 200" in access[0] and "backend=" in access[0]
    assert "run mode development, 1 process" in text
    assert any("sanic_app.request [modes-dev-1] -> POST /v1/models/digits:predict" in line for line in head_lines)
    assert "Starting worker" in text and len(set(WORKER_STARTED.findall(text))) <= 1


# --- development + reload ----------------------------------------------------------------------
@pytest.mark.slow
def test_reload_restarts_the_worker_after_a_source_change(gateway_factory):
    watched = REPO / "sanic_app" / "ops" / "modes.py"
    original = watched.stat()
    with gateway_factory("--reload", env={"APP_ENV": "development"}) as gw:
        first = _wait_for(lambda: WORKER_STARTED.findall(gw.log_text()), what="the first worker")
        time.sleep(1.5)  # let the reloader record the files' times once
        try:
            now = time.time()
            os.utime(watched, (now, now))  # a harmless touch: the content is unchanged
            pids = _wait_for(lambda: (p := WORKER_STARTED.findall(gw.log_text())) and len(p) > len(first) and p,
                             timeout=20, what="a restarted worker")
        finally:
            os.utime(watched, ns=(original.st_atime_ns, original.st_mtime_ns))
        assert pids[-1] != first[0]
        _wait_for(lambda: gw.get("/healthz").status_code == 200, what="the restarted worker")
        _predict(gw, "modes-reload-1")


# --- refused values -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, env, words", [
    ([], {"APP_ENV": "staging"}, ["APP_ENV", "production, development"]),
    (["--env", "prod"], {}, ["--env", "production, development"]),
    (["--reload"], {"APP_ENV": "production"}, ["--reload", "development only"]),
    (["--env", "development", "--reload", "--single-process"], {}, ["--reload", "--single-process"]),
    (["--profile-output", "files"], {}, ["--profile-output", "request, aggregate"]),
    (["--profile", "--profile-format", "svg"], {}, ["--profile-format", "html, speedscope"]),
    (["--profile-every", "0"], {}, ["--profile-every", ">= 1"]),
])
def test_bad_mode_values_stop_start_up_with_a_clear_message(args, env, words):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "APP_"))}
    child_env.update(env)
    result = subprocess.run([sys.executable, "-m", "sanic_app", "--port", "1", *args], cwd=REPO,
                            env=child_env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr, result.stderr

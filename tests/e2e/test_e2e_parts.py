"""End to end: a batch larger than --max-call-bytes reaches the backend in parts (core/parts).

A real gateway (production log lines, 1 worker) with the digits demo on its embedded backend,
real HTTP. Each digits row is 8x8x1 float32 = 256 bytes, so with ``--max-call-bytes 512`` two
rows fit one call and a third makes two. The parts' answer must be the one the rows get when
sent in batches that fit one call; the access line says how many calls a request made.
"""
import base64
import time
from pathlib import Path

import orjson
import pytest

SPECS = Path(__file__).resolve().parents[2] / "specs"
PNG = [(SPECS / "examples" / f"digit-{d}.png").read_bytes() for d in range(10)]
URL = "/v1/models/digits:predict"


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


@pytest.fixture(scope="module")
def gw(gateway_factory):
    with gateway_factory("--workers", "1", "--max-call-bytes", "512", env={"APP_ENV": "production"}) as gateway:
        yield gateway


def predict(gw, images, request_id):
    r = gw.post(URL, json={"instances": [b64(p) for p in images]}, headers={"x-request-id": request_id})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def access_line(gw, request_id, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in gw.log_text().splitlines():
            if request_id in text and text.startswith("{"):
                line = orjson.loads(text)
                if line.get("logger") == "sanic.access" and line.get("request_id") == request_id:
                    return line
        time.sleep(0.1)
    raise AssertionError(f"no access line for {request_id}")


def test_ten_digits_in_five_parts_answer_as_five_whole_calls(gw):
    split = predict(gw, PNG, "parts-10")
    pairs = [p for i in range(0, 10, 2) for p in predict(gw, PNG[i:i + 2], f"parts-pair-{i}")]
    assert split == pairs
    assert [p[0]["class"] for p in split] == list(range(10))
    line = access_line(gw, "parts-10")
    assert (line["batch_size"], line["backend_calls"]) == (10, 5)
    assert "backend_calls" not in access_line(gw, "parts-pair-0")  # 512 bytes: one call


def test_both_sides_of_the_budget(gw):
    predict(gw, PNG[:2], "parts-2")
    predict(gw, PNG[:3], "parts-3")
    assert "backend_calls" not in access_line(gw, "parts-2")
    assert access_line(gw, "parts-3")["backend_calls"] == 2


def test_a_bad_image_in_a_later_part_is_a_400_and_the_worker_serves_on(gw):
    images = [b64(p) for p in PNG]
    images[7] = b64(b"\x89PNG\r\n\x1a\n but not really")
    r = gw.post(URL, json={"instances": images})
    assert r.status_code == 400
    assert "instance 7" in r.json()["error"]
    assert [p[0]["class"] for p in predict(gw, PNG[3:6], "parts-after-error")] == [3, 4, 5]

"""Hostile and broken clients against a real 2-worker gateway with small limits.

Every bad request must get a 4xx with a JSON {"error": message}, no worker may die, and a good
request must still work afterwards.
"""
import base64
import io
import json
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops_support import SPECS, alive, worker_pids
from PIL import Image


PREDICT = "/v1/models/digits:predict"
GOOD_PNG = (SPECS / "examples" / "digit-3.png").read_bytes()
MAX_BODY = 1024 * 1024


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of width x height black pixels, built row block by row
    block so making a 900-megapixel bomb needs a few MB of memory and compresses to ~100 KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte 0, then packed bits
    compressor = zlib.compressobj(9)
    block = row * 1000
    parts = [compressor.compress(block) for _ in range(height // 1000)]
    parts.append(compressor.compress(row * (height % 1000)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def gw(gateway_factory):
    with gateway_factory("--workers", "2", "--max-body-bytes", str(MAX_BODY), "--max-image-pixels", "1000000",
                         "--max-batch", "8", "--max-json-depth", "16", "--max-inputs", "4") as gateway:
        gateway.workers = worker_pids(gateway.process.pid)
        assert len(gateway.workers) == 2
        yield gateway


def assert_refused(answer, status=None, says=""):
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    if status is not None:
        assert answer.status_code == status, answer.text[:300]
    message = answer.json()["error"]
    assert isinstance(message, str) and message
    assert says.lower() in message.lower(), message


def assert_still_serving(gw):
    answer = gw.post(PREDICT, json={"instances": [b64(GOOD_PNG)]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0][0]["class"] == 3
    assert all(alive(pid) for pid in gw.workers)
    assert gw.get("/healthz").status_code == 200


def test_oversized_body_is_413(gw):
    assert_refused(gw.post(PREDICT, content=b"[" + b"0," * MAX_BODY + b"0]"), 413, f"limit of {MAX_BODY} bytes")
    # Chunked (no Content-Length): refused while streaming, not after buffering it all.
    chunks = (b"0" * 65536 for _ in range(40))
    assert_refused(gw.post(PREDICT, content=chunks, headers={"content-type": "application/json"}), 413)
    assert_still_serving(gw)


def test_decompression_bomb_is_refused_from_its_header(gw, monkeypatch):
    bomb = png_bomb(30000, 30000)  # 900 megapixels
    assert len(bomb) < 300_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(io.BytesIO(bomb)) as img:  # it really is a valid PNG of that size
        assert img.size == (30000, 30000)
    assert_refused(gw.post(PREDICT, content=bomb, headers={"content-type": "image/png"}), 413, "pixels")
    # Just over our limit: refused before decoding too, naming the limit.
    small_bomb = png_bomb(1001, 1000)
    assert_refused(gw.post(PREDICT, json={"instances": [b64(small_bomb)]}), 413, "limit of 1000000 pixels")
    assert_still_serving(gw)


def test_deeply_nested_json_is_400(gw):
    deep = b'{"instances": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert_refused(gw.post(PREDICT, content=deep), 400, "nested")
    unterminated = b'{"instances": ' + b"[" * 500_000
    assert_refused(gw.post(PREDICT, content=unterminated), 400)
    assert_still_serving(gw)


def test_huge_batch_and_too_many_inputs_are_413(gw):
    assert_refused(gw.post(PREDICT, json={"instances": [b64(GOOD_PNG)] * 100}), 413, "limit of 8")
    assert_refused(gw.post(PREDICT, json={"inputs": {f"in{i}": [1] for i in range(50)}}), 413, "inputs")
    assert_still_serving(gw)


def test_truncated_and_fake_images_are_400(gw):
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(jpeg, format="JPEG")
    truncated = jpeg.getvalue()[: len(jpeg.getvalue()) // 2]
    assert_refused(gw.post(PREDICT, content=truncated, headers={"content-type": "image/jpeg"}), 400)
    assert_refused(gw.post(PREDICT, json={"instances": [b64(truncated)]}), 400)
    assert_refused(gw.post(PREDICT, json={"instances": [{"b64": "!!not base64!!"}]}), 400)
    assert_still_serving(gw)


@pytest.mark.parametrize("content_type, body", [
    ("image/png", json.dumps({"instances": [1]}).encode()),
    ("multipart/form-data", b"--x\r\nnot really multipart"),
    ("multipart/form-data; boundary=zzz", b"--zzz\r\nContent-Disposition: form-data\r\n\r\n"),
    ("application/json", b"image=abc&x=1"),
    ("application/xml", b"<instances><i>1</i></instances>"),
    ("text/plain; charset=utf-16", "{\"instances\": [1]}".encode("utf-16")),
])
def test_wrong_content_types_are_4xx(gw, content_type, body):
    assert_refused(gw.post(PREDICT, content=body, headers={"content-type": content_type}))


CONTENT_TYPES = st.sampled_from(["application/json", "image/png", "image/jpeg", "multipart/form-data",
                                 "application/octet-stream", "text/plain"])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_random_bytes_get_a_4xx_with_a_message(gw, body, content_type):
    assert_refused(gw.post(PREDICT, content=body, headers={"content-type": content_type}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=JSONISH)
def test_random_json_documents_get_a_4xx_with_a_message(gw, doc):
    assert_refused(gw.post(PREDICT, content=json.dumps(doc).encode(),
                           headers={"content-type": "application/json"}))


def test_still_serving_after_everything(gw):
    assert_still_serving(gw)

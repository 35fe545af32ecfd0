"""End to end: the demo (digits spec, embedded backend) behind 2 real worker processes.

Real HTTP over sockets, a real gateway subprocess that starts its own embedded backend, the
shipped sample images. Every bad request gets its status and message, and the next good request
still succeeds.
"""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SPECS = Path(__file__).resolve().parents[2] / "specs"
DIGITS = list(range(10))
PNG = {d: (SPECS / "examples" / f"digit-{d}.png").read_bytes() for d in DIGITS}


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


@pytest.fixture(scope="module")
def gw(gateway_factory):
    with gateway_factory("--workers", "2") as gateway:
        yield gateway


def top_class(prediction) -> int:
    return prediction[0]["class"]


def assert_still_serving(gw):
    r = gw.post("/v1/models/digits:predict", json={"instances": [b64(PNG[4])]})
    assert r.status_code == 200, r.text
    assert top_class(r.json()["predictions"][0]) == 4


def test_row_form_batch_classifies_every_sample(gw):
    r = gw.post("/v1/models/digits:predict", json={"instances": [b64(PNG[d]) for d in DIGITS]})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert [top_class(p) for p in predictions] == DIGITS
    first = predictions[0]
    assert len(first) == 3 and first[0]["label"] == "0"
    assert first[0]["score"] >= first[1]["score"] >= first[2]["score"]


def test_row_form_named_input(gw):
    r = gw.post("/v1/models/digits:predict", json={"instances": [{"image": b64(PNG[d])} for d in (2, 5)]})
    assert r.status_code == 200, r.text
    assert [top_class(p) for p in r.json()["predictions"]] == [2, 5]


def test_columnar_form_answers_outputs(gw):
    r = gw.post("/v1/models/digits:predict",
                json={"signature_name": "serving_default", "inputs": {"image": [b64(PNG[7]), b64(PNG[1])]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "predictions" not in body
    assert [top_class(p) for p in body["outputs"]] == [7, 1]


def test_raw_image_body(gw):
    r = gw.post("/v1/models/digits:predict", content=PNG[8], headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert top_class(r.json()["predictions"][0]) == 8


def test_multipart_one_part_per_image(gw):
    files = [("image", (f"d{d}.png", PNG[d], "image/png")) for d in (9, 3, 6)]
    r = gw.post("/v1/models/digits:predict", files=files)
    assert r.status_code == 200, r.text
    assert [top_class(p) for p in r.json()["predictions"]] == [9, 3, 6]


def test_numeric_pixels_match_the_image_path(gw):
    pixels = np.asarray(Image.open(io.BytesIO(PNG[5])).convert("L"), dtype=np.float32)
    h, w = pixels.shape  # the samples are 8x8 digits scaled up by an integer factor
    small = pixels.reshape(8, h // 8, 8, w // 8).mean(axis=(1, 3))  # area resize by hand
    values = (small * (16 / 255)).reshape(8, 8, 1).tolist()
    r = gw.post("/v1/models/digits:predict", json={"instances": [values]})
    assert r.status_code == 200, r.text
    assert top_class(r.json()["predictions"][0]) == 5


def test_version_route(gw):
    r = gw.post("/v1/models/digits/versions/1:predict", json={"instances": [b64(PNG[0])]})
    assert r.status_code == 200, r.text
    assert top_class(r.json()["predictions"][0]) == 0


def test_nan_literals_are_accepted_and_written_back(gw):
    values = np.full((8, 8, 1), 3.0).tolist()
    values[0][0][0] = float("nan")
    body = json.dumps({"instances": [values]})  # json writes the bare NaN literal
    assert "NaN" in body
    r = gw.post("/v1/models/digits:predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert "NaN" in r.text and "null" not in r.text
    parsed = json.loads(r.text)  # the standard parser reads TF Serving's NaN literal
    assert parsed["predictions"][0][0]["score"] != parsed["predictions"][0][0]["score"]


def test_status_and_metadata(gw):
    r = gw.get("/v1/models/digits")
    assert r.status_code == 200, r.text
    status = r.json()["model_version_status"][0]
    assert status["state"] == "AVAILABLE" and status["status"]["error_code"] == "OK"
    r = gw.get("/v1/models/digits/metadata")
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["model_spec"]["name"] == "digits"
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["image"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["image"]["tensor_shape"]["dim"]] == ["-1", "8", "8", "1"]


BAD_REQUESTS = [
    # (id, request kwargs, path, status, words the message must contain)
    ("bad-json", {"content": b'{"instances": [1,', "headers": {"Content-Type": "application/json"}},
     "/v1/models/digits:predict", 400, ["JSON Parse error"]),
    ("bad-base64", {"json": {"instances": [{"b64": "!!!not base64!!!"}]}},
     "/v1/models/digits:predict", 400, ["instance 0", "image", "base64"]),
    ("not-an-image", {"json": {"instances": [b64(PNG[1]), b64(b"plain text, no pixels")]}},
     "/v1/models/digits:predict", 400, ["instance 1", "not a decodable image"]),
    ("wrong-shape", {"json": {"instances": [np.zeros((7, 8, 1)).tolist()]}},
     "/v1/models/digits:predict", 400, ["image", "expected shape [-1, 8, 8, 1]", "got [1, 7, 8, 1]"]),
    ("wrong-dtype", {"json": {"instances": [[["a"] * 8] * 8]}},
     "/v1/models/digits:predict", 400, ["image", "expected float32", "strings"]),
    ("missing-input", {"json": {"instances": [{"picture": b64(PNG[1])}]}},
     "/v1/models/digits:predict", 400, ["unknown input 'picture'", "image"]),
    ("no-instances", {"json": {"signature_name": "serving_default"}},
     "/v1/models/digits:predict", 400, ["instances"]),
    ("unknown-model", {"json": {"instances": [[1.0]]}},
     "/v1/models/no_such_model:predict", 404, ["no_such_model"]),
    ("unknown-version", {"json": {"instances": [b64(PNG[1])]}},
     "/v1/models/digits/versions/42:predict", 404, ["42"]),
    ("bad-verb", {"json": {"instances": [b64(PNG[1])]}},
     "/v1/models/digits:explode", 400, ["Malformed request", "explode"]),  # TF Serving: 400
]


@pytest.mark.parametrize("kwargs,path,status,words", [b[1:] for b in BAD_REQUESTS],
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_gets_status_and_message_then_service_goes_on(gw, kwargs, path, status, words):
    r = gw.post(path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]
    for word in words:
        assert word in message, message
    assert_still_serving(gw)

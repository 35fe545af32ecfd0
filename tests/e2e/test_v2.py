"""End to end, the Open Inference Protocol (v2) beside TF Serving's v1 API, on one 2-worker
gateway with small limits: the digits spec (encoded images as BYTES), pass-through null models
of several dtypes, and a slow backend for the client's own timeout. Real clients
(tritonclient.http, the KServe SDK) run unchanged from their own venvs (v2_clients/)."""
import base64
import gzip
import json
import struct

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops_support import SPECS, alive, worker_pids
from v2_clients.venvs import run_client

DIGITS = SPECS / "examples"
GOOD_PNG = (DIGITS / "digit-3.png").read_bytes()
MAX_BODY = 1024 * 1024
TYPES = ("types:f=float16[-1,2],i=int32[-1,3],u=uint8[-1],b=bool[-1],s=string[-1]"
         ":o32=float32[-1,4],o64=int64[-1],ob=bool[-1],os=string[-1],od=float64[-1,2]")


@pytest.fixture(scope="module")
def backends(localserve_factory):
    with localserve_factory("--model_name", "digits", "--null_model", TYPES, "--null_model", "nm:x=float32[-1,3]:y=float32[-1,2]") as fast, \
            localserve_factory("--model_name", "none", "--null_model", "slow:x=float32[-1,2]:y=float32[-1,2]",
                               "--delay_ms", "400") as slow:
        yield fast, slow


@pytest.fixture(scope="module")
def gw(backends, gateway_factory, tmp_path_factory):
    fast, slow = backends
    specs = tmp_path_factory.mktemp("specs")
    (specs / "slow.json").write_text(json.dumps({
        "model": {"name": "slow"}, "target": {"addresses": [slow.target], "deadline_ms": 5000},
        "inputs": {"x": {"kind": "tensor", "dtype": "float32", "shape": [-1, 2]}}}))
    with gateway_factory("--workers", "2", "--target", fast.target, "-s", str(SPECS / "digits.json"),
                         "-s", str(specs / "slow.json"), "--max-body-bytes", str(MAX_BODY),
                         "--max-batch", "8", "--max-json-depth", "16", "--max-inputs", "5") as gateway:
        gateway.workers = worker_pids(gateway.process.pid)
        yield gateway


def infer_json(name, inputs, **extra) -> dict:
    return {"inputs": inputs, **extra}


def binary(header: dict, *sections: bytes) -> tuple[bytes, dict]:
    head = json.dumps(header).encode()
    return head + b"".join(sections), {"Inference-Header-Content-Length": str(len(head)),
                                       "Content-Type": "application/octet-stream"}


def bytes_section(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def split_binary(r: httpx.Response) -> tuple[dict, dict]:
    """(header, {name: array}) of a binary answer, read by hand from the protocol's layout."""
    length = int(r.headers["inference-header-content-length"])
    header = json.loads(r.content[:length])
    arrays, pos = {}, length
    for out in header["outputs"]:
        if "data" in out:
            continue
        size = out["parameters"]["binary_data_size"]
        chunk = r.content[pos:pos + size]
        pos += size
        dtype = {"FP32": "<f4", "FP64": "<f8", "INT64": "<i8", "BOOL": "?"}.get(out["datatype"])
        if dtype:
            arrays[out["name"]] = np.frombuffer(chunk, dtype).reshape(out["shape"])
        else:
            items, i = [], 0
            while i < len(chunk):
                (n,) = struct.unpack_from("<I", chunk, i)
                items.append(chunk[i + 4:i + 4 + n])
                i += 4 + n
            arrays[out["name"]] = items
    assert pos == len(r.content)
    return header, arrays


# ---- endpoints ------------------------------------------------------------------------------

def test_server_metadata_and_health(gw):
    meta = gw.get("/v2").json()
    assert meta["name"] == "tfserving-gateway" and "binary_tensor_data" in meta["extensions"]
    assert gw.get("/v2/health/live").json() == {"live": True}
    r = gw.get("/v2/health/ready")
    assert (r.status_code, r.json()) == (200, {"ready": True})


def test_model_readiness_and_unknown_models(gw):
    assert gw.get("/v2/models/digits/ready").json() == {"name": "digits", "ready": True}
    assert gw.get("/v2/models/types/versions/1/ready").json() == {"name": "types", "ready": True}
    for path in ("/v2/models/nope/ready", "/v2/models/nope", "/v2/models/types/versions/7"):
        r = gw.get(path)
        assert r.status_code == 404 and r.json()["error"], (path, r.text)
    r = gw.get("/v2/models/types/versions/latest")
    assert r.status_code == 400 and "integers" in r.json()["error"]
    r = gw.post("/v2/models/nope/infer", json=infer_json("x", [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]))
    assert r.status_code == 404 and r.json()["error"]


def test_passthrough_metadata_maps_the_signature(gw):
    meta = gw.get("/v2/models/types").json()
    assert meta["name"] == "types" and meta["versions"] == ["1"]
    assert meta["inputs"] == [
        {"name": "b", "datatype": "BOOL", "shape": [-1]}, {"name": "f", "datatype": "FP16", "shape": [-1, 2]},
        {"name": "i", "datatype": "INT32", "shape": [-1, 3]}, {"name": "s", "datatype": "BYTES", "shape": [-1]},
        {"name": "u", "datatype": "UINT8", "shape": [-1]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {
        "o32": "FP32", "o64": "INT64", "ob": "BOOL", "os": "BYTES", "od": "FP64"}
    r = gw.get("/v2/models/types", params={"signature_name": "other"})
    assert r.status_code == 400 and "other" in r.json()["error"]


def test_spec_metadata_shows_what_a_client_sends(gw):
    meta = gw.get("/v2/models/digits").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]


def test_openapi_lists_the_v2_routes(gw):
    paths = gw.get("/openapi.json").json()["paths"]
    for path in ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model}", "/v2/models/{model}/ready",
                 "/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer"):
        assert path in paths, sorted(paths)
    assert "post" in paths["/v2/models/{model}/infer"]


# ---- digits: encoded images as BYTES, the classification extension --------------------------

def test_digits_png_as_bytes_json_form_with_classification(gw):
    images = [{"b64": base64.b64encode((DIGITS / f"digit-{d}.png").read_bytes()).decode()} for d in (3, 7)]
    r = gw.post("/v2/models/digits/infer", json={
        "id": "q1", "inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": images}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "q1" and body["model_name"] == "digits"
    (out,) = body["outputs"]
    assert out["datatype"] == "BYTES" and out["shape"] == [2, 2]
    best3, best7 = out["data"][0], out["data"][2]
    assert best3.split(":")[1:] == ["3", "3"] and best7.split(":")[1:] == ["7", "7"]  # index, label
    assert 0.5 < float(best3.split(":")[0]) <= 1


def test_digits_binary_form_equals_v1(gw):
    pngs = [(DIGITS / f"digit-{d}.png").read_bytes() for d in range(10)][:8]
    body, headers = binary({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [8],
                                        "parameters": {"binary_data_size": 32 + sum(map(len, pngs))}}],
                            "parameters": {"binary_data_output": True}}, bytes_section(*pngs))
    r = gw.post("/v2/models/digits/infer", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    _, arrays = split_binary(r)
    probabilities = arrays["probabilities"]
    assert probabilities.shape == (8, 10) and list(probabilities.argmax(axis=1)) == list(range(8))
    v1 = gw.post("/v1/models/digits:predict", json={"instances": [{"b64": base64.b64encode(p).decode()} for p in pngs]})
    top = [row[0] for row in v1.json()["predictions"]]
    assert [t["class"] for t in top] == list(range(8))
    np.testing.assert_allclose([t["score"] for t in top], probabilities.max(axis=1), rtol=1e-6)


# ---- pass-through: several dtypes, both forms, equal to v1 -----------------------------------

TYPES_INPUTS = {"f": np.array([[0.5, -2], [1, 3]], np.float16), "i": np.array([[1, 2, 3], [-4, 5, 6]], np.int32),
                "u": np.array([0, 255], np.uint8), "b": np.array([True, False])}
V2_NAMES = {np.dtype(np.float16): "FP16", np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8", np.dtype(bool): "BOOL"}


def test_passthrough_types_json_and_binary_equal_v1(gw):
    v1 = gw.post("/v1/models/types:predict", json={"inputs": {
        **{k: v.tolist() for k, v in TYPES_INPUTS.items()}, "s": ["x", "y"]}})
    assert v1.status_code == 200, v1.text
    want = v1.json()["outputs"]

    as_json = [{"name": k, "datatype": V2_NAMES[v.dtype], "shape": list(v.shape), "data": v.reshape(-1).tolist()}
               for k, v in TYPES_INPUTS.items()] + [{"name": "s", "datatype": "BYTES", "shape": [2], "data": ["x", "y"]}]
    r = gw.post("/v2/models/types/infer", json={"inputs": as_json})
    assert r.status_code == 200, r.text
    got = {o["name"]: o for o in r.json()["outputs"]}
    assert set(got) == set(want)
    for name, out in got.items():
        assert out["shape"] == list(np.asarray(want[name]).shape)
        assert out["data"] == np.asarray(want[name]).reshape(-1).tolist()
    assert {n: o["datatype"] for n, o in got.items()} == {"o32": "FP32", "o64": "INT64", "ob": "BOOL",
                                                           "os": "BYTES", "od": "FP64"}

    header = {"inputs": [{"name": k, "datatype": V2_NAMES[v.dtype], "shape": list(v.shape),
                          "parameters": {"binary_data_size": v.nbytes}} for k, v in TYPES_INPUTS.items()]
              + [{"name": "s", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 10}}],
              "outputs": [{"name": "o32", "parameters": {"binary_data": True}}, {"name": "os"},
                          {"name": "od", "parameters": {"binary_data": True}}]}
    body, headers = binary(header, *(v.tobytes() for v in TYPES_INPUTS.values()), bytes_section(b"x", b"y"))
    r = gw.post("/v2/models/types/infer", content=body, headers=headers)
    assert r.status_code == 200, r.text
    head, arrays = split_binary(r)
    assert [o["name"] for o in head["outputs"]] == ["o32", "os", "od"]  # the subset, in the order asked
    np.testing.assert_array_equal(arrays["o32"], np.asarray(want["o32"], np.float32))
    np.testing.assert_array_equal(arrays["od"], np.asarray(want["od"], np.float64))
    assert head["outputs"][1]["data"] == want["os"]


def test_datatype_must_be_the_models(gw):
    r = gw.post("/v2/models/nm/infer", json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]})
    assert r.status_code == 400 and "FP32" in r.json()["error"] and "FP64" in r.json()["error"]
    r = gw.post("/v2/models/nm/infer", json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
    assert r.status_code == 400 and "shape" in r.json()["error"]
    r = gw.post("/v2/models/nm/infer", json={"inputs": [{"name": "z", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]})
    assert r.status_code == 400 and "unknown input 'z'" in r.json()["error"]
    r = gw.post("/v2/models/nm/infer", json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}],
                                             "parameters": {"signature_name": "other"}})
    assert r.status_code == 400 and "other" in r.json()["error"]
    r = gw.post("/v2/models/nm/infer", json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}],
                                             "outputs": [{"name": "nope"}]})
    assert r.status_code == 400 and "nope" in r.json()["error"]  # TF Serving's own words for pass-through
    r = gw.post("/v2/models/digits/infer", json={"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["x"]}],
                                                 "outputs": [{"name": "nope"}]})
    assert r.status_code == 400 and "answers: probabilities" in r.json()["error"]


def test_gzip_request_and_compressed_answer(gw):
    doc = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}).encode()
    r = gw.post("/v2/models/nm/infer", content=gzip.compress(doc),
                headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.headers["content-encoding"] == "gzip" and r.json()["outputs"][0]["shape"] == [2, 2]  # httpx inflates
    r = gw.post("/v2/models/nm/infer", content=doc, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers and r.status_code == 200


def test_client_timeout_is_the_backend_deadline_when_shorter(gw):
    doc = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
    assert gw.post("/v2/models/slow/infer", json=doc).status_code == 200  # 400 ms < the spec's 5 s
    r = gw.post("/v2/models/slow/infer", json={**doc, "parameters": {"timeout": 100_000}})  # 0.1 s
    assert r.status_code == 504 and r.json()["error"], r.text
    r = gw.post("/v2/models/slow/infer", json={**doc, "parameters": {"timeout": 60_000_000}})  # longer: the spec's wins
    assert r.status_code == 200


# ---- hostile twins of tests/e2e/test_hostile.py ----------------------------------------------

def assert_refused(r, status=None, says=""):
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if status is not None:
        assert r.status_code == status, r.text[:300]
    message = r.json()["error"]
    assert isinstance(message, str) and message and says.lower() in message.lower(), message


def assert_still_serving(gw):
    body, headers = binary({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                        "parameters": {"binary_data_size": 4 + len(GOOD_PNG)}}],
                            "outputs": [{"name": "probabilities", "parameters": {"classification": 1}}]},
                           bytes_section(GOOD_PNG))
    r = gw.post("/v2/models/digits/infer", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"][0].endswith(":3:3")
    assert all(alive(pid) for pid in gw.workers)


IMAGE_HEADER = {"name": "image", "datatype": "BYTES", "shape": [1]}


@pytest.mark.parametrize("header, sections, length, says", [
    ({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": 10}}]}, [b"\0" * 10], "ten", "integer"),
    ({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": 10}}]}, [b"\0" * 10], "100000", "only"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "parameters": {"binary_data_size": 8}}]},
     [b"\0" * 8], None, "needs"),
    ({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": 5000}}]}, [b"\0" * 100], None, "past the end"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2**31, 2**31, 2**31],
                  "parameters": {"binary_data_size": 12}}]}, [b"\0" * 12], None, "needs"),
    ({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": 8}}]}, [struct.pack("<I", 2**32 - 1) + b"abcd"],
     None, "claims"),
    ({"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 3], "parameters": {"binary_data_size": 24}}]},
     [b"\0" * 24], None, "FP32"),
])
def test_malformed_binary_bodies_are_400(gw, header, sections, length, says):
    model = "nm" if header["inputs"][0]["name"] == "x" else "digits"
    body, headers = binary(header, *sections)
    if length is not None:
        headers["Inference-Header-Content-Length"] = length
    assert_refused(gw.post(f"/v2/models/{model}/infer", content=body, headers=headers), 400, says)


def test_bodies_and_bombs_past_the_limits_are_413(gw):
    big = b"\0" * (MAX_BODY + 10)
    body, headers = binary({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": len(big)}}]}, big)
    assert_refused(gw.post("/v2/models/digits/infer", content=body, headers=headers), 413, f"{MAX_BODY} bytes")
    chunks = (b"0" * 65536 for _ in range(40))  # chunked, no Content-Length: refused while streaming
    assert_refused(gw.post("/v2/models/digits/infer", content=chunks), 413)
    bomb = gzip.compress(b" " * (50 * MAX_BODY))
    assert len(bomb) < MAX_BODY // 10
    assert_refused(gw.post("/v2/models/digits/infer", content=bomb, headers={"Content-Encoding": "gzip"}), 413,
                   "decompresses past the limit")
    assert_refused(gw.post("/v2/models/digits/infer", content=b"{}", headers={"Content-Encoding": "br"}), 415)
    assert_still_serving(gw)


def test_batches_inputs_depth_and_fake_images(gw):
    body, headers = binary({"inputs": [{**IMAGE_HEADER, "shape": [9], "parameters": {"binary_data_size": 9 * (4 + len(GOOD_PNG))}}]},
                           bytes_section(*[GOOD_PNG] * 9))
    assert_refused(gw.post("/v2/models/digits/infer", content=body, headers=headers), 413, "limit of 8")
    many = [{"name": f"i{i}", "datatype": "FP32", "shape": [1], "data": [1]} for i in range(6)]
    assert_refused(gw.post("/v2/models/nm/infer", json={"inputs": many}), 413, "inputs")
    deep = b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"
    assert_refused(gw.post("/v2/models/nm/infer", content=deep), 400, "nested")
    half = GOOD_PNG[: len(GOOD_PNG) // 2]
    body, headers = binary({"inputs": [{**IMAGE_HEADER, "parameters": {"binary_data_size": 4 + len(half)}}]}, bytes_section(half))
    assert_refused(gw.post("/v2/models/digits/infer", content=body, headers=headers), 400)
    assert_refused(gw.post("/v2/models/digits/infer", json={"inputs": [{**IMAGE_HEADER, "data": ["not an image"]}]}), 400)
    assert_still_serving(gw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=1024), length=st.none() | st.integers(0, 1100).map(str), encoding=st.sampled_from(["", "gzip"]))
def test_random_bytes_get_a_4xx_with_a_message(gw, body, length, encoding):
    headers = {"Content-Encoding": encoding} if encoding else {}
    if length is not None:
        headers["Inference-Header-Content-Length"] = length
    assert_refused(gw.post("/v2/models/nm/infer", content=body, headers=headers))


def test_still_serving_after_everything(gw):
    assert_still_serving(gw)


# ---- real clients, unchanged -----------------------------------------------------------------

@pytest.mark.slow
def test_tritonclient_health_metadata_and_digits(gw):
    assert run_client("triton", gw.url, "health", "digits") == {
        "live": True, "ready": True, "model_ready": True, "unknown_model_ready": False}
    meta = run_client("triton", gw.url, "metadata", "types")
    assert {i["name"]: i["datatype"] for i in meta["inputs"]}["f"] == "FP16"
    files = [str(DIGITS / f"digit-{d}.png") for d in (3, 8)]
    answer = run_client("triton", gw.url, "infer", "digits", json.dumps(
        {"inputs": [{"name": "image", "files": files}], "outputs": ["probabilities"], "class_count": 3}))
    out = answer["outputs"]["probabilities"]
    assert answer["id"] == "req-7" and out["shape"] == [2, 3]
    assert out["data"][0].endswith(":3:3") and out["data"][3].endswith(":8:8")
    # tritonclient sends BYTES in JSON form only as UTF-8 text, so images go binary; answers both ways
    for binary_out in (True, False):
        answer = run_client("triton", gw.url, "infer", "digits", json.dumps(
            {"inputs": [{"name": "image", "files": files}], "outputs": ["probabilities"], "binary_out": binary_out}))
        assert np.argmax(np.reshape(answer["outputs"]["probabilities"]["data"], (2, 10)), axis=1).tolist() == [3, 8]


@pytest.mark.slow
def test_tritonclient_passthrough_dtypes_both_forms(gw, tmp_path):
    inputs = []
    for name, value in TYPES_INPUTS.items():
        np.save(tmp_path / f"{name}.npy", value)
        inputs.append({"name": name, "datatype": V2_NAMES[value.dtype], "npy": str(tmp_path / f"{name}.npy")})
    np.save(tmp_path / "s.npy", np.array([b"x", b"y"], dtype=object), allow_pickle=True)
    inputs.append({"name": "s", "datatype": "BYTES", "npy": str(tmp_path / "s.npy")})
    want = gw.post("/v1/models/types:predict", json={"inputs": {
        **{k: v.tolist() for k, v in TYPES_INPUTS.items()}, "s": ["x", "y"]}}).json()["outputs"]
    for binary_in, binary_out in ((True, True), (False, False)):
        answer = run_client("triton", gw.url, "infer", "types", json.dumps({
            "inputs": inputs, "binary_in": binary_in, "binary_out": binary_out,
            "outputs": ["o32", "o64", "ob", "os", "od"]}))
        assert set(answer["outputs"]) == set(want)
        for name, out in answer["outputs"].items():
            if out["dtype"] == "object":
                assert out["data"] == want[name], name
            else:
                np.testing.assert_array_equal(np.array(out["data"], out["dtype"]),
                                              np.asarray(want[name], out["dtype"]).reshape(-1), err_msg=name)


@pytest.mark.slow
def test_kserve_client_health_and_infer(gw, tmp_path):
    assert run_client("kserve", gw.url, "health", "digits") == {"live": True, "ready": True, "model_ready": True}
    answer = run_client("kserve", gw.url, "infer", "digits", json.dumps(
        {"inputs": [{"name": "image", "files": [str(DIGITS / "digit-5.png")]}], "binary_in": True}))
    assert answer["id"] == "k-1"
    assert int(np.argmax(answer["outputs"]["probabilities"]["data"])) == 5
    np.save(tmp_path / "x.npy", np.array([[1, 2, 3]], np.float32))
    want = gw.post("/v1/models/nm:predict", json={"inputs": {"x": [[1, 2, 3]]}}).json()["outputs"]
    for binary_in in (True, False):
        answer = run_client("kserve", gw.url, "infer", "nm", json.dumps(
            {"inputs": [{"name": "x", "datatype": "FP32", "npy": str(tmp_path / "x.npy")}], "binary_in": binary_in}))
        assert answer["outputs"]["y"]["data"] == np.asarray(want, np.float32).reshape(-1).tolist()

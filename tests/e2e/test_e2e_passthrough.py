"""End to end, pass-through: models with no spec get their dtypes and shapes from the
backend's GetModelMetadata. A LocalServe backend (null models + a labelled digits) sits
behind a 2-worker gateway given --target and the shipped InceptionV3 spec (its target removed,
so it goes to --target too)."""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def backend(localserve_factory):
    with localserve_factory(
        "--model_name", "digits2", "--version_label", "stable=1",
        "--null_model", "nm:x=float32[-1,3]:y=float32[-1,2]",
        "--null_model", "inceptionv3:images=float32[-1,299,299,3]:scores=float32[-1,1001]",
        "--null_model", "multi:a=int64[-1],b=string[-1]:p=float32[-1,4],q=int64[-1]",
    ) as served:
        yield served


@pytest.fixture(scope="module")
def gw(backend, gateway_factory, tmp_path_factory):
    spec = json.loads((Path(__file__).resolve().parents[2] / "specs" / "inceptionv3.json").read_text())
    del spec["target"]
    spec_file = tmp_path_factory.mktemp("specs") / "inceptionv3.json"
    spec_file.write_text(json.dumps(spec))
    with gateway_factory("--workers", "2", "--target", backend.target, "-s", str(spec_file)) as gateway:
        yield gateway


def test_shipped_inceptionv3_spec_takes_a_jpeg_and_answers_top5(gw):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 90)).save(out, format="JPEG")
    r = gw.post("/v1/models/inceptionv3:predict", content=out.getvalue(), headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200, r.text
    (top5,) = r.json()["predictions"]
    assert len(top5) == 5 and all(0 <= item["class"] < 1001 for item in top5)
    assert [item["score"] for item in top5] == sorted((item["score"] for item in top5), reverse=True)


def test_row_form_from_metadata(gw):
    r = gw.post("/v1/models/nm:predict", json={"instances": [[1, 2, 3], [4, 5, 6]]})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert np.asarray(predictions).shape == (2, 2)


def test_columnar_form_from_metadata(gw):
    r = gw.post("/v1/models/nm:predict", json={"inputs": {"x": [[1, 2, 3]]}})
    assert r.status_code == 200, r.text
    assert np.asarray(r.json()["outputs"]).shape == (1, 2)


def test_several_inputs_and_outputs_with_strings(gw):
    r = gw.post("/v1/models/multi:predict",
                json={"instances": [{"a": 1, "b": "text"}, {"a": 2, "b": {"b64": base64.b64encode(b"\x00\x01").decode()}}]})
    assert r.status_code == 200, r.text
    rows = r.json()["predictions"]
    assert len(rows) == 2 and set(rows[0]) == {"p", "q"} and len(rows[0]["p"]) == 4
    r = gw.post("/v1/models/multi:predict", json={"inputs": {"a": [1, 2, 3], "b": ["x", "y", "z"]}})
    assert r.status_code == 200, r.text
    outputs = r.json()["outputs"]
    assert np.asarray(outputs["p"]).shape == (3, 4) and len(outputs["q"]) == 3


def test_label_route(gw):
    r = gw.post("/v1/models/digits2/labels/stable:predict", json={"instances": [np.full((8, 8, 1), 4.0).tolist()]})
    assert r.status_code == 200, r.text
    (row,) = r.json()["predictions"]
    assert set(row) == {"probabilities", "classes"}
    assert abs(sum(row["probabilities"]) - 1) < 1e-4


@pytest.mark.parametrize("path,body,status,words", [
    ("/v1/models/nm:predict", {"instances": [[1, 2]]}, 400, ["input 'x'", "expected shape [-1, 3]", "got [1, 2]"]),
    ("/v1/models/nm:predict", {"instances": [["a", "b", "c"]]}, 400, ["expected float32", "strings"]),
    ("/v1/models/multi:predict", {"instances": [{"a": 1.5, "b": "t"}]}, 400, ["input 'a'", "expected int64"]),
    ("/v1/models/multi:predict", {"instances": [{"a": 1}]}, 400, ["missing input 'b'"]),
    ("/v1/models/nm:predict", {"signature_name": "nope", "instances": [[1, 2, 3]]}, 400, ["nope"]),
    ("/v1/models/ghost:predict", {"instances": [[1]]}, 404, ["ghost"]),
    ("/v1/models/digits2/versions/9:predict", {"instances": [[1]]}, 404, ["9"]),
])
def test_errors_then_recovery(gw, path, body, status, words):
    r = gw.post(path, json=body)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    for word in words:
        assert word in message, message
    assert gw.post("/v1/models/nm:predict", json={"instances": [[1, 2, 3]]}).status_code == 200


def test_metadata_and_status_in_tf_serving_json(gw):
    meta = gw.get("/v1/models/multi/metadata").json()
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["b"]["dtype"] == "DT_STRING" and sig["outputs"]["q"]["dtype"] == "DT_INT64"
    assert sig["method_name"] == "tensorflow/serving/predict"
    status = gw.get("/v1/models/digits2/labels/stable").json()
    assert status["model_version_status"][0]["version"] == "1"
    assert gw.get("/v1/models/ghost").status_code == 404

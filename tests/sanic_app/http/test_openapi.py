"""The OpenAPI document: valid OpenAPI 3, every spec'd model's routes, schemas that mean it."""
import json

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sanic import Sanic, text

from sanic_app.http import openapi
from sanic_app.core.spec import default_spec_paths, load_specs, parse_spec

MULTI = {
    "model": {"name": "multi", "signature_name": "detect"},
    "inputs": {
        "photo": {"kind": "image", "dtype": "uint8", "image": {"height": 4, "width": 6, "color": "rgb"}},
        "ids": {"kind": "tensor", "dtype": "int64", "shape": [-1, 3]},
        "note": {"kind": "bytes"},
    },
    "outputs": {"scores": {"postprocess": "softmax"}, "best": {"postprocess": "topk", "k": 2}},
}


@pytest.fixture(scope="module")
def specs():
    loaded = load_specs(default_spec_paths())
    loaded["multi"] = parse_spec(MULTI, "multi.json")
    return loaded


def _service_app():
    app = Sanic("openapi_test_app")

    @app.get("/things/<thing_id:int>", name="thing")
    async def thing(request, thing_id):
        """One thing by id.

        Longer words about it."""
        return text("x")

    @app.post("/v1/models/<rest:path>", name="predict_family")
    async def family(request, rest):
        return text("x")

    @app.route("/<anything:path>", methods=["GET", "POST"], name="other_v1_spellings")
    async def other(request, anything):
        return text("x")

    app.router.finalize()
    return app


@pytest.fixture(scope="module")
def document(specs):
    doc = openapi.build_document(specs, _service_app().router.routes, passthrough=True)
    return json.loads(json.dumps(doc))  # what /openapi.json serves: plain JSON


def test_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_model_has_predict_status_and_metadata(document, specs):
    for name in specs:
        for path, method in [(f"/v1/models/{name}:predict", "post"),
                             (f"/v1/models/{name}/versions/{{version}}:predict", "post"),
                             (f"/v1/models/{name}/labels/{{label}}:predict", "post"),
                             (f"/v1/models/{name}", "get"),
                             (f"/v1/models/{name}/metadata", "get")]:
            assert method in document["paths"][path], path
    assert "post" in document["paths"]["/v1/models/{model_name}:predict"]  # pass-through


def test_catch_all_route_is_replaced_and_other_routes_are_described(document):
    assert not any("<" in path for path in document["paths"])
    op = document["paths"]["/things/{thing_id}"]["get"]
    assert op["summary"] == "One thing by id."
    assert op["description"] == "Longer words about it."
    assert op["parameters"] == [{"name": "thing_id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _validator(document, component):
    schema = {**document["components"]["schemas"][component], "components": document["components"]}
    return OAS30Validator(schema)


def test_example_request_fits_the_request_schema(document):
    for name in ("digits", "multi"):
        example = document["paths"][f"/v1/models/{name}:predict"]["post"]["requestBody"]["content"][
            "application/json"]["example"]
        _validator(document, f"{name}.PredictRequest").validate(example)


@pytest.mark.parametrize("body", [
    {"instances": [{"photo": {"b64": "AA=="}, "ids": [1, 2], "note": "n"}]},        # ids: 2 of 3
    {"instances": [{"photo": {"b64": "AA=="}, "ids": [1, 2, 3]}]},                  # note missing
    {"instances": [{"photo": "raw", "ids": [1, 2, 3], "note": "n"}]},              # image not b64
    {"inputs": {"photo": [{"b64": "AA=="}], "ids": [[1.5, 2, 3]], "note": ["n"]}},  # float for int64
    {"instances": []},
])
def test_request_schema_rejects_what_the_gateway_rejects(document, body):
    assert not _validator(document, "multi.PredictRequest").is_valid(body)


def test_request_schema_accepts_both_forms(document):
    validator = _validator(document, "multi.PredictRequest")
    validator.validate({"instances": [{"photo": {"b64": "AA=="}, "ids": [1, 2, 3], "note": {"b64": "AA=="}}]})
    validator.validate({"signature_name": "detect",
                        "inputs": {"photo": [{"b64": "AA=="}], "ids": [[1, 2, 3]], "note": ["n"]}})


def test_response_schema_follows_postprocessing(document):
    digits = _validator(document, "digits.PredictResponse")
    digits.validate({"predictions": [[{"class": 3, "score": 0.9, "label": "3"}]]})
    assert not digits.is_valid({"predictions": [[{"score": 0.9}]]})  # top-k items need a class
    multi = _validator(document, "multi.PredictResponse")
    multi.validate({"predictions": [{"scores": [0.1, 0.9], "best": [{"class": 1, "score": 0.9}]}]})
    multi.validate({"outputs": {"scores": [[0.1, 0.9]], "best": [{"class": 1, "score": 0.9}]}})


def test_image_models_take_raw_and_multipart_bodies(document):
    digits = document["paths"]["/v1/models/digits:predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "image/*", "multipart/form-data"} <= set(digits)
    multi = document["paths"]["/v1/models/multi:predict"]["post"]["requestBody"]["content"]
    assert "image/*" not in multi  # several inputs: no single raw image body


def test_classify_and_regress_are_listed_and_the_v1_catch_all_is_not(document, specs):
    for name in [*specs, "{model_name}"]:
        for verb in ("classify", "regress"):
            op = document["paths"][f"/v1/models/{name}:{verb}"]["post"]
            assert op["requestBody"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ClassifyRegressRequest"}
    assert "/{anything}" not in document["paths"]

"""Spec files: the shipped ones load and validate against the published schema; bad ones are
rejected by both spec.py and the schema, with the file, the field path and why."""
import copy
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from sanic_app.errors import SpecError
from sanic_app.core.spec import load_spec, load_specs, parse_spec, resolve_plugin

SPECS = Path(__file__).resolve().parents[3] / "specs"
SCHEMA = json.loads((SPECS / "schema.json").read_text())
SHIPPED = sorted(p for p in SPECS.glob("*.json") if p.name != "schema.json")

GOOD = {
    "model": {"name": "m", "signature_name": "serving_default"},
    "inputs": {
        "img": {"kind": "image", "dtype": "float32",
                "image": {"height": 4, "width": 6, "color": "rgb", "mean": [1, 2, 3], "std": [1]}},
        "x": {"kind": "tensor", "dtype": "int64", "shape": [-1, 2]},
        "s": {"kind": "bytes"},
    },
    "outputs": {"p": {"postprocess": "softmax"}, "q": {"postprocess": "topk", "k": 2}},
}


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_validate_and_load(path):
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    config = load_spec(path)
    assert config.inputs and config.source == str(path)


def test_inceptionv3_spec_is_what_the_issue_asks():
    config = load_spec(SPECS / "inceptionv3.json")
    (image,) = config.inputs.values()
    assert image.shape == (-1, 299, 299, 3) and image.dtype == np.float32
    spec = image.image
    assert (spec.color, spec.layout) == ("rgb", "NHWC")
    assert 255 * spec.scale - spec.mean[0] == pytest.approx(1.0) and 0 * spec.scale - spec.mean[0] == -1.0
    (out,) = config.outputs.values()
    assert out.postprocess == "topk" and out.k == 5


def test_good_spec_parses_with_defaults():
    jsonschema.validate(GOOD, SCHEMA)
    config = parse_spec(copy.deepcopy(GOOD), "good.json")
    assert config.inputs["img"].shape == (-1, 4, 6, 3)
    assert config.inputs["img"].image.mean == (1.0, 2.0, 3.0)
    assert config.inputs["s"].dtype == object
    assert config.outputs["q"].k == 2 and config.outputs["q"].labels is None
    assert config.target is None and config.version is None
    image = config.inputs["img"].image
    assert (image.decode, image.reduced_dct, image.exif_orientation) == ("tensorflow", False, False)


def test_decoding_fields_parse():
    doc = with_change(("inputs", "img", "image"), {"height": 4, "width": 6, "decode": "accurate",
                                                   "reduced_dct": True, "exif_orientation": True})
    jsonschema.validate(doc, SCHEMA)
    image = parse_spec(doc, "good.json").inputs["img"].image
    assert (image.decode, image.reduced_dct, image.exif_orientation) == ("accurate", True, True)


def with_change(path, value):
    doc = copy.deepcopy(GOOD)
    *parents, last = path
    node = doc
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


DELETE = object()
BAD = [
    # (change, field path spec.py must name)
    ((("model",), DELETE), "model"),
    ((("model", "name"), 7), "model.name"),
    ((("model", "name"), "a/b"), "model.name"),
    ((("model", "version"), -1), "model.version"),
    ((("model", "version"), "1"), "model.version"),
    ((("model", "extra"), 1), "model.extra"),
    ((("surprise",), {}), "surprise"),
    ((("target",), {"addresses": []}), "target.addresses"),
    ((("target",), {"addresses": ["nohostport"]}), "target.addresses[0]"),
    ((("target",), {"addresses": ["h:1"], "deadline_ms": 0}), "target.deadline_ms"),
    ((("target",), {"addresses": ["unix:"]}), "target.addresses[0]"),
    ((("target",), {"addresses": ["dns:///tfs"]}), "target.addresses[0]"),
    ((("inputs",), {}), "inputs"),
    ((("inputs", "x", "kind"), "video"), "inputs.x.kind"),
    ((("inputs", "x", "dtype"), "complex64"), "inputs.x.dtype"),
    ((("inputs", "x", "dtype"), DELETE), "inputs.x.dtype"),
    ((("inputs", "x", "shape"), [-2, 3]), "inputs.x.shape[0]"),
    ((("inputs", "x", "image"), {"height": 1, "width": 1}), "inputs.x.image"),
    ((("inputs", "img", "image"), DELETE), "inputs.img.image"),
    ((("inputs", "img", "dtype"), "int32"), "inputs.img.dtype"),
    ((("inputs", "img", "image", "height"), 0), "inputs.img.image.height"),
    ((("inputs", "img", "image", "color"), "cmyk"), "inputs.img.image.color"),
    ((("inputs", "img", "image", "resize"), "bicubic"), "inputs.img.image.resize"),
    ((("inputs", "img", "image", "layout"), "HWC"), "inputs.img.image.layout"),
    ((("inputs", "img", "image", "std"), [0]), "inputs.img.image.std[0]"),
    ((("inputs", "img", "image", "mean"), [1, 2]), "inputs.img.image.mean"),
    ((("inputs", "img", "image", "antialias"), "yes"), "inputs.img.image.antialias"),
    ((("inputs", "img", "image", "decode"), "pillow"), "inputs.img.image.decode"),
    ((("inputs", "img", "image", "decode"), ""), "inputs.img.image.decode"),
    ((("inputs", "img", "image", "reduced_dct"), 2), "inputs.img.image.reduced_dct"),
    ((("inputs", "img", "image", "exif_orientation"), "on"), "inputs.img.image.exif_orientation"),
    ((("inputs", "img", "preprocess"), "os.system('rm -rf /')"), "inputs.img.preprocess"),
    ((("inputs", "s", "dtype"), "float32"), "inputs.s.dtype"),
    ((("outputs", "p", "postprocess"), "argmax"), "outputs.p.postprocess"),
    ((("outputs", "p", "k"), 3), "outputs.p.k"),
    ((("outputs", "q", "k"), 0), "outputs.q.k"),
    ((("outputs", "q", "colour"), 0), "outputs.q.colour"),
]


@pytest.mark.parametrize("change,field", BAD, ids=[f for _, f in BAD])
def test_spec_py_rejects_what_the_schema_rejects(change, field):
    doc = with_change(*change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    with pytest.raises(SpecError) as info:
        parse_spec(doc, "bad.json")
    assert info.value.file == "bad.json"
    assert info.value.path == field, str(info.value)
    assert str(info.value).startswith(f"bad.json: {field}: ")


def test_image_shape_must_agree_with_image_section():
    doc = with_change(("inputs", "img", "shape"), [-1, 4, 6, 1])
    with pytest.raises(SpecError, match=r"inputs\.img\.shape: must be \[-1, 4, 6, 3\]"):
        parse_spec(doc, "bad.json")


def test_labels_are_read_relative_to_the_spec_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "names.txt").write_text("cat\ndog\n\n")
    doc = with_change(("outputs", "q", "labels"), "sub/names.txt")
    spec_file = tmp_path / "m.json"
    spec_file.write_text(json.dumps(doc))
    assert load_spec(spec_file).outputs["q"].labels == ("cat", "dog")


def test_missing_labels_file_names_the_field(tmp_path):
    spec_file = tmp_path / "m.json"
    spec_file.write_text(json.dumps(with_change(("outputs", "q", "labels"), "nope.txt")))
    with pytest.raises(SpecError, match=r"outputs\.q\.labels: cannot read labels file"):
        load_spec(spec_file)


def test_plugins_resolve_by_import_path_only():
    assert resolve_plugin("numpy:argmax") is np.argmax
    assert resolve_plugin("os.path:join.__call__") is not None
    for ref in ("numpy.argmax", "__import__('os'):system", "numpy:argmax()", "numpy:nope"):
        with pytest.raises(ValueError):
            resolve_plugin(ref)
    doc = with_change(("outputs", "p", "postprocess"), "no_such_module_here:f")
    with pytest.raises(SpecError, match="cannot import module"):
        parse_spec(doc, "bad.json")


def test_file_level_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(SpecError, match="broken.json: not valid JSON"):
        load_spec(broken)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "absent.json")


def test_two_specs_for_one_model_are_refused(tmp_path):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(GOOD))
    with pytest.raises(SpecError, match="already defined"):
        load_specs([tmp_path / "a.json", tmp_path / "b.json"])

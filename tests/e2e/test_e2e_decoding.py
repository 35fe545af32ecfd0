"""The tensor TF Serving receives, over HTTP, against TensorFlow's own input pipeline.

A SavedModel that returns its inputs, served by the embedded backend (TF), behind a gateway whose
spec has one image input per decoding mode. Each returned tensor must equal
``decode_image``/``decode_jpeg`` -> ``tf.image.resize`` -> ``x * scale/std - mean/std`` done here in
TF, exactly (max abs difference 0.0): what the model gets, not an intermediate.
"""
import base64
import json

import numpy as np
import pytest
from PIL import Image

from tests.decoding_corpus import photo, save

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

H, W = 37, 49
SCALE = 1 / 127.5
# input name -> (the spec's image fields, how TF decodes it, channels)
MODES = {
    "fast": ({"resize": "bilinear"}, {}, 3),
    "accurate": ({"decode": "accurate", "resize": "area"}, {"dct_method": "INTEGER_ACCURATE"}, 3),
    "reduced": ({"reduced_dct": True, "resize": "bilinear", "antialias": True}, {"ratio": 4}, 3),
    "gray": ({"color": "grayscale", "resize": "nearest"}, {}, 1),
}


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def echo_model(tf, tmp_path_factory):
    class Echo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, H, W, c], tf.float32, name=n)
                                      for n, (_, _, c) in MODES.items()])
        def serve(self, fast, accurate, reduced, gray):
            return {"fast_out": tf.identity(fast), "accurate_out": tf.identity(accurate),
                    "reduced_out": tf.identity(reduced), "gray_out": tf.identity(gray)}

    module = Echo()
    base = tmp_path_factory.mktemp("echo_model")
    tf.saved_model.save(module, str(base / "1"), signatures={"serving_default": module.serve})
    return base, module


@pytest.fixture(scope="module")
def gw(echo_model, localserve_factory, gateway_factory, tmp_path_factory):
    base, _ = echo_model
    with localserve_factory("--model_name", "echo", "--model_base_path", str(base),
                            startup_timeout=120) as backend:
        inputs = {name: {"kind": "image", "dtype": "float32",
                         "image": {"height": H, "width": W, "scale": SCALE, "mean": [1.0], **fields}}
                  for name, (fields, _, _) in MODES.items()}
        spec = {"model": {"name": "echo"}, "target": {"addresses": [backend.target], "deadline_ms": 20000},
                "inputs": inputs}
        spec_file = tmp_path_factory.mktemp("spec") / "echo.json"
        spec_file.write_text(json.dumps(spec))
        with gateway_factory("--workers", "1", "-s", str(spec_file)) as gateway:
            yield gateway


def tf_reference(tf, data, name):
    fields, decode_args, channels = MODES[name]
    if decode_args:
        pixels = tf.io.decode_jpeg(data, channels=channels, **decode_args)
    else:
        pixels = tf.io.decode_image(data, channels=channels, expand_animations=False)
    resized = tf.image.resize(tf.cast(pixels, tf.float32)[None], (H, W), method=fields["resize"],
                              antialias=fields.get("antialias", False))[0]
    return (resized * np.float32(SCALE) + np.float32(-1.0)).numpy()


def test_tensors_equal_tensorflows_pipeline_over_http(gw, tf):
    jpegs = [save(Image.fromarray(photo(150, 200, seed=1)), "JPEG", quality=90),
             save(Image.fromarray(photo(151, 203, seed=2)), "JPEG", quality=85, progressive=True, subsampling=1)]
    b64 = [base64.b64encode(j).decode() for j in jpegs]
    r = gw.post("/v1/models/echo:predict",
                json={"instances": [{name: {"b64": b} for name in MODES} for b in b64]})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert len(predictions) == 2
    for row, data in zip(predictions, jpegs):
        for name in MODES:
            got = np.asarray(row[f"{name}_out"], np.float32)
            want = tf_reference(tf, data, name)
            assert got.shape == want.shape, name
            assert float(np.abs(got - want).max()) == 0.0, name
    # the modes do feed the model different pixels
    first = predictions[0]
    assert np.abs(np.asarray(first["fast_out"]) - np.asarray(first["reduced_out"])).max() > 0.01

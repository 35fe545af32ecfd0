"""The big one: a real TF SavedModel (a small Keras conv net saved here) served by the embedded
backend with TensorFlow, behind a 2-worker gateway with a spec. The gateway's answer for a JPEG
must equal the model's own output on the same image preprocessed independently, here, with
TensorFlow, as the spec says (decode, bilinear resize, x * scale - mean / std). The spec asks for
TF's decoder (the default) with EXIF orientation applied."""
import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

SIZE = 32
SCALE = 1 / 127.5


def photo(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth synthetic RGB picture (JPEG-friendly) with some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [128 + 100 * np.sin(x / (5 + 3 * c) + rng.uniform(0, 6)) * np.cos(y / (7 + c)) for c in range(3)]
    pixels = np.stack(channels, axis=2) + rng.normal(0, 6, (height, width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, **save) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=92, **save)
    return out.getvalue()


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def saved_model(tf, tmp_path_factory):
    """(base path, the served module) for a tiny conv net with fixed random weights."""
    tf.keras.utils.set_random_seed(7)
    net = tf.keras.Sequential([
        tf.keras.Input((SIZE, SIZE, 3)),
        tf.keras.layers.Conv2D(6, 3, activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(8, 3, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(5),
    ])

    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="image")])
        def serve(self, image):
            scores = self.net(image)
            return {"scores": scores, "best": tf.argmax(scores, axis=-1)}

    module = Served()
    base = tmp_path_factory.mktemp("tiny_model")
    tf.saved_model.save(module, str(base / "1"), signatures={"serving_default": module.serve})
    return base, module  # the module itself: its tf.function holds it only weakly


@pytest.fixture(scope="module")
def gw(saved_model, localserve_factory, gateway_factory, tmp_path_factory):
    base, _ = saved_model
    with localserve_factory("--model_name", "tiny", "--model_base_path", str(base),
                            startup_timeout=120) as backend:
        spec = {
            "model": {"name": "tiny", "signature_name": "serving_default"},
            "target": {"addresses": [backend.target], "deadline_ms": 20000},
            "inputs": {"image": {"kind": "image", "dtype": "float32", "shape": [-1, SIZE, SIZE, 3],
                                 "image": {"height": SIZE, "width": SIZE, "color": "rgb",
                                           "resize": "bilinear", "antialias": False, "layout": "NHWC",
                                           "scale": SCALE, "mean": [1.0], "std": [1.0],
                                           "exif_orientation": True}}},
            "outputs": {"scores": {"postprocess": "raw"}},
        }
        spec_file = tmp_path_factory.mktemp("spec") / "tiny.json"
        spec_file.write_text(json.dumps(spec))
        with gateway_factory("--workers", "2", "-s", str(spec_file)) as gateway:
            yield gateway


def reference(tf, serve, pixels_list):
    """The spec's preprocessing done independently with TensorFlow, then the model itself."""
    batch = []
    for pixels in pixels_list:
        resized = tf.image.resize(pixels[None].astype(np.float32), (SIZE, SIZE), method="bilinear",
                                  antialias=False)[0]
        batch.append(resized.numpy() * np.float32(SCALE) - np.float32(1.0))
    return serve(tf.constant(np.stack(batch)))["scores"].numpy()


def decoded(data: bytes) -> np.ndarray:
    import tensorflow as tf

    return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()


def test_gateway_equals_the_model_on_independently_preprocessed_jpegs(gw, tf, saved_model):
    _, module = saved_model
    # sizes below 2x the target, so both sides decode the JPEG at full scale
    images = [jpeg(photo(48, 40, seed)) for seed in range(3)] + [jpeg(photo(20, 26, 9))]
    r = gw.post("/v1/models/tiny:predict",
                json={"instances": [{"b64": base64.b64encode(d).decode()} for d in images]})
    assert r.status_code == 200, r.text
    got = np.asarray(r.json()["predictions"], np.float32)
    want = reference(tf, module.serve, [decoded(d) for d in images])
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 1e-3  # the comparison is not between two zero arrays


def test_raw_jpeg_body_and_exif_orientation(gw, tf, saved_model):
    _, module = saved_model
    pixels = photo(40, 30, 4)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    data = jpeg(pixels, exif=exif.tobytes())
    r = gw.post("/v1/models/tiny:predict", content=data, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200, r.text
    upright = np.rot90(decoded(data), k=-1)  # what the EXIF tag says the picture looks like
    want = reference(tf, module.serve, [np.ascontiguousarray(upright)])
    np.testing.assert_allclose(np.asarray(r.json()["predictions"], np.float32), want, rtol=1e-4, atol=1e-4)


def test_metadata_comes_from_the_saved_model(gw):
    meta = gw.get("/v1/models/tiny/metadata").json()
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["image"]["dtype"] == "DT_FLOAT"
    assert set(sig["outputs"]) == {"scores", "best"}


def test_no_embedded_backend_when_every_spec_has_a_target(gw):
    import subprocess

    out = subprocess.run(["ps", "-o", "args=", "--ppid", str(gw.process.pid)], capture_output=True, text=True)
    assert out.stdout.strip() and "sanic_app.localserve" not in out.stdout


def test_v2_answer_equals_v1_and_tensorflow(gw, tf, saved_model, tmp_path):
    """The Open Inference Protocol, binary tensor extension: JPEGs as BYTES -> the same scores
    as the v1 API and as TensorFlow, by hand-built body and by tritonclient unchanged."""
    import struct

    from v2_clients.venvs import run_client

    _, module = saved_model
    images = [jpeg(photo(48, 40, seed)) for seed in (11, 12)]
    v1 = gw.post("/v1/models/tiny:predict",
                 json={"instances": [{"b64": base64.b64encode(d).decode()} for d in images]})
    v1_scores = np.asarray(v1.json()["predictions"], np.float32)
    sections = b"".join(struct.pack("<I", len(d)) + d for d in images)
    header = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                                     "parameters": {"binary_data_size": len(sections)}}],
                         "outputs": [{"name": "scores", "parameters": {"binary_data": True}}]}).encode()
    r = gw.post("/v2/models/tiny/infer", content=header + sections,
                headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 200, r.text
    length = int(r.headers["inference-header-content-length"])
    (out,) = json.loads(r.content[:length])["outputs"]
    assert (out["datatype"], out["shape"]) == ("FP32", [2, 5])
    v2_scores = np.frombuffer(r.content[length:], "<f4").reshape(2, 5)
    np.testing.assert_array_equal(v2_scores, v1_scores)
    want = reference(tf, module.serve, [decoded(d) for d in images])
    np.testing.assert_allclose(v2_scores, want, rtol=1e-4, atol=1e-4)

    files = []
    for i, data in enumerate(images):
        files.append(str(tmp_path / f"{i}.jpg"))
        (tmp_path / f"{i}.jpg").write_bytes(data)
    answer = run_client("triton", gw.url, "infer", "tiny", json.dumps(
        {"inputs": [{"name": "image", "files": files}], "outputs": ["scores"]}))
    np.testing.assert_array_equal(np.asarray(answer["outputs"]["scores"]["data"], np.float32).reshape(2, 5), v1_scores)
    meta = gw.get("/v2/models/tiny").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "scores", "datatype": "FP32", "shape": [-1, 5]}]

"""No leak: RSS stays flat over a million encode/decode calls (in a subprocess, extension live).

Covers the success paths and the error paths (DecodeError / EncodeError raised from C),
TensorWriters and string tensors, where a missed reference or buffer release would show.
"""
import json
import subprocess
import sys

import pytest

CHILD = r"""
import json, sys
import numpy as np
import fastpack
from fastpack import DecodeError, EncodeError

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4

class Writer:
    dtype, shape = np.dtype("f4"), (2, 4)
    def write_into(self, buf):
        buf[:] = b"\x01" * 32

small = np.arange(8, dtype="f4").reshape(1, 8)
strings = np.array([b"ab", b"c"], dtype=object)
writer = Writer()
from sanic_app.protos import serving_pb2
resp = serving_pb2.PredictResponse()
resp.model_spec.name, resp.model_spec.signature_name = "m", "serving_default"
resp.model_spec.version.value = 3
for name, tensor_content in (("scores", False), ("logits", True)):
    t = resp.outputs[name]
    t.dtype = 1
    t.tensor_shape.dim.add().size = 1001
    if tensor_content:
        t.tensor_content = np.arange(1001, dtype="f4").tobytes()
    else:
        t.float_val.extend(range(1001))
resp.outputs["labels"].dtype = 7
resp.outputs["labels"].string_val.extend([b"cat", b"dog"])
resp.outputs["labels"].tensor_shape.dim.add().size = 2
response = resp.SerializeToString()
samples = []
for i in range(ROUNDS):
    fastpack.encode_predict_request("m", {"x": small, "w": writer, "s": strings}, version=3)
    fastpack.decode_predict_response(response)
    try:
        fastpack.decode_tensor(b"\x08\x01\x22\x05abc")
    except DecodeError:
        pass
    try:
        fastpack.encode_tensor(np.zeros(1, "M8[s]"))
    except EncodeError:
        pass
    if i % (ROUNDS // 10) == 0:
        samples.append(rss_kib())
samples.append(rss_kib())
print(json.dumps({"ext": fastpack.USING_EXTENSION, "rss": samples}))
"""

ROUNDS = 250_000  # four calls each: a million calls


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_rss_flat_over_a_million_calls():
    code = CHILD.replace("ROUNDS", str(ROUNDS))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    rss = result["rss"]
    # After the first tenth (caches, arenas warm up), growth would be ~tens of MB if any
    # call leaked even a small object; allow 2 MiB of noise.
    assert rss[-1] - rss[1] < 2048, rss

"""Wire codec micro-benchmark: fastpack vs memcpy, protobuf objects and the old TensorFlow path.

Run:  python -m bench.micro.bench_codec [--quick] [--json PATH]

Everything is timed in one process and run, so the ratios compare like with like on a noisy
2-core machine; each figure is the median over many batches of the per-call mean. Minor page
faults per f32[1,299,299,3] request are counted in fresh subprocesses, with and without
sanic_app.ops.allocator.tune_allocator(), both for the first requests and in a warm loop.
Prints a table, then one JSON object with every median and ratio.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from fastpack import _codec_c, _codec_py

MODEL, SIGNATURE = "inception", "serving_default"


def median_us(fn, budget_s=0.6, batches=15):
    """Median over batches of the mean per-call time, in microseconds."""
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget_s / batches / one))
    means = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        means.append((time.perf_counter_ns() - start) / number / 1000)
    return float(np.median(means))


def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_per_call(fn, warm=50, calls=200):
    for _ in range(warm):
        fn()
    before = minflt()
    for _ in range(calls):
        fn()
    return (minflt() - before) / calls


# ------------------------------------------------------------------- page faults (children)

FAULT_CHILD = r"""
import json, resource, sys
import numpy as np
from sanic_app.ops.allocator import tune_allocator
tuning = tune_allocator() if sys.argv[1] == "tune" else None
from fastpack import _codec_c

class Pixels:  # a TensorWriter like the image kernel's: pixels go straight into the request
    dtype, shape = np.dtype("f4"), (1, 299, 299, 3)
    def __init__(self, image):
        self.image = image
    def write_into(self, buf):
        np.multiply(self.image, np.float32(1 / 255), out=np.frombuffer(buf, "f4").reshape(self.shape))

image = np.random.default_rng(0).integers(0, 256, (1, 299, 299, 3), dtype=np.uint8)
reply = _codec_c.encode_tensor(np.zeros((1, 1001), "f4"))
def flt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for i in range(300):
    before = flt()
    request = _codec_c.encode_predict_request("inception", {"images": Pixels(image)})
    scores = _codec_c.decode_tensor(reply)
    del request, scores
    counts.append(flt() - before)
warm = counts[100:]
print(json.dumps({"first": counts[0], "first10_mean": sum(counts[:10]) / 10,
                  "warm_mean": sum(warm) / len(warm), "warm_max": max(warm)}))
"""


def fault_profile(mode):
    out = subprocess.run([sys.executable, "-c", FAULT_CHILD, mode], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))) or ".")
    return json.loads(out.stdout)


# ------------------------------------------------------------------- requests


def request_cases(tf, predict_pb2, quick):
    rng = np.random.default_rng(1)
    arrays = {
        "f32[1,299,299,3]": rng.random((1, 299, 299, 3), dtype=np.float32),
        "f32[1,8]": rng.random((1, 8), dtype=np.float32),
        "int64[32,128]": rng.integers(0, 1 << 40, (32, 128)),
    }
    results = {}
    for label, x in arrays.items():
        dst = np.empty_like(x)
        name = "images"

        def objects():
            req = predict_pb2.PredictRequest()
            req.model_spec.name = MODEL
            req.model_spec.signature_name = SIGNATURE
            t = req.inputs[name]
            t.dtype = 1 if x.dtype == np.float32 else 9
            for d in x.shape:
                t.tensor_shape.dim.add().size = d
            t.tensor_content = x.tobytes()
            return req.SerializeToString()

        def old_path():
            req = predict_pb2.PredictRequest()
            req.model_spec.name = MODEL
            req.model_spec.signature_name = SIGNATURE
            req.inputs[name].CopyFrom(tf.make_tensor_proto(x))
            return req.SerializeToString()

        ext = _codec_c.encode_predict_request(MODEL, {name: x}, signature_name=SIGNATURE)
        assert ext == _codec_py.encode_predict_request(MODEL, {name: x}, signature_name=SIGNATURE)
        assert predict_pb2.PredictRequest.FromString(ext) == predict_pb2.PredictRequest.FromString(old_path())
        budget = 0.3 if quick else 1.0
        row = {
            "memcpy": median_us(lambda: np.copyto(dst, x), budget),
            "fastpack_ext": median_us(
                lambda: _codec_c.encode_predict_request(MODEL, {name: x}, signature_name=SIGNATURE), budget),
            "fastpack_py": median_us(
                lambda: _codec_py.encode_predict_request(MODEL, {name: x}, signature_name=SIGNATURE), budget),
            "protobuf_objects": median_us(objects, budget),
            "old_make_tensor_proto": median_us(old_path, budget),
        }
        row["faults_per_call"] = {
            "fastpack_ext": faults_per_call(
                lambda: _codec_c.encode_predict_request(MODEL, {name: x}, signature_name=SIGNATURE)),
            "old_make_tensor_proto": faults_per_call(old_path, warm=10, calls=50),
        }
        results[label] = row
    return results


# ------------------------------------------------------------------- responses


def response_cases(tf, predict_pb2, quick):
    scores = np.random.default_rng(2).random((1, 1001), dtype=np.float32)
    resp = predict_pb2.PredictResponse()
    resp.model_spec.name = MODEL
    resp.model_spec.version.value = 1
    resp.model_spec.signature_name = SIGNATURE
    out = resp.outputs["scores"]
    out.dtype = 1
    out.tensor_shape.dim.add().size = 1
    out.tensor_shape.dim.add().size = 1001
    out.float_val.extend(scores.reshape(-1).tolist())
    float_val = resp.SerializeToString()
    out.ClearField("float_val")
    out.tensor_content = scores.tobytes()
    content = resp.SerializeToString()
    parse = predict_pb2.PredictResponse.FromString

    def protobuf_bare(data, form):
        t = parse(data).outputs["scores"]
        if form == "tensor_content":
            return np.frombuffer(t.tensor_content, np.float32)
        return np.array(t.float_val, np.float32)

    def protobuf_same_result(data, form):
        """What the gateway needs: every output shaped, plus the model spec."""
        r = parse(data)
        outputs = {}
        for key, t in r.outputs.items():
            shape = [d.size for d in t.tensor_shape.dim]
            flat = (np.frombuffer(t.tensor_content, np.float32) if t.tensor_content
                    else np.array(t.float_val, np.float32))
            outputs[key] = flat.reshape(shape)
        spec = r.model_spec
        return outputs, (spec.name, spec.version.value, spec.signature_name)

    def make_ndarray(data):
        r = parse(data)
        return {k: tf.make_ndarray(t) for k, t in r.outputs.items()}

    results = {}
    budget = 0.3 if quick else 1.0
    for form, data in (("float_val", float_val), ("tensor_content", content)):
        for mod in (_codec_c, _codec_py):
            got, spec = mod.decode_predict_response(data)
            np.testing.assert_array_equal(got["scores"], scores)
            assert spec == (MODEL, 1, None, SIGNATURE)
        results[f"f32[1,1001] {form}"] = {
            "fastpack_ext": median_us(lambda: _codec_c.decode_predict_response(data), budget),
            "fastpack_py": median_us(lambda: _codec_py.decode_predict_response(data), budget),
            "protobuf_bare": median_us(lambda: protobuf_bare(data, form), budget),
            "protobuf_same_result": median_us(lambda: protobuf_same_result(data, form), budget),
            "make_ndarray": median_us(lambda: make_ndarray(data), budget),
        }
    return results


# ------------------------------------------------------------------- report


def ratios(requests, responses, faults):
    big, small = requests["f32[1,299,299,3]"], requests["f32[1,8]"]
    out = {
        "big_request_vs_memcpy": big["fastpack_ext"] / big["memcpy"],
        "big_request_speedup_vs_old": big["old_make_tensor_proto"] / big["fastpack_ext"],
        "small_request_us": small["fastpack_ext"],
        "small_request_speedup_vs_objects": small["protobuf_objects"] / small["fastpack_ext"],
        "int64_request_speedup_vs_objects": (requests["int64[32,128]"]["protobuf_objects"]
                                             / requests["int64[32,128]"]["fastpack_ext"]),
    }
    for label, row in responses.items():
        out[f"{label} decode speedup vs protobuf_bare"] = row["protobuf_bare"] / row["fastpack_ext"]
        out[f"{label} decode speedup vs protobuf_same_result"] = (row["protobuf_same_result"]
                                                                 / row["fastpack_ext"])
    out["warm_faults_per_big_request_tuned"] = faults["tuned"]["warm_mean"]
    out["warm_faults_per_big_request_default"] = faults["default"]["warm_mean"]
    return out


TARGETS = [
    ("big_request_vs_memcpy", "<=", 1.3),
    ("big_request_speedup_vs_old", ">=", 50),
    ("small_request_us", "<", 1.5),
    ("small_request_speedup_vs_objects", ">=", 3),
    ("f32[1,1001] float_val decode speedup vs protobuf_bare", ">=", 3),
    ("f32[1,1001] tensor_content decode speedup vs protobuf_bare", ">=", 3),
    ("warm_faults_per_big_request_tuned", "<", 10),
]


def print_table(requests, responses, faults, ratio):
    cols = ["memcpy", "fastpack_ext", "fastpack_py", "protobuf_objects", "old_make_tensor_proto"]
    print(f"\nrequest encode, median us/call\n{'case':<20}" + "".join(f"{c:>22}" for c in cols))
    for label, row in requests.items():
        print(f"{label:<20}" + "".join(f"{row[c]:>22.2f}" for c in cols))
    print("minor faults/call (warm, this process):",
          {k: v["faults_per_call"] for k, v in requests.items()})
    cols = ["fastpack_ext", "fastpack_py", "protobuf_bare", "protobuf_same_result", "make_ndarray"]
    print(f"\nresponse decode, median us/call\n{'case':<28}" + "".join(f"{c:>22}" for c in cols))
    for label, row in responses.items():
        print(f"{label:<28}" + "".join(f"{row[c]:>22.2f}" for c in cols))
    print("\nminor faults per f32[1,299,299,3] request (TensorWriter encode + response decode), fresh process")
    print(f"{'malloc':<10}{'first':>8}{'first10 mean':>14}{'warm mean':>11}{'warm max':>10}")
    for mode, f in faults.items():
        print(f"{mode:<10}{f['first']:>8}{f['first10_mean']:>14.1f}{f['warm_mean']:>11.2f}{f['warm_max']:>10}")
    print("\ntargets")
    for name, op, goal in TARGETS:
        value = ratio[name]
        ok = value <= goal if op == "<=" else value >= goal if op == ">=" else value < goal
        print(f"  {'PASS' if ok else 'MISS'}  {name} = {value:.2f} (target {op} {goal})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing budget")
    parser.add_argument("--json", help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    faults = {"default": fault_profile("none"), "tuned": fault_profile("tune")}
    import tensorflow as tf  # the reference old path; bench-only
    from tensorflow_serving.apis import predict_pb2

    requests = request_cases(tf, predict_pb2, args.quick)
    responses = response_cases(tf, predict_pb2, args.quick)
    ratio = ratios(requests, responses, faults)
    print_table(requests, responses, faults, ratio)
    result = {"requests_us": requests, "responses_us": responses, "faults": faults, "ratios": ratio}
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

"""The predict answer's JSON, before and after TF Serving's byte-identical layout.

Run:  python -m bench.micro.bench_answer_json [--rounds 7]

Why: the answer is written on every prediction. Before, orjson wrote numpy arrays natively
(shortest float32 text, compact); now fastpack's formatter writes TF Serving's own float text
(six digits if they read back, else nine) in RapidJSON's PrettyWriter layout. This times both,
and the formatter's pure-Python twin, on the same outputs, interleaved round by round (the
machine is noisy), and prints the median microseconds per answer and the ratios to orjson.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import orjson

from fastpack import _jsonfmt_c, _jsonfmt_py
from sanic_app.http import tfserving_writer

CASES = {
    "f32[1,8] (small tensor)": {"y": np.random.default_rng(0).random((1, 8), np.float32)},
    "f32[1,1001] (one image's scores)": {"scores": np.random.default_rng(1).random((1, 1001), np.float32)},
    "f32[32,1001] (a batch of scores)": {"scores": np.random.default_rng(2).random((32, 1001), np.float32)},
    "2 outputs f32[8,10] + i64[8]": {"p": np.random.default_rng(3).random((8, 10), np.float32),
                                     "c": np.arange(8, dtype=np.int64)},
}


def old(outputs):
    if len(outputs) == 1:
        return orjson.dumps({"predictions": next(iter(outputs.values()))}, option=orjson.OPT_SERIALIZE_NUMPY)
    n = len(next(iter(outputs.values())))
    return orjson.dumps({"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(n)]},
                        option=orjson.OPT_SERIALIZE_NUMPY)


def new_with(module):
    def write(outputs):
        saved = tfserving_writer._jsonfmt.tensor_json
        tfserving_writer._jsonfmt.tensor_json = module.tensor_json
        try:
            return tfserving_writer.predictions_body(outputs)
        finally:
            tfserving_writer._jsonfmt.tensor_json = saved
    return write


def per_call_us(fn, outputs, budget_s=0.15) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget_s:
        fn(outputs)
        n += 1
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    writers = {"orjson (before)": old, "TF layout, compiled": new_with(_jsonfmt_c),
               "TF layout, py twin": new_with(_jsonfmt_py)}
    print("| answer | " + " | ".join(f"{w} µs" for w in writers) + " | compiled / before | twin / before |")
    print("|---" * (len(writers) + 3) + "|")
    for case, outputs in CASES.items():
        times = {w: [] for w in writers}
        for _ in range(args.rounds):
            for name, fn in writers.items():
                times[name].append(per_call_us(fn, outputs))
        med = {w: statistics.median(t) for w, t in times.items()}
        base = med["orjson (before)"]
        print(f"| {case} | " + " | ".join(f"{med[w]:.1f}" for w in writers)
              + f" | {med['TF layout, compiled'] / base:.2f} | {med['TF layout, py twin'] / base:.2f} |")


if __name__ == "__main__":
    main()

"""The gateway's image path, in process: base64 JSON body -> PredictRequest bytes, piece by piece.

Run:  python -m bench.micro.bench_image_request [--images 1] [--rounds 15] [--json PATH]

Times, on the bench's 500x375 JPEG(s) and specs/inceptionv3.json (299x299x3 float32): JSON
parse, base64, decode (sanic_app.core.imaging), kernel + request encoding (fastpack), and the whole
path; next to them the same path with the decoded pixels first copied into a numpy array
(``np.array(img)``, what the gateway did before the kernel read the decoder's memory) and Pillow's
JPEG decode alone (the load test's baseline). CPU time of this thread, so other processes on a
shared machine disturb it less than wall time; the variants run round-robin in small batches and
each figure is the median over batches of the per-call mean, in microseconds.
"""
import argparse
import io
import json
import sys
import time

import numpy as np
import orjson
import pybase64
from PIL import Image

import fastpack
from bench.scenarios import photo_jpeg
from sanic_app.core import imaging
from sanic_app.core.spec import load_spec

SPEC = "specs/inceptionv3.json"
MAX_PIXELS = 40_000_000


def thread_us(fns, budget_s, rounds):
    """Median per-call thread CPU time (us) of each function, timed round-robin."""
    numbers = []
    for fn in fns:
        fn()
        start = time.thread_time_ns()
        fn()
        one = max(time.thread_time_ns() - start, 1000)
        numbers.append(max(1, int(budget_s * 1e9 / rounds / one)))
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for fn, number, out in zip(fns, numbers, samples):
            start = time.thread_time_ns()
            for _ in range(number):
                fn()
            out.append((time.thread_time_ns() - start) / number / 1000)
    return [float(np.median(s)) for s in samples]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1, help="JPEGs per request (8 = jpeg_batch8)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--budget", type=float, default=6.0, help="seconds per variant")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    config = load_spec(SPEC)
    (name, spec), = config.inputs.items()
    jpegs = [photo_jpeg(500, 375, seed=s if args.images > 1 else 7) for s in range(args.images)]
    body = orjson.dumps({"instances": [{name: {"b64": pybase64.b64encode(j).decode()}} for j in jpegs]})

    def parse():
        return [row[name]["b64"] for row in orjson.loads(body)["instances"]]

    def unbase64():
        return [pybase64.b64decode(t, validate=True) for t in parse()]

    def decode():
        return [imaging.decode_image(d, spec.image, max_pixels=MAX_PIXELS) for d in unbase64()]

    def encode(images):
        writer = imaging.image_batch(images, spec.image, spec.dtype.name)
        return fastpack.encode_predict_request(config.name, {name: writer},
                                               signature_name=config.signature_name)

    def whole():
        return encode(decode())

    def whole_copying():  # the previous design: pixels copied out of Pillow first
        return encode([np.array(img) for img in decode()])

    def pillow_decode_alone():
        for j in jpegs:
            Image.open(io.BytesIO(j)).load()

    decoded = decode()
    copied = [np.array(img) for img in decoded]
    assert encode(decoded) == encode(copied), "borrowed and copied pixels must give the same bytes"

    cases = {
        "json parse": parse,
        "json + base64": unbase64,
        "json + base64 + decode": decode,
        "kernel + encode (decoded pixels)": lambda: encode(decoded),
        "kernel + encode (copied arrays)": lambda: encode(copied),
        "np.array copy alone": lambda: [np.array(img) for img in decoded],
        "whole path": whole,
        "whole path, copying pixels": whole_copying,
        "Pillow JPEG decode alone": pillow_decode_alone,
    }
    figures = dict(zip(cases, thread_us(list(cases.values()), args.budget * len(cases) / 9, args.rounds)))
    print(f"{args.images} x 500x375 JPEG -> {spec.image.height}x{spec.image.width}x3 float32, "
          f"fastpack extensions: {fastpack.USING_EXTENSION}; thread CPU us per request (median)")
    for case, us in figures.items():
        print(f"  {case:34s} {us:9.1f}")
    saved = figures["whole path, copying pixels"] - figures["whole path"]
    ratio = figures["whole path"] / figures["Pillow JPEG decode alone"]
    print(f"  copy avoided: {saved:.1f} us ({saved / figures['whole path, copying pixels']:.1%}); "
          f"whole path / decode alone = {ratio:.2f}")
    result = {"images": args.images, "us": figures, "saved_us": saved, "ratio_to_decode": ratio}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

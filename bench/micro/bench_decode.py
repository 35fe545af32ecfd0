"""JPEG decoding: CPU per image per decoder and mode, the gateway's image path per mode, fidelity.

Run:  python -m bench.micro.bench_decode [--rounds 9] [--budget 3] [--fidelity] [--no-decoders] [--json PATH]

1. Decoders alone, on photo-like JPEGs of 500x375 and 1920x1080 (4:2:0, 4:2:2, 4:4:4,
   progressive, grayscale): Pillow (accurate IDCT, what the gateway used), simplejpeg fast and
   accurate IDCT, PyTurboJPEG (if installed with a system libturbojpeg), and 1/N scaled decodes
   for a 299x299 target (Pillow's draft, simplejpeg). Each candidate's pixels are checked against
   TensorFlow's decode_jpeg with --fidelity ("exact" or the max difference).
2. The gateway's image path per spec mode (sanic_app.core.imaging decode + fastpack kernel + request
   encoding, specs/inceptionv3.json: 299x299x3 float32) next to the same run's decode-alone
   floor (simplejpeg fast decode of the same bytes).
3. With --fidelity: the final tensor of each mode against TF's own pipeline
   (decode_image -> tf.image.resize -> normalise): max and mean |difference| on the [-1, 1] scale.
CPU time of this thread; variants run round-robin in small batches; medians in microseconds.
"""
import argparse
import dataclasses
import io
import json
import os
import sys

import numpy as np
import simplejpeg
from PIL import Image

import fastpack
from bench.micro.bench_image_request import thread_us
from bench.scenarios import photo_jpeg
from sanic_app.core import imaging
from sanic_app.core.decoding import jpeg as tfjpeg
from sanic_app.core.spec import load_spec

SPEC = "specs/inceptionv3.json"
MAX_PIXELS = 40_000_000
SIZES = {"500x375": (500, 375), "1920x1080": (1920, 1080)}
MODES = {  # name -> the spec's image fields
    "tensorflow": {},
    "accurate": {"decode": "accurate"},
    "tensorflow+reduced_dct": {"reduced_dct": True},
    "accurate+reduced_dct (the old pixels)": {"decode": "accurate", "reduced_dct": True, "exif_orientation": True},
}


def sources() -> dict[str, bytes]:
    """name -> JPEG bytes, re-encoded from one photo per size in each layout."""
    out = {}
    for size, (w, h) in SIZES.items():
        img = Image.open(io.BytesIO(photo_jpeg(w, h, quality=95)))
        img.load()
        for layout, kw in (("420", {"subsampling": 2}), ("422", {"subsampling": 1}), ("444", {"subsampling": 0}),
                           ("progressive", {"progressive": True}), ("gray", {})):
            buf = io.BytesIO()
            (img.convert("L") if layout == "gray" else img).save(buf, "JPEG", quality=90, **kw)
            out[f"{size} {layout}"] = buf.getvalue()
    return out


def decoders(target=(299, 299)):
    """name -> (decode(bytes) -> pixels, the TF call it should equal as kwargs of decode_jpeg)."""
    def ratio(data):
        h, w, _ = tfjpeg.header(data)
        return tfjpeg.reduction(h, w, *target)

    def sj(fast, reduced=False):
        def run(data):
            h, w, cs = simplejpeg.decode_jpeg_header(data)[:3]
            space = "GRAY" if cs == "Gray" else "RGB"
            n = ratio(data) if reduced else 1
            size = {"min_height": -(-h // n), "min_width": -(-w // n), "min_factor": n} if n > 1 else {}
            return simplejpeg.decode_jpeg(data, space, fastdct=fast, fastupsample=False, **size)
        return run

    def pillow(reduced=False):
        def run(data):
            img = Image.open(io.BytesIO(data))
            if reduced:
                img.draft(img.mode, (target[1], target[0]))
            img.load()
            return img  # loaded, not copied out: the kernel reads a Pillow image in place
        return run

    found = {
        "Pillow (accurate)": (pillow(), {"dct_method": "INTEGER_ACCURATE"}),
        "simplejpeg fast": (sj(True), {}),
        "simplejpeg accurate": (sj(False), {"dct_method": "INTEGER_ACCURATE"}),
        "Pillow draft 1/N": (pillow(True), {"ratio": ratio, "dct_method": "INTEGER_ACCURATE"}),
        "simplejpeg 1/N": (sj(True, True), {"ratio": ratio}),
    }
    try:
        import turbojpeg

        tj = turbojpeg.TurboJPEG()

        def pytj(flags):
            def run(data):
                gray = simplejpeg.decode_jpeg_header(data)[2] == "Gray"
                return tj.decode(data, turbojpeg.TJPF_GRAY if gray else turbojpeg.TJPF_RGB, flags=flags)
            return run

        found["PyTurboJPEG fast"] = (pytj(turbojpeg.TJFLAG_FASTDCT), {})
        found["PyTurboJPEG accurate"] = (pytj(turbojpeg.TJFLAG_ACCURATEDCT), {"dct_method": "INTEGER_ACCURATE"})
    except Exception as exc:  # no PyTurboJPEG or no system libturbojpeg: skip the candidate
        print(f"(PyTurboJPEG skipped: {type(exc).__name__}: {str(exc).splitlines()[0]})")
    return found


def tf_module():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def exactness(tf, found, jpegs) -> dict[str, dict[str, str]]:
    out = {}
    for name, (run, tf_kwargs) in found.items():
        out[name] = {}
        for source, data in jpegs.items():
            kwargs = {k: (v(data) if callable(v) else v) for k, v in tf_kwargs.items()}
            channels = 1 if source.endswith("gray") else 3
            want = tf.io.decode_jpeg(data, channels=channels, **kwargs).numpy()
            got = np.asarray(run(data)).reshape(want.shape)
            diff = int(np.abs(got.astype(int) - want).max())
            out[name][source] = "exact" if diff == 0 else f"max {diff}"
    return out


def tensor_fidelity(tf, config, jpegs) -> dict[str, dict[str, tuple[float, float]]]:
    """(max, mean) |gateway tensor - TF pipeline tensor| per mode and colour source."""
    (_, spec), = config.inputs.items()
    out = {}
    for mode, fields in MODES.items():
        image = dataclasses.replace(spec.image, **fields)
        out[mode] = {}
        for source, data in jpegs.items():
            if source.endswith("gray"):
                continue
            writer = fastpack.ImageBatch([imaging.decode_image(data, image, max_pixels=MAX_PIXELS)],
                                         image.preprocess_params("float32"))
            got = np.empty(writer.shape, np.float32)
            writer.write_into(got.reshape(-1).view(np.uint8))
            pixels = tf.cast(tf.io.decode_image(data, channels=3, expand_animations=False), tf.float32)
            resized = tf.image.resize(pixels[None], (image.height, image.width), method=image.resize)
            want = (resized * np.float32(image.scale) + np.float32(-image.mean[0])).numpy()
            diff = np.abs(got - want)
            out[mode][source] = (float(diff.max()), float(diff.mean()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per group of variants")
    ap.add_argument("--fidelity", action="store_true", help="compare with TensorFlow (imports it)")
    ap.add_argument("--no-decoders", action="store_true", help="skip part 1 (decoders alone)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    jpegs = sources()
    found = decoders()
    result = {"decode_us": {}, "gateway_us": {}}
    print("1. decode CPU per image, thread us (median); columns = decoders")
    names = list(found)
    print(f"  {'source':22s}" + "".join(f"{n:>22s}" for n in names))
    for source, data in ({} if args.no_decoders else jpegs).items():
        fns = [(lambda run=run, data=data: run(data)) for run, _ in found.values()]
        us = thread_us(fns, args.budget, args.rounds)
        result["decode_us"][source] = dict(zip(names, us))
        print(f"  {source:22s}" + "".join(f"{u:22.0f}" for u in us))

    config = load_spec(SPEC)
    (name, spec), = config.inputs.items()
    print("\n2. gateway image path per JPEG (decode + kernel + request encoding), thread us (median)")
    for size in SIZES:
        data = jpegs[f"{size} 420"]

        def path(image, data=data):
            def run():
                pixels = imaging.decode_image(data, image, max_pixels=MAX_PIXELS)
                writer = fastpack.ImageBatch([pixels], image.preprocess_params(spec.dtype.name))
                return fastpack.encode_predict_request(config.name, {name: writer},
                                                       signature_name=config.signature_name)
            return run

        def old_design(data=data):  # the gateway before: Pillow, draft() for large JPEGs, the same kernel
            img = Image.open(io.BytesIO(data))
            if img.width >= 2 * spec.image.width and img.height >= 2 * spec.image.height:
                img.draft("RGB", (spec.image.width, spec.image.height))
            img.load()
            writer = fastpack.ImageBatch([img], spec.image.preprocess_params(spec.dtype.name))
            return fastpack.encode_predict_request(config.name, {name: writer},
                                                   signature_name=config.signature_name)

        cases = {mode: path(dataclasses.replace(spec.image, **fields)) for mode, fields in MODES.items()}
        cases["old design (Pillow + draft)"] = old_design
        cases["floor: simplejpeg fast decode alone"] = lambda data=data: simplejpeg.decode_jpeg(data, "RGB", fastdct=True)
        cases["Pillow decode alone"] = lambda data=data: Image.open(io.BytesIO(data)).load()
        us = dict(zip(cases, thread_us(list(cases.values()), args.budget, args.rounds)))
        floor = us["floor: simplejpeg fast decode alone"]
        result["gateway_us"][size] = us
        print(f"  {size} 4:2:0 -> 299x299x3 float32")
        for case, u in us.items():
            print(f"    {case:40s} {u:9.0f}   x{u / floor:.2f} of the decode-alone floor")

    if args.fidelity:
        tf = tf_module()
        result["exact"] = exactness(tf, found, jpegs)
        print("\n3a. decoder pixels against TF's decode_jpeg (same IDCT / ratio)")
        for decoder, row in result["exact"].items():
            print(f"  {decoder:22s} " + ", ".join(f"{s}: {v}" for s, v in row.items()))
        result["tensor_diff"] = tensor_fidelity(tf, config, jpegs)
        print("\n3b. final tensor vs TF's decode_image -> resize -> normalise (inceptionv3, [-1, 1]): max / mean")
        for mode, row in result["tensor_diff"].items():
            print(f"  {mode:40s} " + ", ".join(f"{s}: {m:.4f}/{a:.5f}" for s, (m, a) in row.items()))
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

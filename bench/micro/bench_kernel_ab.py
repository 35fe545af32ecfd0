"""The compiled image kernel against a baseline build of it, in one process, interleaved.

Run (from the repository root, after ``python setup.py build_ext --inplace -q``):

    python -m bench.micro.bench_kernel_ab BASELINE_SO [--images PATH] [--rounds 15]

BASELINE_SO is another build of ``fastpack/_kernel_c`` (for instance a checkout of main's
``fastpack/_kernel_c.cpython-311-x86_64-linux-gnu.so``); ``--images`` is the
``_kernel_images.py`` it was built with (default: the one beside BASELINE_SO), so the baseline
runs with its own Python glue too. Both files are copied to a temporary folder and imported
there under other names, so nothing is written beside them.

Cases: 500x375 and 1920x1080 RGB sources, as the C-contiguous uint8 array simplejpeg returns
and as a Pillow "RGB" image (read in place, 4 bytes per pixel), to a 299x299x3 float32 tensor
(bilinear as tf.image.resize, ImageNet mean/std), written into a preallocated buffer. Two
timings per case: ``write_into`` of a writer built once (the kernel), and building the writer
plus ``write_into`` (what a request pays). Every round times each (case, build) for a fixed
number of calls, baseline and tree alternating; figures are thread CPU µs per call
(``time.thread_time``), medians over rounds, and tree ÷ baseline. Both builds' bytes are checked
to be identical first.
"""
import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.micro.bench_kernel import MEAN, SCALE, STD, TARGET, synthetic_rgb
from fastpack import PreprocessParams
from fastpack import _kernel_c as tree

SOURCES = {"500x375": (375, 500), "1920x1080": (1080, 1920)}


def load_baseline(so_path: Path, images_path: Path):
    """Import the baseline extension (and its own ``_kernel_images``) under other names."""
    folder = Path(tempfile.mkdtemp(prefix="kernel_ab_"))
    so_copy = folder / so_path.name
    shutil.copy(so_path, so_copy)
    shutil.copy(images_path, folder / "baseline_kernel_images.py")
    saved = sys.modules.get("fastpack._kernel_images")
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec = importlib.util.spec_from_file_location("baseline_kernel_images",
                                                      folder / "baseline_kernel_images.py")
        images = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(images)
        # the extension binds ImageBatchBase & co. from fastpack._kernel_images at import time
        sys.modules["fastpack._kernel_images"] = images
        # the init symbol comes from the last name component: PyInit__kernel_c
        spec = importlib.util.spec_from_file_location("kernel_baseline._kernel_c", so_copy)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.modules["fastpack._kernel_images"] = saved
        sys.dont_write_bytecode = dont_write
        shutil.rmtree(folder, ignore_errors=True)  # the loaded library stays mapped
    return module


def cases(params):
    """(name, source) pairs: a simplejpeg-like array and a Pillow image per source size."""
    out = []
    for name, (height, width) in SOURCES.items():
        image = synthetic_rgb(height, width)
        out.append((f"{name} numpy", np.ascontiguousarray(np.asarray(image))))
        out.append((f"{name} Pillow", image))
    return out


def calls_for(fn, budget_s):
    fn()
    start = time.thread_time()
    fn()
    return max(1, int(budget_s / max(time.thread_time() - start, 1e-6)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the baseline build's _kernel_c .so")
    parser.add_argument("--images", type=Path, help="the baseline's _kernel_images.py")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per timing")
    args = parser.parse_args(argv)
    base = load_baseline(args.baseline, args.images or args.baseline.parent / "_kernel_images.py")
    params = PreprocessParams(*TARGET, scale=SCALE, mean=MEAN, std=STD)
    impls = {"baseline": base, "tree": tree}

    timings = []  # (label, {impl: fn})
    for name, source in cases(params):
        outputs = {}
        kernel_fns, request_fns = {}, {}
        for impl_name, impl in impls.items():
            batch = impl.ImageBatch([source], params)
            buf = np.empty(batch.shape, batch.dtype)
            batch.write_into(buf)
            outputs[impl_name] = buf.tobytes()
            kernel_fns[impl_name] = lambda batch=batch, buf=buf: batch.write_into(buf)
            request_fns[impl_name] = (lambda impl=impl, buf=buf, source=source:
                                      impl.ImageBatch([source], params).write_into(buf))
        if outputs["baseline"] != outputs["tree"]:
            raise SystemExit(f"{name}: the two builds write different bytes")
        timings.append((f"{name}: write_into", kernel_fns))
        timings.append((f"{name}: ImageBatch + write_into", request_fns))

    numbers = {(label, impl): calls_for(fn, args.budget)
               for label, fns in timings for impl, fn in fns.items()}
    samples = {key: [] for key in numbers}
    for round_ in range(args.rounds):
        for label, fns in timings:
            order = list(fns.items()) if round_ % 2 == 0 else list(fns.items())[::-1]
            for impl, fn in order:
                number = numbers[(label, impl)]
                start = time.thread_time()
                for _ in range(number):
                    fn()
                samples[(label, impl)].append((time.thread_time() - start) / number * 1e6)

    print(f"thread CPU µs per call, medians of {args.rounds} interleaved rounds; "
          f"baseline {args.baseline}")
    print(f"{'case':<42} {'baseline':>9} {'tree':>9} {'tree/base':>10}")
    for label, _ in timings:
        b = float(np.median(samples[(label, "baseline")]))
        t = float(np.median(samples[(label, "tree")]))
        print(f"{label:<42} {b:>9.1f} {t:>9.1f} {t / b:>9.2f}x")


if __name__ == "__main__":
    main()

"""bench_kernel_ab's baseline loader: another build of the kernel imported beside the tree's."""
from pathlib import Path

import numpy as np

from fastpack import PreprocessParams
from tests.fastpack.conftest import load_impl


def test_a_baseline_build_loads_under_another_name_and_writes_the_same_bytes():
    tree = load_impl("fastpack._kernel_c")
    from bench.micro.bench_kernel_ab import load_baseline

    so = Path(tree.__file__)
    base = load_baseline(so, so.parent / "_kernel_images.py")
    assert base is not tree and base.__name__ == "kernel_baseline._kernel_c"
    assert base.ImageBatch is not tree.ImageBatch
    import fastpack._kernel_images as images
    assert base.ImageBatchBase is not images.ImageBatchBase  # its own Python glue
    image = np.random.default_rng(1).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    params = PreprocessParams(29, 29, scale=1 / 255)
    np.testing.assert_array_equal(base.preprocess([image], params), tree.preprocess([image], params))

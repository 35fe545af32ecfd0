"""The image kernel, run on both implementations: normalisation, layout, dtypes, colour,
batches, the "pillow" method, and refusal of bad input. TensorFlow parity: test_kernel_tf.py.
"""
import itertools
import platform
import threading

import numpy as np
import pytest
from PIL import Image

from fastpack import PreprocessError, PreprocessParams
from fastpack._kernel_images import MAX_SOURCE_SIDE
from tests.fastpack.conftest import load_impl

def _image(rng, h, w, c=3):
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


def _luma(rgb):
    """Pillow's own "L" conversion, as the reference for grayscale."""
    return np.asarray(Image.fromarray(rgb).convert("L"))[..., None]


# ---- normalisation, layout, dtype -----------------------------------------------------------


def test_same_size_is_the_pixels_normalised_like_numpy(kernel):
    rng = np.random.default_rng(0)
    img = _image(rng, 7, 5)
    params = PreprocessParams(7, 5, scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    got = kernel.preprocess([img], params)
    want = (img.astype(np.float64) / 255 - np.array(params.mean)) / np.array(params.std)
    assert got.shape == (1, 7, 5, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], want, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("method", ["bilinear", "nearest", "area", "pillow"])
def test_nchw_is_the_nhwc_transpose(kernel, method):
    rng = np.random.default_rng(1)
    img = _image(rng, 23, 31)
    common = dict(method=method, scale=0.5, mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 0.5))
    nhwc = kernel.preprocess([img], PreprocessParams(11, 17, **common))
    nchw = kernel.preprocess([img], PreprocessParams(11, 17, layout="NCHW", **common))
    assert nchw.shape == (1, 3, 11, 17)
    np.testing.assert_array_equal(nchw, nhwc.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_float16_is_float32_rounded(kernel, layout):
    rng = np.random.default_rng(2)
    img = _image(rng, 40, 30)
    common = dict(scale=1 / 127.5, mean=1.0, layout=layout)
    f32 = kernel.preprocess([img], PreprocessParams(21, 13, **common))
    f16 = kernel.preprocess([img], PreprocessParams(21, 13, dtype="float16", **common))
    assert f16.dtype == np.dtype("<f2")
    np.testing.assert_array_equal(f16, f32.astype(np.float16))


def test_float16_overflow_and_tiny_values(kernel):
    img = np.array([[[0, 1, 255]]], dtype=np.uint8)
    huge = kernel.preprocess([img], PreprocessParams(1, 1, dtype="float16", scale=1000.0))
    assert huge[0, 0, 0].tolist() == [0.0, 1000.0, np.inf]
    tiny = kernel.preprocess([img], PreprocessParams(1, 1, dtype="float16", scale=1e-7))
    np.testing.assert_array_equal(tiny, np.array([0.0, 1e-7, 255e-7], np.float32).astype(np.float16)[None, None, None])



@pytest.mark.parametrize("scale, mean", [
    (2.0 ** -30, 0.0),  # all subnormal halves (and zero), ties among them
    (2.0 ** -17, 0.0),  # subnormal up into the smallest normals
    (1 / 255, 0.5),  # negatives and positives in [-0.5, 0.5]
    (3.0, 0.0),  # exact small integers
    (2.0 ** 5 + 1 / 3, 100.0),  # normals needing rounding (ties to even at the 10-bit mantissa)
    (300.0, 0.0),  # normals up to 65504, then overflow to inf
])
def test_float16_rounds_every_pixel_value_like_numpy(kernel, scale, mean):
    """All 256 pixel values through one affine map, stored as float16, equal numpy's
    float32 -> float16 rounding (nearest, ties to even; subnormals; overflow to inf)."""
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    common = dict(color="grayscale", scale=scale, mean=mean)
    f32 = kernel.preprocess([img], PreprocessParams(16, 16, **common))
    f16 = kernel.preprocess([img], PreprocessParams(16, 16, dtype="float16", **common))
    with np.errstate(over="ignore"):
        want = f32.astype(np.float16)
    np.testing.assert_array_equal(f16.view(np.uint16), want.view(np.uint16))

def test_uint8_rounds_half_to_even_and_clamps(kernel):
    """uint8 output: rint() of the normalised value, then clamp to 0..255."""
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    params = PreprocessParams(16, 16, color="grayscale", dtype="uint8", scale=0.5, mean=-100.0)
    got = kernel.preprocess([img], params)[0, ..., 0]
    value = img[..., 0].astype(np.float32) * np.float32(0.5) + np.float32(100.0)
    np.testing.assert_array_equal(got, np.clip(np.rint(value), 0, 255).astype(np.uint8))
    assert got[0, 1] == 100  # 100.5 rounds to even
    assert got[0, 3] == 102  # 101.5 rounds to even
    assert got.max() == 228  # 255 * 0.5 + 100 = 227.5 -> 228
    clipped = kernel.preprocess([img], PreprocessParams(16, 16, color="grayscale", dtype="uint8", mean=100.0, scale=2.0))
    assert clipped.min() == 0 and clipped.max() == 255


# ---- colour ------------------------------------------------------------------------------


def test_grayscale_is_pillow_luma(kernel):
    rng = np.random.default_rng(3)
    img = _image(rng, 9, 12)
    got = kernel.preprocess([img], PreprocessParams(9, 12, color="grayscale"))
    np.testing.assert_array_equal(got[0], _luma(img).astype(np.float32))


def test_grayscale_luma_is_taken_before_resizing(kernel):
    rng = np.random.default_rng(4)
    img = _image(rng, 30, 20)
    for method, antialias in [("bilinear", False), ("bilinear", True), ("area", False), ("nearest", False)]:
        params = PreprocessParams(13, 9, method=method, antialias=antialias)
        gray = PreprocessParams(13, 9, method=method, antialias=antialias, color="grayscale")
        from_rgb = kernel.preprocess([img], gray)
        from_luma = kernel.preprocess([_luma(img)], gray)
        np.testing.assert_array_equal(from_rgb, from_luma)
        assert not np.array_equal(from_rgb[..., 0], kernel.preprocess([img], params).mean(axis=-1))


def test_bgr_swaps_channels_and_keeps_mean_per_output_channel(kernel):
    rng = np.random.default_rng(5)
    img = _image(rng, 10, 10)
    rgb = kernel.preprocess([img[..., ::-1].copy()], PreprocessParams(6, 7, mean=(1, 2, 3)))
    bgr = kernel.preprocess([img], PreprocessParams(6, 7, color="bgr", mean=(1, 2, 3)))
    np.testing.assert_array_equal(rgb, bgr)


def test_one_channel_input(kernel):
    rng = np.random.default_rng(6)
    gray = _image(rng, 15, 11, 1)
    as_gray = kernel.preprocess([gray], PreprocessParams(8, 8, color="grayscale"))
    as_2d = kernel.preprocess([gray[..., 0]], PreprocessParams(8, 8, color="grayscale"))
    as_rgb = kernel.preprocess([gray], PreprocessParams(8, 8, color="rgb"))
    np.testing.assert_array_equal(as_gray, as_2d)
    np.testing.assert_array_equal(as_rgb, np.repeat(as_gray, 3, axis=-1))


# ---- "pillow" ----------------------------------------------------------------------------


@pytest.mark.parametrize("size_in, size_out", [((64, 48), (29, 31)), ((20, 10), (55, 40)), ((33, 33), (33, 33))])
@pytest.mark.parametrize("color", ["rgb", "grayscale"])
def test_pillow_method_is_pillow_exactly(kernel, size_in, size_out, color):
    rng = np.random.default_rng(7)
    img = _image(rng, *size_in)
    params = PreprocessParams(*size_out, method="pillow", color=color, dtype="uint8")
    pil = Image.fromarray(img)
    if color == "grayscale":
        pil = pil.convert("L")
    want = np.asarray(pil.resize((size_out[1], size_out[0]), Image.Resampling.BILINEAR))
    got = kernel.preprocess([img], params)[0]
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    as_float = kernel.preprocess([img], PreprocessParams(*size_out, method="pillow", color=color, scale=1 / 255))
    np.testing.assert_array_equal(as_float[0].reshape(want.shape), want.astype(np.float32) * np.float32(1 / 255))


# ---- batches and buffers -------------------------------------------------------------------


@pytest.mark.parametrize("method, antialias", [("bilinear", False), ("bilinear", True), ("area", False), ("pillow", False)])
def test_batch_equals_stacked_singles(kernel, method, antialias):
    rng = np.random.default_rng(8)
    images = [_image(rng, 40, 50), _image(rng, 17, 90), _image(rng, 64, 64, 1)[..., 0], _image(rng, 5, 3)]
    params = PreprocessParams(24, 20, method=method, antialias=antialias, layout="NCHW", dtype="float16", scale=0.1, mean=3)
    batch = kernel.preprocess(images, params)
    singles = np.concatenate([kernel.preprocess([im], params) for im in images])
    assert batch.shape == (4, 3, 24, 20)
    np.testing.assert_array_equal(batch, singles)


def test_image_batch_is_a_tensor_writer(kernel):
    rng = np.random.default_rng(9)
    images = [_image(rng, 30, 40), _image(rng, 31, 41)]
    params = PreprocessParams(10, 12, dtype="float16")
    batch = kernel.ImageBatch(images, params)
    assert batch.shape == (2, 10, 12, 3) and batch.dtype == np.dtype("<f2") and len(batch) == 2
    buf = bytearray(batch.nbytes)
    batch.write_into(memoryview(buf))
    want = kernel.preprocess(images, params)
    assert bytes(buf) == want.tobytes()
    # an unaligned destination (tensor_content sits at any offset in request bytes)
    padded = bytearray(batch.nbytes + 3)
    batch.write_into(memoryview(padded)[3:])
    assert bytes(padded[3:]) == want.tobytes()
    # an NHWC stack is accepted as N images
    np.testing.assert_array_equal(kernel.preprocess(np.stack([images[0]] * 2), params), kernel.preprocess([images[0]] * 2, params))


def test_write_into_refuses_wrong_buffers(kernel):
    batch = kernel.ImageBatch([np.zeros((4, 4, 3), np.uint8)], PreprocessParams(2, 2))
    with pytest.raises(PreprocessError, match="needs 48"):
        batch.write_into(bytearray(47))
    with pytest.raises(PreprocessError, match="needs 48"):
        batch.write_into(bytearray(49))
    with pytest.raises(PreprocessError, match="writable"):
        batch.write_into(bytes(48))
    with pytest.raises(PreprocessError, match="contiguous"):
        batch.write_into(memoryview(bytearray(96))[::2])
    with pytest.raises(PreprocessError, match="buffer"):
        batch.write_into(48)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 0, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 3), np.int64), "uint8"),
        (np.zeros((4, 4, 4), np.uint8), "C 1 or 3"),
        (np.zeros((4, 4, 2), np.uint8), "C 1 or 3"),
        (np.zeros((4,), np.uint8), "C 1 or 3"),
        (np.zeros((2, 4, 4, 3, 1), np.uint8), "C 1 or 3"),
        ([[1, 2], [3, 4]], "numpy array"),
        (b"\xff\xd8\xff", "numpy array"),
        (np.broadcast_to(np.zeros(3, np.uint8), (MAX_SOURCE_SIDE + 1, 1, 3)), "limit"),
    ],
)
def test_bad_images_are_refused_clearly(kernel, image, message):
    with pytest.raises(PreprocessError, match=message):
        kernel.ImageBatch([np.zeros((2, 2, 3), np.uint8), image], PreprocessParams(4, 4))


def test_bad_batches_are_refused_clearly(kernel):
    with pytest.raises(PreprocessError, match="no images"):
        kernel.ImageBatch([], PreprocessParams(4, 4))
    with pytest.raises(PreprocessError, match="sequence"):
        kernel.ImageBatch(np.zeros((4, 4, 3), np.uint8), PreprocessParams(4, 4))
    with pytest.raises(PreprocessError, match="PreprocessParams"):
        kernel.ImageBatch([np.zeros((4, 4, 3), np.uint8)], {"height": 4, "width": 4})
    with pytest.raises(PreprocessError, match="elements"):
        kernel.ImageBatch([np.zeros((1, 1, 3), np.uint8)] * 8, PreprocessParams(8192, 8192))


def test_strided_and_readonly_sources(kernel):
    rng = np.random.default_rng(10)
    big = _image(rng, 40, 60)
    view = big[::2, 1::3]
    readonly = big.copy()
    readonly.flags.writeable = False
    params = PreprocessParams(9, 9)
    np.testing.assert_array_equal(kernel.preprocess([view], params), kernel.preprocess([view.copy()], params))
    np.testing.assert_array_equal(kernel.preprocess([readonly], params), kernel.preprocess([big], params))


# ---- extremes -------------------------------------------------------------------------------


@pytest.mark.parametrize("method, antialias", [("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False)])
def test_extreme_ratios_stay_in_range(kernel, method, antialias):
    rng = np.random.default_rng(11)
    for src, dst in [((1, 1), (37, 5)), ((1, 900), (3, 1)), ((700, 1), (1, 2)), ((2, 3), (1, 1))]:
        img = _image(rng, *src)
        out = kernel.preprocess([img], PreprocessParams(*dst, method=method, antialias=antialias))
        assert out.shape == (1, *dst, 3)
        assert np.all(out >= 0) and np.all(out <= 255)
        if src == (1, 1):
            # area's 1 / (sy * sx) factor is a float32 product, so TF itself is off by an ulp or so
            np.testing.assert_allclose(out[0], np.broadcast_to(img[0, 0], (*dst, 3)), rtol=1e-6)


def _assert_same(twin, compiled, message):
    """Bit for bit on x86-64; compilers elsewhere may fuse a multiply-add (an ulp or so)."""
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert twin.tobytes() == compiled.tobytes(), message
    else:
        np.testing.assert_allclose(twin.astype(np.float32), compiled.astype(np.float32), rtol=1e-5, atol=1, err_msg=message)


def test_compiled_and_twin_agree_bit_for_bit():
    py, c = load_impl("fastpack._kernel_py"), load_impl("fastpack._kernel_c")
    rng = np.random.default_rng(12)
    combos = itertools.product(
        [("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False), ("pillow", False)],
        ["rgb", "bgr", "grayscale"], ["NHWC", "NCHW"], ["float32", "float16", "uint8"],
    )
    for (method, antialias), color, layout, dtype in combos:
        h, w, oh, ow = (int(v) for v in rng.integers(1, 70, 4))
        images = [_image(rng, h, w, int(rng.choice([1, 3]))) for _ in range(2)]
        params = PreprocessParams(
            oh, ow, method=method, antialias=antialias, color=color, layout=layout, dtype=dtype,
            scale=1 / 127.5, mean=1.0, std=0.75,
        )
        _assert_same(py.preprocess(images, params), c.preprocess(images, params), str(params))


def test_concurrent_threads_get_their_own_results(kernel):
    """The compiled loops run without the GIL: threads sharing tables must not disturb each other."""
    rng = np.random.default_rng(13)
    images = [_image(rng, 120, 160) for _ in range(4)]
    params = PreprocessParams(61, 47, antialias=True)
    want = [kernel.preprocess([im], params) for im in images]
    results, errors = {}, []

    def work(i):
        try:
            for _ in range(5):
                results[i] = kernel.preprocess([images[i]], params)
                np.testing.assert_array_equal(results[i], want[i])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_random_shapes_compiled_equals_twin():
    """Property: any source/target sizes and options give the twin's exact bytes (no stray reads)."""
    from hypothesis import given, settings, strategies as st

    py, c = load_impl("fastpack._kernel_py"), load_impl("fastpack._kernel_c")

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(
        src=st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3])),
        dst=st.tuples(st.integers(1, 40), st.integers(1, 40)),
        method=st.sampled_from([("bilinear", False), ("bilinear", True), ("nearest", False), ("area", False)]),
        color=st.sampled_from(["rgb", "bgr", "grayscale"]),
        layout=st.sampled_from(["NHWC", "NCHW"]),
        dtype=st.sampled_from(["float32", "float16", "uint8"]),
        seed=st.integers(0, 2**32 - 1),
    )
    def check(src, dst, method, color, layout, dtype, seed):
        img = np.random.default_rng(seed).integers(0, 256, src, dtype=np.uint8)
        params = PreprocessParams(*dst, method=method[0], antialias=method[1], color=color,
                                  layout=layout, dtype=dtype, scale=0.9, mean=7.0, std=0.5)
        _assert_same(py.preprocess([img], params), c.preprocess([img], params), str(params))

    check()


def test_float32_into_unaligned_bytes_is_the_aligned_result(kernel):
    """NHWC float32 with the identity channel map is stored straight into the destination:
    at any byte offset it must give the same bytes as into an aligned array."""
    rng = np.random.default_rng(21)
    images = [_image(rng, 37, 53), _image(rng, 37, 53, 1)]
    for method, color in [("bilinear", "rgb"), ("area", "rgb"), ("bilinear", "grayscale")]:
        params = PreprocessParams(19, 23, method=method, color=color, scale=1 / 255, mean=0.5, std=0.25)
        for image in images:
            want = kernel.preprocess([image], params).tobytes()
            batch = kernel.ImageBatch([image], params)
            for offset in (1, 2, 3):
                padded = bytearray(batch.nbytes + offset)
                batch.write_into(memoryview(padded)[offset:])
                assert bytes(padded[offset:]) == want, (method, color, image.shape, offset)


def _before_guard_page(shape):
    """A C-contiguous uint8 array whose last byte is the last readable byte before an
    inaccessible page: a kernel reading one byte past the image crashes instead of passing."""
    import ctypes
    import mmap

    nbytes = int(np.prod(shape))
    page = mmap.PAGESIZE
    size = -(-nbytes // page) * page
    region = mmap.mmap(-1, size + page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    if libc.mprotect(base + size, page, 0) != 0:  # PROT_NONE
        pytest.skip("mprotect refused")
    array = np.frombuffer(region, dtype=np.uint8, count=nbytes, offset=size - nbytes)
    return array.reshape(shape)


@pytest.mark.skipif(platform.system() != "Linux", reason="guard page via mmap + mprotect")
@pytest.mark.parametrize("channels", [3, 1])
def test_bilinear_reads_no_byte_past_the_source(channels):
    """The bilinear horizontal pass reads source pixels as whole words; at the image's very
    last pixel it must not step past the end (which here is an inaccessible page)."""
    py, c = load_impl("fastpack._kernel_py"), load_impl("fastpack._kernel_c")
    rng = np.random.default_rng(22)
    for h, w, oh, ow in [(5, 7, 3, 4), (4, 9, 6, 13), (3, 2, 3, 1), (6, 40, 2, 39), (1, 1, 2, 2)]:
        image = _before_guard_page((h, w, channels))
        image[...] = _image(rng, h, w, channels)
        params = PreprocessParams(oh, ow, scale=1 / 255)
        np.testing.assert_array_equal(c.preprocess([image], params), py.preprocess([image], params))

# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The image kernel in Cython: decoded uint8 pixels -> normalised tensor bytes, row by row.

Same API and, on x86-64, the same bits as the numpy twin ``_kernel_py``. Work per output row:
horizontal pass over the source rows it needs (cached, so each is done once; bilinear reads the
uint8 taps directly, no float copy of the row), vertical pass, channel selection +
``pixel * mul + add``, then store in the output layout and dtype straight into the caller's
buffer (NHWC float32 with the channels in order: vertical pass, normalisation and store in one
loop, no scratch row). ScaleAndTranslate (antialias) runs vertical-first instead, as TF does.
Scratch is a few rows; the GIL is released for all of it. Every table index is checked against
the source size before the loops run, and every length against the buffers.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset, strcmp
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.math cimport rintf
from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawMalloc

from fastpack._kernel_images import ImageBatchBase, make_preprocess, prepare

# The inner row loops are C (restrict, SSE2): fastpack/_kernel_rows.h says why.
cdef extern from "_kernel_rows.h":
    const int FP_PAD
    void fp_widen(const uint8_t* src, float* dst, Py_ssize_t n) noexcept nogil
    void fp_luma(const uint8_t* rgb, Py_ssize_t step, float* dst, Py_ssize_t width) noexcept nogil
    void fp_luma_u8(const uint8_t* rgb, Py_ssize_t step, uint8_t* dst,
                    Py_ssize_t width) noexcept nogil
    struct FpArrowSchema:
        const char* format
        int64_t n_children
        FpArrowSchema** children
        void* release
    struct FpArrowArray:
        int64_t length
        int64_t null_count
        int64_t offset
        int64_t n_buffers
        int64_t n_children
        const void** buffers
        FpArrowArray** children
        void* release
    void fp_h_lerp(const float* row, Py_ssize_t step, Py_ssize_t rc, const int32_t* index,
                   const float* weight, Py_ssize_t taps, Py_ssize_t out_w, float* out) noexcept nogil
    void fp_h_lerp_u8(const uint8_t* row, Py_ssize_t step, Py_ssize_t rc, Py_ssize_t readable,
                      const int32_t* index, const float* weight, Py_ssize_t taps,
                      Py_ssize_t out_w, float* out) noexcept nogil
    void fp_h_weights(const float* row, Py_ssize_t step, Py_ssize_t rc, const int32_t* index,
                      const float* weight,
                      const int32_t* count, Py_ssize_t taps, Py_ssize_t out_w,
                      float* out) noexcept nogil
    void fp_v_lerp(const float* top, const float* bottom, float lerp, float* out,
                   Py_ssize_t n) noexcept nogil
    void fp_axpy(float w, const float* x, float* y, Py_ssize_t n) noexcept nogil
    void fp_axpy_u8(float w, const uint8_t* x, float* y, Py_ssize_t n) noexcept nogil
    void fp_scale(float s, float* y, Py_ssize_t n) noexcept nogil
    void fp_affine(const float* v, const float* mul, const float* add, float* out,
                   Py_ssize_t n) noexcept nogil
    void fp_affine_store(const float* v, const float* mul, const float* add, uint8_t* dst,
                         Py_ssize_t n) noexcept nogil
    void fp_v_lerp_affine_store(const float* top, const float* bottom, float lerp,
                                const float* mul, const float* add, uint8_t* dst,
                                Py_ssize_t n) noexcept nogil

from fastpack.errors import PreprocessError

cdef enum:
    KIND_LERP = 0
    KIND_WEIGHTS = 1
    LAYOUT_NHWC = 0
    DTYPE_F32 = 0
    DTYPE_F16 = 1
    DTYPE_U8 = 2

cdef struct Axis:
    int kind
    Py_ssize_t in_size
    Py_ssize_t out_size
    Py_ssize_t taps
    const int32_t* index  # [out_size * taps]
    const float* weight  # [out_size * taps]
    const int32_t* count  # [out_size]


cdef struct Job:
    const uint8_t* src
    Py_ssize_t in_h, in_w, src_c
    Py_ssize_t src_step  # bytes per source pixel: src_c, or 4 for Pillow's RGBX memory
    Py_ssize_t src_bytes  # in_h * in_w * src_step: the fused h-pass reads no further
    int to_gray
    Py_ssize_t rc  # channels being resampled (1 after luma conversion)
    Py_ssize_t h_step  # floats per pixel in rows entering the horizontal pass: rc, or 4 (RGBX)
    Axis rows
    Axis cols
    float post
    int vertical_first
    Py_ssize_t out_c
    int channel_map[3]
    int identity_map
    int fuse_h  # bilinear h-pass straight from the uint8 row (no widened float row)
    int direct  # NHWC float32, identity map: the affine result is stored straight into dest
    float mul[3]
    float add[3]
    int layout
    int dtype
    uint8_t* dest
    # scratch rows, each with FP_PAD spare floats at the end
    float* frow  # in_w * h_step: a source row as floats (horizontal-first, unless fuse_h)
    float* vrow  # in_w * h_step: a vertically combined row (vertical-first)
    float* row_a  # out_w * rc: cached horizontal row (slot 0)
    float* row_b  # out_w * rc: cached horizontal row (slot 1)
    float* vals  # out_w * rc: this output row, un-normalised
    float* outrow  # out_w * out_c: normalised, NHWC order (NULL when direct)
    float* mulrow  # out_w * out_c
    float* addrow  # out_w * out_c
    uint8_t* gray  # in_h * in_w luma image (vertical-first from RGB only)


cdef inline uint16_t float_to_half(float value) noexcept nogil:
    """IEEE binary16 bits of ``value``, rounded to nearest even (numpy's astype(float16))."""
    cdef uint32_t bits
    memcpy(&bits, &value, 4)
    cdef uint32_t sign = (bits >> 16) & 0x8000
    cdef uint32_t mag = bits & 0x7FFFFFFF
    cdef uint32_t mant, half, rem, midpoint
    cdef int shift
    if mag >= 0x7F800000:  # inf or nan
        return <uint16_t>(sign | 0x7C00 | (0x200 if mag > 0x7F800000 else 0))
    if mag >= 0x47800000:  # >= 65536: overflows to inf
        return <uint16_t>(sign | 0x7C00)
    if mag >= 0x38800000:  # normal half (>= 2**-14); rounding may carry into inf, correctly
        mag = mag - 0x38000000 + 0xFFF + ((mag >> 13) & 1)
        return <uint16_t>(sign | (mag >> 13))
    if mag < 0x33000000:  # below half the smallest subnormal: zero
        return <uint16_t>sign
    mant = (mag & 0x7FFFFF) | 0x800000
    shift = 126 - <int>(mag >> 23)  # value / 2**-24 == mant >> shift
    half = mant >> shift
    rem = mant & ((1u << shift) - 1)
    midpoint = 1u << (shift - 1)
    if rem > midpoint or (rem == midpoint and (half & 1)):
        half += 1
    return <uint16_t>(sign | half)


cdef inline uint8_t float_to_u8(float value) noexcept nogil:
    """Round half to even, clamp to 0..255 (nan -> 0)."""
    value = rintf(value)
    if not (value > 0.0):
        return 0
    if value > 255.0:
        return 255
    return <uint8_t>value


cdef inline void horizontal(Job* job, const float* row, float* out) noexcept nogil:
    """One source row (in_w * h_step floats, padded) -> out_w * rc floats (padded)."""
    cdef Axis* ax = &job.cols
    if ax.kind == KIND_LERP:
        fp_h_lerp(row, job.h_step, job.rc, ax.index, ax.weight, ax.taps, ax.out_size, out)
    else:
        fp_h_weights(row, job.h_step, job.rc, ax.index, ax.weight, ax.count, ax.taps, ax.out_size,
                     out)


cdef inline void horizontal_source(Job* job, Py_ssize_t r, float* out) noexcept nogil:
    """Source row ``r`` (as luma if asked) resampled horizontally into ``out``."""
    cdef Py_ssize_t start = r * job.in_w * job.src_step
    cdef const uint8_t* row = job.src + start
    cdef Axis* ax = &job.cols
    if job.to_gray:
        fp_luma(row, job.src_step, job.frow, job.in_w)
    elif job.fuse_h:  # bilinear: the taps are widened as they are read, no float row
        fp_h_lerp_u8(row, job.src_step, job.rc, job.src_bytes - start, ax.index, ax.weight,
                     ax.taps, ax.out_size, out)
        return
    else:  # RGBX rows keep their spare lane: a vector widening, then skipped by the h-pass
        fp_widen(row, job.frow, job.in_w * job.src_step)
    horizontal(job, job.frow, out)


cdef void emit(Job* job, Py_ssize_t y) noexcept nogil:
    """Normalise ``job.vals`` (output row y) and store it in the output layout and dtype."""
    cdef Py_ssize_t out_w = job.cols.out_size
    cdef Py_ssize_t out_c = job.out_c
    cdef Py_ssize_t n = out_w * out_c
    cdef Py_ssize_t i, x, c, itemsize, plane
    cdef float* vals = job.vals
    cdef float* out = job.outrow
    cdef const float* mulrow = job.mulrow
    cdef const float* addrow = job.addrow
    cdef uint8_t* dst
    cdef uint16_t h
    cdef float v
    if job.direct:
        fp_affine_store(vals, mulrow, addrow, job.dest + y * n * 4, n)
        return
    if job.identity_map:
        fp_affine(vals, mulrow, addrow, out, n)
    else:
        for x in range(out_w):
            for c in range(out_c):
                out[x * out_c + c] = vals[x * job.rc + job.channel_map[c]] * job.mul[c] + job.add[c]
    itemsize = 4 if job.dtype == DTYPE_F32 else (2 if job.dtype == DTYPE_F16 else 1)
    if job.layout == LAYOUT_NHWC:
        dst = job.dest + y * n * itemsize
        if job.dtype == DTYPE_F32:
            memcpy(dst, out, n * 4)
        elif job.dtype == DTYPE_F16:
            for i in range(n):
                h = float_to_half(out[i])
                memcpy(dst + 2 * i, &h, 2)
        else:
            for i in range(n):
                dst[i] = float_to_u8(out[i])
        return
    plane = job.rows.out_size * out_w
    for c in range(out_c):
        dst = job.dest + (c * plane + y * out_w) * itemsize
        for x in range(out_w):
            v = out[x * out_c + c]
            if job.dtype == DTYPE_F32:
                memcpy(dst + 4 * x, &v, 4)
            elif job.dtype == DTYPE_F16:
                h = float_to_half(v)
                memcpy(dst + 2 * x, &h, 2)
            else:
                dst[x] = float_to_u8(v)


cdef inline void apply_post(Job* job) noexcept nogil:
    if job.post != 1.0:
        fp_scale(job.post, job.vals, job.cols.out_size * job.rc)


cdef void run_horizontal_first(Job* job) noexcept nogil:
    """The resize ops' order: rows resampled horizontally (each once), then combined."""
    cdef Py_ssize_t y, k, r, r0, r1
    cdef Py_ssize_t width = job.cols.out_size * job.rc
    cdef Py_ssize_t taps = job.rows.taps
    cdef Py_ssize_t cached[2]
    cdef float* slot[2]
    cached[0] = -1
    cached[1] = -1
    slot[0] = job.row_a
    slot[1] = job.row_b
    for y in range(job.rows.out_size):
        if job.rows.kind == KIND_LERP:
            r0 = job.rows.index[y * taps]
            r1 = job.rows.index[y * taps + 1]
            if cached[r0 & 1] != r0:  # lower and upper differ by at most 1: distinct slots
                horizontal_source(job, r0, slot[r0 & 1])
                cached[r0 & 1] = r0
            if cached[r1 & 1] != r1:
                horizontal_source(job, r1, slot[r1 & 1])
                cached[r1 & 1] = r1
            if job.direct and job.post == 1.0:  # v-lerp, affine and store in one pass
                fp_v_lerp_affine_store(slot[r0 & 1], slot[r1 & 1], job.rows.weight[y * taps],
                                       job.mulrow, job.addrow, job.dest + y * width * 4, width)
                continue
            fp_v_lerp(slot[r0 & 1], slot[r1 & 1], job.rows.weight[y * taps], job.vals, width)
        else:
            memset(job.vals, 0, width * sizeof(float))
            for k in range(job.rows.count[y]):
                r = job.rows.index[y * taps + k]
                if cached[0] != r:  # consecutive outputs share at most their edge row
                    horizontal_source(job, r, job.row_a)
                    cached[0] = r
                fp_axpy(job.rows.weight[y * taps + k], job.row_a, job.vals, width)
        apply_post(job)
        emit(job, y)


cdef void run_vertical_first(Job* job) noexcept nogil:
    """ScaleAndTranslate's order: the output row's source rows combined, then resampled across."""
    cdef Py_ssize_t y, k, r
    cdef Py_ssize_t in_row = job.in_w * job.src_step  # bytes per row of ``pixels``
    cdef Py_ssize_t taps = job.rows.taps
    cdef const uint8_t* pixels = job.src
    if job.to_gray:
        for r in range(job.in_h):
            fp_luma_u8(job.src + r * in_row, job.src_step, job.gray + r * job.in_w, job.in_w)
        pixels = job.gray
        in_row = job.in_w
    for y in range(job.rows.out_size):
        memset(job.vrow, 0, in_row * sizeof(float))
        for k in range(job.rows.count[y]):
            r = job.rows.index[y * taps + k]
            fp_axpy_u8(job.rows.weight[y * taps + k], pixels + r * in_row, job.vrow, in_row)
        horizontal(job, job.vrow, job.vals)
        apply_post(job)
        emit(job, y)


cdef int axis_ok(const Axis* ax) noexcept nogil:
    """Every tap count and index inside the table and the source: the loops trust these."""
    cdef Py_ssize_t x, k
    if ax.taps < 1 or ax.out_size < 1 or ax.in_size < 1:
        return 0
    if ax.kind == KIND_LERP and ax.taps < 2:
        return 0
    for x in range(ax.out_size):
        if ax.kind == KIND_WEIGHTS and not (1 <= ax.count[x] <= ax.taps):
            return 0
        for k in range(ax.taps):
            if not (0 <= ax.index[x * ax.taps + k] < ax.in_size):
                return 0
    return 1


cdef int fill_axis(Axis* ax, table, const int32_t[:, ::1] index, const float[:, ::1] weight,
                   const int32_t[::1] count) except -1:
    if (index.shape[0] != table.out_size or weight.shape[0] != table.out_size
            or count.shape[0] != table.out_size or weight.shape[1] != index.shape[1]):
        raise PreprocessError("internal error: inconsistent resampling table")
    ax.kind = table.kind
    ax.in_size = table.in_size
    ax.out_size = table.out_size
    ax.taps = index.shape[1]
    ax.index = &index[0, 0]
    ax.weight = &weight[0, 0]
    ax.count = &count[0]
    return 0


cdef float* floats(Py_ssize_t n) except NULL:
    """A zeroed scratch row of ``n`` floats plus the FP_PAD spare lanes the SSE loads read."""
    cdef float* p = <float*>PyMem_RawCalloc(n + FP_PAD, sizeof(float))
    if p == NULL:
        raise MemoryError()
    return p


def write_image(source, params, dest):
    """Write one checked image's tensor bytes into ``dest`` (exactly its slice of the batch)."""
    pixels, plan = prepare(source, params)
    cdef const uint8_t[:, :, ::1] src
    cdef uint8_t[::1] out = dest
    cdef PillowPixels borrowed
    cdef const int32_t[:, ::1] rows_index = plan.rows.index
    cdef const float[:, ::1] rows_weight = plan.rows.weight
    cdef const int32_t[::1] rows_count = plan.rows.count
    cdef const int32_t[:, ::1] cols_index = plan.cols.index
    cdef const float[:, ::1] cols_weight = plan.cols.weight
    cdef const int32_t[::1] cols_count = plan.cols.count
    cdef Job job
    cdef Py_ssize_t c, x, out_w, out_h, itemsize, nbytes
    cdef int ok
    memset(&job, 0, sizeof(Job))
    if isinstance(pixels, PillowPixels):
        borrowed = pixels  # holds the Arrow export, so the memory stays valid until we return
        job.src = borrowed.data
        job.in_h, job.in_w, job.src_c = borrowed.shape
        job.src_step = borrowed.step
    else:
        src = pixels
        job.src = &src[0, 0, 0]
        job.in_h = src.shape[0]
        job.in_w = src.shape[1]
        job.src_c = src.shape[2]
        job.src_step = job.src_c
    job.to_gray = bool(plan.to_gray)
    job.rc = 1 if (job.to_gray or job.src_c == 1) else 3
    job.h_step = 1 if job.to_gray else job.src_step
    if job.src_step not in (job.src_c, 4) or (job.src_step == 4 and job.src_c != 3):
        raise PreprocessError(f"internal error: {job.src_step} bytes per {job.src_c}-channel pixel")
    if job.src_c not in (1, 3) or (job.to_gray and job.src_c != 3):
        raise PreprocessError(f"internal error: {job.src_c}-channel source")
    fill_axis(&job.rows, plan.rows, rows_index, rows_weight, rows_count)
    fill_axis(&job.cols, plan.cols, cols_index, cols_weight, cols_count)
    if job.rows.in_size != job.in_h or job.cols.in_size != job.in_w:
        raise PreprocessError("internal error: resampling table for another image size")
    out_h = job.rows.out_size
    out_w = job.cols.out_size
    job.post = plan.post_scale
    job.vertical_first = bool(plan.vertical_first)
    job.out_c = len(plan.channel_map)
    if job.out_c not in (1, 3):
        raise PreprocessError(f"internal error: {job.out_c} output channels")
    job.identity_map = job.out_c == job.rc
    for c in range(job.out_c):
        job.channel_map[c] = plan.channel_map[c]
        if not 0 <= job.channel_map[c] < job.rc:
            raise PreprocessError("internal error: channel map outside the source")
        job.identity_map = job.identity_map and job.channel_map[c] == c
        job.mul[c] = plan.mul[c]
        job.add[c] = plan.add[c]
    job.layout = plan.layout
    job.dtype = plan.dtype
    job.direct = job.identity_map and job.layout == LAYOUT_NHWC and job.dtype == DTYPE_F32
    job.src_bytes = job.in_h * job.in_w * job.src_step
    job.fuse_h = job.cols.kind == KIND_LERP and not job.to_gray
    if job.dtype not in (DTYPE_F32, DTYPE_F16, DTYPE_U8):
        raise PreprocessError("internal error: unknown output dtype")
    itemsize = 4 if job.dtype == DTYPE_F32 else (2 if job.dtype == DTYPE_F16 else 1)
    nbytes = out_h * out_w * job.out_c * itemsize
    if out.shape[0] != nbytes:
        raise PreprocessError(f"image slice is {out.shape[0]} bytes; it needs {nbytes}")
    job.dest = &out[0]
    with nogil:
        ok = axis_ok(&job.rows) and axis_ok(&job.cols)
    if not ok:
        raise PreprocessError("internal error: resampling table outside the image")
    try:
        job.row_a = floats(out_w * job.rc)
        job.row_b = floats(out_w * job.rc)
        job.vals = floats(out_w * job.rc)
        if not job.direct:  # the direct store needs no normalised scratch row
            job.outrow = floats(out_w * job.out_c)
        job.mulrow = floats(out_w * job.out_c)
        job.addrow = floats(out_w * job.out_c)
        if job.vertical_first:
            job.vrow = floats(job.in_w * job.src_step)  # RGBX rows are combined with 4 lanes
            if job.to_gray:
                job.gray = <uint8_t*>PyMem_RawMalloc(job.in_h * job.in_w)
                if job.gray == NULL:
                    raise MemoryError()
        elif not job.fuse_h:  # the fused bilinear h-pass reads the uint8 row itself
            job.frow = floats(job.in_w * job.src_step)
        with nogil:
            for x in range(out_w):
                for c in range(job.out_c):
                    job.mulrow[x * job.out_c + c] = job.mul[c]
                    job.addrow[x * job.out_c + c] = job.add[c]
            if job.vertical_first:
                run_vertical_first(&job)
            else:
                run_horizontal_first(&job)
    finally:
        PyMem_RawFree(job.row_a)
        PyMem_RawFree(job.row_b)
        PyMem_RawFree(job.vals)
        PyMem_RawFree(job.outrow)
        PyMem_RawFree(job.mulrow)
        PyMem_RawFree(job.addrow)
        PyMem_RawFree(job.vrow)
        PyMem_RawFree(job.frow)
        PyMem_RawFree(job.gray)


cdef class PillowPixels:
    """A loaded Pillow "RGB" or "L" image's pixels, read in place (no copy).

    Pillow (>= 11.2) exports its pixel memory through Arrow's C data interface when the image
    sits in one block (up to 16 MB by default). We keep the exported capsules, whose destructors
    release the export, and the image itself, so the memory outlives every read of it. RGB
    images are stored RGBX, 4 bytes per pixel; ``step`` says so to the kernel.
    """
    cdef readonly object image
    cdef object _schema, _array  # Arrow capsules: alive as long as we read ``data``
    cdef const uint8_t* data
    cdef readonly tuple shape  # (height, width, channels) as the plan sees them
    cdef readonly Py_ssize_t step

    def __repr__(self):
        return f"PillowPixels(shape={self.shape}, step={self.step})"


cdef bint _format_is(const char* format, const char* expected) noexcept:
    return format != NULL and strcmp(format, expected) == 0


def borrow_pillow(image):
    """``image``'s pixels as PillowPixels, or None when Pillow cannot export them in place
    (too large for one block, an older Pillow); the caller then copies them."""
    cdef FpArrowSchema* schema
    cdef FpArrowArray* array
    cdef FpArrowArray* values
    cdef Py_ssize_t width, height, step
    cdef PillowPixels pixels
    mode = image.mode
    if mode == "RGB":
        step = 4
    elif mode == "L":
        step = 1
    else:
        return None
    width, height = image.size
    try:
        schema_capsule, array_capsule = image.__arrow_c_array__()
    except Exception:  # ValueError: rows not contiguous; AttributeError: Pillow < 11.2
        return None
    if not (PyCapsule_IsValid(schema_capsule, b"arrow_schema")
            and PyCapsule_IsValid(array_capsule, b"arrow_array")):
        return None
    schema = <FpArrowSchema*>PyCapsule_GetPointer(schema_capsule, b"arrow_schema")
    array = <FpArrowArray*>PyCapsule_GetPointer(array_capsule, b"arrow_array")
    if schema.release == NULL or array.release == NULL:
        return None
    if array.length != <int64_t>width * height or array.offset != 0 or array.null_count != 0:
        return None
    if step == 4:  # fixed-size lists of 4 uint8 per pixel
        if not (_format_is(schema.format, b"+w:4") and schema.n_children == 1
                and _format_is(schema.children[0].format, b"C") and array.n_children == 1):
            return None
        values = array.children[0]
        if values.length != 4 * array.length or values.offset != 0 or values.null_count != 0:
            return None
    else:  # one uint8 per pixel
        if not _format_is(schema.format, b"C"):
            return None
        values = array
    if values.n_buffers != 2 or values.buffers == NULL or values.buffers[1] == NULL:
        return None
    pixels = PillowPixels.__new__(PillowPixels)
    pixels.image = image
    pixels._schema = schema_capsule
    pixels._array = array_capsule
    pixels.data = <const uint8_t*>values.buffers[1]
    pixels.shape = (height, width, 3 if step == 4 else 1)
    pixels.step = step
    return pixels


class ImageBatch(ImageBatchBase):
    __doc__ = ImageBatchBase.__doc__
    __slots__ = ()
    write_image = staticmethod(write_image)
    borrow_pillow = staticmethod(borrow_pillow)


preprocess = make_preprocess(ImageBatch)

__all__ = ["ImageBatch", "PillowPixels", "borrow_pillow", "preprocess", "write_image"]

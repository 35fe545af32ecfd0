# cython: language_level=3
"""Numeric tensors -> JSON text in TF Serving's layout, compiled (twin of _jsonfmt_py).

The same bytes as the twin for every numeric dtype (floats by TF Serving's six-digits-else-
max_digits10 rule, ints, bools); string tensors go to the twin, which also owns the rules'
documentation. One C buffer per call, no Python objects per element.
"""
from libc.stdio cimport snprintf
from libc.stdlib cimport free, realloc, strtod, strtof
from libc.string cimport memcpy, strchr
from libc.math cimport INFINITY, fabs, frexp, isinf, isnan, nextafterf, rint
from libc.stdint cimport int64_t, uint64_t

import numpy as np

cimport numpy as cnp

cnp.import_array()

from fastpack import _jsonfmt_py

float32_text = _jsonfmt_py.float32_text
float64_text = _jsonfmt_py.float64_text
json_string = _jsonfmt_py.json_string
string_leaf = _jsonfmt_py.string_leaf

DEF INDENT = 4


cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef int grow(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = b.size + extra
    cdef Py_ssize_t cap
    cdef char* data
    if need <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 256
    while cap < need:
        cap *= 2
    data = <char*> realloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int put(Buf* b, const char* text, Py_ssize_t n) except -1:
    grow(b, n)
    memcpy(b.data + b.size, text, n)
    b.size += n
    return 0


cdef int newline_indent(Buf* b, int level) except -1:
    cdef Py_ssize_t n = 1 + INDENT * level
    cdef Py_ssize_t i
    grow(b, n)
    b.data[b.size] = b'\n'
    for i in range(1, n):
        b.data[b.size + i] = b' '
    b.size += n
    return 0


cdef int finish_decimal(Buf* b, char* text, int n) except -1:
    # TF Serving adds ".0" to text with neither '.' nor 'e' (whole numbers)
    if strchr(text, b'.') == NULL and strchr(text, b'e') == NULL:
        text[n] = b'.'
        text[n + 1] = b'0'
        n += 2
    put(b, text, n)
    return 0


cdef int put_nonfinite(Buf* b, double v) except -1:
    if isnan(v):
        put(b, b"NaN", 3)
    elif v < 0:
        put(b, b"-Infinity", 9)
    else:
        put(b, b"Infinity", 8)
    return 0


# Powers of ten as doubles (exact up to 1e22, correctly rounded beyond), for the fast path.
cdef double POW10[70]
cdef int _k
POW10[0] = 1.0
for _k in range(1, 70):
    POW10[_k] = float("1e%d" % _k)


cdef int round_digits(double v, int digits, long long* out_d, int* out_e10):
    """The correctly rounded ``digits``-significant-digit decimal of v > 0 (a float32 value):
    out_d (exactly ``digits`` digits) and v's decimal exponent. Returns 0 when double
    arithmetic cannot decide the rounding for sure (then the caller uses snprintf)."""
    cdef int e2, e10, s, tries
    cdef double x, r, d, lo = POW10[digits - 1], hi = POW10[digits]
    frexp(v, &e2)
    e10 = <int> ((e2 - 1) * 0.30102999566398120)  # floor(log10(v)), or one less
    if e2 - 1 < 0:
        e10 -= 1
    for tries in range(3):
        s = digits - 1 - e10
        if s > 69 or s < -69:
            return 0
        x = v * POW10[s] if s >= 0 else v / POW10[-s]
        if x >= hi:
            e10 += 1
            continue
        if x < lo - 0.5:
            e10 -= 1
            continue
        break
    else:
        return 0
    r = rint(x)
    d = fabs(x - r)
    # x carries at most ~2 ulp of error: a fraction that close to one half is left to snprintf
    if fabs(d - 0.5) < 4e-16 * x + 1e-300 or (s < 0 or s > 22) and fabs(d - 0.5) < 1e-6:
        return 0
    if r >= hi:  # 9.999995 -> 10.0000: one more digit on the left
        r = lo
        e10 += 1
    if r < lo:
        return 0
    out_d[0] = <long long> r
    out_e10[0] = e10
    return 1


cdef int reads_back(long long d, int e, float v):
    """Whether the decimal d * 10^e (e = exponent of its last digit) reads back as v:
    1 yes, 0 no, -1 too close to the edge of v's rounding interval to tell with doubles."""
    cdef double x, below, above, edge
    if e > 22 or e < -22:
        return -1
    x = d * POW10[e] if e >= 0 else d / POW10[-e]
    below = (<double> nextafterf(v, -INFINITY) + <double> v) * 0.5
    above = (<double> nextafterf(v, INFINITY) + <double> v) * 0.5
    edge = fabs(x) * 4e-16
    if fabs(x - below) <= edge or fabs(x - above) <= edge:
        return -1
    return 1 if below < x < above else 0


cdef int write_g(char* text, int negative, long long d, int digits, int e10):
    """printf("%.<digits>g") of the decimal d (exactly ``digits`` digits) * 10^(e10-digits+1)."""
    cdef char dg[24]
    cdef int n = 0, i, used = digits, exp_abs
    for i in range(digits - 1, -1, -1):
        dg[i] = <char> (48 + d % 10)
        d //= 10
    while used > 1 and dg[used - 1] == 48:  # %g drops trailing zeros
        used -= 1
    if negative:
        text[n] = 45
        n += 1
    if e10 < -4 or e10 >= digits:
        text[n] = dg[0]
        n += 1
        if used > 1:
            text[n] = 46
            n += 1
            for i in range(1, used):
                text[n] = dg[i]
                n += 1
        text[n] = 101
        text[n + 1] = 45 if e10 < 0 else 43
        n += 2
        exp_abs = -e10 if e10 < 0 else e10
        if exp_abs >= 100:
            text[n] = <char> (48 + exp_abs // 100)
            n += 1
        text[n] = <char> (48 + (exp_abs // 10) % 10)
        text[n + 1] = <char> (48 + exp_abs % 10)
        n += 2
    elif e10 >= 0:
        for i in range(e10 + 1):
            text[n] = dg[i] if i < used else 48
            n += 1
        if used > e10 + 1:
            text[n] = 46
            n += 1
            for i in range(e10 + 1, used):
                text[n] = dg[i]
                n += 1
    else:
        text[n] = 48
        text[n + 1] = 46
        n += 2
        for i in range(-e10 - 1):
            text[n] = 48
            n += 1
        for i in range(used):
            text[n] = dg[i]
            n += 1
    text[n] = 0
    return n


cdef int put_float32(Buf* b, float v) except -1:
    cdef char text[48]
    cdef int n, e10, back
    cdef long long d
    cdef double a
    if isnan(v) or isinf(v):
        return put_nonfinite(b, v)
    a = fabs(<double> v)
    if a == 0.0 or not round_digits(a, 6, &d, &e10):
        return put_float32_printf(b, v)
    back = reads_back(d, e10 - 5, <float> a)
    if back < 0:
        return put_float32_printf(b, v)
    if back:
        n = write_g(text, v < 0, d, 6, e10)
        return finish_decimal(b, text, n)
    if not round_digits(a, 9, &d, &e10):
        return put_float32_printf(b, v)
    n = write_g(text, v < 0, d, 9, e10)
    return finish_decimal(b, text, n)


cdef int put_float32_printf(Buf* b, float v) except -1:
    # the reference path: what TF Serving's absl/printf calls give, decided by libc exactly
    cdef char text[48]
    cdef int n
    n = snprintf(text, 40, b"%.6g", <double> v)
    if strtof(text, NULL) != v:
        n = snprintf(text, 40, b"%.9g", <double> v)
    return finish_decimal(b, text, n)


def float32_fast_text(value):
    """The fast path's text for one float32 (tests compare it with the printf path)."""
    cdef Buf b
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        put_float32(&b, <float> value)
        return b.data[:b.size]
    finally:
        free(b.data)


def float32_printf_text(value):
    cdef Buf b
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        put_float32_printf(&b, <float> value)
        return b.data[:b.size]
    finally:
        free(b.data)


cdef int put_float64(Buf* b, double v) except -1:
    cdef char text[48]
    cdef int n
    if isnan(v) or isinf(v):
        return put_nonfinite(b, v)
    n = snprintf(text, 40, b"%.6g", v)
    if strtod(text, NULL) != v:
        n = snprintf(text, 40, b"%.17g", v)
    return finish_decimal(b, text, n)


cdef int put_uint(Buf* b, uint64_t v) except -1:
    cdef char text[24]
    cdef int n = 24
    while True:
        n -= 1
        text[n] = <char> (48 + v % 10)
        v //= 10
        if v == 0:
            break
    return put(b, text + n, 24 - n)


cdef int put_int(Buf* b, int64_t v) except -1:
    if v < 0:
        put(b, b"-", 1)
        return put_uint(b, <uint64_t> 0 - <uint64_t> v)
    return put_uint(b, <uint64_t> v)


# element kinds
DEF F32 = 0
DEF F64 = 1
DEF I64 = 2
DEF U64 = 3
DEF BOOL = 4


cdef int put_leaf(Buf* b, int kind, const char* p) except -1:
    if kind == F32:
        return put_float32(b, (<float*> p)[0])
    if kind == F64:
        return put_float64(b, (<double*> p)[0])
    if kind == I64:
        return put_int(b, (<int64_t*> p)[0])
    if kind == U64:
        return put_uint(b, (<uint64_t*> p)[0])
    if (<unsigned char*> p)[0]:
        return put(b, b"true", 4)
    return put(b, b"false", 5)


cdef int walk(Buf* b, int kind, const char* p, Py_ssize_t* shape, Py_ssize_t* strides,
              int ndim, int depth, int level, bint single_line) except -1:
    cdef Py_ssize_t i, n
    if depth == ndim:
        return put_leaf(b, kind, p)
    n = shape[depth]
    if n == 0:
        return put(b, b"[]", 2)
    put(b, b"[", 1)
    for i in range(n):
        if i:
            if single_line:
                put(b, b", ", 2)
            else:
                put(b, b",", 1)
        if not single_line:
            newline_indent(b, level + 1)
        walk(b, kind, p + i * strides[depth], shape, strides, ndim, depth + 1, level + 1,
             single_line)
    if not single_line:
        newline_indent(b, level)
    put(b, b"]", 1)
    return 0


cdef int element_kind(cnp.ndarray arr):
    cdef int t = cnp.PyArray_TYPE(arr)
    if not cnp.PyArray_ISNOTSWAPPED(arr):
        return -1
    if t == cnp.NPY_FLOAT32:
        return F32
    if t == cnp.NPY_FLOAT64:
        return F64
    if t == cnp.NPY_INT64:
        return I64
    if t == cnp.NPY_UINT64:
        return U64
    if t == cnp.NPY_BOOL:
        return BOOL
    return -1


_WIDER = {"f": "=f4", "i": "=i8", "u": "=u8", "b": "?"}


def tensor_json(array, int level=0, bint single_line=True, bint as_b64=False):
    """See _jsonfmt_py.tensor_json: the same bytes for the same arguments."""
    cdef Buf b
    cdef int kind, d, ndim
    cdef cnp.ndarray arr
    cdef Py_ssize_t[32] shape
    cdef Py_ssize_t[32] strides
    if not isinstance(array, np.ndarray):
        array = np.asarray(array)
    arr = array
    kind = element_kind(arr)
    if kind < 0:
        wider = _WIDER.get(arr.dtype.kind)
        if wider is None:  # strings, objects: the twin writes them
            return _jsonfmt_py.tensor_json(arr, level, single_line, as_b64)
        if arr.dtype.kind == "f" and arr.dtype.itemsize == 8:
            wider = "=f8"
        arr = arr.astype(wider)  # float16 -> float32, narrow ints -> 64 bits, native order
        kind = element_kind(arr)
    ndim = cnp.PyArray_NDIM(arr)
    if ndim > 32:
        return _jsonfmt_py.tensor_json(arr, level, single_line, as_b64)
    for d in range(ndim):
        shape[d] = cnp.PyArray_DIMS(arr)[d]
        strides[d] = cnp.PyArray_STRIDES(arr)[d]
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        walk(&b, kind, <const char*> cnp.PyArray_DATA(arr), shape, strides, ndim, 0, level,
             single_line)
        return b.data[:b.size] if b.size else b""
    finally:
        free(b.data)


__all__ = ["tensor_json", "float32_text", "float64_text", "json_string", "string_leaf"]

# cython: language_level=3
"""Numeric tensors -> JSON text in TF Serving's layout, compiled (twin of _jsonfmt_py).

The same bytes as the twin for every numeric dtype (floats by TF Serving's six-digits-else-
max_digits10 rule, ints, bools); string tensors go to the twin, which also owns the rules'
documentation. One C buffer per call, no Python objects per element.
"""
from libc.stdio cimport snprintf
from libc.stdlib cimport free, realloc, strtod, strtof
from libc.string cimport memcpy, strchr
from libc.math cimport isnan, isinf
from libc.stdint cimport int64_t, uint64_t

import numpy as np

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


cdef int put_float32(Buf* b, float v) except -1:
    cdef char text[48]
    cdef int n
    if isnan(v) or isinf(v):
        return put_nonfinite(b, v)
    n = snprintf(text, 40, b"%.6g", <double> v)
    if strtof(text, NULL) != v:
        n = snprintf(text, 40, b"%.9g", <double> v)
    return finish_decimal(b, text, n)


cdef int put_float64(Buf* b, double v) except -1:
    cdef char text[48]
    cdef int n
    if isnan(v) or isinf(v):
        return put_nonfinite(b, v)
    n = snprintf(text, 40, b"%.6g", v)
    if strtod(text, NULL) != v:
        n = snprintf(text, 40, b"%.17g", v)
    return finish_decimal(b, text, n)


cdef int put_int(Buf* b, int64_t v) except -1:
    cdef char text[32]
    cdef int n = snprintf(text, 32, b"%lld", <long long> v)
    return put(b, text, n)


cdef int put_uint(Buf* b, uint64_t v) except -1:
    cdef char text[32]
    cdef int n = snprintf(text, 32, b"%llu", <unsigned long long> v)
    return put(b, text, n)


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


def tensor_json(array, int level=0, bint single_line=True, bint as_b64=False):
    """See _jsonfmt_py.tensor_json: the same bytes for the same arguments."""
    cdef Buf b
    cdef int kind
    cdef Py_ssize_t[32] shape
    cdef Py_ssize_t[32] strides
    cdef int d, ndim
    cdef const unsigned char[::1] keep
    cdef const char* base
    array = np.asarray(array)
    dk = array.dtype.kind
    if dk == "f":
        if array.dtype.itemsize == 8:
            kind = F64
            array = array.astype("=f8", copy=False)
        else:
            kind = F32
            array = array.astype("=f4", copy=False)
    elif dk == "i":
        kind = I64
        array = array.astype("=i8", copy=False)
    elif dk == "u":
        kind = U64
        array = array.astype("=u8", copy=False)
    elif dk == "b":
        kind = BOOL
    else:  # strings, objects: the twin writes them
        return _jsonfmt_py.tensor_json(array, level, single_line, as_b64)
    ndim = array.ndim
    if ndim > 32:
        return _jsonfmt_py.tensor_json(array, level, single_line, as_b64)
    for d in range(ndim):
        shape[d] = array.shape[d]
        strides[d] = array.strides[d]
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        if array.size == 0:
            walk(&b, kind, NULL, shape, strides, ndim, 0, level, single_line)
        else:
            contiguous = np.ascontiguousarray(array)
            for d in range(ndim):
                strides[d] = contiguous.strides[d]
            keep = contiguous.reshape(-1).view(np.uint8)
            base = <const char*> &keep[0]
            walk(&b, kind, base, shape, strides, ndim, 0, level, single_line)
        return b.data[:b.size] if b.size else b""
    finally:
        free(b.data)


__all__ = ["tensor_json", "float32_text", "float64_text", "json_string", "string_leaf"]

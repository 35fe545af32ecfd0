# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled TF Serving wire codec: the same API and semantics as ``_codec_py`` (read that first).

Encoding sizes the whole message first, allocates the result ``bytes`` once and writes the
headers and each payload straight into it (a TensorWriter gets a writable memoryview onto its
slice of the fresh bytes). Decoding walks raw pointers; every read is checked against the end
of the enclosing message before it happens, and ``DecodeError`` is the only error bad bytes raise.
Arrays are made through numpy's C API with cached dtype descriptors: a Python-level
``np.ndarray(...)`` call costs more than the rest of decoding a small reply.
Assumes a little-endian host (the wire's byte order) with 64-bit ``npy_intp``; on others the
import fails and the pure-Python twin is used.
"""
import sys

import numpy as np

from cpython.buffer cimport (
    PyBUF_RECORDS_RO, PyBuffer_FillInfo, PyBuffer_IsContiguous, PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.object cimport PyObject, PyTypeObject
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.ref cimport Py_INCREF, Py_REFCNT
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, int8_t, uint16_t, uint32_t, uint64_t, uint8_t
from libc.string cimport memcmp, memcpy

cimport numpy as cnp

from fastpack._codec_shared import MAX_DECODED_BYTES, ModelSpec, tensor_plan
from fastpack.dtypes import TO_NUMPY
from fastpack.errors import DecodeError, EncodeError

if sys.byteorder != "little" or sizeof(cnp.npy_intp) != sizeof(int64_t):
    raise ImportError("fastpack._codec_c needs a little-endian host with 64-bit npy_intp")

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    # Each steals a reference to descr, even when it fails: callers Py_INCREF it first.
    ctypedef struct PyArray_Descr
    PyTypeObject PyArray_Type
    object PyArray_NewFromDescr(PyTypeObject* subtype, PyArray_Descr* descr, int nd,
                                cnp.npy_intp* dims, cnp.npy_intp* strides, void* data,
                                int flags, PyObject* obj)
    object PyArray_Empty(int nd, cnp.npy_intp* dims, PyArray_Descr* descr, int fortran)
    object PyArray_Zeros(int nd, cnp.npy_intp* dims, PyArray_Descr* descr, int fortran)

DEF MAX_RANK = 64  # _codec_shared.MAX_RANK, as a compile-time size
DEF MAX_GROUP_DEPTH = 64

cdef object _ndarray = np.ndarray
cdef object _empty = np.empty
cdef object _model_spec_new = tuple.__new__

# DataType numbers (tensorflow/core/framework/types.proto)
cdef enum:
    DT_FLOAT = 1
    DT_DOUBLE = 2
    DT_INT32 = 3
    DT_UINT8 = 4
    DT_INT16 = 5
    DT_INT8 = 6
    DT_STRING = 7
    DT_COMPLEX64 = 8
    DT_INT64 = 9
    DT_BOOL = 10
    DT_QINT8 = 11
    DT_QUINT8 = 12
    DT_QINT32 = 13
    DT_QINT16 = 15
    DT_QUINT16 = 16
    DT_UINT16 = 17
    DT_COMPLEX128 = 18
    DT_HALF = 19
    DT_UINT32 = 22
    DT_UINT64 = 23
    N_DATATYPES = 24

# numpy dtype objects by DataType, None where unsupported
cdef list _DTYPES = [TO_NUMPY.get(i) for i in range(N_DATATYPES)]


# =========================================================================== encoding

cdef inline int _varint_len(uint64_t value) noexcept nogil:
    cdef int n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


cdef inline char* _put_varint(char* p, uint64_t value) noexcept nogil:
    while value >= 0x80:
        p[0] = <char>((value & 0x7F) | 0x80)
        value >>= 7
        p += 1
    p[0] = <char>value
    return p + 1


cdef inline Py_ssize_t _field_len(Py_ssize_t length) noexcept nogil:
    """Bytes a length-delimited field with a one-byte key takes (all ours have field < 16)."""
    return 1 + _varint_len(<uint64_t>length) + length


cdef inline char* _put_len_header(char* p, int field, Py_ssize_t length) noexcept nogil:
    p[0] = <char>(field << 3 | 2)
    return _put_varint(p + 1, <uint64_t>length)


cdef inline char* _put_text(char* p, int field, const char* text, Py_ssize_t length) noexcept nogil:
    p = _put_len_header(p, field, length)
    memcpy(p, text, length)
    return p + length


cdef int _datatype_of_format(const char* fmt, Py_ssize_t itemsize) noexcept:
    """DataType for a buffer format string in little-endian/native order; 0 if not ours."""
    if fmt == NULL:
        return DT_UINT8 if itemsize == 1 else 0
    if fmt[0] == b'<' or fmt[0] == b'@' or fmt[0] == b'=':
        fmt += 1
    cdef char code = fmt[0]
    if code == 0:
        return 0
    if code == b'Z':
        if fmt[2] != 0 and fmt[1] != 0:
            return 0
        if fmt[1] == b'f' and itemsize == 8:
            return DT_COMPLEX64
        if fmt[1] == b'd' and itemsize == 16:
            return DT_COMPLEX128
        return 0
    if fmt[1] != 0:
        return 0
    if code == b'?' and itemsize == 1:
        return DT_BOOL
    if code == b'e' and itemsize == 2:
        return DT_HALF
    if code == b'f' and itemsize == 4:
        return DT_FLOAT
    if code == b'd' and itemsize == 8:
        return DT_DOUBLE
    if code == b'b' or code == b'h' or code == b'i' or code == b'l' or code == b'q':
        if itemsize == 1:
            return DT_INT8
        if itemsize == 2:
            return DT_INT16
        if itemsize == 4:
            return DT_INT32
        if itemsize == 8:
            return DT_INT64
        return 0
    if code == b'B' or code == b'H' or code == b'I' or code == b'L' or code == b'Q':
        if itemsize == 1:
            return DT_UINT8
        if itemsize == 2:
            return DT_UINT16
        if itemsize == 4:
            return DT_UINT32
        if itemsize == 8:
            return DT_UINT64
    return 0


cdef class _Tensor:
    """One input, sized and ready to be written: a numeric buffer, a TensorWriter or strings."""
    cdef int datatype
    cdef int ndim
    cdef int64_t dims[MAX_RANK]
    cdef Py_buffer view
    cdef bint has_view
    cdef object writer
    cdef list strings
    cdef Py_ssize_t payload_len    # tensor_content bytes, or all string_val fields together
    cdef Py_ssize_t shape_len      # the TensorShapeProto message
    cdef Py_ssize_t size           # the whole TensorProto message

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef int _take_buffer(self, object arr) except -1:
        """Borrow arr's memory if it is C-contiguous little-endian numeric; return 1 if so."""
        cdef int i
        if PyObject_GetBuffer(arr, &self.view, PyBUF_RECORDS_RO) < 0:
            return -1
        self.has_view = True
        self.datatype = _datatype_of_format(self.view.format, self.view.itemsize)
        if (self.datatype == 0 or self.view.ndim > MAX_RANK
                or not PyBuffer_IsContiguous(&self.view, b'C')):
            PyBuffer_Release(&self.view)
            self.has_view = False
            return 0
        self.ndim = self.view.ndim
        for i in range(self.ndim):
            self.dims[i] = self.view.shape[i]
        self.payload_len = self.view.len
        return 1

    cdef int _set_shape(self, object shape) except -1:
        cdef int i
        if len(shape) > MAX_RANK:
            raise EncodeError(f"rank {len(shape)} is over {MAX_RANK}")
        self.ndim = len(shape)
        for i in range(self.ndim):
            self.dims[i] = shape[i]
        return 0

    cdef int _prepare(self, object value) except -1:
        cdef Py_ssize_t n
        if isinstance(value, _ndarray):
            try:
                if self._take_buffer(value) == 1:
                    return self._size()
            except (ValueError, TypeError, BufferError):  # object dtype: no buffer
                pass
        # The rare and slow cases (strings, writers, big-endian, strided, non-arrays) go
        # through the shared readable conversion, then back onto the buffer path.
        datatype, shape, payload = tensor_plan(value)
        if isinstance(payload, list):
            self.datatype = DT_STRING
            self._set_shape(shape)
            self.strings = payload
            n = 0
            for item in payload:
                n += _field_len(len(<bytes>item))
            self.payload_len = n
        elif isinstance(payload, _ndarray):
            if self._take_buffer(payload) != 1:
                raise EncodeError("array could not be made contiguous little-endian")
            self.datatype = datatype
            self._set_shape(shape)
        else:
            self.datatype = datatype
            self._set_shape(shape)
            self.writer = payload
            n = np.dtype(payload.dtype).itemsize
            for i in range(self.ndim):
                n *= self.dims[i]
            self.payload_len = n
        return self._size()

    cdef int _size(self) except -1:
        cdef Py_ssize_t shape_len = 0, dim_len
        cdef int i
        for i in range(self.ndim):
            dim_len = 1 + _varint_len(<uint64_t>self.dims[i]) if self.dims[i] else 0
            shape_len += _field_len(dim_len)
        self.shape_len = shape_len
        self.size = 1 + _varint_len(self.datatype) + _field_len(shape_len)
        if self.strings is not None:
            self.size += self.payload_len
        elif self.payload_len:
            self.size += _field_len(self.payload_len)
        return 0

    cdef char* _write(self, char* p, object out) except NULL:
        cdef int i
        cdef Py_ssize_t dim_len
        p[0] = 0x08
        p = _put_varint(p + 1, self.datatype)
        p = _put_len_header(p, 2, self.shape_len)
        for i in range(self.ndim):
            if self.dims[i]:
                dim_len = 1 + _varint_len(<uint64_t>self.dims[i])
                p = _put_len_header(p, 2, dim_len)
                p[0] = 0x08
                p = _put_varint(p + 1, <uint64_t>self.dims[i])
            else:
                p = _put_len_header(p, 2, 0)
        if self.strings is not None:
            for item in self.strings:
                p = _put_text(p, 8, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
            return p
        if self.payload_len == 0:
            return p
        p = _put_len_header(p, 4, self.payload_len)
        if self.has_view:
            memcpy(p, self.view.buf, self.payload_len)
        else:
            _write_through(self.writer, out, p, self.payload_len)
        return p + self.payload_len


cdef class _Window:
    """Exports a writable slice of a bytes object we just created and still own alone."""
    cdef object owner
    cdef char* start
    cdef Py_ssize_t length

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.start, self.length, 0, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef int _write_through(object writer, object owner, char* start, Py_ssize_t length) except -1:
    """Let a TensorWriter fill its payload slice of the fresh request bytes in place.

    Memory safety rests on references, not on release(): whatever the writer keeps (the
    memoryview, a slice, a numpy array on it) keeps the window and so the bytes alive. Keeping
    anything is still a contract breach, reported as EncodeError where it can be seen.
    """
    cdef _Window window = _Window.__new__(_Window)
    window.owner = owner
    window.start = start
    window.length = length
    view = memoryview(window)
    writer.write_into(view)
    try:
        view.release()
    except BufferError:
        raise EncodeError("TensorWriter kept a view of the request buffer") from None
    if Py_REFCNT(window) > 1:  # a view derived from ours still holds the window
        raise EncodeError("TensorWriter kept a view of the request buffer")
    return 0


cdef inline const char* _utf8(object text, Py_ssize_t* length, str what) except NULL:
    if not isinstance(text, str):
        raise EncodeError(f"{what} must be str, not {type(text).__name__}")
    try:
        return PyUnicode_AsUTF8AndSize(text, length)
    except UnicodeEncodeError:
        raise EncodeError(f"{what} is not valid UTF-8 text") from None


def encode_tensor(array):
    """TensorProto wire bytes for an array (tensor_content for numbers, string_val for text)."""
    cdef _Tensor tensor = _Tensor.__new__(_Tensor)
    tensor._prepare(array)
    out = PyBytes_FromStringAndSize(NULL, tensor.size)
    cdef char* start = PyBytes_AS_STRING(out)
    if tensor._write(start, out) != start + tensor.size:
        raise SystemError("fastpack: tensor size miscounted")
    return out


def encode_predict_request(model_name, inputs, *, signature_name="", version=None,
                           version_label=None, output_filter=()):
    """PredictRequest wire bytes; each input payload is copied into the result once."""
    cdef Py_ssize_t name_len, sig_len, label_len = 0, key_len, entry_len, spec_len, total
    cdef const char* name_ptr = _utf8(model_name, &name_len, "model_name")
    cdef const char* sig_ptr = _utf8(signature_name, &sig_len, "signature_name")
    cdef const char* label_ptr = NULL
    cdef int64_t version_value = 0
    cdef Py_ssize_t version_len = 0
    cdef _Tensor tensor
    cdef char* p
    cdef char* start
    if version is not None and version_label is not None:
        raise EncodeError("give a model version or a version label, not both")
    if version_label is not None:
        label_ptr = _utf8(version_label, &label_len, "version_label")
    if version is not None:
        try:
            version_value = version
        except (TypeError, OverflowError):
            raise EncodeError(f"model version must be an int64, not {version!r}") from None
        version_len = 1 + _varint_len(<uint64_t>version_value) if version_value else 0

    spec_len = 0
    if name_len:
        spec_len += _field_len(name_len)
    if version is not None:
        spec_len += _field_len(version_len)
    if sig_len:
        spec_len += _field_len(sig_len)
    if label_ptr != NULL:
        spec_len += _field_len(label_len)
    total = _field_len(spec_len)

    tensors = []
    for key, value in inputs.items():
        _utf8(key, &key_len, "input name")
        tensor = _Tensor.__new__(_Tensor)
        tensor._prepare(value)
        tensors.append((key, tensor))
        total += _field_len(_field_len(key_len) + _field_len(tensor.size))
    filters = list(output_filter)
    for item in filters:
        _utf8(item, &key_len, "output_filter entry")
        total += _field_len(key_len)

    out = PyBytes_FromStringAndSize(NULL, total)
    start = PyBytes_AS_STRING(out)
    p = _put_len_header(start, 1, spec_len)
    if name_len:
        p = _put_text(p, 1, name_ptr, name_len)
    if version is not None:
        p = _put_len_header(p, 2, version_len)
        if version_value:
            p[0] = 0x08
            p = _put_varint(p + 1, <uint64_t>version_value)
    if sig_len:
        p = _put_text(p, 3, sig_ptr, sig_len)
    if label_ptr != NULL:
        p = _put_text(p, 4, label_ptr, label_len)
    for key, tensor in tensors:
        name_ptr = PyUnicode_AsUTF8AndSize(key, &key_len)
        entry_len = _field_len(key_len) + _field_len(tensor.size)
        p = _put_len_header(p, 2, entry_len)
        p = _put_text(p, 1, name_ptr, key_len)
        p = _put_len_header(p, 2, tensor.size)
        p = tensor._write(p, out)
    for item in filters:
        name_ptr = PyUnicode_AsUTF8AndSize(item, &key_len)
        p = _put_text(p, 3, name_ptr, key_len)
    if p != start + total:
        raise SystemError("fastpack: request size miscounted")
    return out


# =========================================================================== decoding

cdef struct _Reader:
    const uint8_t* data
    Py_ssize_t pos
    Py_ssize_t end


cdef struct _Field:
    uint32_t number
    int wire_type
    uint64_t value        # varint value, or the offset of a fixed-width value
    Py_ssize_t start      # length-delimited payload
    Py_ssize_t stop


cdef inline int _read_varint(_Reader* r, uint64_t* out) except -1 nogil:
    """Read one varint at r.pos; most (keys, small lengths) are a single byte."""
    if r.pos < r.end and r.data[r.pos] < 0x80:
        out[0] = r.data[r.pos]
        r.pos += 1
        return 0
    return _read_long_varint(r, out)


cdef int _read_long_varint(_Reader* r, uint64_t* out) except -1 nogil:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef uint8_t byte
    while True:
        if r.pos >= r.end:
            with gil:
                raise DecodeError("truncated varint")
        byte = r.data[r.pos]
        r.pos += 1
        if shift < 64:
            result |= (<uint64_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            out[0] = result
            return 0
        shift += 7
        if shift >= 70:
            with gil:
                raise DecodeError("varint longer than 10 bytes")


cdef int _skip_group(_Reader* r, uint32_t number, int depth) except -1:
    cdef _Field f
    if depth > MAX_GROUP_DEPTH:
        raise DecodeError("groups nested too deeply")
    while True:
        if r.pos >= r.end:
            raise DecodeError("group runs past the end of its message")
        if _next_field(r, &f, depth + 1, True) == 2:
            if f.number != number:
                raise DecodeError("mismatched end of group")
            return 0


cdef int _next_field(_Reader* r, _Field* f, int depth=0, bint in_group=False) except -1:
    """Read one field at r.pos; 1 for a field the caller may use, 0 for one skipped (a group),
    2 for an end-of-group key (only allowed inside a group)."""
    cdef uint64_t key, length
    if _read_varint(r, &key) < 0:
        return -1
    f.number = <uint32_t>(key >> 3)
    f.wire_type = key & 7
    if f.number == 0 or (key >> 3) > 0x1FFFFFFF:
        raise DecodeError("bad field number")
    if f.wire_type == 0:
        _read_varint(r, &f.value)
    elif f.wire_type == 2:
        _read_varint(r, &length)
        if length > <uint64_t>(r.end - r.pos):
            raise DecodeError("length runs past the end of its message")
        f.start = r.pos
        f.stop = r.pos + <Py_ssize_t>length
        r.pos = f.stop
    elif f.wire_type == 1 or f.wire_type == 5:
        length = 8 if f.wire_type == 1 else 4
        if length > <uint64_t>(r.end - r.pos):
            raise DecodeError("fixed-width field runs past the end of its message")
        f.value = <uint64_t>r.pos
        r.pos += <Py_ssize_t>length
    elif f.wire_type == 3:
        _skip_group(r, f.number, depth)
        return 0
    elif f.wire_type == 4 and in_group:
        return 2
    else:
        raise DecodeError(f"bad wire type {f.wire_type}")
    return 1


cdef inline _Reader _reader(const uint8_t* data, Py_ssize_t start, Py_ssize_t stop) noexcept:
    cdef _Reader r
    r.data = data
    r.pos = start
    r.end = stop
    return r


cdef str _text(const uint8_t* data, _Field* f):
    try:
        return PyUnicode_DecodeUTF8(<const char*>data + f.start, f.stop - f.start, NULL)
    except UnicodeDecodeError:
        raise DecodeError("string field is not valid UTF-8") from None


cdef struct _TensorHead:
    int64_t datatype
    int ndim
    cnp.npy_intp dims[MAX_RANK]   # 64-bit, checked at import
    bint unknown_rank
    Py_ssize_t content_start
    Py_ssize_t content_stop


cdef int _merge_shape(const uint8_t* data, Py_ssize_t start, Py_ssize_t stop,
                      _TensorHead* head) except -1:
    cdef _Reader r = _reader(data, start, stop), dr
    cdef _Field f, df
    cdef int64_t size
    while r.pos < r.end:
        if _next_field(&r, &f) != 1:
            continue
        if f.number == 2 and f.wire_type == 2:
            size = 0
            dr = _reader(data, f.start, f.stop)
            while dr.pos < dr.end:
                if _next_field(&dr, &df) == 1 and df.number == 1 and df.wire_type == 0:
                    size = <int64_t>df.value
            if head.ndim >= MAX_RANK:
                raise DecodeError(f"tensor rank over {MAX_RANK}")
            head.dims[head.ndim] = size
            head.ndim += 1
        elif f.number == 3 and f.wire_type == 0:
            head.unknown_rank = f.value != 0
    return 0


cdef int _merge_head(const uint8_t* data, Py_ssize_t start, Py_ssize_t stop,
                     _TensorHead* head) except -1:
    cdef _Reader r = _reader(data, start, stop)
    cdef _Field f
    while r.pos < r.end:
        if _next_field(&r, &f) != 1:
            continue
        if f.number == 1 and f.wire_type == 0:
            head.datatype = <uint32_t>f.value  # an enum is an int32 on the wire
        elif f.number == 2 and f.wire_type == 2:
            _merge_shape(data, f.start, f.stop, head)
        elif f.number == 4 and f.wire_type == 2:
            head.content_start = f.start
            head.content_stop = f.stop
    return 0


# The TensorProto: one span, or (in a map entry) every value field of the entry, merged.
cdef struct _Chunks:
    const uint8_t* data
    Py_ssize_t start
    Py_ssize_t stop
    bint in_entry


cdef int _next_chunk(_Chunks* c, _Reader* outer, Py_ssize_t* start, Py_ssize_t* stop) except -1:
    cdef _Field f
    if not c.in_entry:
        if outer.pos >= outer.end:
            return 0
        start[0] = outer.pos
        stop[0] = outer.end
        outer.pos = outer.end
        return 1
    while outer.pos < outer.end:
        if _next_field(outer, &f) == 1 and f.number == 2 and f.wire_type == 2:
            start[0] = f.start
            stop[0] = f.stop
            return 1
    return 0


cdef uint32_t _value_field(int64_t datatype, int* wire_type) noexcept:
    """The repeated field holding a DataType's values, and its unpacked wire type."""
    wire_type[0] = 0
    if datatype == DT_FLOAT:
        wire_type[0] = 5
        return 5
    if datatype == DT_DOUBLE:
        wire_type[0] = 1
        return 6
    if datatype == DT_COMPLEX64:
        wire_type[0] = 5
        return 9
    if datatype == DT_COMPLEX128:
        wire_type[0] = 1
        return 12
    if datatype == DT_STRING:
        wire_type[0] = 2
        return 8
    if datatype == DT_INT64:
        return 10
    if datatype == DT_BOOL:
        return 11
    if datatype == DT_HALF:
        return 13
    if datatype == DT_UINT32:
        return 16
    if datatype == DT_UINT64:
        return 17
    return 7  # int_val: int32 and the narrower integers


cdef Py_ssize_t _count_varints(const uint8_t* data, Py_ssize_t start, Py_ssize_t stop) except -1:
    cdef _Reader r = _reader(data, start, stop)
    cdef uint64_t ignored
    cdef Py_ssize_t n = 0
    while r.pos < r.end:
        _read_varint(&r, &ignored)
        n += 1
    return n


cdef inline void _store(char* out, Py_ssize_t i, int64_t datatype, uint64_t v) noexcept nogil:
    if datatype == DT_FLOAT or datatype == DT_COMPLEX64:
        (<uint32_t*>out)[i] = <uint32_t>v
    elif datatype == DT_DOUBLE or datatype == DT_COMPLEX128:
        (<uint64_t*>out)[i] = v
    elif datatype == DT_INT64 or datatype == DT_UINT64:
        (<uint64_t*>out)[i] = v
    elif datatype == DT_BOOL:
        (<uint8_t*>out)[i] = v != 0
    elif datatype == DT_HALF or datatype == DT_UINT16 or datatype == DT_INT16 \
            or datatype == DT_QINT16 or datatype == DT_QUINT16:
        (<uint16_t*>out)[i] = <uint16_t>v
    elif datatype == DT_INT8 or datatype == DT_UINT8 or datatype == DT_QINT8 or datatype == DT_QUINT8:
        (<uint8_t*>out)[i] = <uint8_t>v
    else:  # int32, uint32, qint32
        (<uint32_t*>out)[i] = <uint32_t>v


cdef inline uint64_t _load_fixed(const uint8_t* p, int width) noexcept nogil:
    cdef uint32_t v32
    cdef uint64_t v64
    if width == 4:
        memcpy(&v32, p, 4)
        return v32
    memcpy(&v64, p, 8)
    return v64


cdef object _new_array(_TensorHead* head, object dtype, char** ptr):
    """A fresh C-order array of head's shape; ptr receives its data pointer."""
    Py_INCREF(dtype)
    arr = PyArray_Empty(head.ndim, head.dims, <PyArray_Descr*>dtype, 0)
    ptr[0] = <char*>cnp.PyArray_DATA(arr)
    return arr


cdef object _view(object owner, const uint8_t* src, _TensorHead* head, object dtype):
    """A read-only array on owner's memory at src (no copy); it keeps owner alive."""
    Py_INCREF(dtype)
    arr = PyArray_NewFromDescr(&PyArray_Type, <PyArray_Descr*>dtype, head.ndim, head.dims, NULL,
                               <void*>src, 0, NULL)  # flags 0: not writeable
    cnp.set_array_base(arr, owner)
    return arr


cdef tuple _shape(_TensorHead* head):
    return tuple([head.dims[d] for d in range(head.ndim)])


cdef object _from_content(object data_obj, const uint8_t* data, _TensorHead* head,
                          object dtype, Py_ssize_t count, Py_ssize_t itemsize):
    cdef Py_ssize_t n = head.content_stop - head.content_start, i, align
    cdef char* out
    if head.datatype == DT_STRING:
        raise DecodeError("DT_STRING tensors cannot use tensor_content")
    if n != count * itemsize:
        raise DecodeError(
            f"tensor_content has {n} bytes, shape {list(_shape(head))} needs {count * itemsize}")
    cdef const uint8_t* src = data + head.content_start
    if head.datatype == DT_BOOL:  # any non-zero byte is true; never hand out bools holding 2..255
        arr = _new_array(head, dtype, &out)
        for i in range(n):
            out[i] = src[i] != 0
        return arr
    align = itemsize // 2 if head.datatype == DT_COMPLEX64 or head.datatype == DT_COMPLEX128 \
        else itemsize
    if (<size_t>src) % align == 0:
        return _view(data_obj, src, head, dtype)
    arr = _new_array(head, dtype, &out)
    memcpy(out, src, n)
    return arr


cdef object _build_tensor(object data_obj, _Chunks* chunks, int64_t* budget):
    cdef const uint8_t* data = chunks.data
    cdef _TensorHead head
    cdef _Reader outer, r
    cdef _Field f
    cdef Py_ssize_t start, stop, count = 1, have = 0, i, itemsize, width, nbytes
    cdef uint32_t field
    cdef int wire_type, d
    cdef char* out
    cdef uint64_t v
    head.datatype = 0
    head.ndim = 0
    head.unknown_rank = False
    head.content_start = head.content_stop = 0

    outer = _reader(data, chunks.start, chunks.stop)
    while _next_chunk(chunks, &outer, &start, &stop):
        _merge_head(data, start, stop, &head)

    dtype = _DTYPES[head.datatype] if 0 <= head.datatype < N_DATATYPES else None
    if dtype is None:
        raise DecodeError(f"unsupported TensorFlow DataType {head.datatype}")
    if head.unknown_rank:
        raise DecodeError("tensor has unknown rank")
    itemsize = (<cnp.dtype>dtype).itemsize
    for d in range(head.ndim):
        if head.dims[d] < 0:
            raise DecodeError(f"tensor dimension {head.dims[d]} is not a concrete size")
        if head.dims[d] and count > budget[0] // head.dims[d]:
            raise DecodeError("tensor is over the decoded-size limit")
        count *= head.dims[d]
    if count > budget[0] // itemsize:
        raise DecodeError("tensor is over the decoded-size limit")
    budget[0] -= count * itemsize

    if head.content_stop > head.content_start:
        return _from_content(data_obj, data, &head, dtype, count, itemsize)

    field = _value_field(head.datatype, &wire_type)
    width = 4 if wire_type == 5 else 8

    # Pass 1: count the values so the result is allocated once at its final size.
    outer = _reader(data, chunks.start, chunks.stop)
    while _next_chunk(chunks, &outer, &start, &stop):
        r = _reader(data, start, stop)
        while r.pos < r.end:
            if _next_field(&r, &f) != 1 or f.number != field:
                continue
            if f.wire_type == wire_type:
                have += 1
            elif f.wire_type == 2:  # packed
                if wire_type == 0:
                    have += _count_varints(data, f.start, f.stop)
                else:
                    if (f.stop - f.start) % width:
                        raise DecodeError("packed fixed-width field has a partial element")
                    have += (f.stop - f.start) // width
    if head.datatype == DT_COMPLEX64 or head.datatype == DT_COMPLEX128:
        if have % 2:
            raise DecodeError("complex tensor has an odd number of parts")
        have //= 2
    if have > count:
        raise DecodeError(f"{have} values for a tensor of {count} elements")
    if head.datatype == DT_STRING:
        return _string_tensor(data_obj, chunks, _shape(&head), count)
    if have == 0:
        Py_INCREF(dtype)
        return PyArray_Zeros(head.ndim, head.dims, <PyArray_Descr*>dtype, 0)

    # Pass 2: fill. Units are wire values (two per complex element).
    arr = _new_array(&head, dtype, &out)
    if head.datatype == DT_COMPLEX64 or head.datatype == DT_COMPLEX128:
        have *= 2
    i = 0
    outer = _reader(data, chunks.start, chunks.stop)
    while _next_chunk(chunks, &outer, &start, &stop):
        r = _reader(data, start, stop)
        while r.pos < r.end:
            if _next_field(&r, &f) != 1 or f.number != field:
                continue
            if f.wire_type == 2 and wire_type != 0:
                nbytes = f.stop - f.start
                memcpy(out + i * width, data + f.start, nbytes)
                i += nbytes // width
            elif f.wire_type == 2:
                vr = _reader(data, f.start, f.stop)
                while vr.pos < vr.end:
                    _read_varint(&vr, &v)
                    _store(out, i, head.datatype, v)
                    i += 1
            elif f.wire_type == wire_type:
                v = f.value if wire_type == 0 else _load_fixed(data + <Py_ssize_t>f.value, width)
                _store(out, i, head.datatype, v)
                i += 1
    # Fewer values than elements: repeat the last one (the proto3 broadcast of a single value).
    if head.datatype == DT_COMPLEX64 or head.datatype == DT_COMPLEX128:
        have //= 2
    _repeat_last(out, have, count, itemsize)
    return arr


cdef void _repeat_last(char* out, Py_ssize_t filled, Py_ssize_t count,
                       Py_ssize_t itemsize) noexcept nogil:
    """Copy element filled-1 into filled..count-1, doubling the copied block each step."""
    cdef Py_ssize_t block = 1, n
    while filled < count:
        n = block if block < count - filled else count - filled
        memcpy(out + filled * itemsize, out + (filled - block) * itemsize, n * itemsize)
        filled += n
        block += n


cdef object _string_tensor(object data_obj, _Chunks* chunks, object shape, Py_ssize_t count):
    cdef const uint8_t* data = chunks.data
    cdef _Reader outer = _reader(data, chunks.start, chunks.stop), r
    cdef _Field f
    cdef Py_ssize_t start, stop
    items = []
    while _next_chunk(chunks, &outer, &start, &stop):
        r = _reader(data, start, stop)
        while r.pos < r.end:
            if _next_field(&r, &f) == 1 and f.number == 8 and f.wire_type == 2:
                items.append(PyBytes_FromStringAndSize(<const char*>data + f.start, f.stop - f.start))
    arr = _empty(count, object)
    if items:
        arr[:len(items)] = items
        arr[len(items):] = items[len(items) - 1]
    else:
        arr[:] = b""
    return arr.reshape(shape)


cdef bytes _as_bytes(object data):
    if type(data) is bytes:
        return data
    try:
        return bytes(memoryview(data).cast("B"))
    except TypeError:
        raise DecodeError(f"expected bytes, not {type(data).__name__}") from None


def decode_tensor(data, *, max_bytes=MAX_DECODED_BYTES):
    """The numpy array a TensorProto's wire bytes hold (tensor_content views are read-only)."""
    cdef bytes raw = _as_bytes(data)
    cdef _Chunks chunks
    cdef int64_t budget = max_bytes
    chunks.data = <const uint8_t*>PyBytes_AS_STRING(raw)
    chunks.start = 0
    chunks.stop = PyBytes_GET_SIZE(raw)
    chunks.in_entry = False
    return _build_tensor(raw, &chunks, &budget)


cdef int _merge_model_spec(const uint8_t* data, Py_ssize_t start, Py_ssize_t stop,
                           list spec) except -1:
    """spec = [name, version, version_label, signature_name]; later fields win (a merge)."""
    cdef _Reader r = _reader(data, start, stop), vr
    cdef _Field f, vf
    cdef int64_t version
    while r.pos < r.end:
        if _next_field(&r, &f) != 1 or f.wire_type != 2:
            continue
        if f.number == 1:
            spec[0] = _text(data, &f)
        elif f.number == 2:  # Int64Value; choosing it clears version_label (a oneof)
            version = spec[1] if spec[1] is not None else 0
            vr = _reader(data, f.start, f.stop)
            while vr.pos < vr.end:
                if _next_field(&vr, &vf) == 1 and vf.number == 1 and vf.wire_type == 0:
                    version = <int64_t>vf.value
            spec[1] = version
            spec[2] = None
        elif f.number == 3:
            spec[3] = _text(data, &f)
        elif f.number == 4:
            spec[1] = None
            spec[2] = _text(data, &f)
    return 0


# (wire bytes, ModelSpec) of the last model_spec decoded: replies from one model repeat it, and
# reusing the immutable tuple saves its string decoding and construction on every call.
cdef tuple _last_spec = (b"", _model_spec_new(ModelSpec, ("", None, None, "")))


cdef object _model_spec(const uint8_t* d, Py_ssize_t start, Py_ssize_t stop):
    global _last_spec
    cdef bytes cached = _last_spec[0]
    cdef Py_ssize_t n = stop - start
    if n == PyBytes_GET_SIZE(cached) and memcmp(PyBytes_AS_STRING(cached), d + start, n) == 0:
        return _last_spec[1]
    spec = ["", None, None, ""]
    _merge_model_spec(d, start, stop, spec)
    result = _model_spec_new(ModelSpec, spec)
    _last_spec = (PyBytes_FromStringAndSize(<const char*>d + start, n), result)
    return result


# Output names of recent replies by position: replies from one model repeat them, and reusing
# the str objects (their hashes cached) saves decoding and hashing each name on every call.
DEF NAME_CACHE_SLOTS = 16
DEF NAME_CACHE_MAX_LEN = 256
cdef list _last_names = [None] * NAME_CACHE_SLOTS


cdef str _output_name(const uint8_t* data, _Field* f, Py_ssize_t index):
    cdef Py_ssize_t n = f.stop - f.start, cached_len
    cdef const char* cached
    if index >= NAME_CACHE_SLOTS or n > NAME_CACHE_MAX_LEN:
        return _text(data, f)
    name = _last_names[index]
    if name is not None:
        cached = PyUnicode_AsUTF8AndSize(name, &cached_len)
        if cached_len == n and memcmp(cached, data + f.start, n) == 0:
            return name
    name = _text(data, f)
    _last_names[index] = name
    return name


def decode_predict_response(data, *, max_bytes=MAX_DECODED_BYTES):
    """({output name: array}, ModelSpec) from PredictResponse wire bytes."""
    cdef bytes raw = _as_bytes(data)
    cdef const uint8_t* d = <const uint8_t*>PyBytes_AS_STRING(raw)
    cdef _Reader r = _reader(d, 0, PyBytes_GET_SIZE(raw)), er
    cdef _Field f, ef
    cdef _Chunks chunks
    cdef int64_t budget = max_bytes
    cdef Py_ssize_t key_pos, spec_start = 0, spec_stop = 0, entry_index = 0
    cdef int spec_count = 0
    entries = {}  # output name -> where its map entry starts, then -> its array
    while r.pos < r.end:
        key_pos = r.pos
        if _next_field(&r, &f) != 1 or f.wire_type != 2:
            continue
        if f.number == 1:
            name = ""
            er = _reader(d, f.start, f.stop)
            while er.pos < er.end:
                if _next_field(&er, &ef) == 1 and ef.number == 1 and ef.wire_type == 2:
                    name = _output_name(d, &ef, entry_index)
            entries[name] = key_pos  # a repeated key replaces the earlier entry
            entry_index += 1
        elif f.number == 2:
            spec_count += 1
            spec_start, spec_stop = f.start, f.stop
    if spec_count <= 1:
        model_spec = _model_spec(d, spec_start, spec_stop)
    else:  # several occurrences merge in order; rare enough to skip the cache
        spec = ["", None, None, ""]
        r = _reader(d, 0, PyBytes_GET_SIZE(raw))
        while r.pos < r.end:
            if _next_field(&r, &f) == 1 and f.wire_type == 2 and f.number == 2:
                _merge_model_spec(d, f.start, f.stop, spec)
        model_spec = _model_spec_new(ModelSpec, spec)
    chunks.data = d
    chunks.in_entry = True
    for name, key_pos in entries.items():
        r = _reader(d, key_pos, PyBytes_GET_SIZE(raw))
        _next_field(&r, &f)  # the entry read in the first pass
        chunks.start = f.start
        chunks.stop = f.stop
        entries[name] = _build_tensor(raw, &chunks, &budget)
    return entries, model_spec

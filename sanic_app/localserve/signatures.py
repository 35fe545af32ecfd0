"""What a served model declares: its signatures, their tensors, and TF's dtype names.

The backend keeps its own small dtype table instead of borrowing fastpack's: it is the
reference the gateway's codec is tested against, so it should not share code with it.
"""
from dataclasses import dataclass, field

import numpy as np

from sanic_app.protos import tensor_pb2

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"

# TF DataType number -> (numpy dtype, the name TensorFlow prints for it)
_DTYPES = {
    tensor_pb2.DT_FLOAT: (np.dtype("<f4"), "float"),
    tensor_pb2.DT_DOUBLE: (np.dtype("<f8"), "double"),
    tensor_pb2.DT_INT32: (np.dtype("<i4"), "int32"),
    tensor_pb2.DT_UINT8: (np.dtype("u1"), "uint8"),
    tensor_pb2.DT_INT16: (np.dtype("<i2"), "int16"),
    tensor_pb2.DT_INT8: (np.dtype("i1"), "int8"),
    tensor_pb2.DT_STRING: (np.dtype(object), "string"),
    tensor_pb2.DT_COMPLEX64: (np.dtype("<c8"), "complex64"),
    tensor_pb2.DT_INT64: (np.dtype("<i8"), "int64"),
    tensor_pb2.DT_BOOL: (np.dtype("?"), "bool"),
    tensor_pb2.DT_UINT16: (np.dtype("<u2"), "uint16"),
    tensor_pb2.DT_COMPLEX128: (np.dtype("<c16"), "complex128"),
    tensor_pb2.DT_HALF: (np.dtype("<f2"), "half"),
    tensor_pb2.DT_UINT32: (np.dtype("<u4"), "uint32"),
    tensor_pb2.DT_UINT64: (np.dtype("<u8"), "uint64"),
}
_BY_NUMPY = {np_dtype: number for number, (np_dtype, _) in _DTYPES.items()}
# Names accepted on our command line: numpy's and TensorFlow's spellings.
_BY_NAME = {**{name: number for number, (_, name) in _DTYPES.items()},
            **{np_dtype.name: number for np_dtype, number in _BY_NUMPY.items()},
            "float32": tensor_pb2.DT_FLOAT, "float64": tensor_pb2.DT_DOUBLE,
            "float16": tensor_pb2.DT_HALF, "bytes": tensor_pb2.DT_STRING}


def numpy_dtype(datatype: int) -> np.dtype | None:
    """numpy dtype for a TF DataType number, None when we do not serve that type."""
    entry = _DTYPES.get(datatype)
    return entry[0] if entry else None


def datatype_name(datatype: int) -> str:
    """The name TensorFlow prints for a DataType number (e.g. "float", "int64")."""
    entry = _DTYPES.get(datatype)
    if entry:
        return entry[1]
    try:
        return tensor_pb2.DataType.Name(datatype)[3:].lower()
    except ValueError:
        return f"DataType({datatype})"


def datatype_of(array: np.ndarray) -> int:
    """TF DataType number for a numpy array (bytes/str/object arrays are DT_STRING)."""
    if array.dtype.kind in "OSU":
        return tensor_pb2.DT_STRING
    number = _BY_NUMPY.get(array.dtype.newbyteorder("<") if array.dtype.byteorder == ">"
                           else array.dtype)
    if number is None:
        raise TypeError(f"no TensorFlow dtype for numpy {array.dtype}")
    return number


def datatype_by_name(name: str) -> int:
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; use e.g. float32, int64, uint8, string") from None


def shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorSpec:
    """One signature tensor: its alias's graph name, TF dtype number and shape (-1 = any)."""

    name: str
    datatype: int
    shape: tuple[int, ...] | None  # None: unknown rank

    def accepts_shape(self, shape) -> bool:
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want < 0 or want == got for want, got in zip(self.shape, shape)
        )

    def to_proto(self) -> tensor_pb2.TensorInfo:
        info = tensor_pb2.TensorInfo(name=self.name, dtype=self.datatype)
        if self.shape is None:
            info.tensor_shape.unknown_rank = True
        else:
            info.tensor_shape.dim.extend(tensor_pb2.TensorShapeProto.Dim(size=d) for d in self.shape)
        return info


@dataclass(frozen=True)
class Signature:
    """A SignatureDef: inputs and outputs by alias, and TF's method name."""

    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    method_name: str = PREDICT_METHOD

    def to_proto(self) -> tensor_pb2.SignatureDef:
        proto = tensor_pb2.SignatureDef(method_name=self.method_name)
        for alias, spec in self.inputs.items():
            proto.inputs[alias].CopyFrom(spec.to_proto())
        for alias, spec in self.outputs.items():
            proto.outputs[alias].CopyFrom(spec.to_proto())
        return proto


@dataclass
class Servable:
    """One loaded model version. Subclasses implement `run`; the service validates first."""

    name: str
    version: int
    signatures: dict[str, Signature] = field(default_factory=dict)
    # Extra SignatureDefs reported by GetModelMetadata only (e.g. a SavedModel's init op),
    # as serialized tfsgw.SignatureDef bytes keyed by signature name.
    extra_metadata: dict[str, bytes] = field(default_factory=dict)

    def run(self, signature_name: str, inputs: dict[str, np.ndarray],
            output_aliases: list[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

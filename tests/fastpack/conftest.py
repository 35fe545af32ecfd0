"""fastpack test fixtures: both implementations of the codec and of the image kernel, and a
tiny independent wire writer.

The wire writer here is deliberately separate from fastpack's encoder so tests can build
messages fastpack itself would never write (unpacked repeats, odd field orders, groups).
"""
import importlib
import os

import pytest

NO_EXTENSIONS = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")
IMPLEMENTATIONS = ["fastpack._codec_py", "fastpack._codec_c"]


def load_impl(name):
    """Import one implementation; the extension may only be missing when forced off."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if NO_EXTENSIONS and name.endswith("_c"):
            pytest.skip(f"FASTPACK_NO_EXTENSIONS=1: {name} not built")
        raise


@pytest.fixture(params=IMPLEMENTATIONS, ids=["py", "c"])
def codec(request):
    """Each test using this runs once on the pure-Python twin and once on the extension."""
    return load_impl(request.param)


@pytest.fixture(params=["fastpack._kernel_py", "fastpack._kernel_c"], ids=["py", "c"])
def kernel(request):
    """Each test using this runs once on the numpy twin and once on the compiled kernel."""
    return load_impl(request.param)


@pytest.fixture(scope="session")
def both_codecs():
    mods = [importlib.import_module(IMPLEMENTATIONS[0])]
    try:
        mods.append(importlib.import_module(IMPLEMENTATIONS[1]))
    except ImportError:
        if not NO_EXTENSIONS:
            raise
    return mods


# ---- independent wire writer ------------------------------------------------------------


def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field, wire_type):
    return varint(field << 3 | wire_type)


def vfield(field, value):
    """A varint field."""
    return key(field, 0) + varint(value)


def lfield(field, payload):
    """A length-delimited field."""
    if isinstance(payload, str):
        payload = payload.encode()
    return key(field, 2) + varint(len(payload)) + payload


def shape(*dims):
    return lfield(2, b"".join(lfield(2, vfield(1, d) if d else b"") for d in dims))


def response(outputs, spec=b""):
    """PredictResponse bytes from {name: TensorProto bytes} and ModelSpec bytes."""
    body = b"".join(lfield(1, lfield(1, name) + lfield(2, tensor)) for name, tensor in outputs.items())
    return body + (lfield(2, spec) if spec else b"")

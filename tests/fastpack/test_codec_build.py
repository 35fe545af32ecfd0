"""The compiled codec must be live unless FASTPACK_NO_EXTENSIONS=1 asks for the twin.

A build that silently fell back to pure Python would pass every other test, only slower.
"""
import os
import subprocess
import sys

import fastpack
from fastpack import _codec
from tests.fastpack.conftest import NO_EXTENSIONS


def test_extension_is_live_unless_forced_off():
    if NO_EXTENSIONS:
        assert not _codec.USING_CODEC_EXTENSION and _codec.impl.__name__ == "fastpack._codec_py"
    else:
        assert _codec.USING_CODEC_EXTENSION, "fastpack._codec_c did not load: rebuild (pip install -e .)"
        assert _codec.impl.__name__ == "fastpack._codec_c"
        assert fastpack.encode_tensor is _codec.impl.encode_tensor


def test_env_var_forces_the_pure_python_twin():
    code = "import fastpack, fastpack._codec as c; print(fastpack.USING_EXTENSION, c.impl.__name__)"
    env = dict(os.environ, FASTPACK_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "fastpack._codec_py"]


def test_public_api_names():
    for name in ["USING_EXTENSION", "FastpackError", "DecodeError", "EncodeError", "PreprocessError",
                 "ModelSpec", "encode_tensor", "encode_predict_request", "decode_predict_response",
                 "decode_tensor", "dtypes"]:
        assert hasattr(fastpack, name), name
    assert issubclass(fastpack.DecodeError, fastpack.FastpackError)
    assert issubclass(fastpack.FastpackError, ValueError)
    assert fastpack.ModelSpec._fields == ("name", "version", "version_label", "signature_name")


def test_no_tensorflow_at_import():
    code = "import sys, fastpack, sanic_app.ops.allocator; print(any(m.startswith('tensorflow') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

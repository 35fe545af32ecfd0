"""The compiled kernel is the one in use, unless FASTPACK_NO_EXTENSIONS=1 asks for the twin."""
import os
import subprocess
import sys

import fastpack
from fastpack import _kernel

NO_EXTENSIONS = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")

_PROBE = "import fastpack, fastpack._kernel as k; print(k.impl.__name__, fastpack.USING_EXTENSION)"


def test_extension_is_live_unless_disabled():
    if NO_EXTENSIONS:
        assert _kernel.impl.__name__ == "fastpack._kernel_py"
        assert fastpack.USING_EXTENSION is False
    else:
        # a missing build must fail here, not silently run the slow twin
        assert _kernel.impl.__name__ == "fastpack._kernel_c", "compiled kernel did not load"
        assert _kernel.USING_KERNEL_EXTENSION is True
        assert fastpack.ImageBatch is _kernel.impl.ImageBatch
        assert fastpack.USING_EXTENSION is fastpack._codec.USING_CODEC_EXTENSION


def test_env_switch_selects_the_twin_in_a_fresh_process():
    env = dict(os.environ, FASTPACK_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["fastpack._kernel_py", "False"]
    if not NO_EXTENSIONS:
        env["FASTPACK_NO_EXTENSIONS"] = "0"
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.split()[0] == "fastpack._kernel_c"

"""Pick the image kernel: the Cython extension unless FASTPACK_NO_EXTENSIONS=1 or it did not build.

Both modules have the same API; ``_kernel_py`` is the numpy reference, ``_kernel_c`` the fast one.
The compiled kernel stores native floats, so a big-endian host gets the twin (it writes '<f4').
"""
import os
import sys

_FORCED_PURE = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")

if _FORCED_PURE or sys.byteorder != "little":
    from fastpack import _kernel_py as impl
else:
    try:
        from fastpack import _kernel_c as impl
    except ImportError:  # not built: tests/fastpack/test_kernel_build.py makes this loud
        from fastpack import _kernel_py as impl

USING_KERNEL_EXTENSION = impl.__name__.endswith("_c")

ImageBatch = impl.ImageBatch
preprocess = impl.preprocess

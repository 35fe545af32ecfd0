"""Pick the image kernel: the Cython extension unless FASTPACK_NO_EXTENSIONS=1 or it did not build.

Both modules have the same API; ``_kernel_py`` is the numpy reference, ``_kernel_c`` the fast one.
Type checkers read ``_kernel_py`` (see ``_choose``).
The compiled kernel stores native floats, so a big-endian host gets the twin (it writes '<f4').
"""
import sys
from typing import TYPE_CHECKING

from fastpack._choose import NO_EXTENSIONS, compiled_or_twin, is_compiled

if TYPE_CHECKING or NO_EXTENSIONS or sys.byteorder != "little":
    from fastpack import _kernel_py as impl
else:
    impl = compiled_or_twin("fastpack._kernel_c", "fastpack._kernel_py")

USING_KERNEL_EXTENSION = is_compiled(impl)

ImageBatch = impl.ImageBatch
preprocess = impl.preprocess

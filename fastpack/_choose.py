"""How the chooser modules (``_codec``, ``_kernel``) pick a compiled module or its twin.

Each chooser writes the pattern out, so type checkers follow its literal import of the twin::

    if TYPE_CHECKING or NO_EXTENSIONS:
        from fastpack import _codec_py as impl
    else:
        impl = compiled_or_twin("fastpack._codec_c", "fastpack._codec_py")

The pure-Python twin is what a type checker reads (its real signatures), so the compiled
modules need no hand-written ``.pyi`` to drift from them.
"""
import importlib
import os
from types import ModuleType

# FASTPACK_NO_EXTENSIONS=1 forces every twin; read once, when fastpack is first imported.
NO_EXTENSIONS = os.environ.get("FASTPACK_NO_EXTENSIONS", "") not in ("", "0")


def compiled_or_twin(compiled: str, twin: str) -> ModuleType:
    """The compiled module, or its twin when it did not build or refuses this host.

    The fallback is quiet here; tests/fastpack/test_*_build.py make it loud.
    """
    try:
        return importlib.import_module(compiled)
    except ImportError:
        return importlib.import_module(twin)


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` is a compiled one (named ``*_c``) rather than its twin (``*_py``)."""
    return module.__name__.endswith("_c")

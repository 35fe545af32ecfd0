"""Readiness helpers of bench/services.py that read /proc."""
import os

from bench.services import maps_library


def test_maps_library_sees_what_this_process_loaded():
    import _ctypes  # a C extension: its .so is mapped now

    assert maps_library(os.getpid(), os.path.basename(_ctypes.__file__))
    assert not maps_library(os.getpid(), "no-such-library-anywhere")
    assert not maps_library(2**22 + 7, "libc")  # no such process

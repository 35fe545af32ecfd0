"""glibc malloc tuning for gateway workers, so steady-state requests do not page-fault.

A float32 [1,299,299,3] request is a ~1 MB bytes object made and freed on every call. Above
glibc's mmap threshold (128 KiB until the first such free raises it dynamically, at most 32 MiB)
each one is a fresh mmap: ~260 minor faults, ~1.3 ms here, 30x the encoding itself. And freed
memory at the heap top beyond the trim threshold is given back to the kernel, to fault in again
on the next request. Fixing both thresholds keeps these buffers on heap pages that stay mapped,
independent of allocation history; ``prefault_bytes`` maps and touches heap pages once at worker
start so even the first requests of a fresh process reuse them.

The cost is memory: up to ``trim_threshold`` bytes of freed heap may stay resident per worker,
and freed holes below the heap top (left by many large requests in flight at once) are never
returned on their own. ``release_free_memory()`` hands every free page back to the kernel; the
gateway calls it when a worker goes idle, so memory after a burst returns to the baseline while
steady traffic keeps its warm pages.
Call ``tune_allocator()`` once per worker, in the thread that serves requests, before traffic.
Elsewhere than glibc both do nothing and say why.
"""
import ctypes
import os
from typing import NamedTuple

# mallopt parameter numbers from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MIB = 1 << 20


class AllocatorTuning(NamedTuple):
    """What tune_allocator did; ``applied`` is False (with a reason) off glibc or on failure."""

    applied: bool
    reason: str
    mmap_threshold: int = 0
    trim_threshold: int = 0
    prefaulted_bytes: int = 0


def _glibc():
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError, AttributeError):  # not a glibc system
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def tune_allocator(
    *, mmap_threshold=32 * MIB, trim_threshold=64 * MIB, prefault_bytes=16 * MIB
) -> AllocatorTuning:
    """Raise glibc's mmap and trim thresholds and warm the heap; safe to call more than once.

    ``mmap_threshold`` (glibc caps it at 32 MiB on 64-bit) must exceed the largest request
    buffer; ``prefault_bytes`` must stay below it, or the warm-up itself would be mmapped.
    """
    libc = _glibc()
    if libc is None:
        return AllocatorTuning(False, "not glibc: malloc left as is")
    if not 0 <= prefault_bytes < mmap_threshold:
        raise ValueError("prefault_bytes must be below mmap_threshold")
    # Setting either threshold also turns off glibc's dynamic threshold adjustment.
    if not libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)):
        return AllocatorTuning(False, f"mallopt refused M_MMAP_THRESHOLD={mmap_threshold}")
    if not libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)):
        return AllocatorTuning(False, f"mallopt refused M_TRIM_THRESHOLD={trim_threshold}")
    # One arena: threads that decode and pack (parts of a large batch, --decode-threads) then
    # reuse the same warm heap instead of each growing an arena of its own that is kept.
    if not libc.mallopt(M_ARENA_MAX, 1):
        return AllocatorTuning(False, "mallopt refused M_ARENA_MAX=1")
    if prefault_bytes:
        block = libc.malloc(prefault_bytes)
        if block:
            ctypes.memset(block, 0, prefault_bytes)  # touch every page once, now
            libc.free(block)  # back to the heap top, kept mapped below trim_threshold
        else:
            prefault_bytes = 0
    return AllocatorTuning(True, "glibc malloc tuned", mmap_threshold, trim_threshold, prefault_bytes)


def release_free_memory() -> bool:
    """Return every free heap page (in all arenas, holes included) to the kernel: malloc_trim(0).

    Costs a walk of the free lists (well under a millisecond for a worker's heap) and the page
    faults of touching those pages again later, so call it when idle, not per request. Returns
    whether glibc released anything.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


__all__ = ["AllocatorTuning", "release_free_memory", "tune_allocator"]

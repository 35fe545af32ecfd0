"""Give a worker's freed heap back to the kernel once it goes idle.

sanic_app.ops.allocator keeps request-sized buffers on warm heap pages, which is what makes steady
traffic fault-free; the flip side is that a burst of large requests (many 1 MB tensors and
decoded images in flight at once) leaves a worker holding hundreds of MB of free heap. This
loop watches the worker's in-flight limiter and, after a quiet interval that followed some
traffic, calls ``release_free_memory()`` once. Under steady load it never fires.
"""
from __future__ import annotations

import asyncio

from sanic_app.ops.allocator import release_free_memory


async def release_when_idle(limiter, interval_s: float = 1.0) -> None:
    """Run forever (as a worker task): trim after ``interval_s`` without any admitted request."""
    seen = limiter.admitted
    trimmed = True  # nothing to give back before the first request
    while True:
        await asyncio.sleep(interval_s)
        admitted = limiter.admitted
        if admitted != seen:
            seen, trimmed = admitted, False
        elif not trimmed and limiter.current == 0:
            release_free_memory()
            trimmed = True

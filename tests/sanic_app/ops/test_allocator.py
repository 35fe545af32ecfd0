"""sanic_app.ops.allocator: a tuned worker reuses heap pages for ~1 MB request buffers.

Each check runs in a fresh subprocess, because malloc settings are process-wide and sticky.
"""
import json
import subprocess
import sys

import pytest

from sanic_app.ops.allocator import tune_allocator

CHILD = """
import json, resource, sys
from sanic_app.ops.allocator import tune_allocator
tuning = tune_allocator() if sys.argv[1] == "tune" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for size in [1_072_900, 1_072_950, 3_000_000, 1_072_900] * 25:  # interleaved sizes defeat reuse by luck
    before = faults()
    buf = bytearray(size)  # zero-filled: every page is touched
    del buf
    counts.append(faults() - before)
print(json.dumps({"tuning": tuning, "first": counts[0], "steady": sum(counts[20:]) / len(counts[20:])}))
"""


def run_child(mode):
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning")
def test_tuned_worker_does_not_fault_on_request_buffers():
    tuned = run_child("tune")
    if not tuned["tuning"][0]:
        pytest.skip(tuned["tuning"][1])
    assert tuned["steady"] < 10
    assert tuned["first"] < 10  # the prefault already mapped these pages
    assert run_child("none")["first"] > 100  # untuned, the first buffer is a fresh mmap


def test_prefault_must_fit_below_the_mmap_threshold():
    with pytest.raises(ValueError):
        tune_allocator(mmap_threshold=1 << 20, prefault_bytes=2 << 20)


RELEASE_CHILD = """
import json
from sanic_app.ops.allocator import release_free_memory, tune_allocator
def rss_mib():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
tune_allocator()
buffers = [bytearray(13_000_000) for _ in range(16)]  # a burst: 16 requests' worth in flight
del buffers[:-1]  # freed holes below the last one: trimming the heap top cannot return them
held = rss_mib()
released = release_free_memory()
print(json.dumps({"held": held, "after": rss_mib(), "released": released}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_release_free_memory_returns_a_bursts_holes():
    out = subprocess.run([sys.executable, "-c", RELEASE_CHILD], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout)
    assert figures["held"] > 150  # tuned malloc keeps the freed buffers mapped...
    assert figures["released"]
    assert figures["after"] < figures["held"] - 150  # ...until they are handed back

"""One worker's RSS, sampled every millisecond through one batch request.

Run:  python -m bench.micro.rss_timeline [--batch 256] [--warm 0] [--points 40]

Why: a peak RSS figure (VmHWM) says how high a worker went, not in which phase of the request.
This starts bench_batch_memory's set-up (one null backend, one gateway with ``--workers 1`` and
the 299x299 image spec), sends ``--warm`` requests first (0: a fresh worker), then samples the
worker's RSS from /proc every millisecond on a thread while one request of ``--batch`` 500x375
JPEGs is sent, received, parsed, decoded and sent to the backend in parts, and answered. Prints
the RSS before, the peak and the timeline (ms since the send: MB), with the request's wall time.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import procstat, scenarios
from bench.micro.bench_batch_memory import INPUT, IMAGE_INPUT, MIB, MODEL, OUTPUT, body, post, start, write_spec
from bench.services import null_backend


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--warm", type=int, default=0, help="requests of the same batch before the sampled one")
    p.add_argument("--points", type=int, default=40, help="timeline points printed")
    args = p.parse_args(argv)
    jpegs = [scenarios.photo_jpeg(500, 375, seed=s) for s in range(16)]
    payload = body(jpegs, args.batch)
    with tempfile.TemporaryDirectory(prefix="bench-rss-timeline-") as tmp:
        logs = Path(tmp)
        backend = null_backend([f"{MODEL}:{INPUT}=float32[-1,299,299,3]:{OUTPUT}=float32[-1,1000]"], logs)
        gateway = None
        try:
            gateway = start("gateway", write_spec(logs, backend.address, IMAGE_INPUT), logs, ())
            (worker,) = gateway.workers()
            for _ in range(args.warm):
                post(gateway, payload)
            before = procstat.sample(worker).rss_bytes / MIB
            samples: list[tuple[float, float]] = []
            done = threading.Event()

            def sample() -> None:
                t0 = time.perf_counter()
                while not done.is_set():
                    samples.append(((time.perf_counter() - t0) * 1000.0, procstat.sample(worker).rss_bytes / MIB))
                    time.sleep(0.001)

            sampler = threading.Thread(target=sample)
            sampler.start()
            wall = post(gateway, payload)
            time.sleep(0.02)
            done.set()
            sampler.join()
        finally:
            if gateway is not None:
                gateway.stop()
            backend.stop()
    step = max(1, len(samples) // args.points)
    print(f"batch {args.batch}, {args.warm} warm request(s): RSS before {before:.0f} MB, "
          f"peak {max(r for _, r in samples):.0f} MB, request {wall:.0f} ms")
    print(" ".join(f"{t:.0f}:{r:.0f}" for t, r in samples[::step]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

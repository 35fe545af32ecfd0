"""What the run modes cost a prediction: the profile switch (off, every request, one in 10)
and the production log line, measured against a baseline in the same run.

    python -m bench.modes_overhead [--requests 300]

Each variant is a real gateway (`python -m sanic_app --single-process`, embedded digits
backend) on loopback; all run at once and get one prediction each in turn, round after round,
so the machine's noise falls on every variant alike. Medians, means and p90 with ratios
against the profile-off gateway are printed. The log line's cost is timed on its own (format + write).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import contextvars
import io
import logging
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

from bench.services import REPO

sys.path.insert(0, str(REPO / "tests"))
from conftest import start_gateway  # noqa: E402  (the tests' real-process gateway helper)

PNG = (REPO / "specs" / "examples" / "digit-3.png").read_bytes()
BODY = {"instances": [{"b64": base64.b64encode(PNG).decode()}]}


def gateway_variants(n: int) -> dict[str, tuple[float, float, float]]:
    """All variants run at once and are sent requests in turn, so machine noise hits them alike."""
    with tempfile.TemporaryDirectory() as out, contextlib.ExitStack() as stack:
        variants = {
            "profile off": [],
            "profile every request (html)": ["--profile", "--profile-dir", out],
            "profile every request (speedscope)": ["--profile", "--profile-format", "speedscope",
                                                   "--profile-dir", out],
            "profile 1 in 10 (html)": ["--profile", "--profile-every", "10", "--profile-dir", out],
            "profile every request (aggregate)": ["--profile", "--profile-output", "aggregate",
                                                  "--profile-dir", out],
        }
        gateways = {name: stack.enter_context(start_gateway("--single-process", *flags,
                                                            env={"APP_ENV": "production"}))
                    for name, flags in variants.items()}
        spent: dict[str, list[float]] = {name: [] for name in gateways}
        for round_ in range(20 + n):  # the first 20 rounds warm up
            for name, gw in gateways.items():
                start = time.perf_counter()
                r = gw.post("/v1/models/digits:predict", json=BODY)
                took = time.perf_counter() - start
                assert r.status_code == 200, r.text
                if round_ >= 20:
                    spent[name].append(took)
                time.sleep(0.002)  # let a profile's background write finish, as between real requests
    result = {}
    for name, times in spent.items():
        times.sort()
        result[name] = (statistics.median(times), statistics.fmean(times), times[int(0.9 * len(times))])
    return result


def log_line_cost(n: int = 20000) -> dict[str, float]:
    """Microseconds to format and write one access line, per mode, into memory."""
    from sanic import Request

    from sanic_app.ops import logging as applog

    timings = SimpleNamespace(items=lambda: {"decode": 0.0004, "backend": 0.002}.items(), batch_size=1)
    request = SimpleNamespace(method="POST", path="/v1/models/digits:predict", headers={},
                              ctx=SimpleNamespace(request_id="0123456789abcdef", received_at=time.perf_counter(),
                                                  timings=timings, model="digits"))
    costs = {}
    for env in ("production", "development"):
        stream = io.StringIO()
        config = applog.log_config(env)
        config["handlers"]["stdout"]["stream"] = stream

        def run():
            Request._current.set(request)
            logging.config.dictConfig(config)
            access = logging.getLogger("sanic.access")
            extra = {"status": 200, "byte": "151", "host": "127.0.0.1:5", "request": "x", "duration": ""}
            start = time.perf_counter()
            for _ in range(n):
                access.info("", extra=extra)
            return (time.perf_counter() - start) / n

        costs[env] = contextvars.copy_context().run(run) * 1e6
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    import logging.config  # noqa: F401  (dictConfig)

    medians = gateway_variants(args.requests)
    base_median, base_mean, _ = medians["profile off"]
    print(f"sequential digits predictions, {args.requests} per variant, one process:")
    for name, (median, mean, p90) in medians.items():
        print(f"  {name:36s} median {median * 1000:6.2f} ms x{median / base_median:5.2f}"
              f"   mean {mean * 1000:6.2f} ms x{mean / base_mean:5.2f}   p90 {p90 * 1000:6.2f} ms")
    for env, micros in log_line_cost().items():
        print(f"  access line, {env:12s}             {micros:7.1f} us per line")


if __name__ == "__main__":
    main()

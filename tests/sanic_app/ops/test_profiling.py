"""The profile switch: which requests get profiled, and that the files open as what they claim."""
import asyncio
import json
import re
from types import SimpleNamespace

import pytest

pytest.importorskip("pyinstrument")

from sanic_app.ops import profiling  # noqa: E402
from sanic_app.ops.profiling import PredictionProfiler, ProfileOptions  # noqa: E402


def _request(path="/v1/models/digits:predict", method="POST", request_id="rid-1"):
    return SimpleNamespace(method=method, path=path, ctx=SimpleNamespace(request_id=request_id))


def _request_ids(folder):
    """The request ids in per-request profile names: <time>-<id>-<pid>.<n>.html"""
    return sorted(p.name.split("-", 1)[1].rsplit("-", 1)[0] for p in folder.iterdir())


def test_same_request_id_twice_gives_two_files(tmp_path):
    profiler = PredictionProfiler(ProfileOptions(directory=str(tmp_path)))
    _run(profiler, [_request(request_id="same"), _request(request_id="same")])
    assert _request_ids(tmp_path) == ["same", "same"]


def _busy_marker_function(ms=15.0):
    """A function whose name we can find in the profile."""
    import time

    end = time.perf_counter() + ms / 1000.0
    n = 0
    while time.perf_counter() < end:
        n += sum(range(50))
    return n


async def _serve(profiler, request):
    await profiler.on_request(request)
    _busy_marker_function()
    await asyncio.sleep(0.002)  # an await, as the backend call has
    await profiler.on_response(request, None)


def _run(profiler, requests):
    async def main():
        for request in requests:
            await _serve(profiler, request)
        await profiler.drain()

    asyncio.run(main())


def test_one_html_file_per_prediction_naming_the_work(tmp_path):
    profiler = PredictionProfiler(ProfileOptions(directory=str(tmp_path / "out")))
    _run(profiler, [_request(request_id="abc/../1"), _request(request_id="second")])
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 2 and all(f.endswith(".html") for f in files)
    assert any(re.fullmatch(r"\d{8}T\d{6}-abc_\.\._1-\d+\.1\.html", f) for f in files)  # no path separators
    page = (tmp_path / "out" / files[0]).read_text()
    assert page.lstrip().lower().startswith("<!doctype html") or "<html" in page[:200].lower()
    assert "_busy_marker_function" in page
    assert "<script src=" not in page  # self-contained: opens offline


def test_only_predictions_and_one_in_n(tmp_path):
    profiler = PredictionProfiler(ProfileOptions(every=3, directory=str(tmp_path)))
    others = [_request(path="/v1/models/digits", method="GET"), _request(path="/metrics", method="GET")]
    predictions = [_request(request_id=f"p{i}") for i in range(7)]
    _run(profiler, others + predictions)
    assert _request_ids(tmp_path) == ["p0", "p3", "p6"]


def test_aggregate_speedscope_merges_requests(tmp_path):
    options = ProfileOptions(directory=str(tmp_path), output="aggregate", format="speedscope")
    profiler = PredictionProfiler(options)
    _run(profiler, [_request(request_id=f"r{i}") for i in range(3)])
    files = list(tmp_path.iterdir())
    assert [f.name.startswith("aggregate-") and f.name.endswith(".speedscope.json") for f in files] == [True]
    doc = json.loads(files[0].read_text())
    assert doc["$schema"].startswith("https://www.speedscope.app/")
    frame_names = {frame["name"] for frame in doc["shared"]["frames"]}
    assert "_busy_marker_function" in frame_names
    # three requests of ~15 ms busy each: the merged profile holds all of them
    (profile,) = doc["profiles"]
    assert profile["type"] == "evented" and profile["unit"] == "seconds"
    assert profile["endValue"] - profile["startValue"] >= 0.040


def test_aggregate_is_written_at_most_every_few_seconds_and_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(profiling, "MAX_AGGREGATE_SAMPLES", 40)
    profiler = PredictionProfiler(ProfileOptions(directory=str(tmp_path), output="aggregate"))
    written = []
    monkeypatch.setattr(profiler, "_write", lambda path, session: written.append(session))

    async def main():
        for i in range(4):
            await _serve(profiler, _request(request_id=f"a{i}"))
        await asyncio.sleep(0.05)
        assert len(written) == 1  # the first right away, the rest wait for the interval...
        await profiler.drain()
        assert len(written) == 2  # ...or for shutdown

    asyncio.run(main())
    merged = written[-1]
    assert merged.sample_count <= 40  # resampled to a coarser interval
    assert merged.duration >= 4 * 0.015  # and still all four requests' time


def test_concurrent_requests_are_profiled_apart(tmp_path):
    """Two overlapping requests in one event loop each get their own profile."""
    profiler = PredictionProfiler(ProfileOptions(directory=str(tmp_path)))

    async def main():
        await asyncio.gather(*(_serve(profiler, _request(request_id=f"c{i}")) for i in range(2)))
        await profiler.drain()

    asyncio.run(main())
    assert _request_ids(tmp_path) == ["c0", "c1"]


def test_abandoned_profiles_are_stopped(tmp_path, monkeypatch):
    profiler = PredictionProfiler(ProfileOptions(directory=str(tmp_path)))

    async def main():
        lost = _request(request_id="lost")
        await asyncio.create_task(profiler.on_request(lost))  # never answered
        assert len(profiler._open) == 1
        monkeypatch.setattr(profiling, "ABANDONED_AFTER_S", -1.0)
        await _serve(profiler, _request(request_id="next"))
        await profiler.drain()

    asyncio.run(main())
    assert profiler._open == {}
    assert _request_ids(tmp_path) == ["next"]


@pytest.mark.parametrize(
    "changes, word",
    [({"every": 0}, "every"), ({"output": "files"}, "request, aggregate"), ({"format": "svg"}, "html, speedscope")],
)
def test_bad_options_are_refused(changes, word):
    with pytest.raises(ValueError, match=word):
        ProfileOptions(**changes)


def test_missing_pyinstrument_is_a_clear_start_up_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyinstrument(name, *args, **kwargs):
        if name == "pyinstrument":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyinstrument)
    with pytest.raises(profiling.ProfilerUnavailable, match=r"tfserving-gateway\[profile\]"):
        profiling.require_pyinstrument()

"""Flamegraph and speedscope rendering from collapsed stacks (py-spy's raw format)."""
import json
from collections import Counter

from bench import profile

RAW = """handle (app.py:10);decode (img.py:5) 60
handle (app.py:10);send (grpc.py:7) 30
idle (loop.py:1) 10
"""


def test_render_writes_flamegraph_speedscope_and_top_functions(tmp_path):
    raw = tmp_path / "w-1.txt"
    raw.write_text(RAW)
    result = profile.render({1: raw}, tmp_path, "scn")
    assert result["samples"] == 100
    top = {t["function"]: t for t in result["top"]}
    assert top["handle (app.py:10)"]["inclusive"] == 0.9
    assert top["decode (img.py:5)"]["self"] == 0.6
    svg = (tmp_path / result["svg"]).read_text()
    assert svg.startswith("<svg") and "decode (img.py:5)" in svg and svg.rstrip().endswith("</svg>")
    doc = json.loads((tmp_path / result["speedscope"]).read_text())
    frames = [f["name"] for f in doc["shared"]["frames"]]
    prof = doc["profiles"][0]
    assert sum(prof["weights"]) == 100 and len(prof["samples"]) == 3
    assert [frames[i] for i in prof["samples"][0]] == ["handle (app.py:10)", "decode (img.py:5)"]
    assert result["by_module"][0] == {"file": "img.py", "self": 0.6}


def test_collapsed_reader_ignores_garbage_lines(tmp_path):
    raw = tmp_path / "x.txt"
    raw.write_text("a;b 3\nnot a stack\n\na;b 2\n")
    assert profile.read_collapsed(raw) == Counter({("a", "b"): 5})

"""bench_decode runs end to end on a tiny budget and reports every decoder, mode and source."""
import json

import pytest

from bench.micro import bench_decode

pytestmark = pytest.mark.slow


def test_bench_decode_smoke(tmp_path, capsys):
    out = tmp_path / "decode.json"
    assert bench_decode.main(["--rounds", "1", "--budget", "0.01", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["decode_us"]) == set(bench_decode.sources())
    row = result["decode_us"]["500x375 420"]
    assert {"Pillow (accurate)", "simplejpeg fast", "simplejpeg 1/N"} <= set(row) and min(row.values()) > 0
    for size in bench_decode.SIZES:
        assert set(bench_decode.MODES) <= set(result["gateway_us"][size])
    assert "decode-alone floor" in capsys.readouterr().out

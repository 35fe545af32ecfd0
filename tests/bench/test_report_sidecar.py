"""The sidecar gateway's rows in the load report, rendered from a synthetic results dict: beside
the TCP gateway's in the gateway table, the KServe-peer table and the targets, never instead."""
import pytest

from bench import report, sidecar
from bench.report_peers import kserve_table
from bench.targets import targets

LABEL = "KServe peer (lean, no TF)"


def window(cpu, p50, p99, rps=500.0):
    return {"rps": rps, "latency_ms": {"p50": p50, "p90": p50, "p99": p99, "max": p99},
            "errors": {}, "cpu_ms_per_request": cpu, "sys_ms_per_request": 0.2,
            "minflt_per_request": 0.1, "generator_cpu_share": 0.1, "machine": {},
            "repetitions": [{"cpu_ms_per_request": cpu, "p50": p50, "p99": p99}]}


def results(with_sidecar=True, sidecar_error=None):
    sc = {"title": "JPEG", "closed": window(1.5, 6.0, 20.0), "half_rate": window(1.5, 3.0, 6.0),
          "rss_mb_per_worker": [85.0],
          "baselines": {"kserve_lean": {**window(4.0, 12.0, 40.0), "rss_mb_per_worker": [140.0]}}}
    if with_sidecar:
        sc[sidecar.KEY] = {"closed": window(1.2, 5.0, 10.0), "half_rate": window(1.2, 2.5, 5.0),
                           "rss_mb_per_worker": [86.0]}
    if sidecar_error:
        sc[sidecar.KEY] = {"error": sidecar_error}
    meta = {"concurrency": 32, **({"sidecar": "unix:/tmp/sidecar-x/tfserving.sock"}
                                  if with_sidecar else {})}
    return {"meta": meta, "scenarios": {"jpeg_500x375": sc}}


def test_gateway_table_has_the_sidecar_row_right_after_the_tcp_one():
    rows = [r for r in report.scenario_table(results()) if r.startswith("| jpeg_500x375")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| jpeg_500x375", f"| jpeg_500x375, {sidecar.LABEL}"]
    assert "| 1.500 (0.200) |" in rows[0] and "| 1.200 (0.200) |" in rows[1]
    assert "| 86 | 2.00 |" in rows[1]  # its own RSS and p99/p50 at half its own max


def test_gateway_table_says_when_the_sidecar_failed_and_has_no_row_without_it():
    [_, failed] = [r for r in report.scenario_table(results(sidecar_error="probe answered 502"))
                   if r.startswith("| jpeg_500x375")]
    assert failed.startswith(f"| jpeg_500x375, {sidecar.LABEL} | failed: probe answered 502 |")
    plain = [r for r in report.scenario_table(results(with_sidecar=False)) if "jpeg" in r]
    assert len(plain) == 1 and sidecar.LABEL not in report.markdown(results(with_sidecar=False))


def test_sidecar_against_tcp_line_under_the_gateway_table():
    md = report.markdown(results())
    assert f"{sidecar.LABEL} ÷ gateway over TCP" in md
    assert "- jpeg_500x375: CPU/req 0.80×, p50 0.83×, p99 0.50× (closed loop)" in md
    assert "`unix:/tmp/sidecar-x/tfserving.sock`" in md
    assert report.sidecar_lines(results(with_sidecar=False)) == []


def test_peer_table_gives_tcp_then_sidecar_against_the_same_peer_windows():
    rows = [r for r in kserve_table(results()) if r.startswith("| jpeg_500x375")]
    tcp, side = (r.split(" | ") for r in rows)
    assert tcp[1:4] == [LABEL, sidecar.HOP["tcp"], "1.500"] and tcp[5] == "0.38×"
    assert side[1:4] == [LABEL, sidecar.HOP[sidecar.KEY], "1.200"] and side[5] == "0.30×"
    assert tcp[4] == side[4] == "4.000"  # the peer's figures, unchanged
    assert side[9] == "0.25×"  # p99 10 / 40
    only_tcp = [r for r in kserve_table(results(with_sidecar=False)) if r.startswith("| jpeg")]
    assert len(only_tcp) == 1 and sidecar.HOP["tcp"] in only_tcp[0]


def test_targets_keep_the_tcp_line_primary_and_add_the_sidecar_apart():
    got = targets(results())
    names = [t["name"] for t in got]
    tcp_cpu = names.index(f"JPEG 500x375: gateway CPU/req ÷ {LABEL}'s")
    side = [t for t in got if t.get("contender") == sidecar.KEY]
    assert [names.index(t["name"]) > tcp_cpu for t in side] == [True, True]
    assert got[tcp_cpu]["value"] == pytest.approx(1.5 / 4.0) and got[tcp_cpu]["ok"] is False
    assert side[0]["value"] == pytest.approx(1.2 / 4.0) and side[0]["ok"] is True
    assert sidecar.LABEL in side[0]["name"] and "peer on TCP" in side[0]["name"]
    assert side[1]["value"] == pytest.approx(10.0 / 40.0) and side[1]["limit"] == "<= 0.5"
    assert not [t for t in targets(results(with_sidecar=False)) if t.get("contender")]

"""Per-stage breakdown from two Prometheus scrapes."""
from bench import gateway_metrics

BEFORE = """
# TYPE gateway_stage_seconds histogram
gateway_stage_seconds_sum{model="m",stage="decode"} 1.0
gateway_stage_seconds_count{model="m",stage="decode"} 10.0
gateway_stage_seconds_sum{model="m",stage="backend"} 2.0
gateway_stage_seconds_count{model="m",stage="backend"} 10.0
gateway_stage_seconds_sum{model="other",stage="decode"} 5.0
gateway_stage_seconds_count{model="other",stage="decode"} 5.0
# TYPE gateway_request_seconds histogram
gateway_request_seconds_sum{route="predict",model="m"} 4.0
gateway_request_seconds_count{route="predict",model="m"} 10.0
# TYPE gateway_requests counter
gateway_requests_total{route="predict",model="m",status="200"} 10.0
"""
AFTER = (BEFORE.replace('decode"} 1.0', 'decode"} 1.5').replace('decode"} 10.0', 'decode"} 110.0')
         .replace('backend"} 2.0', 'backend"} 3.0').replace('backend"} 10.0', 'backend"} 110.0')
         .replace('model="m"} 4.0', 'model="m"} 6.0').replace('model="m"} 10.0', 'model="m"} 110.0')
         .replace('status="200"} 10.0', 'status="200"} 108.0')
         + 'gateway_requests_total{route="predict",model="m",status="400"} 2.0\n')


def test_breakdown_is_the_window_delta_for_one_model():
    b = gateway_metrics.breakdown(gateway_metrics.parse(BEFORE), gateway_metrics.parse(AFTER), "m")
    assert b["requests"] == 100
    assert b["statuses"] == {"200": 98, "400": 2}
    assert abs(b["stages"]["decode"]["ms_per_request"] - 5.0) < 1e-9
    assert abs(b["stages"]["backend"]["ms_per_call"] - 10.0) < 1e-9
    assert abs(b["request_ms_mean"] - 20.0) < 1e-9
    assert list(b["stages"]) == ["decode", "backend"]  # pipeline order, absent stages left out


def test_quantile_interpolates_inside_the_bucket_that_holds_it():
    buckets = {0.001: 50.0, 0.01: 90.0, 0.1: 100.0, float("inf"): 100.0}
    assert gateway_metrics.quantile(buckets, 0.5) == 0.001
    assert abs(gateway_metrics.quantile(buckets, 0.7) - 0.0055) < 1e-12
    assert abs(gateway_metrics.quantile(buckets, 0.99) - 0.091) < 1e-12
    assert gateway_metrics.quantile({0.1: 0.0, float("inf"): 0.0}, 0.5) is None


def test_breakdown_estimates_stage_tails_from_bucket_deltas():
    def scrape(fast, slow):
        return gateway_metrics.parse(
            "# TYPE gateway_stage_seconds histogram\n"
            f'gateway_stage_seconds_bucket{{model="m",stage="backend",le="0.001"}} {fast}\n'
            f'gateway_stage_seconds_bucket{{model="m",stage="backend",le="0.1"}} {fast + slow}\n'
            f'gateway_stage_seconds_bucket{{model="m",stage="backend",le="+Inf"}} {fast + slow}\n'
            f'gateway_stage_seconds_sum{{model="m",stage="backend"}} {fast * 0.0005 + slow * 0.05}\n'
            f'gateway_stage_seconds_count{{model="m",stage="backend"}} {fast + slow}\n')
    b = gateway_metrics.breakdown(scrape(1000, 0), scrape(1098, 2), "m")  # window: 98 fast, 2 slow
    backend = b["stages"]["backend"]
    assert backend["p50_ms"] < 1.0 < 10.0 < backend["p99_ms"] <= 100.0

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

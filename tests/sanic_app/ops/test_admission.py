"""sanic_app.ops.admission: the in-flight limiter refuses past its limit and recovers."""
import pytest

from sanic_app.ops.admission import InFlightLimiter


def test_in_flight_limiter_refuses_past_limit_and_recovers():
    limiter = InFlightLimiter(2)
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.current == 2 and limiter.refused == 1
    limiter.release()
    assert limiter.try_acquire()
    limiter.release(), limiter.release(), limiter.release()
    assert limiter.current == 0
    with pytest.raises(ValueError):
        InFlightLimiter(0)

"""The connection book's choice of whom to close at the cap, and the cap fitted to the fd limit."""
import resource
import time

from sanic_app.cli import parse_settings
from sanic_app.ops.edge import ConnectionBook, EdgeLimits, fitting_cap


class FakeConnection:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True

    def edge_end(self, exception):  # a head being sent: answered (503) and closed by Sanic
        self.closed = exception.status_code


def book(cap=2, evict_after=1.0):
    limits = EdgeLimits.from_settings(parse_settings(["--slow-head-evict-s", str(evict_after)], {}))
    return ConnectionBook(limits, cap)


def test_below_the_cap_nothing_is_closed():
    b, a = book(cap=2), FakeConnection()
    assert b.make_room({a}) and not a.closed


def test_at_the_cap_the_oldest_idle_connection_goes_first():
    b, busy, old_idle, new_idle, slow = (book(cap=4), *(FakeConnection() for _ in range(4)))
    b.heads[slow] = time.monotonic() - 60
    b.idle[old_idle] = None
    b.idle[new_idle] = None
    open_ = {busy, old_idle, new_idle, slow}
    assert b.make_room(open_)
    assert old_idle.closed and not new_idle.closed and not slow.closed and old_idle not in open_


def test_then_a_head_slower_than_the_grace_then_refusal():
    b, fresh, slow = book(cap=2), FakeConnection(), FakeConnection()
    b.heads[slow] = time.monotonic() - 5
    b.heads[fresh] = time.monotonic()
    assert b.make_room({fresh, slow}) and slow.closed
    # Only a head within its grace (and busy ones) left: the newcomer is refused.
    assert not b.make_room({fresh, FakeConnection()}) and not fresh.closed


def test_the_cap_leaves_room_under_the_fd_limit():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert fitting_cap(10) == 10 or soft < 100
    assert fitting_cap(10**9) < soft


def test_edge_settings_defaults_and_bounds():
    s = parse_settings([], {})
    assert (s.header_timeout_s, s.body_timeout_s, s.body_min_rate, s.keep_alive_timeout_s) == (10.0, 30.0, 65536, 75.0)
    assert (s.max_connections, s.max_headers, s.max_header_bytes) == (10_000, 100, 8192)
    import pytest
    from sanic_app.errors import ConfigError
    with pytest.raises(ConfigError):
        parse_settings(["--max-header-bytes", "20000"], {})

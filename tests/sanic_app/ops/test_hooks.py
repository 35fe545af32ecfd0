"""sanic_app.ops.hooks: head hooks see the route and may refuse; answer hooks all run, and a
failing one is logged, not raised."""
import logging

import pytest
from sanic import Request
from sanic.compat import Header
from sanic.exceptions import SanicException

from sanic_app.config import Settings
from sanic_app.http.app import create_app
from sanic_app.ops.hooks import RequestHooks

APP = create_app(Settings(), {}, name="hooks_test")
APP.router.finalize()  # what a worker does as it starts serving


def request(method: str, path: str) -> Request:
    return Request(path.encode(), Header({"host": "gw"}), "1.1", method, None, APP)


@pytest.mark.parametrize("method, path, route", [
    ("POST", "/v1/models/m:predict", "post_model"),
    ("GET", "/healthz", "healthz"),
    ("GET", "/nowhere", "other_path"),  # TF Serving's catch-all (it answers 404 off /v1/)
    ("DELETE", "/healthz", None),  # a path that matches, with a method it does not take
    ("PUT", "/nowhere", None),
])
def test_head_routes_the_request_before_the_hooks_run(method, path, route):
    hooks, seen = RequestHooks(), []
    hooks.on_head(lambda r: seen.append(r.route.name.rsplit(".", 1)[-1] if r.route else None))
    req = request(method, path)
    hooks.head(req)
    assert seen == [route]


def test_head_hooks_run_in_order_and_a_refusal_stops_the_rest():
    hooks, seen = RequestHooks(), []

    def refuse(r):
        seen.append("refuse")
        raise SanicException("no", status_code=429)

    hooks.on_head(lambda r: seen.append("first"))
    hooks.on_head(refuse)
    hooks.on_head(lambda r: seen.append("never"))
    with pytest.raises(SanicException):
        hooks.head(request("POST", "/v1/models/m:predict"))
    assert seen == ["first", "refuse"]


def test_a_failing_answer_hook_is_logged_and_the_others_still_run(caplog):
    hooks, seen = RequestHooks(), []
    hooks.on_answer(lambda r, a: seen.append("before"))
    hooks.on_answer(lambda r, a: 1 / 0)
    hooks.on_answer(lambda r, a: seen.append("after"))
    with caplog.at_level(logging.ERROR, logger="sanic_app.ops.hooks"):
        hooks.answer(request("GET", "/healthz"), object())
    assert seen == ["before", "after"]
    assert "answer hook" in caplog.text and "ZeroDivisionError" in caplog.text


def test_the_app_factory_installs_the_always_on_hooks_in_order():
    hooks = APP.ctx.request_hooks
    names = lambda hs: [getattr(h, "__qualname__", repr(h)).rsplit(".", 1)[-1] for h in hs]  # noqa: E731
    assert names(hooks.head_hooks) == ["stamp_request", "admit"]
    assert names(hooks.answer_hooks) == ["release", "echo_request_id", "record"]

"""What runs around every request, called by the gateway's HTTP cycle rather than by Sanic's
middleware and signals.

Measured on the small-tensor request (``python -m bench.micro.bench_request_overhead``), Sanic's
``http.routing.after`` signal with one handler cost 7-8% of the worker's CPU per request, and
the four request/response middleware another 6-9%: each runs through Sanic's dispatch
machinery (event names, context dicts, coroutines) for a few lines of work. Here the same
work is plain calls from two points of the cycle (``sanic_app/ops/edge.py`` wires them):

- ``head(request)``: routed, before the body is read (a hook raising a SanicException is
  answered at once, and the body is never buffered). ``request.route`` is set, or None when no
  route matches (Sanic answers 404/405 right after).
- ``answer(request, response)``: as the response head is formatted, for every answer,
  errors and refusals included; a hook may still add headers.

Hooks are synchronous. An answer hook that fails is logged and skipped: a broken metric must
never cost the client its answer.
"""
from __future__ import annotations

import logging
from typing import Callable

from sanic.exceptions import MethodNotAllowed, NotFound

log = logging.getLogger("sanic_app.ops.hooks")

HeadHook = Callable[[object], None]
AnswerHook = Callable[[object, object], None]


class RequestHooks:
    def __init__(self) -> None:
        self.head_hooks: list[HeadHook] = []
        self.answer_hooks: list[AnswerHook] = []

    def on_head(self, hook: HeadHook) -> HeadHook:
        self.head_hooks.append(hook)
        return hook

    def on_answer(self, hook: AnswerHook) -> AnswerHook:
        self.answer_hooks.append(hook)
        return hook

    def head(self, request) -> None:
        """Route the request (Sanic's router caches the match, so its own lookup right after
        is a cache hit), then run the head hooks in order."""
        try:
            request.route = request.app.router.get(request.path, request.method,
                                                   request.headers.getone("host", None))[0]
        except (NotFound, MethodNotAllowed):
            request.route = None
        for hook in self.head_hooks:
            hook(request)

    def answer(self, request, response) -> None:
        for hook in self.answer_hooks:
            try:
                hook(request, response)
            except Exception:
                log.exception("answer hook %s failed", getattr(hook, "__qualname__", hook))

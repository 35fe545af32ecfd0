"""The core's one entry: a PredictCall in, post-processed named outputs out.

    decode -> preprocess -> pack -> backend -> unpack -> postprocess

(see core/stages.py); a large batch makes that trip in parts (core/parts.py). Every stage is
timed into the request's StageTimings. The protocol adapter that made the call renders the
outputs (and times that as "serialize").
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

import fastpack
from sanic_app.core import postprocess, preprocess
from sanic_app.core.call import PredictCall
from sanic_app.core.decode import InputDecoder, Rows
from sanic_app.core.parts import join_rows, parts
from sanic_app.core.limits import Limits
from sanic_app.core.spec import ModelConfig
from sanic_app.core.stages import StageTimings
from sanic_app.core.upstream import Upstream

_now = time.perf_counter


class ModelPipeline:
    """The stages for one model (from a spec file, or from backend metadata for pass-through)."""

    def __init__(self, config: ModelConfig, upstream: Upstream, *, deadline_s: float,
                 limits: Limits, executor=None):
        self.config = config
        self.upstream = upstream
        self.deadline_s = deadline_s  # the spec's target deadline or the default (registry.deadline_for)
        self.limits = limits
        self.executor = executor
        self.build_inputs = InputDecoder(config, limits)
        self._decode_off_loop = executor is not None and any(
            s.kind == "image" for s in config.inputs.values())
        self.output_filter = tuple(config.outputs)

    async def predict(self, call: PredictCall, timings: StageTimings) -> dict[str, Any]:
        """Named outputs: numpy arrays, or what the spec's post-processing made of them.

        A batch whose tensors would pass ``limits.max_call_bytes`` goes to the backend in parts
        of whole rows (see ``parts``) and their outputs are joined.
        """
        start = _now()
        rows = self.build_inputs.prepare(call)
        timings.decode += _now() - start
        deadline = self.deadline_s if call.deadline_s is None else min(self.deadline_s, call.deadline_s)
        spans = parts(rows, self.limits.max_call_bytes)
        if len(spans) == 1:
            if self._decode_off_loop:
                loop = asyncio.get_running_loop()
                request = await loop.run_in_executor(self.executor, self._build, rows, 0, rows.size, call, timings)
            else:
                request = self._build(rows, 0, rows.size, call, timings)
            outputs = await self._send(request, deadline, timings, time_wait=True)
        else:
            outputs = await self._in_parts(rows, spans, call, timings, _now() + deadline)
        t4 = _now()
        if not call.postprocess:
            timings.postprocess += _now() - t4
            return outputs
        shaped = {name: self._postprocess(name, arr) for name, arr in outputs.items()}
        timings.postprocess += _now() - t4
        return shaped

    async def _in_parts(self, rows: Rows, spans: list[tuple[int, int]], call: PredictCall,
                        timings: StageTimings, ends: float) -> dict[str, np.ndarray]:
        """The parts in order, one at the backend while the next is decoded and packed on a
        thread (the decoder and kernel release the GIL), so splitting costs little latency;
        at most two parts' requests are alive at once. The parts share one deadline."""
        loop = asyncio.get_running_loop()
        pieces, sending = [], None
        try:
            for lo, hi in spans:
                request = await loop.run_in_executor(self.executor, self._build, rows, lo, hi, call, timings)
                if sending is not None:
                    t = _now()
                    pieces.append(await sending)
                    timings.backend += _now() - t
                sending = loop.create_task(self._send(request, ends - _now(), timings))
                del request
            t = _now()
            pieces.append(await sending)
            timings.backend += _now() - t
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
        return join_rows(pieces, spans)

    def _build(self, rows: Rows, lo: int, hi: int, call: PredictCall, timings: StageTimings) -> bytes:
        """Rows ``lo:hi`` decoded, preprocessed and packed into one PredictRequest's bytes.
        Plain work with no event loop, so it may run on a thread."""
        start = _now()
        tensors = rows.tensors(lo, hi)
        t = _now()
        timings.decode += t - start

        writers = preprocess.timed(tensors)
        cfg = self.config
        pinned = call.version is not None or call.label is not None
        request = fastpack.encode_predict_request(
            cfg.name, writers,
            signature_name=call.signature_name if call.signature_name is not None else cfg.signature_name,
            version=call.version if pinned else cfg.version,
            version_label=call.label if pinned else cfg.version_label,
            output_filter=call.outputs if call.outputs else self.output_filter,
        )
        kernel = preprocess.kernel_seconds(writers)
        timings.preprocess += kernel
        timings.pack += (_now() - t) - kernel
        shape = next(iter(writers.values())).shape
        timings.batch_size += int(shape[0]) if len(shape) else 1
        return request

    async def _send(self, request: bytes, timeout: float, timings: StageTimings,
                    time_wait: bool = False) -> dict[str, np.ndarray]:
        """One backend call and its answer decoded. The call is timed as "backend" here when
        ``time_wait``; parts in flight beside other work are timed by their waiter instead."""
        timings.backend_calls += 1
        t = _now()
        response = await self.upstream.predict(request, timeout)
        del request
        if time_wait:
            timings.backend += _now() - t
        t = _now()
        outputs, _ = fastpack.decode_predict_response(response)
        timings.unpack += _now() - t
        return outputs

    def _postprocess(self, name: str, arr: np.ndarray):
        spec = self.config.outputs.get(name)
        if spec is None or arr.dtype == object:  # strings are rendered by the adapter
            return arr
        return postprocess.apply(spec, arr)

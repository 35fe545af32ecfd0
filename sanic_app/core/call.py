"""PredictCall: one prediction request as the core sees it, whatever protocol brought it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PredictCall:
    """One predict request, independent of how it arrived.

    ``values`` maps input names (None: "the model's only input") to their values. With
    ``row=True`` each value is a list holding one item per instance (``batch_size`` of them);
    with ``row=False`` each value is the whole input: nested lists, a numpy array, or a list
    of encoded images. Image items are ``{"b64": str}`` objects or raw ``bytes``.
    """

    model: str
    values: dict[str | None, Any]
    row: bool = True
    version: int | None = None
    label: str | None = None
    signature_name: str | None = None
    batch_size: int | None = None  # row form: number of instances
    deadline_s: float | None = None  # the client's own deadline; used when shorter than the model's
    outputs: tuple[str, ...] | None = None  # ask the backend for these outputs only
    postprocess: bool = True  # False: outputs as the backend sent them (the adapter shapes them)

"""The limits on what one request may ask for, and the one gate for each.

``Limits`` is built once per worker from ``Settings`` (where every default lives) and passed
to whatever checks a limit; nothing reads a module global. Each check runs before the work it
protects: the body size before reading it (the HTTP layer), JSON depth before parsing
(http/jsonbody), the batch size and the number of inputs once on the normalised call (here),
the pixel count from the image header before decoding (core/imaging; Pillow's own guard is set
to the same limit here).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sanic_app.config import Settings
from sanic_app.errors import PayloadTooLarge


def _default(name: str):
    """A limit's default is the Settings field's default: one source for both."""
    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; see Settings for the meaning and default of each."""

    max_body_bytes: int = _default("max_body_bytes")
    max_image_pixels: int = _default("max_image_pixels")
    max_batch: int = _default("max_batch")
    max_call_bytes: int = _default("max_call_bytes")
    max_json_depth: int = _default("max_json_depth")
    max_inputs: int = _default("max_inputs")
    max_in_flight: int = _default("max_in_flight")

    def __post_init__(self):
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


class LimitExceeded(PayloadTooLarge):
    """A request broke a limit: 413, or the ``status`` given (400 for JSON depth).

    ``limit`` names the Settings field, so logs and tests can tell which one.
    """

    def __init__(self, message: str, status: int = 413, limit: str = ""):
        super().__init__(message)
        self.http_status = status
        self.limit = limit


def check_batch(size: int, limits: Limits) -> None:
    """The batch gate: every body form reaches it once, with its normalised batch size."""
    if size > limits.max_batch:
        raise LimitExceeded(f"batch size {size} exceeds the limit of {limits.max_batch}", 413, "max_batch")


def check_inputs(count: int, limits: Limits) -> None:
    if count > limits.max_inputs:
        raise LimitExceeded(f"{count} inputs exceed the limit of {limits.max_inputs}", 413, "max_inputs")


def apply_pillow_limit(limits: Limits) -> None:
    """Make Pillow itself refuse bombs too, in case a path skips our header check.

    Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice that;
    we set it to our limit so Pillow's hard stop sits at 2x ours.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels

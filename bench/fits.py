"""How a cost grows along one axis: a straight line (fixed + per-unit cost) and, where the
growth bends, the knee (a continuous two-segment "hinge" fit). Pure numpy, so the report's
sentences come from the data and can be unit-tested.

The rows span two orders of magnitude (1 to 256 images, 1 to 256 connections), so the fits
minimise *relative* residuals (each point weighted by 1/|y|): an ordinary fit would be decided
by the largest points alone and could give a negative fixed cost.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

# A knee is claimed only when two segments explain the points much better than one line and
# the slope really changes (not a wobble of a noisy flat line).
KNEE_SSE_SHARE = 0.5      # the hinge's residual must be at most this share of the line's
KNEE_SLOPE_CHANGE = 2.0   # and one slope at least this many times the other (or opposite signs)
FLAT_SHARE = 0.15         # a line that moves less than this share of its mean over the range is flat


def _clean(xs: Sequence, ys: Sequence) -> tuple[np.ndarray, np.ndarray]:
    pts = [(float(x), float(y)) for x, y in zip(xs, ys) if x is not None and y is not None]
    pts.sort()
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


def _weights(y: np.ndarray) -> np.ndarray:
    """1/|y|, bounded so that a zero or tiny point cannot take the whole fit."""
    floor = max(float(np.abs(y).max()) * 1e-3, 1e-12)
    return 1.0 / np.maximum(np.abs(y), floor)


def fit_line(xs: Sequence, ys: Sequence) -> Optional[dict]:
    """Least squares y = fixed + per_unit * x, with R² and the residual sum of squares."""
    x, y = _clean(xs, ys)
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    w = _weights(y)
    per_unit, fixed = np.polyfit(x, y, 1, w=w)
    resid = (y - (fixed + per_unit * x)) * w
    sse = float(resid @ resid)
    mean_w = float((w * w * y).sum() / (w * w).sum())
    tss = float((((y - mean_w) * w) ** 2).sum())
    return {"fixed": float(fixed), "per_unit": float(per_unit), "sse": sse,
            "r2": 1.0 - sse / tss if tss > 0 else 1.0, "n": int(len(x)),
            "x_min": float(x.min()), "x_max": float(x.max()), "mean": float(y.mean())}


def fit_hinge(xs: Sequence, ys: Sequence) -> Optional[dict]:
    """The best continuous two-segment fit y = a + b·x + c·max(0, x − knee), the knee tried at
    every inner data point; None with fewer than 5 points (3 parameters need spare points)."""
    x, y = _clean(xs, ys)
    if len(x) < 5:
        return None
    best = None
    for knee in x[1:-1]:
        design = np.column_stack([np.ones_like(x), x, np.maximum(0.0, x - knee)])
        w = _weights(y)
        coef, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
        resid = (y - design @ coef) * w
        sse = float(resid @ resid)
        if best is None or sse < best["sse"]:
            best = {"knee": float(knee), "fixed": float(coef[0]), "slope_before": float(coef[1]),
                    "slope_after": float(coef[1] + coef[2]), "sse": sse,
                    "y_at_knee": float(coef[0] + coef[1] * knee)}
    return best


def knee(xs: Sequence, ys: Sequence) -> Optional[dict]:
    """The hinge fit when it is a real bend (see the thresholds above), else None."""
    line, hinge = fit_line(xs, ys), fit_hinge(xs, ys)
    if not line or not hinge:
        return None
    if line["sse"] > 0 and hinge["sse"] > KNEE_SSE_SHARE * line["sse"]:
        return None
    b0, b1 = hinge["slope_before"], hinge["slope_after"]
    at_ends = (hinge["y_at_knee"] - b0 * (hinge["knee"] - line["x_min"]), hinge["y_at_knee"],
               hinge["y_at_knee"] + b1 * (line["x_max"] - hinge["knee"]))
    if max(at_ends) - min(at_ends) < FLAT_SHARE * abs(line["mean"]):
        return None  # the bent curve hardly moves: noise around a flat line
    opposite = b0 * b1 < 0
    small, large = sorted((abs(b0), abs(b1)))
    if not opposite and large < KNEE_SLOPE_CHANGE * max(small, 1e-12):
        return None
    return hinge


def shape(xs: Sequence, ys: Sequence) -> dict:
    """'flat', 'linear' or 'knee' (with the fits), for the report's sentences."""
    line = fit_line(xs, ys)
    if line is None:
        return {"kind": "unknown"}
    bend = knee(xs, ys)
    if bend is not None:
        return {"kind": "knee", "line": line, "hinge": bend}
    moved = abs(line["per_unit"]) * (line["x_max"] - line["x_min"])
    if moved < FLAT_SHARE * max(abs(line["mean"]), 1e-12):
        return {"kind": "flat", "line": line}
    return {"kind": "linear", "line": line}


def _units(x: float, unit: str) -> str:
    return f"{x:g} {unit}" + ("s" if x != 1 and unit[-1:].isalpha() and unit[-2:] != "px" else "")


def describe(xs: Sequence, ys: Sequence, what: str, unit: str, value_unit: str = "ms",
             fmt: str = "{:.3g}") -> str:
    """One sentence: how ``what`` grows with the row's variable."""
    f = fmt.format
    x, y = _clean(xs, ys)
    if len(x) < 2:
        return f"{what}: too few points to say."
    if len(x) == 2:
        return (f"{what}: {f(y[0])} {value_unit} at {_units(x[0], unit)}, {f(y[1])} at "
                f"{_units(x[1], unit)} (two points: no fit).")
    s = shape(xs, ys)
    line = s["line"]
    if s["kind"] == "flat":
        return (f"{what} does not grow with {unit}s: {f(line['mean'])} {value_unit} on average "
                f"(slope {f(line['per_unit'])} {value_unit} per {unit}).")
    if s["kind"] == "linear" and line["r2"] < 0.5:
        return (f"{what} shows no clear trend: {f(y.min())} to {f(y.max())} {value_unit}, "
                f"{f(line['mean'])} on average (a straight line has R² {line['r2']:.2f}).")
    if s["kind"] == "linear":
        verb = "grows" if line["per_unit"] > 0 else "falls"
        last = (y[-1] - y[-2]) / (x[-1] - x[-2])
        tail = ""
        if abs(last - line["per_unit"]) > 0.3 * abs(line["per_unit"]):
            tail = (f"; from {x[-2]:g} to {_units(x[-1], unit)}: {f(last)} {value_unit} per "
                    f"{unit}")
        at_min = line["fixed"] + line["per_unit"] * line["x_min"]
        fixed_part = f"{f(line['fixed'])} {value_unit} fixed"
        if at_min and 0 < line["fixed"] / at_min <= 1:
            fixed_part += f" ({line['fixed'] / at_min:.0%} of it at {_units(line['x_min'], unit)})"
        return (f"{what} {verb} linearly: {fixed_part} {'+' if line['per_unit'] >= 0 else '−'} "
                f"{f(abs(line['per_unit']))} {value_unit} per {unit} (R² {line['r2']:.2f}){tail}.")
    h = s["hinge"]
    return (f"{what} bends at a knee near {_units(h['knee'], unit)}: {f(h['slope_before'])} "
            f"{value_unit} per {unit} before, {f(h['slope_after'])} after (one straight line: "
            f"R² {line['r2']:.2f}).")

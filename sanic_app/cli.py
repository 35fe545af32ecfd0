"""Command line and environment -> Settings.

The parser is generated from ``Settings``' field metadata, so a new setting needs no edit here.
Flags win over ``GATEWAY_*`` variables, which win over defaults; a bad value of a known
setting stops start-up with a message naming it. Unknown ``GATEWAY_*`` names (typos, or
Kubernetes service links of a Service named ``gateway``) are reported once and ignored
(``podenv.py`` says why).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence

from sanic_app.config import ENV_PREFIX, Settings, env_name, user_fields
from sanic_app.errors import ConfigError
from sanic_app.podenv import EnvReport, closest, is_service_link

log = logging.getLogger("sanic_app.config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sanic_app",
        description="REST gateway for TensorFlow Serving. Every flag can also be set as an "
        f"environment variable {ENV_PREFIX}<NAME> (flags win).",
    )
    for f in user_fields():
        meta = f.metadata
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": f"{meta['help']} [{env_name(f)}]"}
        if "switch" in meta:
            kwargs["action"] = "store_const"
            kwargs["const"] = meta["switch"]
        elif meta.get("repeat"):
            kwargs["action"] = "append"
            kwargs["metavar"] = meta.get("metavar", "PATH")
        else:
            kwargs["metavar"] = f.name.upper()
        parser.add_argument(*meta["flags"], **kwargs)
    return parser


def _parse_value(f: dataclasses.Field, text: str, source: str):
    try:
        return f.metadata["parse"](text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: invalid value {text!r} for {f.name}: {exc}") from None


def from_env(environ: Mapping[str, str], report: EnvReport | None = None) -> dict:
    """Settings named in the environment; what is not ours goes to ``report`` (if given)."""
    known = {env_name(f): f for f in user_fields()}
    report = EnvReport() if report is None else report
    values = {}
    for key, text in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        # GATEWAY_PORT is ours and also the link of a Service named "gateway": tcp://... is the link.
        if is_service_link(key, text):
            report.service_links.append(key)
            continue
        f = known.get(key)
        if f is None:
            report.unknown.append((key, closest(key, known)))
            continue
        values[f.name] = _parse_value(f, text, key)
    # Settings named outside our prefix (APP_ENV, the run mode operators already know).
    for name, f in known.items():
        if not name.startswith(ENV_PREFIX) and name in environ:
            values[f.name] = _parse_value(f, environ[name], name)
    return values


def from_args(argv: Sequence[str] | None) -> dict:
    namespace = build_parser().parse_args(argv)
    values = {}
    fields = {f.name: f for f in user_fields()}
    for name, raw in vars(namespace).items():
        f = fields[name]
        flag = f.metadata["flags"][0]
        if f.metadata.get("repeat"):
            values[name] = tuple(p for item in raw for p in _parse_value(f, item, flag))
        elif isinstance(raw, str):
            values[name] = _parse_value(f, raw, flag)
        else:
            values[name] = raw
    return values


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags over env over defaults; raises ConfigError with a clear message."""
    report = EnvReport()
    values = from_env(os.environ if environ is None else environ, report)
    values.update(from_args(argv))
    settings = Settings(**values)
    for message in report.messages():  # once, in the process that parses (the main one)
        log.warning("%s", message)
    return settings

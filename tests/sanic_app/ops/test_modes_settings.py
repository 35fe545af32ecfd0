"""Run-mode settings: env vs flags (flags win), refused combinations, and what reaches Sanic."""
import pytest

from sanic_app.ops import logging as applog, modes
from sanic_app.ops.edge import EdgeProtocol
from sanic_app.cli import parse_settings
from sanic_app.errors import ConfigError


def test_app_env_is_read_and_the_flag_wins():
    assert parse_settings([], {}).env == "production"
    assert parse_settings([], {"APP_ENV": "development"}).env == "development"
    assert parse_settings(["--env", "production"], {"APP_ENV": "development"}).env == "production"


def test_profile_settings_from_env_and_flags():
    env = {"GATEWAY_PROFILE": "1", "GATEWAY_PROFILE_EVERY": "10", "GATEWAY_PROFILE_OUTPUT": "aggregate"}
    settings = parse_settings(["--profile-format", "speedscope", "--profile-every", "5"], env)
    options = modes.profile_options(settings)
    assert settings.profile and (options.every, options.output, options.format) == (5, "aggregate", "speedscope")


@pytest.mark.parametrize("argv, env, words", [
    ([], {"APP_ENV": "Production"}, ["APP_ENV", "production, development"]),
    (["--reload"], {}, ["reload", "development only"]),
    (["--reload", "--env", "development", "--single-process"], {}, ["--single-process"]),
    ([], {"GATEWAY_RELOAD": "maybe"}, ["GATEWAY_RELOAD", "boolean"]),
    (["--profile-output", "both"], {}, ["--profile-output", "request, aggregate"]),
])
def test_refused_values_name_the_setting_and_the_choices(argv, env, words):
    with pytest.raises(ConfigError) as caught:
        parse_settings(argv, env)
    for word in words:
        assert word in str(caught.value)


def test_serve_options_per_mode(monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    production = modes.serve_options(parse_settings([], {}))
    assert production == {"access_log": True, "motd": False, "auto_reload": False,
                          "protocol": EdgeProtocol}
    assert issubclass(EdgeProtocol, applog.AccessLineProtocol)
    reload = modes.serve_options(parse_settings(["--env", "development", "--reload"], {}))
    assert reload["auto_reload"] is True
    assert {p.rsplit("/", 1)[-1] for p in reload["reload_dir"]} == {"sanic_app", "fastpack"}
    import os

    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1"  # restarted workers write no bytecode


def test_describe_names_the_mode():
    settings = parse_settings(["--workers", "3", "--profile"], {"APP_ENV": "development"})
    assert modes.describe(settings) == "run mode development, 3 worker(s), profile"
    assert modes.describe(parse_settings(["--single-process"], {})) == "run mode production, 1 process"

"""Where requests go: when the embedded backend starts, and the default backend for specs
without a target and for pass-through models."""
import pytest

from sanic_app.http import app as app_module
from sanic_app.config import EMBEDDED_TARGET_ENV, Settings
from sanic_app.core.spec import ModelConfig, TargetSpec

NO_TARGET = ModelConfig("a")
AT_8500 = ModelConfig("b", target=TargetSpec(("tfs:8500",)))
AT_9000 = ModelConfig("c", target=TargetSpec(("other:9000", "other2:9000")))


@pytest.fixture(autouse=True)
def no_embedded_env(monkeypatch):
    monkeypatch.delenv(EMBEDDED_TARGET_ENV, raising=False)
    return monkeypatch


def test_embedded_backend_only_for_specs_without_a_target():
    assert app_module.needs_embedded_backend(Settings(), {"a": NO_TARGET, "b": AT_8500})
    assert not app_module.needs_embedded_backend(Settings(), {"b": AT_8500})
    assert not app_module.needs_embedded_backend(Settings(target="tfs:1"), {"a": NO_TARGET})


def test_default_addresses(no_embedded_env):
    assert app_module.default_addresses(Settings(target="t:1"), {"b": AT_8500}) == ("t:1",)
    assert app_module.default_addresses(Settings(), {"b": AT_8500}) == ("tfs:8500",)
    assert app_module.default_addresses(Settings(), {"b": AT_8500, "c": AT_9000}) is None
    no_embedded_env.setenv(EMBEDDED_TARGET_ENV, "127.0.0.1:5")
    assert app_module.default_addresses(Settings(), {"a": NO_TARGET}) == ("127.0.0.1:5",)


def test_the_gateway_never_imports_tensorflow():
    import subprocess
    import sys

    code = ("import sys, sanic_app.main, sanic_app.http.app, sanic_app.core.pipeline, sanic_app.core.passthrough; "
            "from sanic_app.http.app import build_app; from sanic_app.main import resolve; "
            "build_app(resolve([])); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_serving')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in __import__("os").environ.items() if not k.startswith("GATEWAY_")})
    assert done.returncode == 0, done.stdout + done.stderr

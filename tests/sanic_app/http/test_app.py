"""The app factory: what a worker's app serves, and that the gateway never loads TensorFlow."""
from sanic_app.config import Settings
from sanic_app.http.app import create_app


def test_every_route_is_registered_by_the_factory():
    app = create_app(Settings(), {}, name="factory_test")
    paths = {route.path for route in app.router.routes}
    assert {"healthz", "readyz", "metrics", "openapi.json", "docs", "v1/models/<rest:path>"} <= paths
    assert app.config.REQUEST_MAX_SIZE == Settings().max_body_bytes
    assert app.ctx.limits.max_batch == Settings().max_batch


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

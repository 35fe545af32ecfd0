"""docker-compose.yml, checked without an engine: the official TF Serving image, a gateway built
from our Dockerfile that reaches it by service name, and a spec path that exists and loads."""
import yaml
from gateway_process import REPO

from sanic_app.cli import parse_settings
from sanic_app.core.spec import load_specs


def test_compose_wires_the_gateway_to_official_tf_serving():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    tfs, gateway = services["tfserving"], services["gateway"]
    assert tfs["image"].startswith("tensorflow/serving:") and not tfs["image"].endswith(":latest")
    assert "--port=8500" in tfs["command"]
    assert gateway["build"] == "." and gateway["depends_on"]["tfserving"]["condition"] == "service_healthy"
    env = {k: str(v) for k, v in gateway["environment"].items()}
    settings = parse_settings([], env)
    assert settings.target == "tfserving:8500"
    host_dir, _, container_dir = gateway["volumes"][0].rpartition(":ro")[0].partition(":")
    for spec in settings.spec_paths:
        assert spec.startswith(container_dir + "/")
        assert load_specs([str(REPO / host_dir / spec[len(container_dir) + 1:])])
    assert gateway["read_only"] is True and gateway["cap_drop"] == ["ALL"]

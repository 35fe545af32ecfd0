"""When the run starts the embedded backend, and where models without a target are sent."""
from sanic_app.config import Settings
from sanic_app.core.registry import default_addresses
from sanic_app.core.spec import ModelConfig, TargetSpec
from sanic_app.ops import embedded

NO_TARGET = ModelConfig("a")
AT_8500 = ModelConfig("b", target=TargetSpec(("tfs:8500",)))
AT_9000 = ModelConfig("c", target=TargetSpec(("other:9000", "other2:9000")))


def test_embedded_backend_only_for_specs_without_a_target():
    assert embedded.needs_embedded_backend(Settings(), {"a": NO_TARGET, "b": AT_8500})
    assert not embedded.needs_embedded_backend(Settings(), {"b": AT_8500})
    assert not embedded.needs_embedded_backend(Settings(target="tfs:1"), {"a": NO_TARGET})


def test_default_addresses():
    assert default_addresses(Settings(target="t:1"), {"b": AT_8500}) == ("t:1",)
    assert default_addresses(Settings(), {"b": AT_8500}) == ("tfs:8500",)
    assert default_addresses(Settings(), {"b": AT_8500, "c": AT_9000}) is None
    assert default_addresses(Settings(embedded_target="127.0.0.1:5"), {"a": NO_TARGET}) == ("127.0.0.1:5",)


def test_no_backend_is_started_when_every_model_has_one():
    settings = Settings()
    with embedded.embedded_backend(settings, {"b": AT_8500}) as running:
        assert running is settings and running.embedded_target is None

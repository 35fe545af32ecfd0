"""Command-line flags of the backend: which models they load, and clear refusals."""
import pytest

from sanic_app.localserve.cli import build_registry, parse_args

INCEPTION = "inception:images=float32[-1,299,299,3]:scores=float32[-1,1001]"


def registry_for(*argv):
    return build_registry(parse_args(list(argv)))


def test_no_model_flags_serve_digits_on_loopback_8500():
    args = parse_args([])
    assert (args.host, args.port, args.grpc_impl) == ("127.0.0.1", 8500, "sync")
    assert registry_for().model_names == ["digits"]


def test_model_name_renames_digits_and_null_models_replace_it():
    assert registry_for("--model_name", "mnist8").model_names == ["mnist8"]
    assert registry_for("--null_model", INCEPTION).model_names == ["inception"]
    assert registry_for("--model_name", "digits", "--null_model", INCEPTION).model_names == [
        "digits", "inception"]


def test_version_labels_resolve():
    registry = registry_for("--version_label", "stable=1")
    assert registry.resolve("digits", label="stable").version == 1


@pytest.mark.parametrize("argv", [
    ["--model_config_file", "models.config"],
    ["--delay_ms", "-1"],
    ["--grpc_impl", "threads"],
    ["--grpc_workers", "0"],
])
def test_refused_flags_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        parse_args(argv)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--version_label", "stable"], "expected LABEL=VERSION"),
    (["--version_label", "stable=2"], "does not have"),
    (["--model_name", "inception", "--null_model", INCEPTION], "served twice"),
])
def test_inconsistent_models_are_refused(argv, message):
    with pytest.raises(ValueError, match=message):
        registry_for(*argv)

"""Settings from flags and GATEWAY_* variables: flags win, bad values stop start-up clearly."""
import pytest

from sanic_app.cli import parse_settings
from sanic_app.config import Settings
from sanic_app.errors import ConfigError


def test_defaults():
    s = parse_settings([], {})
    assert s == Settings()
    assert (s.port, s.workers, s.single_process, s.spec_paths, s.target) == (8000, 1, False, (), None)


def test_flags():
    s = parse_settings(["--workers", "4", "-s", "a.json", "--spec", "b.json",
                        "--host", "0.0.0.0", "-p", "9000", "--target", "tfs:8500",
                        "--deadline-ms", "250", "--no-passthrough"], {})
    assert s.workers == 4 and not s.single_process and s.port == 9000 and s.host == "0.0.0.0"
    assert s.spec_paths == ("a.json", "b.json")
    assert s.target == "tfs:8500" and s.deadline_s == 0.25 and s.passthrough is False


def test_env_and_precedence():
    env = {"GATEWAY_PORT": "9100", "GATEWAY_WORKERS": "3", "GATEWAY_SPECS": "x.json,y.json", "PATH": "/bin"}
    s = parse_settings([], env)
    assert (s.port, s.workers, s.spec_paths, s.single_process) == (9100, 3, ("x.json", "y.json"), False)
    s = parse_settings(["--port", "9200"], env)
    assert s.port == 9200 and s.workers == 3
    s = parse_settings([], {"GATEWAY_SINGLE_PROCESS": "yes"})
    assert s.single_process and s.workers == 1


@pytest.mark.parametrize("argv,env,words", [
    (["--port", "eighty"], {}, ["--port", "eighty"]),
    (["--port", "70000"], {}, ["port", "0..65535"]),
    (["--workers", "0"], {}, ["workers"]),
    (["--workers", "2", "--single-process"], {}, ["--single-process", "--workers"]),
    (["--target", "no-port"], {}, ["--target", "host:port"]),
    ([], {"GATEWAY_WORKERS": "many"}, ["GATEWAY_WORKERS", "many"]),
    ([], {"GATEWAY_SINGLE_PROCESS": "perhaps"}, ["GATEWAY_SINGLE_PROCESS"]),
    # a known name stays strict, also inside a pod full of service links
    ([], {"GATEWAY_PORT": "http", "GATEWAY_SERVICE_HOST": "10.0.0.1"}, ["GATEWAY_PORT", "http"]),
])
def test_bad_values_stop_start_up_naming_them(argv, env, words):
    with pytest.raises(ConfigError) as info:
        parse_settings(argv, env)
    for word in words:
        assert word in str(info.value)


def test_unknown_flag_exits():
    with pytest.raises(SystemExit):
        parse_settings(["--wrokers", "2"], {})


def test_main_reports_bad_spec_and_exits_2(tmp_path, capsys):
    from sanic_app.main import resolve

    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"name": "m"}, "inputs": {"x": {"kind": "tensor"}}}')
    with pytest.raises(SystemExit) as info:
        resolve(["-s", str(bad)])
    assert info.value.code == 2
    assert f"{bad}: inputs.x.dtype: is required" in capsys.readouterr().err


def test_main_fills_in_the_demo_spec():
    from sanic_app.main import resolve

    s = resolve([])
    assert len(s.spec_paths) == 1 and s.spec_paths[0].endswith("digits.json")

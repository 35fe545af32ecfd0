"""deploy/kubernetes, rendered as `kubectl kustomize` would (without kubectl), validated against
the Kubernetes API schemas of a current release (kubernetes-validate bundles them: offline) and
our pod policy; both checks shown failing on a deliberately broken manifest."""
import copy
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml
from gateway_process import REPO

import kustomize_lite
import pod_policy
from sanic_app.ops import metrics
from sanic_app.cli import parse_settings
from sanic_app.podenv import EnvReport
from sanic_app.core.spec import load_specs
from sanic_app.core.upstream import channel_targets

DEPLOY = REPO / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").exists())
K8S_VERSION = kubernetes_validate.latest_version()


def render(name: str) -> list[dict]:
    return kustomize_lite.render(DEPLOY / "overlays" / name)


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def gateway_container(docs) -> dict:
    return next(c for c in find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
                if c["name"] == "gateway")


def schema_errors(docs) -> list[str]:
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    return errors


def test_the_overlays_exist():
    assert OVERLAYS == ["pool", "sidecar"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renders_as_kubectl_does(overlay):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the other tests use the built-in renderer)")
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
    ours = {(d["kind"], d["metadata"]["name"]): d for d in render(overlay)}
    assert ours == theirs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_api_schemas(overlay):
    docs = render(overlay)
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "PodDisruptionBudget",
                                          "HorizontalPodAutoscaler", "ConfigMap"}
    assert schema_errors(docs) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_passes_the_pod_policy(overlay):
    assert pod_policy.violations(render(overlay)) == []


def _break(docs, path, value):
    """Set (or with value=None delete) a field of the gateway container or its pod spec."""
    docs = copy.deepcopy(docs)
    node = find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    if path[0] == "container":
        node, path = next(c for c in node["containers"] if c["name"] == "gateway"), path[1:]
    *parents, last = path
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return docs


def test_an_unknown_field_fails_the_schema_check():
    docs = _break(render("pool"), ("container", "readinessProbes"), {"httpGet": {"path": "/readyz", "port": 8000}})
    [error] = schema_errors(docs)
    assert "Deployment/gateway" in error and "readinessProbes" in error
    docs = _break(render("pool"), ("container", "resources", "limits", "cpu"), {"cores": 2})
    assert schema_errors(docs)


BROKEN = [
    (("container", "readinessProbe"), None, "readinessProbe is missing"),
    (("container", "livenessProbe"), None, "livenessProbe is missing"),
    (("container", "startupProbe"), None, "startupProbe is missing"),
    (("container", "resources", "limits"), None, "resources.limits.cpu is missing"),
    (("container", "securityContext", "readOnlyRootFilesystem"), False, "readOnlyRootFilesystem"),
    (("container", "securityContext", "allowPrivilegeEscalation"), None, "allowPrivilegeEscalation"),
    (("container", "securityContext", "capabilities"), {"drop": ["NET_RAW"]}, "drop must include ALL"),
    (("securityContext", "seccompProfile"), None, "seccompProfile"),
    (("securityContext", "runAsUser"), 0, "non-zero uid"),
    (("terminationGracePeriodSeconds",), 20, "terminationGracePeriodSeconds 20"),
    (("container", "lifecycle"), None, "preStop"),
    (("container", "image"), "tfserving-gateway", "pinned"),
]


@pytest.mark.parametrize("path,value,words", BROKEN, ids=[w for _, _, w in BROKEN])
def test_a_broken_manifest_fails_the_policy(path, value, words):
    docs = _break(render("pool"), path, value)
    found = pod_policy.violations(docs)
    assert any(words in v for v in found), found


def test_policy_wants_the_headless_service_and_both_hpa_metrics():
    docs = copy.deepcopy(render("pool"))
    find(docs, "Service", "tfserving")["spec"]["clusterIP"] = "10.96.0.10"
    find(docs, "HorizontalPodAutoscaler", "gateway")["spec"]["metrics"].pop()
    env = gateway_container(docs)["env"]
    next(e for e in env if e["name"] == "GATEWAY_METRICS_DIR")["value"] = "/var/lib/gateway"
    found = "\n".join(pod_policy.violations(docs))
    assert "must be headless" in found and "gateway_in_flight" in found and "GATEWAY_METRICS_DIR" in found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_accepts_its_own_env_and_args_without_a_warning(overlay):
    container = gateway_container(render(overlay))
    env = {e["name"]: e.get("value", "2") for e in container["env"]}  # 2: the downward API's limits.cpu
    report = EnvReport()
    from sanic_app.cli import from_env
    from_env(env, report)
    assert report.messages() == []
    settings = parse_settings(container.get("args", []), env)
    assert settings.host == "0.0.0.0" and settings.workers == 2
    # the CPU limit is whole cores, so the worker count is exactly what the pod pays for
    assert container["resources"]["limits"]["cpu"] == container["resources"]["requests"]["cpu"]


def test_pool_reaches_tf_serving_through_dns_round_robin():
    docs = render("pool")
    target = next(e["value"] for e in gateway_container(docs)["env"] if e["name"] == "GATEWAY_TARGET")
    assert channel_targets((target,)) == [f"dns:///{target}"]
    service = find(docs, "Service", target.split(":")[0])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"][0]["port"] == int(target.rsplit(":", 1)[1])


def test_sidecar_shares_the_socket_directory_and_drops_the_pool():
    docs = render("sidecar")
    assert not [d for d in docs if d["metadata"]["name"] == "tfserving"]
    pod = find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    [sidecar] = pod["initContainers"]
    socket_flag = next(a for a in sidecar["args"] if a.startswith("--grpc_socket_path="))
    socket_path = socket_flag.split("=", 1)[1]
    target = next(e["value"] for e in gateway_container(docs)["env"] if e["name"] == "GATEWAY_TARGET")
    assert target == f"unix:{socket_path}"
    gateway_mounts = {m["mountPath"]: m["name"] for m in gateway_container(docs)["volumeMounts"]}
    sidecar_mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
    directory = socket_path.rsplit("/", 1)[0]
    assert gateway_mounts[directory] == sidecar_mounts[directory]
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar: up before, down after the gateway


def test_the_spec_in_the_configmap_loads(tmp_path):
    configmap = next(d for d in render("pool") if d["kind"] == "ConfigMap")
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)
        assert load_specs([str(tmp_path / name)])
    mount = next(m for m in gateway_container(render("pool"))["volumeMounts"] if m["name"] == "specs")
    args = gateway_container(render("pool"))["args"]
    assert args[args.index("--spec") + 1].startswith(mount["mountPath"] + "/")


def test_the_adapter_rule_exposes_the_gauge_the_hpa_reads():
    values = yaml.safe_load((DEPLOY / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    [rule] = values["rules"]["custom"]
    assert "gateway_in_flight" in metrics.HELP and metrics.HELP["gateway_in_flight"][0] == "gauge"
    assert rule["seriesQuery"].startswith("gateway_in_flight{")
    assert rule["name"]["as"] == "gateway_in_flight"
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    hpa = find(render("pool"), "HorizontalPodAutoscaler", "gateway")
    assert any((m.get("pods") or {}).get("metric", {}).get("name") == rule["name"]["as"] for m in hpa["spec"]["metrics"])
    scrape = yaml.safe_load((DEPLOY / "monitoring" / "prometheus-scrape.yaml").read_text())
    labels = {c.get("target_label") for c in scrape["scrape_configs"][0]["relabel_configs"]}
    assert {"namespace", "pod"} <= labels
    annotations = find(render("pool"), "Deployment", "gateway")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"


def test_the_renderer_refuses_what_it_does_not_know(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(kustomize_lite.KustomizeError):
        kustomize_lite.render(tmp_path)


def test_configmap_name_hash_is_kustomizes():
    """Pinned to what `kubectl kustomize` (kustomize v5.5) printed for this generator, so the
    renderer's names stay right on machines without kubectl."""
    assert kustomize_lite.configmap_hash({"metadata": {"name": "x"}, "data": {"a": "b"}}) == "4h2mbtbbt6"

"""Focused policy checks for the rendered manifests (the hardening and availability rules the
deploy/kubernetes README section promises). Written here because no policy linter on PyPI runs
offline without a large toolchain; each rule names the object and the field it wants.
"""
from __future__ import annotations

import re

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}


def _containers(pod: dict):
    for c in pod.get("containers", []):
        yield c, False
    for c in pod.get("initContainers", []):
        yield c, c.get("restartPolicy") == "Always"  # a native sidecar: runs all along


def _seconds(value: str) -> float:
    return float(value)


def _pause_s(container: dict) -> float:
    """The preStop pause, from `sleep N` (exec) or the sleep action."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"]["seconds"])
    command = (pre_stop.get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0] == "sleep":
        return _seconds(command[1])
    return 0.0


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def container_violations(where: str, pod: dict, container: dict, long_running: bool) -> list[str]:
    out = []
    name = f"{where} container {container['name']}"
    sc = container.get("securityContext") or {}
    pod_sc = pod.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{name}: securityContext.allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append(f"{name}: securityContext.readOnlyRootFilesystem must be true")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        out.append(f"{name}: securityContext.capabilities.drop must include ALL")
    if (sc.get("capabilities") or {}).get("add"):
        out.append(f"{name}: no capabilities may be added")
    if sc.get("privileged"):
        out.append(f"{name}: must not be privileged")
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        out.append(f"{name}: runAsNonRoot must be true")
    if sc.get("runAsUser", pod_sc.get("runAsUser", 0)) == 0:
        out.append(f"{name}: runAsUser must be a non-zero uid")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        out.append(f"{name}: seccompProfile.type must be RuntimeDefault")
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                out.append(f"{name}: resources.{kind}.{resource} is missing")
    if not re.search(r"[:@]", container.get("image", "")) or container.get("image", "").endswith(":latest"):
        out.append(f"{name}: image must be pinned to a tag or digest")
    if long_running:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe not in container:
                out.append(f"{name}: {probe} is missing")
    writable = {m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"])
        if volume is None:
            out.append(f"{name}: volumeMount {mount['name']} names no volume")
        elif mount["mountPath"] in writable and "emptyDir" not in volume:
            out.append(f"{name}: writable mount {mount['mountPath']} must be an emptyDir")
    return out


def gateway_violations(where: str, pod: dict, container: dict) -> list[str]:
    """The gateway container's own rules: probe paths, drain timing, workers from the CPU limit,
    writable paths inside emptyDirs."""
    out = []
    name = f"{where} container gateway"
    if ((container.get("readinessProbe") or {}).get("httpGet") or {}).get("path") != "/readyz":
        out.append(f"{name}: readinessProbe must GET /readyz")
    for probe in ("livenessProbe", "startupProbe"):
        if ((container.get(probe) or {}).get("httpGet") or {}).get("path") != "/healthz":
            out.append(f"{name}: {probe} must GET /healthz")
    env = _env(container)
    pause = _pause_s(container)
    if pause <= 0:
        out.append(f"{name}: lifecycle.preStop must pause before SIGTERM")
    drain = float(env.get("GATEWAY_GRACEFUL_SHUTDOWN_S", {}).get("value", 15.0))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if not grace > pause + drain:
        out.append(f"{where}: terminationGracePeriodSeconds {grace} must exceed preStop {pause} s "
                   f"+ GATEWAY_GRACEFUL_SHUTDOWN_S {drain} s")
    ref = (env.get("GATEWAY_WORKERS", {}).get("valueFrom") or {}).get("resourceFieldRef") or {}
    if ref.get("resource") != "limits.cpu" or ref.get("containerName") != container["name"]:
        out.append(f"{name}: GATEWAY_WORKERS must come from its limits.cpu (downward API)")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")}
    for var in ("GATEWAY_METRICS_DIR", "GATEWAY_PROFILE_DIR", "TMPDIR"):
        value = env.get(var, {}).get("value")
        if not value or not any(value == m or value.startswith(m.rstrip("/") + "/") for m in mounts):
            out.append(f"{name}: {var} must be set inside a writable emptyDir mount")
    if pod.get("enableServiceLinks") is not False:
        out.append(f"{where}: enableServiceLinks should be false")
    return out


def violations(docs: list[dict]) -> list[str]:
    out = []
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        pod = doc["spec"]["template"]["spec"]
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            out.append(f"{where}: must not share the host's namespaces")
        if pod.get("automountServiceAccountToken") is not False:
            out.append(f"{where}: automountServiceAccountToken should be false (no API access needed)")
        for container, sidecar in _containers(pod):
            out += container_violations(where, pod, container, long_running=sidecar or container in pod["containers"])
            if container["name"] == "gateway":
                out += gateway_violations(where, pod, container)
    gateway = by_kind.get("Deployment", {}).get("gateway")
    if gateway is None:
        return out + ["Deployment/gateway is missing"]
    selector = gateway["spec"]["selector"]["matchLabels"]
    if not any(p["spec"]["selector"].get("matchLabels") == selector for p in by_kind.get("PodDisruptionBudget", {}).values()):
        out.append("no PodDisruptionBudget selects the gateway pods")
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
            if h["spec"]["scaleTargetRef"].get("name") == "gateway"]
    if not hpas:
        out.append("no HorizontalPodAutoscaler scales Deployment/gateway")
    for hpa in hpas:
        kinds = {(m["type"], (m.get("resource") or {}).get("name") or (m.get("pods") or {}).get("metric", {}).get("name"))
                 for m in hpa["spec"]["metrics"]}
        for wanted in (("Resource", "cpu"), ("Pods", "gateway_in_flight")):
            if wanted not in kinds:
                out.append(f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: no {wanted[0]} metric {wanted[1]}")
    target = _env(gateway["spec"]["template"]["spec"]["containers"][0]).get("GATEWAY_TARGET", {}).get("value", "")
    if not target.startswith("unix:"):
        service = by_kind.get("Service", {}).get(target.rsplit(":", 1)[0])
        if service is None:
            out.append(f"GATEWAY_TARGET {target!r} names no Service of these manifests")
        elif service["spec"].get("clusterIP") != "None":
            out.append(f"Service/{service['metadata']['name']}: must be headless (clusterIP: None) "
                       "so gRPC round_robin sees every TF Serving pod")
    return out

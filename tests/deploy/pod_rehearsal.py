"""What the kubelet would hand a container of a rendered Deployment, and a place to run it.

``container_env`` merges, in the kubelet's order, the image's ENV, the service-link variables
of every Service (as with the default enableServiceLinks: true), and the container's ``env``
(the downward API's limits.cpu resolved as the kubelet does: whole cores, rounded up).
``PodFiles`` lays out the pod's volumes under a scratch root: emptyDirs writable by the pod's
uid, ConfigMaps read-only, and maps every absolute path in env and args onto them (the one
change to the kubelet's environment: a test cannot own /run or /etc of a shared machine).
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

SERVICE_IP = "10.96.{}.{}"


def _link_name(service: str) -> str:
    return service.upper().replace("-", "_")


def service_link_env(services: list[dict]) -> dict[str, str]:
    """Docker-link-style variables the kubelet writes for each Service (plus 'kubernetes')."""
    env = {}
    api = {"metadata": {"name": "kubernetes"}, "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}
    for n, service in enumerate([api] + list(services)):
        ip = SERVICE_IP.format(n // 250, n % 250 + 1)
        name = _link_name(service["metadata"]["name"])
        ports = service["spec"]["ports"]
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            proto = port.get("protocol", "TCP")
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{_link_name(port['name'])}"] = str(port["port"])
            prefix = f"{name}_PORT_{port['port']}_{proto}"
            env[prefix] = f"{proto.lower()}://{ip}:{port['port']}"
            env[prefix + "_PROTO"] = proto.lower()
            env[prefix + "_PORT"] = str(port["port"])
            env[prefix + "_ADDR"] = ip
        env[f"{name}_PORT"] = f"{ports[0].get('protocol', 'TCP').lower()}://{ip}:{ports[0]['port']}"
    return env


def cpu_cores(quantity: str) -> int:
    """limits.cpu through resourceFieldRef with divisor 1: ceil(cores)."""
    if quantity.endswith("m"):
        return math.ceil(int(quantity[:-1]) / 1000)
    return math.ceil(float(quantity))


def container_env(container: dict, services: list[dict], image_env: dict[str, str]) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": "gateway-7d9c-x2x5q"}
    env.update(image_env)
    env.update(service_link_env(services))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
            continue
        ref = var["valueFrom"].get("resourceFieldRef")
        if ref is None or ref["resource"] != "limits.cpu" or str(ref.get("divisor", "1")) != "1":
            raise ValueError(f"env {var['name']}: this rehearsal resolves only limits.cpu with divisor 1")
        env[var["name"]] = str(cpu_cores(str(container["resources"]["limits"]["cpu"])))
    return env


class PodFiles:
    """The pod's volumes under ``root``; ``path()`` maps a path inside the container."""

    def __init__(self, root: Path, pod: dict, configmaps: dict[str, dict], uid: int, gid: int):
        self.root = root
        self.mounts: dict[str, Path] = {}  # mountPath -> host directory
        self.writable: list[Path] = []
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for mount in container.get("volumeMounts", []):
                host = root / mount["mountPath"].lstrip("/")
                if mount["mountPath"] in self.mounts:
                    continue
                volume = volumes[mount["name"]]
                host.mkdir(parents=True, exist_ok=True)
                if "emptyDir" in volume:
                    os.chown(host, uid, gid)
                    host.chmod(0o770)
                    self.writable.append(host)
                elif "configMap" in volume:
                    for key, text in configmaps[volume["configMap"]["name"]]["data"].items():
                        (host / key).write_text(text)
                        (host / key).chmod(0o444)
                    host.chmod(0o555)
                else:
                    host.chmod(0o555)  # a claim the rehearsal leaves empty (the models)
                self.mounts[mount["mountPath"]] = host

    def path(self, text: str) -> str:
        """Rewrite a container path (also inside unix:PATH) to its host directory."""
        prefix = "unix:" if text.startswith("unix:") else ""
        inner = text[len(prefix):]
        for mount_path in sorted(self.mounts, key=len, reverse=True):
            if inner == mount_path or inner.startswith(mount_path.rstrip("/") + "/"):
                return prefix + str(self.mounts[mount_path]) + inner[len(mount_path):]
        return text

    def map_env(self, env: dict[str, str]) -> dict[str, str]:
        return {k: self.path(v) for k, v in env.items()}

    def map_args(self, args: list[str]) -> list[str]:
        out = []
        for arg in args:
            flag, eq, value = arg.partition("=")
            out.append(flag + eq + self.path(value) if eq and arg.startswith("--") else self.path(arg))
        return out


"""Render the kustomize subset deploy/kubernetes uses, without kubectl (CI has none).

Supported, and nothing else (an unknown kustomization key fails, so the manifests cannot
quietly grow past what the tests render): ``resources`` (files and directories),
``configMapGenerator`` with ``files`` (content-hash name suffix, references in pod specs
renamed, as kustomize does) and ``patches`` with ``path`` (strategic merge: lists of containers,
volumes, env merged by name, volumeMounts by mountPath; new items go first; ``$patch: delete``
removes a resource). Where kubectl is installed a test checks this renderer against
``kubectl kustomize``.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "patches"}
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath"}


class KustomizeError(ValueError):
    pass


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _key(doc: dict) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def configmap_hash(configmap: dict) -> str:
    """kustomize's name suffix: sha256 of the Go-JSON encoding (kind, data and an empty name:
    kustomize 5 hashes before naming), first 10 hex digits, a few letters swapped so the
    suffix never reads as a number or a word."""
    encoded = {"data": configmap.get("data", {}), "kind": "ConfigMap", "name": ""}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}))


def _merge_list(field: str, base: list, patch: list) -> list:
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(i, dict) and key in i for i in base + patch):
        return copy.deepcopy(patch)
    # kustomize's order: the patch's items first (merged into their base item if any), then the rest
    by_key = {item[key]: item for item in base}
    patched = [merge(by_key[item[key]], item) if item[key] in by_key else copy.deepcopy(item) for item in patch]
    named = {item[key] for item in patch}
    return patched + [copy.deepcopy(item) for item in base if item[key] not in named]


def merge(base, patch):
    """Strategic merge of ``patch`` into ``base`` (new objects; inputs untouched)."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = _merge_list(k, out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _generate_configmaps(root: Path, items: list) -> tuple[list[dict], dict[str, str]]:
    made, renames = [], {}
    for item in items:
        unknown = set(item) - {"name", "files"}
        if unknown:
            raise KustomizeError(f"{root}: configMapGenerator keys not supported here: {sorted(unknown)}")
        data = {}
        for entry in item["files"]:
            key, _, rel = entry.rpartition("=") if "=" in entry else (Path(entry).name, "", entry)
            data[key] = (root / rel).read_text()
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": item["name"]}, "data": data}
        hashed = f"{item['name']}-{configmap_hash(configmap)}"
        configmap["metadata"]["name"] = hashed
        renames[item["name"]] = hashed
        made.append(configmap)
    return made, renames


def _rename_configmap_refs(doc: dict, renames: dict[str, str]) -> None:
    pod = (doc.get("spec") or {}).get("template", {}).get("spec")
    if not pod:
        return
    for volume in pod.get("volumes", []):
        ref = volume.get("configMap")
        if ref and ref.get("name") in renames:
            ref["name"] = renames[ref["name"]]
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref and ref.get("name") in renames:
                ref["name"] = renames[ref["name"]]
        for var in container.get("env", []):
            ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
            if ref and ref.get("name") in renames:
                ref["name"] = renames[ref["name"]]


def render(directory: str | Path) -> list[dict]:
    """The resources ``kubectl kustomize DIRECTORY`` would print (order aside)."""
    root = Path(directory)
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_KEYS
    if unknown:
        raise KustomizeError(f"{root}/kustomization.yaml: keys not supported here: {sorted(unknown)}")
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = root / entry
        docs.extend(render(path) if path.is_dir() else _docs(path))
    generated, renames = _generate_configmaps(root, kustomization.get("configMapGenerator", []))
    for doc in docs:
        _rename_configmap_refs(doc, renames)
    docs = generated + docs
    for entry in kustomization.get("patches", []):
        if set(entry) != {"path"}:
            raise KustomizeError(f"{root}: only patches with a path are supported, got {entry}")
        for patch in _docs(root / entry["path"]):
            index = [i for i, d in enumerate(docs) if _key(d) == _key(patch)]
            if len(index) != 1:
                raise KustomizeError(f"{root}/{entry['path']}: no single target {_key(patch)}")
            if patch.get("$patch") == "delete":
                del docs[index[0]]
            else:
                docs[index[0]] = merge(docs[index[0]], patch)
    seen = set()
    for doc in docs:
        if _key(doc) in seen:
            raise KustomizeError(f"{root}: {_key(doc)} twice")
        seen.add(_key(doc))
    return docs

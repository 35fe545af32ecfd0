"""The models a load run serves: null models shaped like the scenarios need, and the spec files
the gateway gets for them (written into a temporary folder, pointing at the run's backend).

The image model is whatever specs/inceptionv3.json (or --image-spec) declares, so the null
model's signature always matches the spec's input and output names.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from bench import scenarios


class Models:
    """The served models: names, signatures and the spec files the gateway gets."""

    def __init__(self, image_spec: Path, folder: Path):
        doc = json.loads(image_spec.read_text())
        self.doc, self.folder = doc, folder
        self.image_model = doc["model"]["name"]
        self.image_input, image_in = next(iter(doc["inputs"].items()))
        self.image_dtype = image_in.get("dtype", "float32")
        img = image_in["image"]
        channels = 1 if img.get("color") == "grayscale" else 3
        self.image_item = ([img["height"], img["width"], channels] if img.get("layout", "NHWC")
                           == "NHWC" else [channels, img["height"], img["width"]])
        self.image_outputs = {}
        for name, out in doc.get("outputs", {"scores": {}}).items():
            classes = 1001
            if out.get("labels"):
                labels_path = image_spec.parent / out["labels"]
                classes = len([l for l in labels_path.read_text().splitlines() if l.strip()])
                out["labels"] = str(labels_path.resolve())  # the copy lives elsewhere
            self.image_outputs[name] = classes
        self.signature = doc["model"].get("signature_name") or "serving_default"
        self.image_spec = folder / image_spec.name
        self.tiny_spec = folder / "tiny.json"

    def moved_to(self, folder: Path) -> "Models":
        """The same models with their spec files in ``folder``: a second gateway that reaches
        the backend by another address (the sidecar's Unix socket) gets its own specs."""
        folder.mkdir(parents=True, exist_ok=True)
        other = copy.copy(self)
        other.folder, other.image_spec = folder, folder / self.image_spec.name
        other.tiny_spec = folder / self.tiny_spec.name
        return other

    def write_specs(self, backend: str) -> None:
        """The gateway's spec files, pointing at ``backend``."""
        doc = dict(self.doc, target={**self.doc.get("target", {}), "addresses": [backend]})
        self.image_spec.write_text(json.dumps(doc))
        self.tiny_spec.write_text(json.dumps({
            "model": {"name": scenarios.TINY_MODEL, "signature_name": "serving_default"},
            "target": {"addresses": [backend], "deadline_ms": 5000},
            "inputs": {scenarios.TINY_INPUT: {"kind": "tensor", "dtype": "float32",
                                              "shape": [-1, scenarios.TINY_WIDTH]}},
            "outputs": {scenarios.TINY_OUTPUT: {"postprocess": "raw"}},
        }))

    def null_model_flags(self) -> list[str]:
        dims = ",".join(str(d) for d in [-1, *self.image_item])
        outs = ":".join(f"{n}=float32[-1,{c}]" for n, c in self.image_outputs.items())
        tiny = (f"{scenarios.TINY_INPUT}=float32[-1,{scenarios.TINY_WIDTH}]:"
                f"{scenarios.TINY_OUTPUT}=float32[-1,{scenarios.TINY_CLASSES}]")
        flags = []
        for text in (f"{self.image_model}:{self.image_input}={self.image_dtype}[{dims}]:{outs}",
                     f"{scenarios.TINY_MODEL}:{tiny}", f"{scenarios.PASSTHRU_MODEL}:{tiny}"):
            flags += ["--null_model", text]
        return flags

    def context(self, host: str) -> scenarios.Context:
        return scenarios.Context(host=host, image_model=self.image_model,
                                 image_input=self.image_input)

    def grpc_inputs(self, scenario: scenarios.Scenario) -> tuple[str, list[str]]:
        """(model, --input flags) of the tensor the gateway sends for a scenario."""
        if scenario.model == "image":
            batch = 8 if scenario.name == "jpeg_batch8" else 1
            dims = ",".join(str(d) for d in [batch, *self.image_item])
            return self.image_model, [f"{self.image_input}={self.image_dtype}[{dims}]"]
        model = scenarios.TINY_MODEL if scenario.model == "tiny" else scenarios.PASSTHRU_MODEL
        return model, [f"{scenarios.TINY_INPUT}=float32[1,{scenarios.TINY_WIDTH}]"]

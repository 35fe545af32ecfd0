"""Which servables are loaded, and how a ModelSpec picks one (TF Serving's rules).

No version and no label means the latest (highest) version; a version must be loaded; a
label must be known for that model. Errors carry TF Serving's codes and wording.
"""
from . import errors
from .signatures import Servable


class Registry:
    """Loaded servables by model name and version, plus version labels per model."""

    def __init__(self):
        self._versions: dict[str, dict[int, Servable]] = {}
        self._labels: dict[str, dict[str, int]] = {}

    def add(self, servable: Servable) -> None:
        self._versions.setdefault(servable.name, {})[servable.version] = servable

    def add_label(self, model_name: str, label: str, version: int) -> None:
        if version not in self._versions.get(model_name, {}):
            raise ValueError(f"label {label!r} points at version {version}, "
                             f"which model {model_name!r} does not have")
        self._labels.setdefault(model_name, {})[label] = version

    @property
    def model_names(self) -> list[str]:
        return list(self._versions)

    def versions(self, model_name: str) -> dict[int, Servable]:
        return dict(sorted(self._versions.get(model_name, {}).items()))

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a ModelSpec asks for, or the ServingError TF Serving would give."""
        if label is not None:
            version = self._labels.get(name, {}).get(label)
            if version is None:
                raise errors.unknown_label(label)
        loaded = self._versions.get(name, {})
        if version is None:
            if not loaded:
                raise errors.servable_not_found(name, None)
            return loaded[max(loaded)]
        if version not in loaded:
            raise errors.servable_not_found(name, version)
        return loaded[version]

"""Finding backends: short names through the ``mailcore.backends`` entry points, or import paths."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailcore.errors import BackendLoadError, BackendNotFoundError

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = [
    "BACKENDS_GROUP",
    "KNOWN_DISTRIBUTIONS",
    "BackendInfo",
    "install_hint",
    "installed_backends",
    "load_backend",
]

BACKENDS_GROUP = "mailcore.backends"

#: The backends this project publishes, and the distribution that provides each.
KNOWN_DISTRIBUTIONS = {
    "smtp": "mailkern-smtp",
    "console": "mailkern-console",
    "file": "mailkern-file",
    "locmem": "mailkern-locmem",
    "dummy": "mailkern-dummy",
    "ses": "mailkern-ses",
}


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """One installed backend entry point, loaded or not."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    backend_class: type[BaseEmailBackend] | None
    error: str | None
    #: The other entry points registering the same short name (``"acme-mail
    #: (acme_mail:Console)"``): then none wins, and loading the name fails.
    clashes: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        return self.backend_class is not None


def _describe_failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _check_class(name: str, target: str, obj: Any) -> type[BaseEmailBackend]:
    from mailcore.backend import BaseEmailBackend

    if not (isinstance(obj, type) and issubclass(obj, BaseEmailBackend)):
        raise BackendLoadError(
            f"backend {name!r} ({target}) is not a subclass of mailcore.BaseEmailBackend"
        )
    return obj


def _load_path(path: str) -> type[BaseEmailBackend]:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise BackendNotFoundError(f"{path!r} is not an import path of the form 'package.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendNotFoundError(
            f"cannot import backend module {module_name!r}: {_describe_failure(exc)}"
        ) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise BackendNotFoundError(f"module {module_name!r} has no attribute {attr!r}") from None
    return _check_class(path, path, obj)


def _entry_points() -> list[Any]:
    """The group's entry points, read (and cached by stevedore) without loading any."""
    from stevedore import NamedExtensionManager

    manager: NamedExtensionManager[Any] = NamedExtensionManager(BACKENDS_GROUP, names=[])
    return sorted(manager.list_entry_points(), key=lambda ep: (str(ep.name), str(ep.value)))


def _entry_point_names() -> list[str]:
    return [str(ep.name) for ep in _entry_points()]


def install_hint(name: str) -> str:
    """How to install the project's own backend ``name``: its distribution is not on the
    public package index, it comes from this project's source."""
    return (
        f"install {KNOWN_DISTRIBUTIONS[name]} from this project "
        f"(pip install ./plugins/{name} in a checkout)"
    )


def _not_found(name: str) -> BackendNotFoundError:
    entry_points = _entry_points()
    plugins = list(dict.fromkeys(str(ep.name) for ep in entry_points if not _is_core(ep)))
    composite = list(dict.fromkeys(str(ep.name) for ep in entry_points if _is_core(ep)))
    installed = ", ".join(plugins) or "none"
    if composite:  # the core's own, after the plugins
        installed += f"; composite: {', '.join(composite)}"
    hint = ""
    if name in KNOWN_DISTRIBUTIONS:
        provider = KNOWN_DISTRIBUTIONS[name]
        hint = f"; it is provided by the distribution {provider!r}: {install_hint(name)}"
    return BackendNotFoundError(
        f"no mailcore backend named {name!r} is installed{hint} (installed backends: {installed})"
    )


def load_backend(name: str) -> type[BaseEmailBackend]:
    """The backend class for a short name (``"smtp"``) or an import path.

    Raises :class:`BackendNotFoundError` (listing the installed backends and, for the
    project's own backends, the distribution to install) or :class:`BackendLoadError`
    when the plugin is installed but cannot be imported.
    """
    if not name or not isinstance(name, str):
        raise BackendNotFoundError(f"a backend name must be a non-empty string, not {name!r}")
    if "." in name or ":" in name:
        return _load_path(name)

    from stevedore import DriverManager
    from stevedore.exception import NoMatches

    failures: list[BaseException] = []

    def on_failure(manager: Any, entry_point: Any, exc: BaseException) -> None:
        failures.append(exc)

    try:
        manager = DriverManager(
            BACKENDS_GROUP,
            name,
            invoke_on_load=False,
            on_load_failure_callback=on_failure,
        )
    except NoMatches:
        if failures:
            raise BackendLoadError(
                f"backend {name!r} is installed but failed to load: "
                f"{_describe_failure(failures[0])}"
            ) from failures[0]
        raise _not_found(name) from None
    except RuntimeError as exc:  # stevedore: several distributions register the name
        raise BackendLoadError(f"backend {name!r}: {exc}") from None
    return _check_class(name, str(manager.extensions[0].entry_point.value), manager.driver)


def _is_core(entry_point: Any) -> bool:
    """True for the core's own backends (``failover``, ``roundrobin``)."""
    return str(entry_point.value).startswith("mailcore.")


def _distributions() -> dict[tuple[str, str], list[Any]]:
    """The distribution of each entry point of the group, by (name, target)."""
    import importlib.metadata

    found: dict[tuple[str, str], list[Any]] = {}
    for ep in importlib.metadata.entry_points(group=BACKENDS_GROUP):
        found.setdefault((ep.name, ep.value), []).append(ep.dist)
    return found


def installed_backends(*, core: bool = False) -> list[BackendInfo]:
    """Every plugin's backend entry point, each loaded and with its own distribution; a
    broken plugin is listed with its error; entry points sharing a short name list each
    other in ``clashes``. ``core=True`` adds the core's own composite backends
    (``failover``, ``roundrobin``) after them."""
    dists = _distributions()
    entry_points = [ep for ep in _entry_points() if not _is_core(ep)]
    if core:
        entry_points += [ep for ep in _entry_points() if _is_core(ep)]
    described = []
    for entry_point in entry_points:
        candidates = dists.get((entry_point.name, entry_point.value)) or [None]
        dist = candidates.pop(0) if len(candidates) > 1 else candidates[0]
        dist_name = dist.metadata["Name"] if dist is not None else None
        described.append((entry_point, dist_name, dist.version if dist is not None else None))
    infos: list[BackendInfo] = []
    for entry_point, dist_name, version in described:
        clashes = tuple(
            f"{other_dist or 'unknown distribution'} ({other.value})"
            for other, other_dist, _ in described
            if other.name == entry_point.name and other is not entry_point
        )
        backend_class: type[BaseEmailBackend] | None = None
        error: str | None = None
        try:
            backend_class = _check_class(entry_point.name, entry_point.value, entry_point.load())
        except BackendLoadError as exc:
            error = str(exc)
        except Exception as exc:  # a broken plugin must not break the listing
            error = _describe_failure(exc)
        infos.append(
            BackendInfo(
                entry_point.name,
                entry_point.value,
                dist_name,
                version,
                backend_class,
                error,
                clashes,
            )
        )
    return infos

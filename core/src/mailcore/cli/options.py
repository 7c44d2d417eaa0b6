"""Describing settings and backend options for people: type, default, variable, secrecy.

Shared by ``mailcore backends``, ``mailcore check`` and the documentation's generated
tables, so the three always agree with the pydantic models they describe.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mailcore.options import MASK, argument_only_names, is_secret
from mailcore.settings import CoreSettings, env_var_name

__all__ = [
    "MASK",
    "ArgumentOnly",
    "OptionInfo",
    "argument_only_parameters",
    "constraints",
    "core_settings",
    "describe_options",
    "format_value",
    "is_secret",
    "type_label",
]


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """One setting of the core or option of a backend, as shown to people."""

    name: str
    type: str
    default: str
    env_var: str
    toml_key: str
    secret: bool
    description: str


@dataclass(frozen=True, slots=True)
class ArgumentOnly:
    """A keyword argument of a backend's constructor that is not a setting (console's
    ``stream``): it can only be given to ``get_connection()``."""

    name: str
    type: str
    default: str


def type_label(annotation: Any) -> str:
    """A short, Python-like spelling of a type: ``int``, ``Path | None``, ``list[str]``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        limits = constraints(annotation.__metadata__)
        return type_label(args[0]) + (f" ({limits})" if limits else "")
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_label(arg) for arg in args)
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_label(arg) for arg in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def constraints(metadata: typing.Iterable[Any]) -> str:
    """Numeric bounds from pydantic/annotated-types metadata, as ``> 0, <= 65535``."""
    found = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            nested = constraints(item.metadata)
            found += [nested] if nested else []
            continue
        for attribute, symbol in _BOUNDS.items():
            value = getattr(item, attribute, None)
            if value is not None and not callable(value):
                found.append(f"{symbol} {value}")
    return ", ".join(found)


def format_value(value: Any, secret: bool = False) -> str:
    """A value as shown in a table: secrets masked, ``None`` as ``None``, strings bare."""
    if value is None:
        return "None"
    if secret:
        return MASK
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return str(value)


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """``#:`` comments written just above fields in the model's source (Sphinx style)."""
    comments: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            match = re.match(r"(\w+)\s*:", stripped)
            if match and pending:
                comments[match.group(1)] = " ".join(pending)
            pending = []
    return comments


_BULLET = re.compile(r"^- ((?:``\w+``(?:, )?)+):\s*(.*)$")


def _docstring_items(model: type[BaseModel]) -> dict[str, str]:
    """Field descriptions from the model's docstring, written as a bullet list::

    - ``host``, ``port``: the server.
      A continuation line is indented.
    """
    doc = inspect.getdoc(model) or ""
    found: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        match = _BULLET.match(line)
        if match:
            names = re.findall(r"``(\w+)``", match.group(1))
            for name in names:
                found[name] = match.group(2).strip()
        elif names and line.startswith("  ") and line.strip():
            for name in names:
                found[name] += " " + line.strip()
        else:
            names = []
    return found


def describe_options(section: str | None, model: type[BaseModel]) -> list[OptionInfo]:
    """One :class:`OptionInfo` per field of ``model`` (``section=None``: the core settings).

    The description is the field's ``description``, else the ``#:`` comment above it in
    the source, else its entry in the model docstring's bullet list
    (``- ``name``: text``).
    """
    comments = {**_docstring_items(model), **_field_comments(model)}
    infos = []
    for name, field in model.model_fields.items():
        secret = is_secret(model, name)
        if field.default is PydanticUndefined and field.default_factory is None:
            default = "required"
        elif field.default_factory is not None:
            default = format_value(field.get_default(call_default_factory=True), secret=False)
        else:
            default = format_value(field.default, secret=secret and field.default is not None)
        toml_key = name if section is None else f"[{section}] {name}"
        infos.append(
            OptionInfo(
                name=name,
                type=_field_type(field),
                default=default,
                env_var=env_var_name(section, name, model),
                toml_key=toml_key,
                secret=secret,
                description=field.description or comments.get(name, ""),
            )
        )
    return infos


def _field_type(field: FieldInfo) -> str:
    label = type_label(field.annotation)
    limits = constraints(field.metadata)
    return f"{label} ({limits})" if limits else label


def core_settings() -> list[OptionInfo]:
    """The core settings, described."""
    return describe_options(None, CoreSettings)


def argument_only_parameters(backend_class: type[Any]) -> list[ArgumentOnly]:
    """Keyword arguments of ``backend_class.__init__`` that are not options (``stream``)."""
    names = argument_only_names(backend_class)
    try:
        signature = inspect.signature(backend_class.__init__)
        hints = typing.get_type_hints(backend_class.__init__)
    except (TypeError, ValueError, NameError):
        return []
    found = []
    for name in names:
        parameter = signature.parameters[name]
        default = "required" if parameter.default is parameter.empty else parameter.default
        found.append(
            ArgumentOnly(
                name=name,
                type=type_label(hints.get(name, parameter.annotation)),
                default=default if isinstance(default, str) else format_value(default),
            )
        )
    return found

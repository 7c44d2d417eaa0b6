"""The base of every backend's options model, and the one rule of what is secret.

This module imports pydantic: load it only when needed.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "MASK",
    "MAX_PER_SECOND",
    "MAX_SECONDS",
    "MIN_PER_SECOND",
    "BackendOptions",
    "DKIMOptions",
    "PerSecond",
    "Seconds",
    "argument_only_names",
    "is_secret",
]

#: The longest wait a ``Seconds`` option takes: one day.
MAX_SECONDS = 86400.0
#: The slowest rate a ``PerSecond`` option takes: one message an hour.
MIN_PER_SECOND = 1 / 3600
#: The fastest rate a ``PerSecond`` option takes.
MAX_PER_SECOND = 1_000_000.0


def _rate_in_range(value: float) -> float:
    if value < MIN_PER_SECOND:
        raise PydanticCustomError(
            "rate_too_low",
            "must be at least 1/3600 (one message an hour), not {value}; leave it unset "
            "for no limit",
            {"value": value},
        )
    if value > MAX_PER_SECOND:
        raise PydanticCustomError(
            "rate_too_high",
            "must be at most 1000000 messages a second, not {value}; leave it unset for no limit",
            {"value": value},
        )
    return value


#: A number of seconds for an option (a timeout, an idle time): finite, above 0 and at
#: most :data:`MAX_SECONDS` (one day); ``inf`` and ``nan`` are refused.
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
#: A rate in messages a second for an option (``max_per_second``): finite, from
#: :data:`MIN_PER_SECOND` (one an hour) to :data:`MAX_PER_SECOND`; ``inf`` and ``nan``
#: are refused (leave the option unset for no limit).
PerSecond = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_rate_in_range)]

#: What a secret value is shown as.
MASK = "********"

#: Names of secret fields: a password, secret, token or credential, or a name ending in
#: "key" (``api_key``, ``apikey``; not ``ssl_keyfile``, which names a file).
_SECRET_NAME = re.compile(r"password|passwd|secret|token|credential|key(?![a-z])", re.IGNORECASE)


def _types(annotation: Any) -> Iterator[Any]:
    """The types an annotation allows, through ``X | None``, ``Optional`` and ``Annotated``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _types(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            yield from _types(argument)
    else:
        yield annotation


def _holds_secret(kind: Any) -> bool:
    """A secret type, or a model with a secret field (``dkim``'s ``private_key``)."""
    if kind in (SecretStr, SecretBytes):
        return True
    return (
        isinstance(kind, type)
        and issubclass(kind, BaseModel)
        and any(is_secret(kind, name) for name in kind.model_fields)
    )


def is_secret(model: type[BaseModel] | None, field: str) -> bool:
    """Whether a setting's value must never be shown: its type is ``SecretStr`` or
    ``SecretBytes`` (or a model with such a field: the whole table is hidden), or its
    name contains password, secret, token, credential or ends in key. The one rule used
    by errors, ``repr``, logs and ``mailcore check``."""
    info = model.model_fields.get(field) if model is not None else None
    if info is not None and any(_holds_secret(t) for t in _types(info.annotation)):
        return True
    return bool(_SECRET_NAME.search(field))


def argument_only_names(backend_class: type[Any]) -> list[str]:
    """The keyword arguments of ``backend_class.__init__`` that are no option (console's
    ``stream``): they can only be given to ``get_connection()``, never as a setting."""
    import inspect  # deferred: only a listing or a mistake needs it

    model = getattr(backend_class, "options_model", None)
    options = set(model.model_fields) if model is not None else set()
    try:
        signature = inspect.signature(backend_class.__init__)
    except (TypeError, ValueError):
        return []
    skipped = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return [
        name
        for name, parameter in signature.parameters.items()
        if name not in ("self", "fail_silently", *options) and parameter.kind not in skipped
    ]


class _Masked:
    def __repr__(self) -> str:
        return repr(MASK)


class _MaskedModel(BaseModel):
    """A frozen model refusing unknown names whose ``repr`` masks every secret field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            hidden = name is not None and value is not None and is_secret(type(self), name)
            yield name, _Masked() if hidden else value


#: A DKIM selector: dot-separated labels of letters, digits, ``-`` and ``_``, each of at
#: most 63 characters (a DNS label), no ``-`` first or last.
_SELECTOR = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


class DKIMOptions(_MaskedModel):
    """How a mailer signs its messages with DKIM (the ``dkim`` option; RFC 6376).

    - ``domain``, ``selector``: the signing domain (``d=``) and selector (``s=``); the
      public key is published at ``<selector>._domainkey.<domain>``. An international
      domain is signed in its ASCII form (``bücher.example``: ``xn--bcher-kva.example``).
    - ``private_key_file`` or ``private_key``: the private key, in PEM (PKCS#1 or PKCS#8),
      or for ed25519 also the bare base64 seed dkimpy's ``dknewkey`` writes. Exactly one
      of the two; ``private_key`` is a secret, never shown.
    - ``headers``: the header fields to sign (default: those RFC 6376 recommends that the
      message has, From twice so none can be added).
    - ``algorithm``: ``rsa-sha256`` (default) or ``ed25519-sha256``.

    The key is read, and checked against the algorithm, when the mailer is built.
    """

    domain: str
    selector: str
    private_key_file: Path | None = None
    private_key: SecretStr | None = None
    headers: list[str] | None = None
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256"

    @field_validator("domain")
    @classmethod
    def _dns_domain(cls, value: str) -> str:
        from mailcore._wire.domains import dns_name

        return dns_name(value)  # its ValueError names the domain and the reason

    @field_validator("selector")
    @classmethod
    def _dns_selector(cls, value: str) -> str:
        if not all(_SELECTOR.fullmatch(label) for label in value.split(".")):
            raise ValueError(
                f"{value!r} is not a selector: dot-separated labels of ASCII letters, digits, "
                "'-' and '_', each of at most 63 characters"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = [name.strip().lower() for name in value]
        bad = [name for name in names if not re.fullmatch(r"[!-9;-~]+", name)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a header field name")
        if "from" not in names:
            raise ValueError("must include 'from' (RFC 6376 requires From to be signed)")
        return names

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        from mailcore._wire.domains import MAX_DNS_NAME
        from mailcore.errors import ConfigurationError

        if (self.private_key is None) == (self.private_key_file is None):
            raise ConfigurationError(
                "dkim: set exactly one of private_key_file and private_key (the key in PEM)"
            )
        record = f"{self.selector}._domainkey.{self.domain}"
        if len(record) > MAX_DNS_NAME:
            raise ConfigurationError(
                f"dkim: the key's DNS name <selector>._domainkey.<domain> is {len(record)} "
                f"characters long; DNS takes at most {MAX_DNS_NAME} (shorten the selector)"
            )
        return self


class BackendOptions(_MaskedModel):
    """Base of a backend's options model: unknown options are refused, values are frozen.

    A boolean is refused where a number is expected (``port=True`` is not port 1). The
    ``repr`` masks every secret option (see :func:`is_secret`). ``env_names`` maps an
    option to an environment variable other than the usual ``MAILCORE_<SHORTNAME>_<OPTION>``
    (the file backend's ``MAILCORE_FILE_PATH``). ``unset_means`` maps an option whose
    unset value stands for another option's (SMTP's ``connect_timeout``: ``timeout``) to
    that option, so ``mailcore check`` shows the value in force.
    """

    env_names: ClassVar[Mapping[str, str]] = {}
    unset_means: ClassVar[Mapping[str, str]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            allowed = set(_types(cls.model_fields[info.field_name].annotation))
            if bool not in allowed and allowed & {int, float}:
                raise ValueError(f"must be a number, not a boolean ({value})")
        return value

"""The base of every backend's options model (imports pydantic: load it only when needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["BackendOptions"]


class BackendOptions(BaseModel):
    """Base of a backend's options model: unknown options are refused, values are frozen.

    ``env_names`` maps an option to an environment variable other than the usual
    ``MAILCORE_<SHORTNAME>_<OPTION>`` (the file backend's ``MAILCORE_FILE_PATH``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env_names: ClassVar[Mapping[str, str]] = {}

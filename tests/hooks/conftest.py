"""Every hook a test registers in code is unregistered after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailcore import hooks


@pytest.fixture(autouse=True)
def registered_hooks_removed() -> Iterator[None]:
    yield
    for registered in list(hooks._registered.values()):
        for hook in list(registered):
            hooks.remove(hook)

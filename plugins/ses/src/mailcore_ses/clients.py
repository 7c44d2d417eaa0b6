"""Creating the boto3 ``sesv2`` client: a fresh botocore session, a shared model loader.

Each backend gets its own session, so credentials and region are resolved anew from
boto3's usual chain (environment, shared files, roles). Only the loader of the JSON
service models is shared by the process: it makes creating a client about four times
faster. botocore is imported on first use, so importing the plugin stays cheap.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from botocore.loaders import Loader
    from botocore.session import Session
    from mypy_boto3_sesv2 import SESV2Client

__all__ = ["create_sesv2_client"]

USER_AGENT = "mailkern-ses"

_lock = threading.Lock()
_loader: Loader | None = None


def _session() -> Session:
    global _loader
    import botocore.loaders
    import botocore.session

    session = botocore.session.Session()
    with _lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader(session.get_config_variable("data_path"))
        session.register_component("data_loader", _loader)
    return session


def create_sesv2_client(
    region: str | None,
    endpoint_url: str | None,
    max_connections: int = 10,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
) -> tuple[SESV2Client, Session]:
    """A new ``sesv2`` client and the session that resolves its credentials; its HTTP
    pool keeps up to ``max_connections`` connections (at least botocore's 10), and it
    waits ``connect_timeout`` seconds to connect and ``read_timeout`` for each read.
    ``GetAccount`` (``check``) makes one attempt: its failure is raised, not retried.

    Raises botocore's ``NoRegionError`` when no region is given or configured, and
    ``ValueError`` for a malformed region or endpoint.
    """
    import botocore.config

    session = _session()
    client = session.create_client(
        "sesv2",
        region_name=region,
        endpoint_url=endpoint_url,
        config=botocore.config.Config(
            user_agent_extra=USER_AGENT,
            max_pool_connections=max(10, max_connections),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        ),
    )
    client.meta.events.register_first(
        "needs-retry.sesv2.GetAccount", _no_retry, unique_id="mailcore-ses-check-one-attempt"
    )
    return cast("SESV2Client", client), session


def _no_retry(
    caught_exception: BaseException | None = None,
    response: tuple[Any, dict[str, Any]] | None = None,
    operation: Any = None,
    **_: Any,
) -> None:
    """A ``needs-retry`` handler that raises the failure of the attempt at once (an
    exception stops botocore's retry loop; returning ``None`` would not)."""
    import botocore.exceptions

    if caught_exception is not None:
        raise caught_exception
    if response is not None:
        http, parsed = response
        if http.status_code >= 300 or "Error" in parsed:
            raise botocore.exceptions.ClientError(parsed, operation.name)  # type: ignore[arg-type]

"""Send hooks: code run before and after each message is sent, whatever the backend.

``before_send(message, mailer)`` may change the message, or cancel it by raising
:class:`mailcore.CancelSend`; ``after_send(message, result, mailer)`` sees every
result, sent or not (an error it raises is logged, never changes the result).
``mailer`` is the backend the message is sent through (its ``alias`` is the mailer's
name). Hooks come from, in this order (the order they run in):

1. distributions, through the entry-point group ``mailcore.hooks`` (by entry-point name);
2. the ``hooks`` and ``after_send_hooks`` settings (import paths), top-level first, then
   the mailer's own;
3. code: :func:`before_send` and :func:`after_send`, in the order they were called.

A hook registered twice, or named in several places, runs once (at its first place).
They run once per message at the backend the code sends through (the backends it
hands the message to, :func:`delegating`, run none: a ``failover`` mailer's children,
a test's stand-in), after them the staging override (:mod:`mailcore.staging`), then
the backend prepares and sends the message. Mail a hook sends runs the whole chain
again, hooks and staging override; sends nested more than :data:`MAX_NESTED_SENDS`
deep (a hook that sends mail which triggers it again) are refused. Hooks change the
message in place and return ``None``: any other return value is an error. An
``async def`` hook is awaited on the async path (``asend_messages``, ``asend_mail``);
the sync path refuses it with a :class:`~mailcore.ConfigurationError` before sending.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mailcore.errors import CancelSend, ConfigurationError
from mailcore.results import SendResult
from mailcore.staging import Staging

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend
    from mailcore.message import EmailMessage

__all__ = [
    "GROUP",
    "MAX_NESTED_SENDS",
    "after_send",
    "before_send",
    "delegating",
    "import_hook",
    "remove",
]

#: The entry-point group through which a distribution adds hooks.
GROUP = "mailcore.hooks"

Hook = Callable[..., Any]
HookT = TypeVar("HookT", bound=Hook)

_log = logging.getLogger("mailcore.hooks")
_lock = threading.Lock()
_registered: dict[str, list[Hook]] = {"before": [], "after": []}
#: Bumped whenever the hooks registered in code change (the cached chains are stale).
_version = 0

#: The backend a send whose hooks already ran hands its messages to (see
#: :func:`delegating`): a send through it runs no hooks.
_delegate: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "mailcore_hooks_delegate", default=None
)
#: The hooks running, outermost first, each inside the one before (a hook sending mail).
_calling: contextvars.ContextVar[tuple[Hook, ...]] = contextvars.ContextVar(
    "mailcore_hooks_calling", default=()
)

#: How many sends made by hooks may run one inside another (a hook's mail whose hooks
#: send mail ...): one more is refused with a :class:`~mailcore.ConfigurationError`.
MAX_NESTED_SENDS = 3


@contextlib.contextmanager
def delegating(backend: BaseEmailBackend) -> Iterator[None]:
    """Within the block, a send through ``backend`` carries messages whose hooks and
    staging override already ran (``backend`` is a composite's child, a stand-in): it
    runs none. Any other send, from a hook say, runs them all."""
    token = _delegate.set(backend)
    try:
        yield
    finally:
        _delegate.reset(token)


def _refuse_deep_nesting() -> None:
    calling = _calling.get()
    if len(calling) > MAX_NESTED_SENDS:
        chain = " -> ".join(name_of(hook) for hook in calling)
        raise ConfigurationError(
            f"mail sent by send hooks is nested {len(calling)} deep ({chain}): a hook "
            f"sends mail whose hooks send mail again; at most {MAX_NESTED_SENDS} are allowed"
        )


def _register(kind: str, fn: HookT) -> HookT:
    global _version
    if not callable(fn):
        raise TypeError(f"a {kind}-send hook must be callable, not {type(fn).__name__}")
    with _lock:
        if fn not in _registered[kind]:  # registering twice runs it once
            _registered[kind].append(fn)
            _version += 1
    return fn


def before_send(fn: HookT) -> HookT:
    """Register ``fn(message, mailer)`` to run before every message is sent; usable as a
    decorator. It may change the message or raise :class:`mailcore.CancelSend`."""
    return _register("before", fn)


def after_send(fn: HookT) -> HookT:
    """Register ``fn(message, result, mailer)`` to run after every message is sent (or
    failed, or was cancelled); usable as a decorator."""
    return _register("after", fn)


def remove(fn: Hook) -> None:
    """Unregister ``fn`` (registered by :func:`before_send` or :func:`after_send`)."""
    global _version
    with _lock:
        for hooks in _registered.values():
            while fn in hooks:
                hooks.remove(fn)
        _version += 1


def name_of(fn: Hook) -> str:
    """``module:qualname`` of a hook, for errors and logs."""
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def import_hook(path: str) -> Hook:
    """The callable at ``path`` (``"package.module:function"``); raises
    :class:`~mailcore.ConfigurationError` naming the path and what is wrong (the caller
    names the setting)."""
    module_name, sep, attr = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not sep:
        module_name, _, attr = str(path).rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"{path!r} is no import path ('package.module:hook')")
    problem = None
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, and whatever its code raised (SyntaxError ...)
        problem = f"cannot import {module_name!r} ({type(exc).__name__}: {exc})"
    else:
        try:
            for part in attr.split("."):
                target = getattr(target, part)
        except AttributeError:
            problem = f"module {module_name!r} has no attribute {attr!r}"
    if problem is not None:
        raise ConfigurationError(f"{path!r}: {problem}")
    if not callable(target):
        raise ConfigurationError(f"{path!r} is not callable")
    return target  # type: ignore[no-any-return]


def _entry_point_hooks() -> tuple[list[Hook], list[Hook]]:
    """The before and after hooks of the group's entry points, by name: each loads to an
    object with ``before_send`` and/or ``after_send`` (a module, an instance), or to a
    callable, which is a before-send hook."""
    found = _loaded.get("entry points")
    if found is not None:
        return found
    from importlib.metadata import entry_points

    before: list[Hook] = []
    after: list[Hook] = []
    for entry_point in sorted(entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value)):
        problem = None
        try:
            target = entry_point.load()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            raise ConfigurationError(
                f"hook {entry_point.name!r} ({entry_point.value}, entry-point group {GROUP}) "
                f"failed to load: {problem}"
            )
        pair = [getattr(target, "before_send", None), getattr(target, "after_send", None)]
        if pair == [None, None] and callable(target):
            pair[0] = target
        if not any(callable(hook) for hook in pair):
            raise ConfigurationError(
                f"hook {entry_point.name!r} ({entry_point.value}, entry-point group {GROUP}) "
                "is no callable and has no before_send or after_send"
            )
        before.extend(hook for hook in pair[:1] if callable(hook))
        after.extend(hook for hook in pair[1:] if callable(hook))
    _loaded["entry points"] = before, after
    return before, after


_loaded: dict[str, tuple[list[Hook], list[Hook]]] = {}


@dataclass(frozen=True)
class Chain:
    """What runs around a send through one mailer: hooks in order, then the override."""

    before: tuple[Hook, ...] = ()
    after: tuple[Hook, ...] = ()
    staging: Staging = field(default_factory=Staging)

    def refuse_async(self) -> None:
        """Raise :class:`~mailcore.ConfigurationError` when a hook is ``async def``."""
        for kind, hooks in (("before", self.before), ("after", self.after)):
            for hook in hooks:
                if _is_async(hook):
                    raise ConfigurationError(_async_refused(kind, hook))


def _is_async(hook: Hook) -> bool:
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004 - an instance with async __call__
    )


def _async_refused(kind: str, hook: Hook) -> str:
    return (
        f"{kind}-send hook {name_of(hook)} is async: it runs only when sending from async "
        "code (asend_messages, asend_mail, EmailMessage.asend), not send_messages"
    )


_chains: dict[tuple[str | None, int], Chain] = {}
_chains_for: object = None


def chain_for(backend: BaseEmailBackend) -> Chain:
    """The hooks and staging override of a send through ``backend``: the settings' and
    those of its mailer (``backend.alias``), the entry points' and the registered ones."""
    global _chains_for
    from mailcore.settings import get_mailers, get_settings

    settings, specs = get_settings(), get_mailers()
    key = (backend.alias, _version)
    with _lock:
        if _chains_for is not specs:
            _chains.clear()
            _chains_for = specs
        chain = _chains.get(key)
    if chain is not None:
        return chain
    spec = specs.get(backend.alias) if isinstance(backend.alias, str) else None
    own = spec.policy if spec is not None else None
    plugged_before, plugged_after = _entry_point_hooks()

    def paths(name: str) -> list[Hook]:
        found = [import_hook(p) for p in getattr(settings, name)]
        return found + [import_hook(p) for p in (getattr(own, name, None) or [])]

    def chosen(name: str) -> tuple[str, ...]:
        value = getattr(own, name, None)
        return tuple(getattr(settings, name) if value is None else value)

    with _lock:
        registered = {kind: tuple(hooks) for kind, hooks in _registered.items()}
    chain = Chain(
        _once(*plugged_before, *paths("hooks"), *registered["before"]),
        _once(*plugged_after, *paths("after_send_hooks"), *registered["after"]),
        Staging(chosen("always_to"), chosen("allowed_recipients")),
    )
    with _lock:
        _chains[key] = chain
    return chain


def _once(*found: Hook) -> tuple[Hook, ...]:
    """``found`` without repeats, each hook at its first place."""
    kept: list[Hook] = []
    for hook in found:
        if hook not in kept:
            kept.append(hook)
    return tuple(kept)


# -- one send ------------------------------------------------------------------------------


@dataclass
class _Run:
    """The hooks' side of one call of ``send_messages``: each message's outcome before
    the backend sees it, and what the backend was given instead of it."""

    backend: BaseEmailBackend
    batch: list[EmailMessage]
    chain: Chain
    #: results decided here (cancelled), by ``id(message)``
    decided: dict[int, SendResult] = field(default_factory=dict)
    #: the message handed to the backend instead (staged), and the recipients dropped
    handed: dict[int, tuple[EmailMessage, dict[str, str]]] = field(default_factory=dict)

    def cancel(self, message: EmailMessage, error: CancelSend, **extra: Any) -> None:
        self.decided[id(message)] = SendResult(
            "cancelled", error=error, mailer=self.backend.alias, **extra
        )

    def stop(self, index: int, error: Exception) -> None:
        """A hook (or the override) failed on message ``index``: nothing is sent."""
        from mailcore.backend import _name_message

        _name_message(error, index, len(self.batch))
        message = self.batch[index]
        message.result = SendResult("failed", error=error, mailer=self.backend.alias)
        others = [m for m in self.batch if m is not message and id(m) not in self.decided]
        self.backend.stop_batch(others, error)
        for other in self.batch:
            if id(other) in self.decided:
                other.result = self.decided[id(other)]

    def stage(self) -> list[EmailMessage]:
        """The messages to hand to the backend: those not cancelled, each through the
        staging override (a message left without a recipient is cancelled)."""
        outgoing = []
        for index, message in enumerate(self.batch):
            if id(message) in self.decided:
                continue
            if not self.chain.staging:
                outgoing.append(message)
                continue
            try:
                staged, dropped = self.chain.staging.apply(message)
            except Exception as exc:
                self.stop(index, exc)
                raise
            if staged is None:
                reason = "no recipient is in allowed_recipients"
                self.cancel(message, CancelSend(reason), cancelled_recipients=dropped)
                continue
            self.handed[id(message)] = staged, dropped
            outgoing.append(staged)
        return outgoing

    def collect(self) -> None:
        """Put each message's result on it: decided here, or the staged copy's."""
        for message in self.batch:
            decided = self.decided.get(id(message))
            if decided is not None:
                message.result = decided
                continue
            staged, dropped = self.handed.get(id(message), (None, {}))
            if staged is not None and staged.result is not None:
                message.result = dataclasses.replace(staged.result, cancelled_recipients=dropped)

    def after_failed(self, hook: Hook, message: EmailMessage) -> None:
        result = message.result
        _log.exception(
            "after-send hook %s failed (message %s, status %s); the result stands",
            name_of(hook),
            getattr(result, "message_id_header", None) or repr(message.subject),
            getattr(result, "status", None),
        )


def _returned(kind: str, hook: Hook, value: object) -> None:
    if value is not None:
        raise ConfigurationError(
            f"{kind}-send hook {name_of(hook)} returned {type(value).__name__}, which is "
            f"ignored: {kind}_send hooks change the message in place and return None"
        )


@contextlib.contextmanager
def _calling_hook(hook: Hook) -> Iterator[None]:
    token = _calling.set((*_calling.get(), hook))
    try:
        yield
    finally:
        _calling.reset(token)


def _sync_call(kind: str, hook: Hook, *args: Any) -> None:
    with _calling_hook(hook):
        outcome = hook(*args)
    if inspect.isawaitable(outcome):
        close = getattr(outcome, "close", None)
        if callable(close):
            close()  # never awaited: no "coroutine was never awaited" warning
        raise ConfigurationError(_async_refused(kind, hook))
    _returned(kind, hook, outcome)


def send(
    backend: BaseEmailBackend,
    messages: Iterable[EmailMessage],
    inner: Callable[[Sequence[EmailMessage]], int],
) -> int:
    """``inner(messages)`` (the backend's own send) with the hooks and the staging
    override around it; just ``inner`` when ``backend`` is delegated to
    (:func:`delegating`)."""
    if _delegate.get() is backend:
        return inner(list(messages))
    batch = list(messages)
    if not batch:
        return inner(batch)
    _refuse_deep_nesting()
    run = _Run(backend, batch, chain_for(backend))
    run.chain.refuse_async()
    for index, message in enumerate(batch):
        message.result = None
        try:
            for hook in run.chain.before:
                _sync_call("before", hook, message, backend)
        except CancelSend as exc:
            run.cancel(message, exc)
        except Exception as exc:
            run.stop(index, exc)
            _sync_after(run)
            raise
    outgoing = run.stage()
    try:
        with delegating(backend):  # its own send in a thread, a test's stand-in
            return inner(outgoing) if outgoing else 0
    finally:
        run.collect()
        _sync_after(run)


def _sync_after(run: _Run) -> None:
    for message in run.batch:
        for hook in run.chain.after:
            try:
                _sync_call("after", hook, message, message.result, run.backend)
            except Exception:
                run.after_failed(hook, message)


async def asend(
    backend: BaseEmailBackend,
    messages: Iterable[EmailMessage],
    inner: Callable[[Sequence[EmailMessage]], Awaitable[int]],
) -> int:
    """:func:`send` for the async path: the same rules, ``async def`` hooks awaited."""
    if _delegate.get() is backend:
        return await inner(list(messages))
    batch = list(messages)
    if not batch:
        return await inner(batch)
    _refuse_deep_nesting()
    run = _Run(backend, batch, chain_for(backend))
    for index, message in enumerate(batch):
        message.result = None
        try:
            for hook in run.chain.before:
                await _async_call("before", hook, message, backend)
        except CancelSend as exc:
            run.cancel(message, exc)
        except Exception as exc:
            run.stop(index, exc)
            await _async_after(run)
            raise
    outgoing = run.stage()
    try:
        with delegating(backend):
            return await inner(outgoing) if outgoing else 0
    finally:
        run.collect()
        await _async_after(run)


async def _async_call(kind: str, hook: Hook, *args: Any) -> None:
    with _calling_hook(hook):
        outcome = hook(*args)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    _returned(kind, hook, outcome)


async def _async_after(run: _Run) -> None:
    for message in run.batch:
        for hook in run.chain.after:
            try:
                await _async_call("after", hook, message, message.result, run.backend)
            except Exception:
                run.after_failed(hook, message)

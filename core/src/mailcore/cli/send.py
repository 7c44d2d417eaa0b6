"""``mailcore send``: send one message, composed from arguments or read from a file."""

from __future__ import annotations

import argparse
import email.utils
import sys
from pathlib import Path

from mailcore.backend import BaseEmailBackend
from mailcore.cli.common import (
    add_backend_arguments,
    check_file,
    option_arguments,
    read_text_file,
    refuse_argument_only,
)
from mailcore.cli.eml import FileMessage, read_eml
from mailcore.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from mailcore.cli.parser import Handler
from mailcore.errors import SendError
from mailcore.message import EmailMessage, EmailMultiAlternatives
from mailcore.results import SendResult
from mailcore.sending import get_connection

__all__ = ["register"]

DESCRIPTION = """\
Send one message through a backend.

The body comes from --body, --body-file, or standard input. With --eml, an existing
RFC 5322 file is sent as it is (its Bcc header removed); --to/--cc/--bcc then replace its
recipients for delivery only, and --from sets the envelope sender.
--using ALIAS sends through that named mailer (default: the 'default_mailer' setting);
--backend NAME through that backend instead.
Prints how many messages were sent (and through which mailer) and the message id when the
backend reports one.
"""

_COMPOSE_ONLY = ("subject", "body", "body_file", "html_file", "attach", "reply_to")


def register(parser: argparse.ArgumentParser) -> Handler:
    """Add the arguments of ``mailcore send`` to ``parser``; return its handler."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    who = parser.add_argument_group("addresses")
    who.add_argument("--to", metavar="ADDR", action="append", default=[], help="repeatable")
    who.add_argument("--cc", metavar="ADDR", action="append", default=[], help="repeatable")
    who.add_argument(
        "--bcc", metavar="ADDR", action="append", default=[], help="repeatable; never shown"
    )
    who.add_argument(
        "--from",
        dest="from_email",
        metavar="ADDR",
        help="sender (default: the 'default_from_email' setting)",
    )
    who.add_argument("--reply-to", metavar="ADDR", action="append", default=[])
    what = parser.add_argument_group("content")
    what.add_argument("--subject", metavar="TEXT")
    body = what.add_mutually_exclusive_group()
    body.add_argument("--body", metavar="TEXT", help="the plain-text body")
    body.add_argument(
        "--body-file", metavar="FILE", help="read the plain-text body from FILE ('-': stdin)"
    )
    what.add_argument("--html-file", metavar="FILE", help="add an HTML alternative from FILE")
    what.add_argument(
        "--attach", metavar="PATH", action="append", default=[], help="attach a file (repeatable)"
    )
    what.add_argument("--eml", metavar="FILE", help="send this RFC 5322 file instead")
    add_backend_arguments(parser)
    parser.add_argument(
        "--using",
        metavar="ALIAS",
        help="send through the named mailer ALIAS (default: the default mailer)",
    )
    return run


def _check_addresses(option: str, values: list[str]) -> list[str]:
    for value in values:
        _name, addr = email.utils.parseaddr(value)
        if not addr or "@" not in addr or any(ch.isspace() for ch in addr):
            raise UsageError(f"{option}: {value!r} is not an e-mail address")
    return values


def _body(args: argparse.Namespace) -> str:
    if args.body is not None:
        return str(args.body)
    if args.body_file is not None:
        return read_text_file(args.body_file, "--body-file")
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        if args.html_file:
            return ""
        print("mailcore: reading the body from the terminal; end it with Ctrl-D", file=sys.stderr)
    return read_text_file("-", "standard input")


def _composed(args: argparse.Namespace, connection: BaseEmailBackend) -> EmailMessage:
    if args.subject is None:
        raise UsageError("--subject is required (or give --eml FILE)")
    html = read_text_file(args.html_file, "--html-file") if args.html_file else None
    attachments = [Path(path) for path in args.attach]
    for path in attachments:
        check_file(str(path), "--attach", pipes=False)  # a pipe cannot be read twice
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise UsageError(f"--attach: cannot read {str(path)!r}: {exc.strerror}") from None
    message = EmailMultiAlternatives(
        subject=args.subject,
        body=_body(args),
        from_email=args.from_email,
        to=args.to,
        cc=args.cc,
        bcc=args.bcc,
        reply_to=args.reply_to,
        connection=connection,
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    for path in attachments:
        message.attach_file(str(path))
    return message


def _from_file(args: argparse.Namespace, connection: BaseEmailBackend) -> EmailMessage:
    given = [f"--{name.replace('_', '-')}" for name in _COMPOSE_ONLY if getattr(args, name)]
    if given:
        raise UsageError(f"--eml cannot be combined with {', '.join(given)}")
    message = FileMessage(
        read_eml(args.eml),
        from_email=args.from_email,
        to=args.to,
        cc=args.cc,
        bcc=args.bcc,
        connection=connection,
    )
    if not message.recipients():
        raise UsageError(f"--eml: {args.eml!r} has no To, Cc or Bcc header; give --to")
    return message


def _dropped(result: SendResult | None) -> str:
    """``ADDRESS (WHY), ...``: the recipients the staging override dropped (empty when
    it dropped none)."""
    dropped = result.cancelled_recipients if result is not None else {}
    return ", ".join(f"{address} ({why})" for address, why in sorted(dropped.items()))


def run(args: argparse.Namespace) -> int:
    """Build the message, send it, and print the count and the message id."""
    for option in ("to", "cc", "bcc", "reply_to"):
        _check_addresses(f"--{option.replace('_', '-')}", getattr(args, option))
    if args.from_email is not None:
        _check_addresses("--from", [args.from_email])
    if not args.eml and not (args.to or args.cc or args.bcc):
        raise UsageError("give at least one recipient with --to, --cc or --bcc")
    using = getattr(args, "using", None)
    if using and args.backend:
        raise UsageError("give --backend or --using, not both")
    options = option_arguments(args)
    if args.eml:
        check_file(args.eml, "--eml")
    connection = get_connection(args.backend, using=using or None, **options)
    refuse_argument_only(type(connection), options)
    message = _from_file(args, connection) if args.eml else _composed(args, connection)
    sent = connection.send_messages([message])
    backend = connection.name or type(connection).__name__
    result = message.result
    dropped = _dropped(result)
    if not sent and result is not None and result.status == "cancelled":
        listed = f" (dropped: {dropped})" if dropped else ""
        raise SendError(f"the message was cancelled, not sent: {result.error}{listed}")
    if not sent:
        why = f": {result.error}" if result is not None and result.error else ""
        raise SendError(f"the {backend} backend did not accept the message{why}")
    sent_by = result.mailer if using and result is not None else None
    mailer = f" (mailer {sent_by!r})" if sent_by else ""
    print(f"Sent {sent} message through the {backend} backend{mailer}.")
    if result is not None and result.message_id:
        print(f"Message id: {result.message_id}")
    if dropped:
        print(f"Dropped by the staging override: {dropped}")
    if result is not None and result.refused:
        refused = sorted(result.refused.items())
        for address, (code, text) in refused:
            print(f"Refused: {address} ({code} {text})")
        sys.stdout.flush()
        listed = "; ".join(
            f"{address} ({code} {' '.join(text.split())})" for address, (code, text) in refused
        )
        print(
            f"mailcore: error: {len(refused)} recipient(s) refused, the others accepted: {listed}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK

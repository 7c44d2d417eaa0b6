"""Against a real Postfix (installed by ``make install``): pipelined, one round trip a
message, per-recipient refusals and queue ids exactly as Postfix reports them."""

from __future__ import annotations

from benchmarks.wan_proxy import WanProxy
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend
from tests.smtp.helpers import wait_until
from tests.support.postfix import PostfixServer


def test_a_pipelined_batch_through_postfix() -> None:
    messages = [
        EmailMessage(
            f"Message {n}",
            f"Body {n}\n.leading dot\n",
            f"sender{n}@example.com",
            [f"to{n}@example.com"],
            bcc=["gone@example.com"] if n % 5 == 0 else [],
            headers={"Message-ID": f"<postfix-{n}@example.com>"},
        )
        for n in range(20)
    ]
    with PostfixServer(refuse=("gone@example.com",)) as postfix:
        with WanProxy(postfix.port, delay=0.002) as proxy:
            backend = SMTPBackend(host=proxy.host, port=proxy.port, timeout=10)
            assert backend.send_messages(messages) == 20
        assert wait_until(lambda: len(postfix.discarded()) == 20, timeout=20)
        queued, delivered = postfix.queued(), postfix.discarded()
    # Postfix offers PIPELINING: handshake, EHLO, one per message, the last reply, QUIT
    assert proxy.turns == 1 + 1 + 20 + 1 + 1
    for n, message in enumerate(messages):
        result = message.result
        assert result is not None and result.sent
        assert queued[result.message_id] == f"postfix-{n}@example.com"  # type: ignore[index]
        assert delivered[result.message_id] == [f"to{n}@example.com"]  # type: ignore[index]
        if n % 5 == 0:
            assert set(result.refused) == {"gone@example.com"}
            assert result.refused["gone@example.com"][0] == 550
        else:
            assert result.refused == {}

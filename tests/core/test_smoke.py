"""The core imports and sends through the in-memory backend."""

import mailcore


def test_send_mail_to_locmem_outbox() -> None:
    connection = mailcore.get_connection("locmem")
    sent = mailcore.send_mail("Hi", "Body", "a@example.com", ["b@example.com"], connection=connection)
    assert sent == 1
    assert [m.subject for m in mailcore.outbox] == ["Hi"]

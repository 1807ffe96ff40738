from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from providers.base import OutgoingEmail, new_message_id
from providers.sandbox import PostOffice, SandboxProvider, SandboxStore

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


def _email(**kw: object) -> OutgoingEmail:
    values: dict[str, object] = dict(from_address="rita@acme.example", to_address="ana@work.example",
                                     subject="Hello", body="Hi Ana", message_id=new_message_id("rita@acme.example"))
    values.update(kw)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def test_send_keeps_a_readable_copy_and_can_be_found_by_message_id(tmp_path: Path) -> None:
    provider = SandboxProvider(SandboxStore(tmp_path), "Rita@Acme.example")
    email = _email()
    sent = provider.send(email)
    assert provider.find_sent(email.message_id) == sent
    assert provider.find_sent("<unknown@acme.example>") is None
    [copy] = (tmp_path / "rita@acme.example" / "Sent").glob("*.eml")
    assert b"Subject: Hello" in copy.read_bytes()


def test_every_send_is_kept_even_a_duplicate(tmp_path: Path) -> None:
    provider = SandboxProvider(SandboxStore(tmp_path), "rita@acme.example")
    email = _email()
    provider.send(email)
    provider.send(email)  # the sandbox must show a double send, never hide it
    assert len(PostOffice(provider.store).sent("rita@acme.example")) == 2


def test_replies_bounces_and_auto_replies_arrive_in_the_thread(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path)
    provider = SandboxProvider(store, "rita@acme.example")
    sent = provider.send(_email())
    start = provider.fetch_changes(None).cursor  # a new mailbox is read from now on
    post = PostOffice(store)
    [original] = post.sent("rita@acme.example")
    post.reply("rita@acme.example", original, "Sounds good", NOW)
    post.bounce("rita@acme.example", original, NOW)
    post.auto_reply("rita@acme.example", original, "Away until Monday", NOW)

    changes = provider.fetch_changes(start)
    reply, bounce, auto = changes.messages
    assert {m.thread_id for m in changes.messages} == {sent.thread_id}
    assert reply.headers["In-Reply-To"] == original["Message-ID"]
    assert reply.headers["Subject"] == "Re: Hello"
    assert reply.full is None  # basic permissions: headers only
    assert bounce.headers["X-Failed-Recipients"] == "ana@work.example"
    assert bounce.headers.get_content_type() == "multipart/report"
    assert auto.headers["Auto-Submitted"] == "auto-replied"
    assert provider.fetch_changes(changes.cursor).messages == []


def test_enhanced_mailboxes_see_the_delivery_status(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path)
    provider = SandboxProvider(store, "rita@acme.example", enhanced=True)
    provider.send(_email())
    start = provider.fetch_changes(None).cursor
    post = PostOffice(store)
    post.bounce("rita@acme.example", post.sent("rita@acme.example")[0], NOW, status="5.1.1")
    [bounce] = provider.fetch_changes(start).messages
    assert bounce.full is not None
    status = [p for p in bounce.full.walk() if p.get_content_type() == "message/delivery-status"]
    assert status and "5.1.1" in status[0].as_string()


def test_message_numbers_keep_counting_across_processes_and_restarts(tmp_path: Path) -> None:
    first = SandboxProvider(SandboxStore(tmp_path), "rita@acme.example")
    first.send(_email())
    first.send(_email())
    again = SandboxProvider(SandboxStore(tmp_path), "rita@acme.example")  # as another process would
    assert again.send(_email()).provider_message_id == "sbx-3"
    assert sorted(p.name for p in (tmp_path / "rita@acme.example" / "Sent").glob("*.eml")) == [
        "0000000001.eml", "0000000002.eml", "0000000003.eml"]

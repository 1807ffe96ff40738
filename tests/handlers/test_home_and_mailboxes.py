from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_view
from bot.models import Mailbox, MailboxStatus, Provider, User
from bot.runtime import Runtime
from handlers.commands import COMMAND
from handlers.ids import Action
from tests.handlers.conftest import RITA


def _home(ws: LocalSlack, user: str = RITA) -> str:
    view = ws.home(user)
    assert view is not None, "no Home tab was published"
    return render_view(view)


def test_home_empty_state_says_what_to_do_first(rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    rita.open_home()
    home = _home(workspace)
    assert "No mailbox connected yet" in home
    assert "Connect a mailbox" in home
    assert "No campaigns yet" in home
    with transaction(runtime.sessions) as session:  # the profile, time zone included, came from users.info
        user = session.scalar(select(User).where(User.slack_user_id == RITA))
        assert (user.tz, user.name, user.email) == ("America/New_York", "Rita Recruiter", "rita@acme.example")


def test_connect_from_the_home_button_then_the_home_lists_the_mailbox(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    rita.open_home()
    rita.click(Action.OPEN_CONNECT.value, in_home=True)
    assert workspace.open_views(RITA)[-1]["title"]["text"] == "Connect a mailbox"
    result = rita.submit({"provider": "sandbox", "address": "Rita@Acme.example"})
    assert result.ok and not result.errors
    assert workspace.open_views(RITA) == []
    assert any("rita@acme.example is connected" in m.text for m in rita.dm_messages())
    home = _home(workspace)
    assert "rita@acme.example" in home and "connected" in home and "basic permissions" in home
    with transaction(runtime.sessions) as session:
        mailbox = session.scalar(select(Mailbox))
        assert (mailbox.provider, mailbox.status, mailbox.daily_cap) == (Provider.SANDBOX, MailboxStatus.CONNECTED, 1800)


def test_a_bad_address_is_shown_on_the_field_and_nothing_is_saved(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    rita.slash(COMMAND, "connect")
    result = rita.submit({"provider": "sandbox", "address": "not an address"})
    assert result.errors == {"address": "'not an address' is not an email address: expected name@example.com"}
    assert len(workspace.open_views(RITA)) == 1  # the modal stays open for a fix
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)) is None


def test_an_address_linked_to_another_person_is_refused(rita: Person, omar: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "connect")
    rita.submit({"provider": "sandbox", "address": "shared@acme.example"})
    omar.slash(COMMAND, "connect")
    result = omar.submit({"provider": "sandbox", "address": "shared@acme.example"})
    assert result.errors is not None
    assert "already connected by another person" in result.errors["address"]
    assert not omar.dm_messages()


def test_mailboxes_lists_status_and_permissions(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "mailboxes")
    assert "You have no mailbox connected" in workspace.ephemerals(RITA)[-1].blocks[0]["text"]["text"]
    rita.slash(COMMAND, "connect")
    rita.submit({"provider": "sandbox", "address": "rita@acme.example"})
    rita.slash(COMMAND, "mailboxes")
    text = workspace.ephemerals(RITA)[-1].blocks[0]["text"]["text"]
    assert "rita@acme.example" in text and "connected" in text and "basic permissions" in text

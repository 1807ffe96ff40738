"""Buttons, menus and modal metadata carry typed values (handlers/payloads.py): a malformed or
forged value is answered with a clear refusal, never a server error, and changes nothing."""
from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.local.slack import LocalSlack, Person
from handlers.ids import Action, Callback
from handlers.payloads import STALE, CandidateChoice, DelegationAnswer, Id, MessagePage


def test_values_read_back_what_views_wrote_and_refuse_anything_else() -> None:
    assert MessagePage.load(MessagePage(campaign=4, page=2).dump()) == MessagePage(campaign=4, page=2)
    assert CandidateChoice.load("edit:17") == CandidateChoice(action="edit", enrollment=17)
    assert DelegationAnswer.load("9") == DelegationAnswer(delegation=9)  # Approve before a mailbox is picked
    assert DelegationAnswer.load("9:3") == DelegationAnswer(delegation=9, mailbox=3)
    for cls, raw in [(Id, "abc"), (Id, ""), (Id, None), (Id, "1:2"), (MessagePage, "4"), (CandidateChoice, "drop:1"),
                     (CandidateChoice, "pause:x"), (DelegationAnswer, "9:3:1")]:
        with pytest.raises(UserError, match="That button no longer matches"):
            cls.load(raw)


@pytest.mark.parametrize("action, value", [
    (Action.CAMPAIGN_PAUSE.value, "not-a-number"), (f"{Action.CAMPAIGN_PAGE.value}.next", "1"),
    (Action.UPLOAD_CONFIRM.value, "1:2:3"), (Action.SHARE_REVOKE.value, "x:y"), (Action.DELEGATION_REPLIES.value, "1:maybe"),
    (f"{Action.CAMPAIGN_LIST_PAGE.value}.next", "-"), (Action.REPLY_HANDLED.value, "")])
def test_a_malformed_value_is_refused_in_words(action: str, value: str, rita: Person, workspace: LocalSlack) -> None:
    result = rita.forge_action(action, value=value)
    assert result.status == 200
    assert rita.ephemerals()[-1].text == f":warning: {STALE}"


def test_malformed_modal_metadata_is_refused_in_words(rita: Person, workspace: LocalSlack) -> None:
    result = rita.forge_submission(Callback.CANDIDATE_EDIT.value, private_metadata="{}", values={})
    assert result.status == 200 and STALE in str(result.ack)

"""The /outreach slash command: one entry point, sub-commands registered by each feature."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.errors import UserError
from handlers.errors import message_for
from handlers.views.help import help_blocks, help_text

COMMAND = "/outreach"
# The longest real argument is a mention and a campaign name (200 characters); an argument is echoed
# into answers, and a block over Slack's 3,000 characters fails the whole answer.
ARGS_LIMIT = 500
ECHO_LIMIT = 40


def shown(text: str) -> str:
    """What of a typed word an answer repeats: a few dozen characters at most."""
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "…"



class Answer:
    """A sub-command's answer. `dispatch` acknowledges the command before any sub-command runs, so no
    database read or Slack call ever holds up Slack's 3-second ack; what a sub-command says then goes
    through the response_url as an ephemeral, shown as the ack's body would have been. Called with
    nothing (before opening a modal), it says nothing."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond

    def __call__(self, text: str | None = None, blocks: Any = None) -> None:
        if text or blocks:
            self.respond(text=text or "", blocks=blocks, response_type="ephemeral", replace_original=False)


@dataclass(frozen=True)
class CommandCall:
    """What a sub-command gets: the text after its name, and the request's Bolt utilities. `ack` is
    an Answer: Slack was acknowledged already."""

    args: str
    ack: Answer
    respond: Respond
    client: WebClient
    context: BoltContext
    body: dict[str, Any]

    @property
    def channel_id(self) -> str:
        return str(self.body.get("channel_id", ""))


SubcommandHandler = Callable[[CommandCall], None]


@dataclass(frozen=True)
class Subcommand:
    name: str
    description: str
    handler: SubcommandHandler


class CommandRouter:
    def __init__(self) -> None:
        self._commands: dict[str, Subcommand] = {}

    def add(self, name: str, description: str) -> Callable[[SubcommandHandler], SubcommandHandler]:
        def decorator(handler: SubcommandHandler) -> SubcommandHandler:
            if name in self._commands:
                raise ValueError(f"/outreach {name} is registered twice")
            self._commands[name] = Subcommand(name, description, handler)
            return handler
        return decorator

    @property
    def listing(self) -> list[tuple[str, str]]:
        return [(c.name, c.description) for c in self._commands.values()]

    def resolve(self, text: str) -> tuple[Subcommand | None, str, str]:
        """The longest registered name that starts the text ("campaign new" before "campaign")."""
        words = text.split()
        for size in range(len(words), 0, -1):
            name = " ".join(words[:size]).lower()
            if name in self._commands:
                return self._commands[name], " ".join(words[size:]), name
        return None, text.strip(), words[0] if words else ""


def register(app: App, router: CommandRouter) -> None:
    @router.add("help", "list every command with what it does")
    def _help(call: CommandCall) -> None:
        call.ack(text=help_text(router.listing), blocks=help_blocks(router.listing))

    @app.command(COMMAND)
    def dispatch(ack: Ack, respond: Respond, client: WebClient, context: BoltContext,
                 body: dict[str, Any]) -> None:
        text = body.get("text", "")
        if len(text) > ARGS_LIMIT:
            ack(text=f":warning: That is {len(text):,} characters after `{COMMAND}`; a command takes a few words "
                     f"(at most {ARGS_LIMIT}). `{COMMAND} help` lists them.")
            return
        sub, rest, word = router.resolve(text)
        if sub is None:  # an unknown sub-command answers with the help, naming what was typed
            ack(text=help_text(router.listing), blocks=help_blocks(router.listing, unknown=shown(word) or None))
            return
        ack()  # first: the work runs after Slack has its answer (the acting user too: handlers.context.acting)
        answer = Answer(respond)
        try:
            sub.handler(CommandCall(args=rest, ack=answer, respond=respond, client=client, context=context, body=body))
        except UserError as error:  # a refusal: told as the answer would have been
            answer(text=message_for(error))

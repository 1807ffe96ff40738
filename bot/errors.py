"""Domain errors: what a person did that cannot be done, in words they can act on.

The Slack error handler and the command line turn these into a clear message; anything else is a
bug, logged with its trace on our side and shown to the person as a short apology with a reference.
"""
from __future__ import annotations


class UserError(Exception):
    """Something the person can fix. `field` names the modal input at fault, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(UserError):
    pass


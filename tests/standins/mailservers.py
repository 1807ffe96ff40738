"""Real mail servers on loopback for the SMTP + IMAP provider's tests.

SmtpServer: aiosmtpd on 127.0.0.1, STARTTLS (required) or implicit TLS, AUTH required, checking
user names and passwords. It keeps every accepted message and plays scripted faults on the next
transaction: a refusal at MAIL, RCPT or DATA with any reply, or a dropped connection after the
message was received (stored, but the client never hears "250").

Dovecot: a private Dovecot instance (IMAP over implicit TLS only, users checked by a checkpassword script, maildir in a
temp directory), with helpers to deliver into INBOX (one message, or thousands over one connection,
with past arrival times), read a folder, change a folder's UIDVALIDITY and change a user's password.
`max_user_connections` sets Dovecot's per-user connection limit (beyond it a login answers
"NO [LIMIT]"); with `command_log=True` Dovecot's rawlog keeps every command each session sent after
login, which `commands(user)` reads back: tests count what a sync costs on the real server.
Both are context managers.
"""
from __future__ import annotations

import grp
import imaplib
import re
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.standins.tls import TestCertificates

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
DOVECOT_PACKAGE = "dovecot-imapd"
STARTUP_TIMEOUT = 10.0


# -- SMTP ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None


@dataclass(frozen=True)
class Fault:
    stage: str  # "MAIL", "RCPT", "DATA" (answer `reply` instead of 250) or "DROP_AFTER_DATA"
    reply: str = ""


class _Handler:
    """aiosmtpd hooks. They run on the server's thread; the lock guards what tests read."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        with self.server.lock:
            self.server.transactions += 1
        if reply := self.server.take_fault("MAIL"):
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if reply := self.server.take_fault("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        if reply := self.server.take_fault("DATA"):
            return reply
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        with self.server.lock:
            self.server.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content, login))
        if self.server.take_fault("DROP_AFTER_DATA") is not None:
            smtp.transport.abort()  # stored, but the client never gets the final answer
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    """Controller on port 0: learns the port the kernel chose before its readiness check."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self) -> SMTP:
        with warnings.catch_warnings():  # "AUTH without requiring TLS": under implicit TLS it is all TLS
            warnings.simplefilter("ignore", UserWarning)
            return super().factory()


class SmtpServer:
    def __init__(self, certificates: TestCertificates, *, implicit_tls: bool = False) -> None:
        self.certificates = certificates
        self.implicit_tls = implicit_tls
        self.lock = threading.Lock()
        self.users: dict[str, str] = {}
        self.received: list[Received] = []
        self.transactions = 0  # MAIL commands seen
        self._faults: list[Fault] = []
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "server not started"
        return self._controller.port

    def start(self) -> SmtpServer:
        tls: dict[str, Any]
        if self.implicit_tls:  # the whole connection is TLS: AUTH is safe without STARTTLS
            tls = dict(ssl_context=self.certificates.server_context(), auth_require_tls=False)
        else:
            tls = dict(tls_context=self.certificates.server_context(), require_starttls=True)
        self._controller = _Controller(_Handler(self), hostname="127.0.0.1", port=0,
                                       server_hostname="smtp.test", auth_required=True,
                                       authenticator=self._authenticate, **tls)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        with self.lock:
            ok = user in self.users and self.users[user] == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    def set_password(self, user: str, password: str) -> None:
        with self.lock:
            self.users[user] = password

    # Scripted faults, each used by the next transaction that reaches its stage.
    def fail_next(self, stage: str, reply: str) -> None:
        """Answer `reply` (e.g. "550 5.1.1 <x>: unknown user") at MAIL, RCPT or DATA, once."""
        assert stage in ("MAIL", "RCPT", "DATA"), stage
        with self.lock:
            self._faults.append(Fault(stage, reply))

    def drop_next_after_data(self) -> None:
        """Store the next message, then drop the connection before answering it."""
        with self.lock:
            self._faults.append(Fault("DROP_AFTER_DATA"))

    def take_fault(self, stage: str) -> str | None:
        with self.lock:
            for index, fault in enumerate(self._faults):
                if fault.stage == stage:
                    del self._faults[index]
                    return fault.reply
        return None

    def messages_from(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.mail_from == address]


# -- Dovecot ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accounts() -> dict[str, str]:
    """System users Dovecot runs as. As root: its own unprivileged users, mail as nobody.
    Otherwise everything runs as the current user (Dovecot supports that; no chroot then)."""
    if os.geteuid() == 0:
        return dict(login="dovenull", internal="dovecot", internal_group="dovecot", mail="nobody")
    me = pwd.getpwuid(os.geteuid())
    return dict(login=me.pw_name, internal=me.pw_name, internal_group=grp.getgrgid(me.pw_gid).gr_name, mail=me.pw_name)


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = outreach-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {internal_group}
mail_uid = {mail_uid}
mail_gid = {mail_gid}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_max_userip_connections = {max_user_connections}
{rawlog}passdb {{
  driver = checkpassword
  args = {root}/checkpassword
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u allow_all_users=yes
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: after a failed login (tests make them on purpose) Dovecot would slow the
  # next logins from 127.0.0.1 by seconds.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


CHECKPASSWORD = """#!/bin/bash
# Dovecot checkpassword (test only): fd 3 carries "user\\0password\\0"; success is exec'ing "$@".
IFS= read -r -d '' user <&3 || exit 1
IFS= read -r -d '' password <&3
case "$user" in ''|.*|*/*) exit 1 ;; esac
file="{passwords}/$user"
[ -f "$file" ] && [ "$(cat "$file")" = "$password" ] || exit 1
exec "$@"
"""


# "<time> <tag> <COMMAND> [<subcommand>] ..." in a rawlog .in file; imaplib's tags are 4 letters A-P and a number
_RAWLOG_COMMAND = re.compile(rb"^\d+\.\d+ [A-P]{4}\d+ ([A-Za-z]+)(?: ([A-Za-z]+))?")


class Dovecot:
    def __init__(self, certificates: TestCertificates, *, max_user_connections: int = 100,
                 command_log: bool = False) -> None:
        self.certificates = certificates
        self.max_user_connections = max_user_connections
        self.command_log = command_log
        self.users: dict[str, str] = {}
        self.port = 0
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle
    def start(self) -> Dovecot:
        if not Path(DOVECOT).exists():
            raise RuntimeError(f"{DOVECOT} is missing: install the Debian package {DOVECOT_PACKAGE} "
                               f"(apt-get install {DOVECOT_PACKAGE}); the SMTP/IMAP tests need a real IMAP server")
        # Not under pytest's tmp_path: Dovecot's unprivileged processes must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.root.chmod(0o755)
        accounts = _accounts()
        mail_user = pwd.getpwnam(accounts["mail"])
        for sub in ("run", "state", "mail", "rawlog"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        self._write_checkpassword()
        self.port = _free_port()
        rawlog = f"rawlog_dir = {self.root}/rawlog/%u\n" if self.command_log else ""
        config = CONFIG.format(root=self.root, port=self.port, login=accounts["login"],
                               internal=accounts["internal"], internal_group=accounts["internal_group"], mail_uid=mail_user.pw_uid, mail_gid=mail_user.pw_gid,
                               cert=self.certificates.cert_file, key=self.certificates.key_file,
                               max_user_connections=self.max_user_connections, rawlog=rawlog)
        (self.root / "dovecot.conf").write_text(config)
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                         stderr=open(self.root / "stderr.log", "wb"))
        self._wait_until_listening()
        return self

    @property
    def config(self) -> Path:
        assert self.root is not None, "Dovecot not started"
        return self.root / "dovecot.conf"

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self._process.returncode}: {self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.02)  # polling for readiness, bounded by the deadline
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port} within {STARTUP_TIMEOUT}s: {self.logs()}")

    def logs(self) -> str:
        assert self.root is not None
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in
                         (self.root / "stderr.log", self.root / "dovecot.log") if p.exists())

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users
    # Passwords live one file per user, checked by a checkpassword script on every login. Not
    # passwd-file: Dovecot re-reads that at most once a second, so a password changed (or a user
    # added) in the same second as an earlier login would be ignored.
    def _write_checkpassword(self) -> None:
        assert self.root is not None
        (self.root / "passwords").mkdir(mode=0o755)
        script = self.root / "checkpassword"
        script.write_text(CHECKPASSWORD.format(passwords=self.root / "passwords"))
        script.chmod(0o755)
        for user, password in self.users.items():
            self._write_password(user, password)

    def _write_password(self, user: str, password: str) -> None:
        assert self.root is not None and "/" not in user
        path = self.root / "passwords" / user
        path.write_text(password)
        path.chmod(0o644)  # the auth process may run as an unprivileged user
        rawlog = self.root / "rawlog" / user  # Dovecot writes a session's rawlog only if its folder exists
        rawlog.mkdir(exist_ok=True)
        rawlog.chmod(0o777)  # written by the mail user's imap process

    def set_password(self, user: str, password: str) -> None:
        """Add a user or change a password; the next login sees it."""
        self.users[user] = password
        if self.root is not None:
            self._write_password(user, password)

    # -- mail
    def login(self, user: str) -> imaplib.IMAP4_SSL:
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=self.certificates.client_context(), timeout=10)
        imap.login(user, self.users[user])
        return imap

    def deliver(self, user: str, message: bytes, folder: str = "INBOX", *, received: datetime | None = None) -> int:
        """Put a message in a folder (IMAP APPEND as the user); returns its UID. `received` (default
        now) is its INTERNALDATE, the arrival time IMAP searches by."""
        return self.deliver_many(user, [(message, received)], folder)[0]

    def deliver_many(self, user: str, messages: Iterable[tuple[bytes, datetime | None]],
                     folder: str = "INBOX") -> list[int]:
        """APPEND many (message, arrival time) pairs over one connection; returns their UIDs."""
        imap = self.login(user)
        uids = []
        try:
            for message, received in messages:
                when = imaplib.Time2Internaldate(received) if received is not None else None
                typ, data = imap.append(folder, None, when, message)
                assert typ == "OK", data
                text = data[0].decode() if isinstance(data[0], bytes) else ""
                uids.append(int(text.split("APPENDUID ")[1].split()[1].rstrip("]")))
            return uids
        finally:
            imap.logout()

    def commands(self, user: str) -> list[str]:
        """Every command the user's finished sessions sent after login, in order (needs
        command_log=True). A session's log ends with its LOGOUT; logs still being written are
        waited for, briefly."""
        assert self.root is not None and self.command_log, "start Dovecot with command_log=True"
        deadline = time.monotonic() + 2.0
        while True:
            sessions = [self._commands_in(path) for path in sorted((self.root / "rawlog" / user).glob("*.in"))]
            if all(s and s[-1] == "LOGOUT" for s in sessions) or time.monotonic() > deadline:
                return [command for session in sessions for command in session]
            time.sleep(0.01)  # the imap process is still writing its log; bounded by the deadline

    @staticmethod
    def _commands_in(path: Path) -> list[str]:
        """Command names ("EXAMINE", "UID FETCH", "LOGOUT") from one rawlog; lines that do not
        start with an imaplib tag are literal data (an APPEND's message)."""
        found = []
        for line in path.read_bytes().splitlines():
            match = _RAWLOG_COMMAND.match(line)
            if match:
                name = match[1].decode().upper()
                found.append(f"UID {match[2].decode().upper()}" if name == "UID" and match[2] else name)
        return found

    def forget_commands(self, user: str) -> None:
        assert self.root is not None
        for path in (self.root / "rawlog" / user).glob("*"):
            path.unlink()

    def delete(self, user: str, uid: int, folder: str = "INBOX") -> None:
        """Delete and expunge one message, as a person tidying their mailbox would."""
        imap = self.login(user)
        try:
            imap.select(folder)
            typ, data = imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
            assert typ == "OK", data
            imap.expunge()
        finally:
            imap.logout()

    def read(self, user: str, folder: str = "Sent") -> list[tuple[bytes, bytes]]:
        """(flags, message bytes) of every message in a folder, oldest first; marks nothing read."""
        imap = self.login(user)
        try:
            typ, data = imap.select(folder, readonly=True)
            assert typ == "OK", data
            if int(data[0] or 0) == 0:
                return []
            typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])")
            assert typ == "OK", data
            return [(item[0], item[1]) for item in data if isinstance(item, tuple)]
        finally:
            imap.logout()

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        out = self._doveadm("mailbox", "status", "-u", user, "uidvalidity", folder)
        return int(out.strip().split("=")[1])

    def change_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, as a server does after rebuilding its index."""
        new = self.uidvalidity(user, folder) + 1
        self._doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
        return new

    def _doveadm(self, *args: str) -> str:
        done = subprocess.run([DOVEADM, "-c", str(self.config), *args], capture_output=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

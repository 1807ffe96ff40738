"""Typed settings: the only place that reads the environment (and an optional .env file)."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from providers.connect import ClientSecrets, Endpoints
from bot.wording import counted

DEFAULT_DATABASE_URL = "sqlite:///var/outreach.sqlite3"
SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """One line that names the variable at fault and what it expects, never its value."""


# What each setting expects, in words a person can act on: used for error lines.
EXPECTS = {
    "DATABASE_URL": "a SQLAlchemy URL such as sqlite:///var/outreach.sqlite3 or postgresql://user@host/db",
    "SLACK_BOT_TOKEN": "a bot token starting with xoxb-",
    "SLACK_APP_TOKEN": "an app-level token starting with xapp- (Socket Mode)",
    "SLACK_SIGNING_SECRET": "the Signing Secret from the Slack app's Basic Information page",
    "SLACK_API_URL": "an http(s) URL of the Slack Web API ending in /api/",
    "OUTREACH_ENCRYPTION_KEYS": (
        "comma-separated Fernet keys (32 url-safe base64 bytes each); "
        "create one with: outreach keys new"
    ),
    "PUBLIC_URL": "the https URL where this bot is reached from browsers, e.g. https://outreach.example.com",
    "OUTREACH_SANDBOX_DIR": "a directory path",
    "OUTREACH_SANDBOX_MAILBOXES": "true or false",
    "OUTREACH_DISPATCH_INTERVAL_SECONDS": "a number of seconds greater than 0",
    "OUTREACH_SYNC_INTERVAL_SECONDS": "a number of seconds greater than 0 (default 60)",
    "OUTREACH_SANDBOX_LATENCY_MS": "a whole number of milliseconds, 0 or more",
    "OUTREACH_DISPATCH_LEASE_SECONDS": "a number of seconds greater than 0 (default 300)",
    "OUTREACH_DISPATCH_CONCURRENCY": "a whole number from 1 to 256 (default 32)",
    "OUTREACH_REPLY_WATCH_DAYS": "a whole number of days, 0 or more (default 30)",
    "GOOGLE_CLIENT_ID": "the OAuth client ID of a Google Cloud 'Web application' client",
    "GOOGLE_CLIENT_SECRET": "the client secret of that Google OAuth client",
    "MICROSOFT_CLIENT_ID": "the Application (client) ID of the Entra ID app registration",
    "MICROSOFT_CLIENT_SECRET": "a client secret of that Entra ID app registration",
    "MICROSOFT_AUTHORITY": "an https URL such as https://login.microsoftonline.com/organizations",
    "GOOGLE_AUTH_URI": "an http(s) URL (only to point at a stand-in)",
    "GOOGLE_TOKEN_URI": "an http(s) URL (only to point at a stand-in)",
    "GMAIL_API_URL": "an http(s) URL (only to point at a stand-in)",
    "GRAPH_API_URL": "an http(s) URL (only to point at a stand-in)",
    "OUTREACH_CA_FILE": "the path of a PEM file of certificate authorities to trust (only for stand-ins)",
    "OUTREACH_TRUSTED_PROXIES": ("comma-separated IP addresses or networks (10.0.0.0/8) of the reverse proxies in "
                                 "front of the bot, whose X-Forwarded-For is believed (default: none)"),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # repr=False: a PostgreSQL URL may carry a password.
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL", repr=False)
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(SLACK_API_URL, validation_alias="SLACK_API_URL")
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="OUTREACH_ENCRYPTION_KEYS"
    )
    public_url: str = Field("http://localhost:3000", validation_alias="PUBLIC_URL")
    # Sandbox mailboxes keep mail on disk and never reach the internet: on for the demo and local
    # development, off by default so a real workspace never offers a mailbox that sends nothing.
    sandbox_mailboxes: bool = Field(False, validation_alias="OUTREACH_SANDBOX_MAILBOXES")
    sandbox_dir: Path = Field(Path("var/sandbox-mail"), validation_alias="OUTREACH_SANDBOX_DIR")
    sandbox_latency_ms: int = Field(0, ge=0, validation_alias="OUTREACH_SANDBOX_LATENCY_MS")
    # How long a claimed send is a worker's before others treat it as crashed; far longer than any
    # provider call may take (their timeouts are under a minute), or a slow send could be repeated.
    dispatch_lease_seconds: float = Field(300.0, gt=0, validation_alias="OUTREACH_DISPATCH_LEASE_SECONDS")
    dispatch_concurrency: int = Field(32, ge=1, le=256, validation_alias="OUTREACH_DISPATCH_CONCURRENCY")
    dispatch_interval_seconds: float = Field(
        15.0, gt=0, validation_alias="OUTREACH_DISPATCH_INTERVAL_SECONDS"
    )
    # How often each mailbox is read for replies and bounces (one cheap request when idle).
    sync_interval_seconds: float = Field(60.0, gt=0, validation_alias="OUTREACH_SYNC_INTERVAL_SECONDS")
    # How long a mailbox is still read after its last send (SPEC: a reply to the last follow-up is
    # the most common reply of all); a reply later than this is not seen.
    reply_watch_days: int = Field(30, ge=0, validation_alias="OUTREACH_REPLY_WATCH_DAYS")
    # The reverse proxies whose X-Forwarded-For names the client (open tracking records the IP of each
    # fetch of the image): none by default, so a client cannot name an address of its choosing.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                            validation_alias="OUTREACH_TRUSTED_PROXIES")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> list[str]:
        parts = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value or [])
        try:
            return [str(ipaddress.ip_network(p, strict=False)) for p in parts]
        except ValueError:
            raise ValueError("not an IP address or network") from None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("malformed") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("unsupported backend")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("wrong prefix")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("wrong prefix")
        return value

    @field_validator("slack_api_url", "public_url", "google_auth_uri", "google_token_uri", "gmail_api_url",
                     "graph_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value

    # Mail providers: a provider is offered in Slack once its OAuth client is configured.
    google_client_id: str | None = Field(None, validation_alias="GOOGLE_CLIENT_ID")
    google_client_secret: SecretStr | None = Field(None, validation_alias="GOOGLE_CLIENT_SECRET")
    microsoft_client_id: str | None = Field(None, validation_alias="MICROSOFT_CLIENT_ID")
    microsoft_client_secret: SecretStr | None = Field(None, validation_alias="MICROSOFT_CLIENT_SECRET")
    microsoft_authority: str = Field(Endpoints.microsoft_authority, validation_alias="MICROSOFT_AUTHORITY")
    google_auth_uri: str = Field(Endpoints.google_auth_uri, validation_alias="GOOGLE_AUTH_URI")
    google_token_uri: str = Field(Endpoints.google_token_uri, validation_alias="GOOGLE_TOKEN_URI")
    gmail_api_url: str = Field(Endpoints.gmail_api, validation_alias="GMAIL_API_URL")
    graph_api_url: str = Field(Endpoints.graph_api, validation_alias="GRAPH_API_URL")
    ca_file: str | None = Field(None, validation_alias="OUTREACH_CA_FILE")

    @field_validator("microsoft_authority")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("not an https URL")
        return value.rstrip("/")

    def endpoints(self) -> Endpoints:
        return Endpoints(google_auth_uri=self.google_auth_uri, google_token_uri=self.google_token_uri,
                         gmail_api=self.gmail_api_url, microsoft_authority=self.microsoft_authority,
                         graph_api=self.graph_api_url.rstrip("/"), ca_file=self.ca_file)

    def google_client(self) -> ClientSecrets | None:
        if not (self.google_client_id and self.google_client_secret):
            return None
        return ClientSecrets(self.google_client_id, self.google_client_secret.get_secret_value())

    def microsoft_client(self) -> ClientSecrets | None:
        if not (self.microsoft_client_id and self.microsoft_client_secret):
            return None
        return ClientSecrets(self.microsoft_client_id, self.microsoft_client_secret.get_secret_value())

    def require_encryption(self) -> None:
        """Real mailboxes keep credentials, and credentials are only ever stored encrypted."""
        if not self.encryption_keys:
            raise ConfigError(f"OUTREACH_ENCRYPTION_KEYS is not set: expected {EXPECTS['OUTREACH_ENCRYPTION_KEYS']}. "
                              "It is needed to keep mailbox credentials encrypted.")

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> list[str]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        keys = [k.get_secret_value() if isinstance(k, SecretStr) else k for k in value or []]
        for key in keys:
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ValueError("not a Fernet key") from None
        return keys

    # What start-up needs, checked where it is needed (serve needs Slack, the demo does not).
    def require_slack(self) -> None:
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            )
            if value is None
        ]
        if missing:
            raise ConfigError(
                f"{missing[0]} is not set: expected {EXPECTS[missing[0]]}. "
                "To try the bot without a Slack workspace, run: outreach demo"
            )


def read_settings(**overrides: object) -> tuple[Settings, dict[str, str]]:
    """Read settings and every malformed variable at once: pydantic validates each field on its own
    and reports them all, so one bad value hides no other. Returns the settings with each malformed
    variable left at its default, and {variable: one line naming it and what it expects} (never its
    value). `outreach doctor` reports them all; start-up stops at them (load_settings)."""
    try:
        return Settings(**overrides), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error.get("loc") else "configuration"
            problems.setdefault(name, f"{name} is not valid: expected {EXPECTS.get(name, error['msg'])}")
    defaults = {name: _default(name) for name in problems if name in _FIELDS_BY_VARIABLE}
    return Settings(**{**overrides, **defaults}), problems


_FIELDS_BY_VARIABLE = {str(field.validation_alias): name for name, field in Settings.model_fields.items()}


def _default(variable: str) -> object:
    return Settings.model_fields[_FIELDS_BY_VARIABLE[variable]].get_default(call_default_factory=True)


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises ConfigError with one line naming the variable (and how many
    more are malformed: `outreach doctor` lists them all)."""
    settings, problems = read_settings(**overrides)
    if problems:
        first, *others = problems.values()
        more = f" ({counted(len(others), 'more setting')} malformed: run `outreach doctor`)" if others else ""
        raise ConfigError(first + more)
    return settings

"""The live sources (`config/sources.yaml`): typed, validated, each error tied to its line.

A source is a long-running collector feeding `posts.raw` through the same crash-safe path as
`POST /ingest`. Secrets come only from `${VAR}` references to the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.yaml_source import ConfigFileError, compose, construct, located


def without_secrets(url: str) -> str:
    """The URL as logs, `pantau sources list` and `GET /sources` may show it: no user, password or
    query (a token from `${VAR}` may sit in either)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


class SourcesConfigError(ConfigFileError):
    """A bad sources file: the message names the file, the line and what is wrong."""


Match = Literal["watchlist", "keywords", "all"]


class SourceBase(BaseModel):
    """What every source has: its name, whether it runs, and which posts it takes in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Names the source in metrics and posts."
    )
    enabled: bool = True
    match: Match = Field(
        default="watchlist",
        description="Which posts are taken in: those naming a watchlist target (or one of `keywords`), "
        "only those naming one of `keywords`, or all.",
    )
    keywords: tuple[str, ...] = ()

    @field_validator("keywords")
    @classmethod
    def _no_blank_keyword(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        if any(not k.strip() for k in keywords):
            raise ValueError("a keyword is blank")
        return tuple(k.strip() for k in keywords)

    @model_validator(mode="after")
    def _keywords_when_matched_on(self) -> SourceBase:
        if self.match == "keywords" and not self.keywords:
            raise ValueError("match: keywords needs at least one keyword")
        return self

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Where it reads, as `pantau sources list` and `GET /sources` show it: never a secret."""
        raise NotImplementedError


class FeedSource(SourceBase):
    """RSS or Atom feeds (news): one post per article, its title and summary."""

    kind: Literal["feed"]
    urls: tuple[AnyHttpUrl, ...] = Field(min_length=1, max_length=200)
    poll_seconds: float = Field(default=300.0, ge=1.0, le=86_400.0)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(without_secrets(str(url)) for url in self.urls)


class BlueskySource(SourceBase):
    """Bluesky's public firehose through Jetstream (WebSocket, no key), filtered on our side."""

    kind: Literal["bluesky"]
    endpoint: AnyUrl = Field(
        default=AnyUrl("wss://jetstream2.us-east.bsky.network/subscribe"),
        description="A Jetstream instance's subscribe URL.",
    )
    languages: tuple[str, ...] = Field(
        default=(), description="Only posts tagged with one of these languages (e.g. [id, en]); empty: any."
    )

    @field_validator("endpoint")
    @classmethod
    def _websocket(cls, endpoint: AnyUrl) -> AnyUrl:
        if endpoint.scheme not in ("ws", "wss"):
            raise ValueError("a Jetstream endpoint is a ws:// or wss:// URL")
        return endpoint

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (str(self.endpoint),)


class MastodonSource(SourceBase):
    """A Mastodon instance's streaming API (hashtag timelines, optionally the public one), caught up
    over REST (`min_id`) after every gap."""

    kind: Literal["mastodon"]
    instance: AnyHttpUrl = Field(description="The instance, e.g. https://mastodon.social.")
    access_token: str = Field(
        default="",
        description="An application token (read:statuses) from ${VAR}: many instances stream only to "
        "signed-in clients.",
    )
    hashtags: tuple[str, ...] = Field(
        default=(), description="Hashtag timelines to follow, without '#'; empty: from the watchlist."
    )
    public: bool = Field(default=False, description="Also the instance's public timeline, filtered here.")

    @field_validator("hashtags")
    @classmethod
    def _plain_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(t.strip().lstrip("#") for t in tags)
        if any(not t or not t.replace("_", "").isalnum() for t in cleaned):
            raise ValueError("a hashtag is letters, digits and _ only")
        return cleaned

    @property
    def endpoints(self) -> tuple[str, ...]:
        tags = [f"#{t}" for t in self.hashtags] or ["#(watchlist)"]
        return (f"{self.instance} {' '.join(tags)}{' +public' if self.public else ''}",)


class TelegramBotSource(SourceBase):
    """Messages of the groups and channels a Telegram bot has been added to, through the Bot API's
    `getUpdates` (long polling from a saved offset)."""

    kind: Literal["telegram_bot"]
    token: str = Field(min_length=20, description="The bot's token, from ${VAR}.")
    api: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.telegram.org"), description="The Bot API server.")
    poll_seconds: int = Field(default=50, ge=1, le=50, description="Long-polling timeout of getUpdates.")
    match: Match = Field(
        default="all", description="The team chose the chats: by default every message is taken in."
    )

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (f"{self.api} (bot {self.token.split(':', 1)[0]})",)  # the bot's id, never its secret


_CHANNEL_LINK = re.compile(r"^(?:(?:https?://)?(?:www\.)?(?:t|telegram)\.me/(?:s/)?)?@?(?P<name>[^/?#]*)/?$")
_CHANNEL_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$")


def channel_username(value: str) -> str:
    """A public channel's username from what a person pastes: `name`, `@name` or its t.me link."""
    text = value.strip()
    if re.match(r"^(?:(?:https?://)?(?:www\.)?(?:t|telegram)\.me/)?(?:\+|joinchat/)", text):
        raise ValueError(f"{text!r} is an invite link: only public channels (with a username) are read")
    found = _CHANNEL_LINK.match(text)
    name = found.group("name") if found else ""
    if not _CHANNEL_USERNAME.match(name):
        raise ValueError(
            f"{text!r} is not a public channel's username "
            "(5 to 32 letters, digits and _, starting with a letter; or its https://t.me/ link)"
        )
    return name


ChannelUsername = Annotated[str, AfterValidator(channel_username)]


class TelegramChannelSource(SourceBase):
    """Public Telegram channels read through a user session (MTProto, Telethon): each channel's
    new messages since the newest one taken, polled. The session only reads: it joins nothing."""

    kind: Literal["telegram_channel"]
    api_id: int = Field(ge=1, repr=False, description="The app's api_id (my.telegram.org), from ${VAR}.")
    api_hash: str = Field(repr=False, description="The app's api_hash (my.telegram.org), from ${VAR}.")
    session: str = Field(
        repr=False, description="A signed-in Telethon StringSession (see README), from ${VAR}."
    )
    channels: tuple[ChannelUsername, ...] = Field(
        min_length=1, max_length=200, description="Public channels: username, @username or t.me link."
    )
    poll_seconds: float = Field(
        default=20.0, ge=5.0, le=3600.0, description="How often each channel is read."
    )
    first_read: int = Field(
        default=50, ge=1, le=1000, description="The newest messages read from a channel the first time."
    )
    match: Match = Field(
        default="all", description="The team chose the channels: by default every message is taken in."
    )

    @field_validator("api_hash")
    @classmethod
    def _hex_hash(cls, value: str) -> str:
        # The value is never quoted back: it is a secret.
        if not re.fullmatch(r"[0-9a-f]{32}", value.strip()):
            raise ValueError(
                "an api_hash is 32 hexadecimal characters (my.telegram.org, API development tools)"
            )
        return value.strip()

    @field_validator("session")
    @classmethod
    def _string_session(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"1[A-Za-z0-9_=-]{300,}", value):
            raise ValueError(
                "not a Telethon StringSession string (a long text starting with 1; see README, Live sources)"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _each_once(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        lowered = [c.lower() for c in channels]
        repeated = sorted({c for c in lowered if lowered.count(c) > 1})
        if repeated:
            raise ValueError(f"channels repeat: {', '.join(repeated)}")
        return channels

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(f"https://t.me/{channel}" for channel in self.channels)  # no api id, hash or session


class XSource(SourceBase):
    """X's API v2 filtered stream, with rules built from the watchlist, and recent search to fill
    the gap after a disconnect or a restart."""

    kind: Literal["x"]
    bearer_token: str = Field(min_length=20, description="The app's bearer token, from ${VAR}.")
    api: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.x.com"))
    rules: tuple[str, ...] = Field(
        default=(), description="Filtered-stream rules; empty: one per watchlist target from its names."
    )
    max_rule_chars: int = Field(default=512, ge=64, le=4096, description="The rule length the plan allows.")
    backfill: bool = Field(default=True, description="Fill gaps with recent search (last 7 days).")
    match: Match = Field(
        default="all", description="The rules already filter on X's side: by default every match is taken in."
    )

    @model_validator(mode="after")
    def _rules_fit(self) -> XSource:
        too_long = [r for r in self.rules if len(r) > self.max_rule_chars]
        if too_long:
            raise ValueError(
                f"a rule is longer than max_rule_chars ({self.max_rule_chars}): {too_long[0][:40]}..."
            )
        return self

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (f"{self.api} filtered stream, {len(self.rules) or 'watchlist'} rules",)


class YouTubeSource(SourceBase):
    """YouTube through the Data API v3: videos found by searching the watchlist's names, then the
    comment threads of those videos, polled within the daily quota."""

    kind: Literal["youtube"]
    api_key: str = Field(min_length=20, description="A Data API v3 key, from ${VAR}.")
    api: AnyHttpUrl = Field(default=AnyHttpUrl("https://www.googleapis.com/youtube/v3"))
    query: str = Field(default="", description="The search; empty: the watchlist's names joined with |.")
    region: str = Field(default="ID", pattern=r"^[A-Z]{2}$")
    search_minutes: float = Field(default=60.0, ge=1.0, description="How often to search (100 units each).")
    poll_minutes: float = Field(default=10.0, ge=0.1, description="How often each video's comments are read.")
    track_videos: int = Field(
        default=50, ge=1, le=500, description="The most recent matching videos followed."
    )
    track_days: float = Field(
        default=3.0, gt=0, description="A video is followed this long after it is found."
    )
    daily_quota: int = Field(default=10_000, ge=100, description="Units a day this source may spend.")
    match: Match = Field(
        default="all", description="The videos already match: by default every comment is taken in."
    )

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (f"{self.api} search {self.query or '(watchlist)'!r} in {self.region}",)


Source = Annotated[
    FeedSource
    | BlueskySource
    | MastodonSource
    | TelegramBotSource
    | TelegramChannelSource
    | XSource
    | YouTubeSource,
    Field(discriminator="kind"),
]
SOURCE_KINDS = frozenset({"feed", "bluesky", "mastodon", "telegram_bot", "telegram_channel", "x", "youtube"})


class SourcesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: tuple[Source, ...] = ()

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[Source, ...]) -> tuple[Source, ...]:
        names = [s.name for s in sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"source names repeat: {', '.join(repeated)}")
        return sources

    def get(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    @property
    def enabled(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.enabled)


def load_sources(path: Path, environ: dict[str, str] | None = None) -> SourcesConfig:
    """Read and validate the file; any error raises SourcesConfigError naming the line."""
    env = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_sources(text, source=str(path), environ=env)


def parse_sources(text: str, *, source: str = "sources.yaml", environ: dict[str, str]) -> SourcesConfig:
    root = compose(text, source, SourcesConfigError)
    if root is None:
        return SourcesConfig()
    data = construct(root, source, environ, SourcesConfigError)
    try:
        return SourcesConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # An unknown kind is the `kind` field's fault: point at its line.
        loc = (*first["loc"], "kind") if first["type"] == "union_tag_invalid" else first["loc"]
        raise located(
            source,
            root,
            loc,
            first["msg"],
            exc.error_count() - 1,
            skip=SOURCE_KINDS,  # pydantic names the chosen kind in the location; the file does not
            error=SourcesConfigError,
        ) from None

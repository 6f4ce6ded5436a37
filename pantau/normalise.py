"""From whatever a source delivers to a canonical `Post`.

Input shapes understood (see README, "Input shapes"):
- the Pantau post object (`PostIn`): flat JSON, also what `POST /ingest` takes;
- the same flattened to strings, as read from a CSV row (`author_id`, `author_handle`, metric columns);
- an X API v2 tweet object (`{"data": {...}, "includes": {"users": [...]}}`);
- any of these wrapped in the envelope `{"envelope": "pantau/1", "source": ..., "payload": {...}}`,
  which is what `pantau replay`, the API and external collectors write to `posts.raw`.

Bad input raises `InvalidPost` with a reason a person can act on; the stream sends it to the DLQ.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

import ftfy
import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pantau.domain import Metrics, Post, as_utc, utcnow

ENVELOPE_VERSION = "pantau/1"
MAX_TEXT_CHARS_DEFAULT = 10000
MAX_MESSAGE_BYTES_DEFAULT = 262144
_MOJIBAKE_CHARS_PER_CHAR = 4

_HASHTAG = re.compile(r"(?<![\w&])#(\w{1,100})", re.UNICODE)
_MENTION = re.compile(r"(?<![\w@])@(\w{1,50})", re.UNICODE)
_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?)]}…'\""
# Plausible post times: not before the first social networks, not more than a day in the future.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_FUTURE = timedelta(days=1)


class InvalidPost(ValueError):
    """The input cannot become a post; `reason` says why, for the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_timestamp(value: Any, *, now: datetime | None = None) -> datetime:
    """ISO-8601 (naive = UTC), epoch seconds or milliseconds, or the classic Twitter/RFC 2822 form.

    Times before 2000 or more than a day after `now` are refused: a clock that wrong is broken data."""
    if isinstance(value, datetime):
        result = as_utc(value)
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    elif isinstance(value, int | float):
        result = _from_epoch(float(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty time")
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            result = _from_epoch(float(text))
        else:
            try:
                result = as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
            except ValueError:
                try:
                    result = as_utc(_parse_twitter_time(text))
                except (TypeError, ValueError):
                    raise ValueError(f"unrecognised time {text[:40]!r}") from None
    else:
        raise ValueError(f"a time must be a string or a number, not {type(value).__name__}")
    if result < _EARLIEST:
        raise ValueError(f"time {result.isoformat()} is before 2000")
    if result > (now or utcnow()) + _MAX_FUTURE:
        raise ValueError(f"time {result.isoformat()} is more than a day in the future")
    return result


def _from_epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch time {seconds} out of range") from None


def _parse_twitter_time(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return parsedate_to_datetime(text)


def _id_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an id must be a string or an integer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _optional_ref(value: Any) -> Any:
    if value is None:
        return ""
    return _id_text(value)


IdText = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=128)]
OptionalRef = Annotated[str, BeforeValidator(_optional_ref), Field(max_length=128)]


class AuthorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: IdText
    handle: Annotated[str, Field(max_length=100)] = ""


class MetricsIn(Metrics):
    """The domain's counts, tolerant of counts Pantau does not keep (bookmarks, ...)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class PostIn(BaseModel):
    """The Pantau post object, as sources and `POST /ingest` send it."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    platform: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    id: IdText
    created_at: datetime
    author: AuthorIn
    text: str = Field(max_length=1_000_000)
    lang: str = Field(default="", max_length=16)
    url: str = Field(default="", max_length=2048)
    reply_to: OptionalRef = ""
    repost_of: OptionalRef = ""
    quote_of: OptionalRef = ""
    hashtags: list[str] | None = None
    mentions: list[str] | None = None
    links: list[str] | None = None
    metrics: MetricsIn = MetricsIn()

    @field_validator("created_at", mode="before")
    @classmethod
    def _any_time(cls, value: Any) -> datetime:
        return parse_timestamp(value)

    @field_validator("lang", "url", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("hashtags", "mentions", "links", mode="before")
    @classmethod
    def _csv_lists(cls, value: Any) -> Any:
        """A CSV cell: empty means not given; otherwise items separated by spaces, commas or ';'."""
        if isinstance(value, str):
            return [item for item in re.split(r"[\s,;]+", value) if item] or None
        return value

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        """Python's JSON parser lets lone surrogates through ("\\ud800"); nothing can store them."""
        bad = _lone_surrogate_path(data)
        if bad is not None:
            raise ValueError(f"{bad or 'post'}: contains a lone surrogate, not valid Unicode")
        return data

    @model_validator(mode="before")
    @classmethod
    def _flat_author_and_metrics(cls, data: Any) -> Any:
        """Accept CSV-style flat columns: author_id/author_handle and likes/reposts/... at top level."""
        if not isinstance(data, dict):
            return data
        if "author" not in data and ("author_id" in data or "author_handle" in data):
            data = dict(data)
            data["author"] = {"id": data.pop("author_id", None), "handle": data.pop("author_handle", "")}
        metric_cols = {k: data[k] for k in MetricsIn.model_fields if k in data and "metrics" not in data}
        if metric_cols:
            data = {k: v for k, v in data.items() if k not in metric_cols}
            data["metrics"] = {k: (v if v not in ("", None) else 0) for k, v in metric_cols.items()}
        return data


def _lone_surrogate_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _lone_surrogate_path(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def clean_text(text: str, max_chars: int) -> str:
    """Repair what sources break: lone surrogates, mojibake ("â€¦" for "…"), HTML escapes, NUL
    and control characters; cap the length. Entities are taken from this text, so a hashtag
    followed by mojibake is counted under its own name, not a broken one."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    # Repaired before control characters go: UTF-8 read as Latin-1 is partly C1 controls ("â\x80¦").
    # A character read as mojibake is at most four (one per UTF-8 byte), so this much input still
    # fills the cap once repaired, and ftfy, linear in its input, never reads a long post's tail.
    text = ftfy.fix_text(text[: max_chars * _MOJIBAKE_CHARS_PER_CHAR], normalization="NFC")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return text[:max_chars]


def _strip_link(link: str) -> str:
    return link.rstrip(_TRAILING_PUNCT)


def extract_entities(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Hashtags and mentions (lower case, without # and @) and links, in order, without repeats."""
    hashtags = tuple(dict.fromkeys(h.lower() for h in _HASHTAG.findall(text)))
    mentions = tuple(dict.fromkeys(m.lower() for m in _MENTION.findall(text)))
    links = tuple(dict.fromkeys(_strip_link(u) for u in _LINK.findall(text)))
    return hashtags, mentions, links


def _scoped(platform: str, ref: str) -> str:
    return f"{platform}:{ref}" if ref else ""


def post_from_input(
    item: PostIn,
    *,
    source: str,
    received_at: datetime | None = None,
    raw: str = "",
    max_text_chars: int = MAX_TEXT_CHARS_DEFAULT,
) -> Post:
    platform = item.platform.lower()
    text = clean_text(item.text, max_text_chars)
    found_tags, found_mentions, found_links = extract_entities(text)
    hashtags = (
        tuple(dict.fromkeys(h.lstrip("#").lower() for h in item.hashtags if h.strip("#")))
        if (item.hashtags is not None)
        else found_tags
    )
    mentions = (
        tuple(dict.fromkeys(m.lstrip("@").lower() for m in item.mentions if m.strip("@")))
        if (item.mentions is not None)
        else found_mentions
    )
    links = tuple(dict.fromkeys(item.links)) if item.links is not None else found_links
    return Post(
        id=f"{platform}:{item.id}",
        platform=platform,
        native_id=item.id,
        author_id=item.author.id,
        author_handle=item.author.handle.lstrip("@"),
        text=text,
        lang=item.lang.lower(),
        created_at=item.created_at,
        url=item.url,
        reply_to=_scoped(platform, item.reply_to),
        repost_of=_scoped(platform, item.repost_of),
        quote_of=_scoped(platform, item.quote_of),
        hashtags=hashtags,
        mentions=mentions,
        links=links,
        metrics=Metrics.model_validate(item.metrics.model_dump()),
        source=source,
        received_at=received_at or utcnow(),
        raw=raw,
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _objs(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _from_x_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Map an X API v2 tweet (with `includes.users`) onto the Pantau post object.

    Optional parts of the wrong shape are treated as absent; required ones are left for
    `PostIn` to reject with the field's name."""
    tweet = payload["data"]
    if not isinstance(tweet, dict):
        raise InvalidPost("X v2 payload: 'data' must be an object")
    users = {_hashable(u.get("id")): u for u in _objs(_obj(payload.get("includes")).get("users"))}
    author_id = tweet.get("author_id")
    refs = {_hashable(r.get("type")): r.get("id") for r in _objs(tweet.get("referenced_tweets"))}
    entities = _obj(tweet.get("entities"))
    pm = _obj(tweet.get("public_metrics"))
    user = users.get(_hashable(author_id), {})
    handle = user.get("username") if isinstance(user.get("username"), str) else ""
    mapped: dict[str, Any] = {
        "platform": "x",
        "id": tweet.get("id"),
        "created_at": tweet.get("created_at"),
        "author": {"id": author_id, "handle": handle},
        "text": tweet.get("text"),
        "lang": tweet.get("lang") if isinstance(tweet.get("lang"), str) else "",
        "url": f"https://x.com/{handle or 'i'}/status/{tweet.get('id')}",
        "reply_to": refs.get("replied_to"),
        "repost_of": refs.get("retweeted"),
        "quote_of": refs.get("quoted"),
        "metrics": {
            "likes": pm.get("like_count", 0),
            "reposts": pm.get("retweet_count", 0),
            "replies": pm.get("reply_count", 0),
            "quotes": pm.get("quote_count", 0),
            "views": pm.get("impression_count", 0),
        },
    }
    for field, items, attr in (
        ("hashtags", entities.get("hashtags"), "tag"),
        ("mentions", entities.get("mentions"), "username"),
        ("links", entities.get("urls"), "expanded_url"),
    ):
        if isinstance(items, list):
            values = [i.get(attr) or i.get("url") for i in _objs(items)]
            mapped[field] = [v for v in values if isinstance(v, str) and v]
    return mapped


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "post"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def make_envelope(payload: dict[str, Any], *, source: str, received_at: datetime | None = None) -> bytes:
    """What sources write to `posts.raw`."""
    return orjson.dumps(
        {
            "envelope": ENVELOPE_VERSION,
            "source": source,
            "received_at": (received_at or utcnow()).isoformat(),
            "payload": payload,
        }
    )


def normalise(
    raw: bytes | str,
    *,
    max_text_chars: int = MAX_TEXT_CHARS_DEFAULT,
    max_message_bytes: int = MAX_MESSAGE_BYTES_DEFAULT,
    retention: Retention | None = None,
) -> Post:
    """Turn one `posts.raw` message into a canonical post, or raise `InvalidPost`.

    A message over `max_message_bytes` is refused: the post carries its raw payload through every
    later topic, and an oversized one would be refused by the broker mid-pipeline instead. So is a
    post older than the `retention`: storage would count it and its table's TTL drop it."""
    if len(raw) > max_message_bytes:
        raise InvalidPost(
            f"message of {len(raw)} bytes is over the {max_message_bytes}-byte limit for one post"
        )
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidPost(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise InvalidPost(f"expected a JSON object, got {type(message).__name__}")

    source = "unknown"
    received_at: datetime | None = None
    payload: Any = message
    if "envelope" in message:
        if message["envelope"] != ENVELOPE_VERSION:
            raise InvalidPost(f"unknown envelope version {message['envelope']!r}")
        payload = message.get("payload")
        source = str(message.get("source") or "unknown")
        try:
            received_at = parse_timestamp(message["received_at"]) if message.get("received_at") else None
        except ValueError as exc:
            raise InvalidPost(f"envelope.received_at: {exc}") from None
        if not isinstance(payload, dict):
            raise InvalidPost("envelope.payload must be a JSON object")

    raw_text = orjson.dumps(payload).decode()
    if "data" in payload and "platform" not in payload:
        payload = _from_x_v2(payload)
    try:
        item = PostIn.model_validate(payload)
    except ValidationError as exc:
        raise InvalidPost(_describe(exc)) from None
    post = post_from_input(
        item, source=source, received_at=received_at, raw=raw_text, max_text_chars=max_text_chars
    )
    if retention is not None:
        retention.check(post)
    return post


@dataclass(frozen=True, slots=True)
class Retention:
    """Posts are kept `days` days from their `created_at` (the tables' TTL); older ones are refused."""

    days: int
    now: datetime

    @property
    def oldest(self) -> datetime:
        return self.now - timedelta(days=self.days)

    def check(self, post: Post) -> None:
        if self.days and post.created_at < self.oldest:
            raise InvalidPost(
                f"created_at {post.created_at:%Y-%m-%d} is older than the {self.days}-day retention "
                f"(PANTAU_POSTS_TTL_DAYS; {self.oldest:%Y-%m-%d} and later are kept): storage would drop it. "
                "To backfill an archive, set PANTAU_BACKFILL=true with PANTAU_POSTS_TTL_DAYS=0"
            )

"""config/sources.yaml: validated at start-up, each error naming file, line and field."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from config.sources import SourcesConfigError, load_sources, parse_sources
from streams.connectors.feeds import plain_text
from streams.connectors.retry import backoff_seconds, retry_after_seconds

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "sources.yaml"

# A Telegram app's api_hash and a StringSession's shape (never real ones).
HASH = "0123456789abcdef0123456789abcdef"
SESSION = "1" + "AbCd" * 88
CHANNEL_SOURCE = (
    f"sources:\n  - name: k\n    kind: telegram_channel\n    api_id: 123456\n"
    f"    api_hash: {HASH}\n    session: {SESSION}\n"
)

GOOD = """
sources:
  - name: antara
    kind: feed
    urls:
      - https://example.org/politik.xml
      - https://example.org/${SECTION}.xml
    poll_seconds: 120
  - name: world
    kind: feed
    enabled: false
    urls: [https://example.com/world.atom]
    match: keywords
    keywords: [Indonesia, " Jakarta "]
  - name: langit
    kind: bluesky
    languages: [id, en]
  - name: toot
    kind: mastodon
    instance: https://social.example
    access_token: ${MASTODON_TOKEN}
    hashtags: ["#Pemilu2029", pilpres]
    public: true
  - name: grup
    kind: telegram_bot
    token: ${TELEGRAM_BOT_TOKEN}
  - name: x
    kind: x
    bearer_token: ${X_BEARER_TOKEN}
  - name: yt
    kind: youtube
    api_key: ${YOUTUBE_API_KEY}
    daily_quota: 5000
"""


def test_a_good_file_reads_with_environment_references() -> None:
    environ = {"SECTION": "pemilu", "MASTODON_TOKEN": "tok", "TELEGRAM_BOT_TOKEN": "123456:" + "x" * 30}
    config = parse_sources(GOOD, environ={**environ, "X_BEARER_TOKEN": "A" * 40, "YOUTUBE_API_KEY": "K" * 39})
    antara, world, sky, toot, group, x, yt = config.sources
    assert antara.endpoints == ("https://example.org/politik.xml", "https://example.org/pemilu.xml")
    assert [str(u) for u in antara.urls] == [
        "https://example.org/politik.xml",
        "https://example.org/pemilu.xml",
    ]
    assert antara.poll_seconds == 120 and antara.match == "watchlist" and antara.enabled
    assert world.keywords == ("Indonesia", "Jakarta") and not world.enabled
    assert (
        toot.kind == "mastodon" and toot.access_token == "tok" and toot.hashtags == ("Pemilu2029", "pilpres")
    )
    assert toot.endpoints == ("https://social.example/ #Pemilu2029 #pilpres +public",)
    assert group.kind == "telegram_bot" and group.match == "all" and group.poll_seconds == 50
    assert group.endpoints == ("https://api.telegram.org/ (bot 123456)",)
    assert x.kind == "x" and x.match == "all" and x.backfill
    assert x.endpoints == ("https://api.x.com/ filtered stream, watchlist rules",)
    assert yt.kind == "youtube" and yt.daily_quota == 5000 and yt.region == "ID" and yt.match == "all"
    assert config.enabled == (antara, sky, toot, group, x, yt)
    assert config.get("world") is world and config.get("nope") is None
    assert sky.kind == "bluesky" and sky.languages == ("id", "en")
    assert sky.endpoints == ("wss://jetstream2.us-east.bsky.network/subscribe",)


def test_the_shipped_file_is_valid_and_starts_nothing() -> None:
    """Its feeds are examples, commented: a fresh install reaches out to no one by itself."""
    assert load_sources(SHIPPED, environ={}).enabled == ()
    assert "feed" in SHIPPED.read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - name: a\n    kind: feed\n    urls: [ftp://x]\n",
            "s.yaml:4: sources.0.urls.0: URL scheme",
        ),
        ("sources:\n  - name: a\n    kind: feed\n    urls: []\n", "s.yaml:4: sources.0.urls: "),
        (
            "sources:\n  - name: a\n    kind: fax\n    urls: [https://x]\n",
            "s.yaml:3: sources.0.kind: Input tag 'fax' found using 'kind' does not match",
        ),
        ("sources:\n  - name: A b\n    kind: feed\n    urls: [https://x]\n", "s.yaml:2: sources.0.name: "),
        (
            "sources:\n  - name: a\n    kind: feed\n    urls: [https://x]\n    pol_seconds: 5\n",
            "s.yaml:5: sources.0.pol_seconds: Extra inputs",
        ),
        (
            "sources:\n  - name: a\n    kind: feed\n    urls: [https://x]\n    match: keywords\n",
            "s.yaml:2: sources.0: match: keywords needs at least one keyword",
        ),
        (
            "sources:\n  - {name: a, kind: feed, urls: ['https://x']}\n  - {name: a, kind: feed, urls: ['https://y']}\n",
            "s.yaml:2: sources: source names repeat: a",
        ),
        (
            "sources:\n  - name: a\n    kind: feed\n    urls: ['https://${NOPE}']\n",
            "s.yaml:4: environment variable NOPE",
        ),
        ("sources: [\n", "s.yaml:2: not valid YAML"),
        (
            "sources:\n  - name: g\n    kind: telegram_bot\n    token: "
            + "t" * 30
            + "\n    poll_seconds: 0\n",
            "s.yaml:5: sources.0.poll_seconds: Input should be greater than or equal to 1",
        ),
        (
            "sources:\n  - name: t\n    kind: mastodon\n    instance: https://x\n"
            "    hashtags: [pemilu 2029]\n",
            "s.yaml:5: sources.0.hashtags: a hashtag is letters, digits and _ only",
        ),
        (
            "sources:\n  - name: x\n    kind: x\n    bearer_token: " + "A" * 30 + "\n    max_rule_chars: 64\n"
            "    rules: ['" + "a " * 40 + "']\n",
            "s.yaml:2: sources.0: a rule is longer than max_rule_chars (64)",
        ),
        (
            "sources:\n  - name: langit\n    kind: bluesky\n    endpoint: https://x/subscribe\n",
            "s.yaml:4: sources.0.endpoint: a Jetstream endpoint is a ws:// or wss:// URL",
        ),
        (
            CHANNEL_SOURCE + "    channels:\n      - infopemilu\n      - ab\n",
            "s.yaml:9: sources.0.channels.1: 'ab' is not a public channel's username",
        ),
        (
            CHANNEL_SOURCE + "    channels: [infopemilu, 'https://t.me/+AbCdEfGh12']\n",
            "s.yaml:7: sources.0.channels.1: 'https://t.me/+AbCdEfGh12' is an invite link",
        ),
        (
            CHANNEL_SOURCE + "    channels: ['@InfoPemilu', 'https://t.me/infopemilu']\n",
            "s.yaml:7: sources.0.channels: channels repeat: infopemilu",
        ),
        (
            CHANNEL_SOURCE + "    channels: [infopemilu_]\n",
            "s.yaml:7: sources.0.channels.0: 'infopemilu_' is not a public channel's username",
        ),
        (
            CHANNEL_SOURCE.replace(HASH, "not-a-hash") + "    channels: [infopemilu]\n",
            "s.yaml:5: sources.0.api_hash: an api_hash is 32 hexadecimal characters",
        ),
        (
            CHANNEL_SOURCE.replace(SESSION, "1short") + "    channels: [infopemilu]\n",
            "s.yaml:6: sources.0.session: not a Telethon StringSession string",
        ),
        (
            CHANNEL_SOURCE + "    channels: [infopemilu]\n    poll_seconds: 1\n",
            "s.yaml:8: sources.0.poll_seconds: Input should be greater than or equal to 5",
        ),
    ],
)
def test_a_bad_entry_names_the_line_and_the_field(text: str, expected: str) -> None:
    with pytest.raises(SourcesConfigError) as caught:
        parse_sources(text, source="s.yaml", environ={})
    assert str(caught.value).startswith(expected), str(caught.value)


def test_an_empty_file_has_no_sources_and_a_missing_one_is_named(tmp_path: Path) -> None:
    assert parse_sources("", environ={}).sources == ()
    with pytest.raises(SourcesConfigError, match=r"nope\.yaml: cannot read"):
        load_sources(tmp_path / "nope.yaml", environ={})


def test_backoff_doubles_from_five_seconds_to_half_an_hour_with_jitter() -> None:
    rng = random.Random(1)
    for failures, base in [(1, 5.0), (2, 10.0), (3, 20.0), (10, 1800.0), (40, 1800.0)]:
        assert 0.5 * base <= backoff_seconds(failures, rng) < 1.5 * base


def test_retry_after_is_seconds_or_an_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Fri, 20 Nov 2026 08:01:30 GMT", now) == 90.0
    assert retry_after_seconds("Fri, 20 Nov 2026 07:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_summaries_lose_their_markup_not_their_text() -> None:
    assert (
        plain_text("<p>Harga <b>beras</b> naik&nbsp;lagi &amp; langka</p>\n<br/>")
        == "Harga beras naik lagi & langka"
    )
    assert plain_text("no markup") == "no markup" and plain_text("") == ""
    assert plain_text("<p>satu</p><p>dua<br>tiga</p>") == "satu dua tiga"


def test_what_logs_and_the_open_status_show_of_a_url_carries_no_secret() -> None:
    from config.sources import without_secrets

    assert without_secrets("https://u:pw@api.example:8443/v3/feed.xml?key=s3cret&q=x") == (
        "https://api.example:8443/v3/feed.xml"
    )
    assert without_secrets("http://news.example/rss") == "http://news.example/rss"
    tokened = parse_sources(
        "sources:\n  - {name: f, kind: feed, urls: ['https://news.example/rss?key=${KEY}']}\n",
        environ={"KEY": "s3cret"},
    )
    assert tokened.sources[0].endpoints == ("https://news.example/rss",)


def test_telegram_channels_take_usernames_and_links_and_never_show_the_secrets() -> None:
    text = """
sources:
  - name: kanal
    kind: telegram_channel
    api_id: ${TELEGRAM_API_ID}
    api_hash: ${TELEGRAM_API_HASH}
    session: ${TELEGRAM_SESSION}
    channels: ["@InfoPemilu", "https://t.me/KawalPilkada", "t.me/s/berita_kota", cekfakta2029]
"""
    environ = {"TELEGRAM_API_ID": "987654", "TELEGRAM_API_HASH": HASH, "TELEGRAM_SESSION": SESSION}
    (kanal,) = parse_sources(text, environ=environ).sources
    assert kanal.kind == "telegram_channel" and kanal.api_id == 987654
    assert kanal.channels == ("InfoPemilu", "KawalPilkada", "berita_kota", "cekfakta2029")
    assert kanal.poll_seconds == 20.0 and kanal.first_read == 50 and kanal.match == "all"
    assert kanal.endpoints == (
        "https://t.me/InfoPemilu",
        "https://t.me/KawalPilkada",
        "https://t.me/berita_kota",
        "https://t.me/cekfakta2029",
    )
    shown = " ".join([*kanal.endpoints, repr(kanal), str(kanal)])
    for secret in ("987654", HASH, SESSION):
        assert secret not in shown

    # A bad value next to the secrets is named without quoting any of them.
    with pytest.raises(SourcesConfigError) as caught:
        parse_sources(text.replace("cekfakta2029", "cek"), source="s.yaml", environ=environ)
    assert str(caught.value).startswith("s.yaml:8: sources.0.channels.3: 'cek' is not a public")
    for secret in ("987654", HASH, SESSION):
        assert secret not in str(caught.value)
    wrong_hash = {**environ, "TELEGRAM_API_HASH": "S3CRET-but-not-hex-S3CRET-S3CRET"}
    with pytest.raises(SourcesConfigError, match="api_hash") as caught:
        parse_sources(text, source="s.yaml", environ=wrong_hash)
    assert "S3CRET" not in str(caught.value)
    with pytest.raises(SourcesConfigError, match="environment variable TELEGRAM_SESSION is not set"):
        parse_sources(text, source="s.yaml", environ={**environ, "TELEGRAM_SESSION": ""})

"""Live sources: long-running collectors that feed `posts.raw` through the crash-safe path."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from config.sources import Source
from config.watchlist import Watchlist
from nlp.targets import TargetMatcher
from pantau import metrics
from pantau.bus import RawSink
from storage.positions import Positions
from streams.connectors.bluesky import JetstreamConnector
from streams.connectors.feeds import FeedConnector, keyword_filter
from streams.connectors.mastodon import MastodonConnector, watchlist_hashtags
from streams.connectors.telegram import TelegramBotConnector
from streams.connectors.telegram_channel import TelegramChannelConnector
from streams.connectors.x import XConnector, watchlist_rules
from streams.connectors.youtube import YouTubeConnector, watchlist_query

Connector = (
    FeedConnector
    | JetstreamConnector
    | MastodonConnector
    | TelegramBotConnector
    | TelegramChannelConnector
    | XConnector
    | YouTubeConnector
)


def post_filter(source: Source, watchlist: Watchlist) -> Callable[[str], bool]:
    """Which texts a source takes in: by default those naming a watchlist target (its aliases and
    hashtags) or one of the source's own keywords."""
    if source.match == "all":
        return lambda text: True
    if source.match == "keywords":
        return keyword_filter(source.keywords)
    matcher = TargetMatcher(watchlist)
    return keyword_filter(source.keywords, also=lambda text: bool(matcher.match(text)))


class CountingSink:
    """The sink, counting what a source hands on (a collector process normalises nothing itself)."""

    def __init__(self, name: str, sink: RawSink) -> None:
        self.name = name
        self.sink = sink

    async def send_many(self, values: Iterable[bytes]) -> int:
        sent = await self.sink.send_many(values)
        metrics.source_sent(self.name, sent)
        return sent


def build_connector(source: Source, sink: RawSink, positions: Positions, watchlist: Watchlist) -> Connector:
    accept = post_filter(source, watchlist)
    sink = CountingSink(source.name, sink)
    if source.kind == "bluesky":
        return JetstreamConnector(source, sink, positions, accept)
    if source.kind == "youtube":
        return YouTubeConnector(source, sink, positions, accept, source.query or watchlist_query(watchlist))
    if source.kind == "x":
        rules = (
            {f"pantau:rule-{i}": rule for i, rule in enumerate(source.rules)}
            if source.rules
            else watchlist_rules(watchlist, source.max_rule_chars)
        )
        return XConnector(source, sink, positions, accept, rules)
    if source.kind == "telegram_bot":
        return TelegramBotConnector(source, sink, positions, accept)
    if source.kind == "telegram_channel":
        return TelegramChannelConnector(source, sink, positions, accept)
    if source.kind == "mastodon":
        hashtags = source.hashtags or watchlist_hashtags(watchlist)
        return MastodonConnector(source, sink, positions, accept, hashtags)
    return FeedConnector(source, sink, positions, accept)

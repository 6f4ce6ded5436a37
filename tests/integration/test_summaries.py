"""The war-room summary queries against the real engine.

Expected numbers are worked out here, in Python, from the very posts the fixtures insert; every post
is also stored a second time behind the writer's back (a crash-window copy), which must not count.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from config.watchlist import Target, Watchlist
from pantau.domain import EnrichedPost, Enrichment, Metrics, Post, Sentiment, Stance, TargetStance
from storage.repository import POST_COLUMNS, ClickHouseStore, post_row
from storage.summaries import MAX_SPAN, SummaryQueries, TargetSummary

pytestmark = pytest.mark.integration

_ids = itertools.count(1)


def enriched(
    at: datetime,
    *,
    author: str = "u1",
    sentiment: Sentiment = Sentiment.neutral,
    targets: tuple[tuple[str, Stance], ...] = (),
    hashtags: tuple[str, ...] = (),
    terms: tuple[str, ...] = (),
    likes: int = 0,
) -> EnrichedPost:
    n = next(_ids)
    post = Post(
        id=f"x:{n}", platform="x", native_id=str(n), author_id=author, author_handle=author,
        text=f"post {n}", created_at=at, hashtags=hashtags, metrics=Metrics(likes=likes),
        received_at=at + timedelta(seconds=1), raw="{}",
    )  # fmt: skip
    enrichment = Enrichment(
        lang="id",
        sentiment=sentiment,
        sentiment_score=0.8,
        targets=tuple(TargetStance(target=t, stance=s, score=0.8) for t, s in targets),
        terms=terms,
        fingerprint=f"fp{n}",
        model="test",
    )
    return EnrichedPost(post=post, enrichment=enrichment, enriched_at=at + timedelta(seconds=2))


def store_twice(client: Client, posts: list[EnrichedPost]) -> None:
    """Store through the writer, then again around it: each post is in the table twice."""
    assert len(ClickHouseStore(client).insert_new_posts(posts)) == len(posts)
    client.insert("posts", [post_row(p) for p in posts], column_names=list(POST_COLUMNS))


# -- target summary -------------------------------------------------------------------------------

SINCE = datetime(2026, 11, 20, 12, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)
PREVIOUS_SINCE = SINCE - (UNTIL - SINCE)
MS = timedelta(milliseconds=1)
RAKA, SARI, BIMA = "raka-wibisana", "sari-lestari", "bima-hartono"
PNM, KPD, LISTRIK = "partai-nusantara-maju", "kartu-pangan-digital", "subsidi-listrik"

WATCHLIST = Watchlist(
    targets=(
        Target(id=PNM, kind="party", name="Partai Nusantara Maju", priority="normal"),
        Target(id=KPD, kind="policy", name="Kartu Pangan Digital", priority="normal"),
        Target(id=LISTRIK, kind="policy", name="Reformasi Subsidi Listrik", priority="normal"),
        Target(id=BIMA, kind="candidate", name="Bima Hartono", priority="high"),
        Target(id=SARI, kind="candidate", name="Sari Lestari", priority="high"),
        Target(id=RAKA, kind="candidate", name="Raka Wibisana", priority="critical"),
    )
)

neg, neu, pos = Sentiment.negative, Sentiment.neutral, Sentiment.positive
favor, against, none = Stance.favor, Stance.against, Stance.none
SUMMARY_POSTS = [
    # The range [SINCE, UNTIL), both ends exercised.
    enriched(SINCE, author="u1", sentiment=neg, targets=((RAKA, against),)),
    enriched(SINCE + timedelta(minutes=5), author="u2", sentiment=pos,
             targets=((RAKA, favor), (SARI, against), (PNM, favor))),
    enriched(SINCE + timedelta(minutes=10), author="u2", sentiment=neg,
             targets=((RAKA, against), (PNM, none))),
    enriched(SINCE + timedelta(minutes=20), author="u3", sentiment=neu,
             targets=((RAKA, none), (SARI, favor), (PNM, favor))),
    enriched(SINCE + timedelta(minutes=30), author="u4", sentiment=neg,
             targets=((SARI, against), (BIMA, favor), (PNM, against))),
    enriched(UNTIL - MS, author="u5", sentiment=pos, targets=((BIMA, favor),)),
    enriched(UNTIL, author="u6", sentiment=neg, targets=((RAKA, against),)),  # the next range's
    enriched(SINCE + timedelta(minutes=15), author="u9", sentiment=neg, targets=(("not-watched", against),)),
    # The previous range [SINCE - 1h, SINCE).
    enriched(SINCE - MS, author="u1", sentiment=neg, targets=((RAKA, against),)),
    enriched(SINCE - timedelta(minutes=30), author="u7", sentiment=pos, targets=((RAKA, favor),)),
    enriched(SINCE - timedelta(minutes=50), author="u7", sentiment=pos, targets=((RAKA, favor),)),
    enriched(SINCE - timedelta(minutes=10), author="u8", sentiment=neg, targets=((LISTRIK, against),)),
    enriched(PREVIOUS_SINCE, author="u8", sentiment=neu, targets=((SARI, none),)),
    # Before both ranges.
    enriched(PREVIOUS_SINCE - MS, author="u1", sentiment=neg, targets=((RAKA, against), (BIMA, against))),
]  # fmt: skip


@dataclass(frozen=True)
class Expected:
    posts: int
    authors: int
    sentiment: dict[str, float]
    stance: dict[str, float]
    negative_share: float | None


def expected_for(target: str, since: datetime, until: datetime) -> Expected:
    """What the summary should say about `target`, from the fixture posts themselves."""
    found = [
        (p.post.author_id, p.enrichment.sentiment, stance)
        for p in SUMMARY_POSTS
        for stance in (t.stance for t in p.enrichment.targets if t.target == target)
        if since <= p.post.created_at < until
    ]
    n = len(found)

    def share(count: int) -> float:
        return count / n if n else 0.0

    return Expected(
        posts=n,
        authors=len({author for author, _, _ in found}),
        sentiment={s.value: share(sum(1 for _, x, _ in found if x == s)) for s in Sentiment},
        stance={s.value: share(sum(1 for _, _, x in found if x == s)) for s in Stance},
        negative_share=share(sum(1 for _, x, _ in found if x == Sentiment.negative)) if n else None,
    )


@pytest.fixture
def summary_db(clickhouse: Client) -> Client:
    store_twice(clickhouse, SUMMARY_POSTS)
    return clickhouse


def by_target(targets: Iterable[TargetSummary]) -> dict[str, TargetSummary]:
    return {s.target: s for s in targets}


def test_shares_come_from_the_posts_in_the_range(summary_db: Client) -> None:
    page = SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST)
    assert (page.since, page.until) == (SINCE, UNTIL)
    found = by_target(page.targets)
    for target in (RAKA, SARI, BIMA, PNM):
        want = expected_for(target, SINCE, UNTIL)
        got = found[target]
        assert want.posts > 0, target
        assert (got.posts, got.authors) == (want.posts, want.authors), target
        assert got.sentiment.model_dump() == pytest.approx(want.sentiment), target
        assert got.stance.model_dump() == pytest.approx(want.stance), target
        assert sum(got.sentiment.model_dump().values()) == pytest.approx(1.0)
        assert sum(got.stance.model_dump().values()) == pytest.approx(1.0)


def test_stance_is_toward_each_target_not_the_post(summary_db: Client) -> None:
    # The post at +5 min favours Raka and is against Sari: each target sees its own stance.
    found = by_target(SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST).targets)
    assert found[RAKA].stance.favor == pytest.approx(expected_for(RAKA, SINCE, UNTIL).stance["favor"])
    assert found[SARI].stance.against == pytest.approx(expected_for(SARI, SINCE, UNTIL).stance["against"])
    assert found[RAKA].stance != found[SARI].stance


def test_a_post_stored_twice_counts_once(summary_db: Client) -> None:
    copies = summary_db.query(
        "SELECT count(), uniqExact(id) FROM post_targets WHERE target = {t:String}", parameters={"t": RAKA}
    ).result_rows[0]
    assert copies[0] == 2 * copies[1]  # both copies really are there, unmerged
    found = by_target(SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST).targets)
    assert found[RAKA].posts == expected_for(RAKA, SINCE, UNTIL).posts
    assert found[RAKA].posts_previous == expected_for(RAKA, PREVIOUS_SINCE, SINCE).posts


def test_since_is_inclusive_and_until_exclusive(summary_db: Client) -> None:
    found = by_target(SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST).targets)
    # Raka has a post at exactly SINCE (in) and one at exactly UNTIL (out); Bima one at UNTIL - 1 ms.
    assert found[RAKA].posts == expected_for(RAKA, SINCE, UNTIL).posts
    assert found[RAKA].posts != expected_for(RAKA, SINCE + MS, UNTIL).posts
    assert found[RAKA].posts != expected_for(RAKA, SINCE, UNTIL + MS).posts
    assert found[BIMA].posts == expected_for(BIMA, SINCE, UNTIL).posts
    assert found[BIMA].posts != expected_for(BIMA, SINCE, UNTIL - MS).posts
    # A bound finer than the stored milliseconds still means what it says.
    later = by_target(
        SummaryQueries(summary_db).target_summary(SINCE + timedelta(microseconds=1), UNTIL, WATCHLIST).targets
    )
    assert later[RAKA].posts == expected_for(RAKA, SINCE + MS, UNTIL).posts


def test_every_watched_target_is_listed_by_priority_then_volume(summary_db: Client) -> None:
    page = SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST)
    assert {s.target for s in page.targets} == {t.id for t in WATCHLIST.targets}  # not "not-watched"
    rank = {"critical": 3, "high": 2, "normal": 1, "low": 0}
    order = sorted(
        WATCHLIST.targets, key=lambda t: (-rank[t.priority], -expected_for(t.id, SINCE, UNTIL).posts, t.id)
    )
    assert [s.target for s in page.targets] == [t.id for t in order]
    # Partai Nusantara Maju has the most posts, yet comes after every higher-priority target.
    assert expected_for(PNM, SINCE, UNTIL).posts > expected_for(SARI, SINCE, UNTIL).posts
    found = by_target(page.targets)
    assert (found[RAKA].name, found[RAKA].priority) == ("Raka Wibisana", "critical")


def test_a_target_without_posts_is_listed_with_zeros(summary_db: Client) -> None:
    found = by_target(SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST).targets)
    empty = found[KPD]
    assert (empty.posts, empty.authors, empty.posts_previous) == (0, 0, 0)
    assert empty.sentiment.model_dump() == {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
    assert empty.stance.model_dump() == {"favor": 0.0, "against": 0.0, "none": 0.0}
    assert empty.negative_share_change is None


def test_negative_share_change_against_the_previous_range(summary_db: Client) -> None:
    found = by_target(SummaryQueries(summary_db).target_summary(SINCE, UNTIL, WATCHLIST).targets)
    for target in (RAKA, SARI):
        now, before = expected_for(target, SINCE, UNTIL), expected_for(target, PREVIOUS_SINCE, SINCE)
        assert now.negative_share is not None and before.negative_share is not None
        assert found[target].posts_previous == before.posts > 0
        change = now.negative_share - before.negative_share
        assert found[target].negative_share_change == pytest.approx(change)
    assert found[RAKA].negative_share_change != 0  # the fixture makes the change visible
    # Bima had nothing before (the post just before the previous range does not count).
    assert found[BIMA].posts_previous == 0 and found[BIMA].negative_share_change is None
    # Subsidi listrik had a post before and none now: no share now, so no change either.
    assert (found[LISTRIK].posts, found[LISTRIK].posts_previous) == (0, 1)
    assert found[LISTRIK].negative_share_change is None


def test_an_empty_watchlist_gives_an_empty_page(summary_db: Client) -> None:
    page = SummaryQueries(summary_db).target_summary(SINCE, UNTIL, Watchlist(targets=()))
    assert page.targets == []


@pytest.mark.parametrize(
    ("since", "until", "parameter"),
    [
        (UNTIL, SINCE, "since"),
        (SINCE, SINCE, "since"),
        (SINCE, SINCE + MAX_SPAN + MS, "until"),
    ],
)
def test_target_summary_refuses_bad_ranges(
    clickhouse: Client, since: datetime, until: datetime, parameter: str
) -> None:
    with pytest.raises(ValueError, match=f"^{parameter}"):
        SummaryQueries(clickhouse).target_summary(since, until, WATCHLIST)


def test_the_longest_range_is_allowed(clickhouse: Client) -> None:
    page = SummaryQueries(clickhouse).target_summary(SINCE, SINCE + MAX_SPAN, WATCHLIST)
    assert len(page.targets) == len(WATCHLIST.targets)


# -- emerging issues ------------------------------------------------------------------------------

NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)
WINDOW, BASELINE = timedelta(minutes=30), timedelta(hours=6)
RECENT_SINCE = NOW - WINDOW
MINUTE = timedelta(minutes=1)


def emerging_posts() -> list[EnrichedPost]:
    posts = [
        # #jump: two posts in the baseline (one of them also in a 3 h baseline), ten now from five accounts.
        enriched(NOW - timedelta(hours=5), author="j0", hashtags=("jump",)),
        enriched(NOW - timedelta(hours=2), author="j1", hashtags=("jump",)),
        enriched(RECENT_SINCE - BASELINE - MS, author="j2", hashtags=("jump",)),  # before the baseline
        *(
            enriched(RECENT_SINCE + i * 2 * MINUTE, author=f"j{i % 5}", hashtags=("jump",),
                     terms=("#jump", "jump", "harga"), sentiment=neg if i % 3 == 0 else neu, likes=i * 10)
            for i in range(10)
        ),
        enriched(NOW, author="j9", hashtags=("jump",)),  # the next window's
    ]  # fmt: skip
    # #steady: six posts per half hour, throughout.
    posts += [
        enriched(RECENT_SINCE - (k + 0.5) * 5 * MINUTE, author=f"s{k % 6}", hashtags=("steady",))
        for k in range(72)
    ]
    posts += [enriched(RECENT_SINCE + k * 5 * MINUTE, author=f"s{k}", hashtags=("steady",)) for k in range(6)]
    # #spam: thirty posts now, all from one account.
    posts += [enriched(RECENT_SINCE + k * MINUTE, author="bot", hashtags=("spam",)) for k in range(30)]
    # The term "banjir" (no hashtag): new, six posts from three accounts.
    posts += [
        enriched(RECENT_SINCE + (k + 1) * 3 * MINUTE, author=f"b{k % 3}", terms=("banjir",), sentiment=neg)
        for k in range(6)
    ]
    # #rare: real, but too few posts to be an issue yet.
    posts += [enriched(NOW - k * MINUTE, author=f"r{k}", hashtags=("rare",)) for k in (1, 2, 3)]
    return posts


EMERGING_POSTS = emerging_posts()


@dataclass(frozen=True)
class ExpectedIssue:
    kind: str
    key: str
    posts: int
    posts_previous: int
    growth: float
    authors: int
    negative_share: float
    sample_post_ids: list[str]


def issues_of(item: EnrichedPost) -> set[tuple[str, str]]:
    tags = set(item.post.hashtags)
    terms = {t for t in item.enrichment.terms if not t.startswith("#") and t not in tags}
    return {("hashtag", t) for t in tags} | {("term", t) for t in terms}


def expected_issues(
    window: timedelta, baseline: timedelta, min_posts: int = 5, min_authors: int = 3
) -> list[ExpectedIssue]:
    recent_since = NOW - window
    recent: dict[tuple[str, str], list[EnrichedPost]] = {}
    previous: dict[tuple[str, str], int] = {}
    for item in EMERGING_POSTS:
        at = item.post.created_at
        for issue in issues_of(item):
            if recent_since <= at < NOW:
                recent.setdefault(issue, []).append(item)
            elif recent_since - baseline <= at < recent_since:
                previous[issue] = previous.get(issue, 0) + 1
    found = []
    for (kind, key), items in recent.items():
        authors = len({i.post.author_id for i in items})
        if len(items) < min_posts or authors < min_authors:
            continue
        before = previous.get((kind, key), 0)
        # The most liked first, then the latest: what the query picks as samples.
        liked = sorted(
            items, key=lambda i: (-i.post.metrics.likes, -i.post.created_at.timestamp(), i.post.id)
        )
        found.append(
            ExpectedIssue(
                kind=kind,
                key=key,
                posts=len(items),
                posts_previous=before,
                growth=(len(items) + 1) / (before * (window / baseline) + 1),
                authors=authors,
                negative_share=sum(1 for i in items if i.enrichment.sentiment == neg) / len(items),
                sample_post_ids=[i.post.id for i in liked[:3]],
            )
        )
    return sorted(found, key=lambda e: (-e.growth, -e.posts, e.kind, e.key))


@pytest.fixture
def emerging_db(clickhouse: Client) -> Client:
    store_twice(clickhouse, EMERGING_POSTS)
    return clickhouse


def test_emerging_issues_rank_by_smoothed_growth(emerging_db: Client) -> None:
    got = SummaryQueries(emerging_db).emerging_issues(NOW)
    want = expected_issues(WINDOW, BASELINE)
    assert [(i.kind, i.key) for i in got] == [(e.kind, e.key) for e in want]
    for issue, expected in zip(got, want, strict=True):
        assert issue.model_dump() == {**expected.__dict__, "growth": pytest.approx(expected.growth),
                                      "negative_share": pytest.approx(expected.negative_share)}  # fmt: skip
    keys = [i.key for i in got]
    # The hashtag that jumped outranks the one that runs at its usual rate, though that has more posts.
    assert keys.index("jump") < keys.index("steady")
    assert {"spam", "rare"}.isdisjoint(keys)
    # A hashtag is not counted again as its own term.
    assert ("term", "jump") not in {(i.kind, i.key) for i in got}
    assert ("term", "banjir") in {(i.kind, i.key) for i in got}


def test_the_baseline_is_scaled_to_a_rate_per_window(emerging_db: Client) -> None:
    queries = SummaryQueries(emerging_db)
    for baseline in (BASELINE, timedelta(hours=3)):
        steady = next(i for i in queries.emerging_issues(NOW, baseline=baseline) if i.key == "steady")
        # Six posts now against six per half hour before: no growth, whatever the baseline's length.
        assert steady.growth == pytest.approx(1.0)
        assert steady.posts_previous == next(
            e.posts_previous for e in expected_issues(WINDOW, baseline) if e.key == "steady"
        )
    three = timedelta(hours=3)
    six_hours = next(i for i in queries.emerging_issues(NOW) if i.key == "jump")
    three_hours = next(i for i in queries.emerging_issues(NOW, baseline=three) if i.key == "jump")
    assert (six_hours.posts_previous, three_hours.posts_previous) == (2, 1)
    assert three_hours.growth == pytest.approx(
        next(e.growth for e in expected_issues(WINDOW, three) if e.key == "jump")
    )


def test_one_account_cannot_make_an_issue(emerging_db: Client) -> None:
    queries = SummaryQueries(emerging_db)
    assert "spam" not in {i.key for i in queries.emerging_issues(NOW)}
    # It is the author bar that keeps it out: without one, the most posted hashtag comes first.
    assert queries.emerging_issues(NOW, min_authors=1)[0].key == "spam"


def test_post_and_author_minimums_and_limit(emerging_db: Client) -> None:
    queries = SummaryQueries(emerging_db)
    assert "rare" in {i.key for i in queries.emerging_issues(NOW, min_posts=3)}
    assert [(i.kind, i.key) for i in queries.emerging_issues(NOW, limit=2)] == [
        (e.kind, e.key) for e in expected_issues(WINDOW, BASELINE)[:2]
    ]
    assert queries.emerging_issues(NOW, min_posts=11) == []


def test_no_issues_in_an_empty_database(clickhouse: Client) -> None:
    assert SummaryQueries(clickhouse).emerging_issues(NOW) == []


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"window": timedelta(0)}, "window"),
        ({"baseline": -MINUTE}, "baseline"),
        ({"baseline": MAX_SPAN}, "baseline"),
        ({"min_posts": 0}, "min_posts"),
        ({"min_authors": 0}, "min_authors"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
    ],
)
def test_emerging_issues_refuses_bad_arguments(
    clickhouse: Client, arguments: dict[str, object], parameter: str
) -> None:
    with pytest.raises(ValueError, match=f"^{parameter}"):
        SummaryQueries(clickhouse).emerging_issues(NOW, **arguments)  # type: ignore[arg-type]

"""The ClickHouse repository against the real engine: batches the server refuses in part."""

from __future__ import annotations

from datetime import timedelta

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from pantau.domain import EnrichedPost, Enrichment, IssueStatus, Metrics, Post, Sentiment, SignalKind, utcnow
from storage.repository import ClickHouseStore
from tests.integration.harness import utc

START = utc(2026, 1, 1)


def enriched(native_id: str, days: int = 0, likes: int = 0) -> EnrichedPost:
    now = utcnow()
    post = Post(
        id=f"x:{native_id}", platform="x", native_id=native_id, author_id="a", author_handle="a",
        text="teks", created_at=START + timedelta(days=days), received_at=now,
    )  # fmt: skip
    if likes:
        # A count the domain model would refuse: how a bug upstream would look to the store.
        post = post.model_copy(update={"metrics": Metrics.model_construct(likes=likes)})
    enrichment = Enrichment(lang="id", sentiment=Sentiment.neutral, sentiment_score=0.5)
    return EnrichedPost(post=post, enrichment=enrichment, enriched_at=now)


def test_a_batch_spanning_months_is_stored_in_one_go(clickhouse: Client) -> None:
    store = ClickHouseStore(clickhouse)
    items = [enriched(str(i), days=i) for i in range(150)]  # 150 daily partitions
    assert len(store.insert_new_posts(items)) == 150
    assert clickhouse.command("SELECT count() FROM posts") == 150


def test_posts_the_server_refuses_are_isolated_and_the_rest_stored(clickhouse: Client) -> None:
    store = ClickHouseStore(clickhouse)
    items = [enriched(str(i)) for i in range(10)]
    items[3] = enriched("bad-3", likes=2**32)
    items[7] = enriched("bad-7", likes=2**40)
    new, refused = store.insert_new_posts_isolating(items)
    assert sorted(i.post.id for i in new) == sorted(i.post.id for i in items if "bad" not in i.post.id)
    assert [i.post.id for i, _ in refused] == ["x:bad-3", "x:bad-7"]
    assert all("ClickHouse refused the post" in reason for _, reason in refused)
    assert clickhouse.command("SELECT count() FROM posts") == 8
    # A second delivery of the same batch stores nothing new and refuses the same two.
    again_new, again_refused = store.insert_new_posts_isolating(items)
    assert again_new == [] and len(again_refused) == 2


class FailingClient:
    """A ClickHouse client whose inserts fail the way an overloaded server answers."""

    def __init__(self, message: str) -> None:
        self.message = message

    def query(self, *args: object, **kwargs: object) -> object:
        return type("Result", (), {"result_rows": []})()

    def insert(self, *args: object, **kwargs: object) -> None:
        from clickhouse_connect.driver.exceptions import DatabaseError

        raise DatabaseError(self.message)


@pytest.mark.parametrize(
    "message",
    [
        "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower",
        "Code: 241. DB::Exception: Memory limit (total) exceeded",
        "HTTPDriver for http://clickhouse:8123 received ClickHouse error code 502",
    ],
)
def test_a_server_that_is_struggling_is_retried_not_blamed_on_the_posts(message: str) -> None:
    store = ClickHouseStore(FailingClient(message))  # type: ignore[arg-type]
    with pytest.raises(DatabaseError):
        store.insert_new_posts_isolating([enriched(str(i)) for i in range(4)])


def test_an_issue_keeps_its_newest_version_and_each_post_once(clickhouse: Client) -> None:
    from tests.unit.test_issue_alerts import facet, issue

    store = ClickHouseStore(clickhouse)
    first = issue(facet(SignalKind.volume_burst), posts=12)
    grown = first.model_copy(update={"posts": 40, "status": IssueStatus.closed})
    now = utcnow()
    store.upsert_issues([grown], at=now)
    store.upsert_issues([first], at=now - timedelta(seconds=5))  # an older version, written late
    stored = store.stored_issue(first.id)
    assert stored == grown
    assert store.stored_issue("no-such-issue") is None
    joined = [(first.id, f"x:{n}", now - timedelta(minutes=n), now) for n in range(3)]
    store.insert_issue_posts(joined)
    store.insert_issue_posts(joined[:2])  # a checkpoint stored again after a crash
    rows = clickhouse.query(
        "SELECT post_id, created_at FROM issue_posts FINAL WHERE issue_id = {id:String} ORDER BY post_id",
        parameters={"id": first.id},
    ).result_rows
    assert [r[0] for r in rows] == ["x:0", "x:1", "x:2"]
    kinds = clickhouse.query(
        "SELECT signal_kinds FROM issues FINAL WHERE id = {id:String}", parameters={"id": first.id}
    ).result_rows
    assert kinds == [(["volume_burst"],)]

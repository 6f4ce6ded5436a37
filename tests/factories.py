"""Records the tests build again and again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pantau.domain import Issue, IssueStatus, Post, utcnow

WHEN = datetime(2026, 11, 20, 12, tzinfo=UTC)


def make_post(text: str, n: int = 1, lang: str = "", when: datetime = WHEN) -> Post:
    """A canonical post from account `a` with id `x:<n>`."""
    return Post(
        id=f"x:{n}",
        platform="x",
        native_id=str(n),
        author_id="a",
        author_handle="a",
        text=text,
        lang=lang,
        created_at=when,
        received_at=when,
    )


def make_issue(
    issue_id: str, *, posts: int, growth: float, targets: tuple[str, ...] = (), hours_ago: float = 0.5
) -> Issue:
    """An issue last active `hours_ago` (live under five hours, closed after), labelled by its id."""
    at = utcnow() - timedelta(hours=hours_ago)
    return Issue(
        id=issue_id,
        status=IssueStatus.live if hours_ago < 5 else IssueStatus.closed,
        label=(f"#{issue_id}", "kartu pangan"),
        targets=targets,
        first_post_at=at - timedelta(hours=1),
        opened_at=at - timedelta(minutes=50),
        last_activity=at,
        posts=posts,
        accounts=posts,
        voices=posts,
        reposts=0,
        rate_per_hour=float(posts),
        baseline_per_hour=1.0,
        growth=growth,
        scale_seconds=60,
    )

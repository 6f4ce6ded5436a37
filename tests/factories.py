"""Records the tests build again and again."""

from __future__ import annotations

from datetime import UTC, datetime

from pantau.domain import Post

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

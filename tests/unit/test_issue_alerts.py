"""One alert per issue: what the issue's events do to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.issues import ISSUE, apply_issue, issue_severity, leading_kind
from alerts.lifecycle import PANTAU, acknowledge, resolve
from config.settings import DEFAULT_WATCHLIST
from config.watchlist import load_watchlist
from pantau.domain import AlertStatus, Issue, IssueFacet, IssueStatus, Severity, SignalKind

WATCHLIST = load_watchlist(DEFAULT_WATCHLIST)
T0 = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def facet(kind: SignalKind, key_kind: str = "hashtag", key: str = "kpdbocor", **numbers: float) -> IssueFacet:
    return IssueFacet(
        signal_id=f"{kind}-{key}",
        kind=kind,
        key_kind=key_kind,
        key=key,
        window_start=T0,
        window_end=T0 + timedelta(minutes=1),
        numbers=numbers or {"ratio": 4.0, "count": 20.0},
    )


def issue(*facets: IssueFacet, posts: int = 25, targets: tuple[str, ...] = ()) -> Issue:
    return Issue(
        id="iss1",
        status=IssueStatus.live,
        label=("#KPDBocor", "kartu pangan", "data"),
        targets=targets,
        first_post_at=T0,
        first_posts=("x:1", "x:2"),
        opened_at=T0 + timedelta(minutes=1),
        paged_at=T0 + timedelta(minutes=2),
        last_activity=T0 + timedelta(minutes=5),
        posts=posts,
        accounts=posts,
        voices=posts - 2,
        reposts=2,
        rate_per_hour=120.0,
        baseline_per_hour=10.0,
        growth=4.0,
        scale_seconds=60,
        representatives=("x:3", "x:1"),
        samples=("Data penerima Kartu Pangan Digital bocor",),
        facets=facets or (facet(SignalKind.volume_burst),),
    )


def test_an_opened_issue_is_one_alert_keyed_by_the_issue_and_named_by_its_label() -> None:
    alert = apply_issue(None, "opened", issue(), now=T0, watchlist=WATCHLIST)
    assert alert is not None
    assert (alert.key_kind, alert.key, alert.fingerprint) == (ISSUE, "iss1", "iss1")
    assert alert.title.startswith("Issue: #KPDBocor · kartu pangan · data")
    assert alert.labels["issue"] == "iss1" and alert.labels["kind"] == "volume_burst"
    assert alert.evidence == ("x:3", "x:1", "x:2")
    assert alert.details["label"] == "#KPDBocor, kartu pangan, data"


def test_an_update_keeps_the_desks_work_and_never_lowers_severity() -> None:
    opened = apply_issue(None, "opened", issue(), now=T0, watchlist=WATCHLIST)
    assert opened is not None
    acked = acknowledge(opened, by="desk", now=T0 + timedelta(minutes=3))
    wave = facet(SignalKind.coordinated_posting, "text", "c1", accounts=24.0, threshold_accounts=8.0)
    bigger = issue(facet(SignalKind.volume_burst), wave, posts=200, targets=("raka-wibisana",))
    updated = apply_issue(acked, "updated", bigger, now=T0 + timedelta(minutes=10), watchlist=WATCHLIST)
    assert updated is not None and updated.id == opened.id
    assert updated.status == AlertStatus.acknowledged and updated.acked_by == "desk"
    assert updated.kind == SignalKind.coordinated_posting  # the most telling facet names its kind
    assert updated.severity == Severity.critical  # a large wave about a critical target
    assert "about Raka Wibisana" in updated.title
    smaller = apply_issue(updated, "updated", issue(), now=T0 + timedelta(minutes=11), watchlist=WATCHLIST)
    assert smaller is not None and smaller.severity == Severity.critical


def test_a_merge_or_a_quiet_issue_resolves_its_alert_by_pantau() -> None:
    opened = apply_issue(None, "opened", issue(), now=T0, watchlist=WATCHLIST)
    merged = issue().model_copy(update={"merged_into": "iss0", "status": IssueStatus.closed})
    resolved = apply_issue(opened, "merged", merged, now=T0 + timedelta(hours=1), watchlist=WATCHLIST)
    assert resolved is not None and resolved.status == AlertStatus.resolved
    assert resolved.resolved_by == PANTAU and resolved.details["merged_into"] == "iss0"
    assert apply_issue(resolved, "closed", issue(), now=T0, watchlist=WATCHLIST) is None
    assert apply_issue(None, "closed", issue(), now=T0, watchlist=WATCHLIST) is None


def test_an_issue_back_reopens_pantaus_resolution_but_not_a_persons() -> None:
    opened = apply_issue(None, "opened", issue(), now=T0, watchlist=WATCHLIST)
    assert opened is not None
    quiet = apply_issue(opened, "closed", issue(), now=T0 + timedelta(hours=7), watchlist=WATCHLIST)
    back = apply_issue(quiet, "updated", issue(posts=80), now=T0 + timedelta(hours=8), watchlist=WATCHLIST)
    assert back is not None and back.id == opened.id and back.status == AlertStatus.open
    assert back.resolved_by == "" and back.resolved_at is None and back.numbers["posts"] == 80
    by_hand = resolve(opened, by="desk", now=T0 + timedelta(hours=1))
    again = apply_issue(by_hand, "updated", issue(posts=80), now=T0 + timedelta(hours=8), watchlist=WATCHLIST)
    assert again is not None and again.id != opened.id and again.fingerprint == opened.fingerprint
    assert again.status == AlertStatus.open


def test_severity_and_kind_follow_the_facets_and_targets() -> None:
    small = issue(posts=12)
    assert issue_severity(small, WATCHLIST) == Severity.info
    assert issue_severity(issue(posts=12, targets=("sari-lestari",)), WATCHLIST) == Severity.warning
    assert issue_severity(issue(posts=150), WATCHLIST) == Severity.warning
    shift = facet(SignalKind.stance_shift, "target", "sari-lestari", share_before=0.2, share_after=0.6)
    assert leading_kind(issue(facet(SignalKind.volume_burst), shift)) == SignalKind.stance_shift
    assert leading_kind(issue(facet(SignalKind.emerging_topic, "topic", "t1"))) == SignalKind.emerging_topic

"""How well a stream becomes one named alert per real-world event: the figures of `pantau eval issues`.

The input is what the desk would have been paged with (`Page`: when, under which label, about
which posts) and the truth (each post's event, "" for background; each event's keywords and
onset). Definitions, fixed before any tracker was tuned:

- A page **matches** an event when more than `majority` of its posts that the truth knows are
  that event's posts. A page whose posts are mostly background, or split, matches none.
- An event is **found** when at least one page matches it.
- **Alerts per found event**: pages that match some event / events found (1.0 is the goal: one
  alert per event).
- **Labels naming the event**: among matching pages, the share whose label shares a word with the
  event's keywords or name (folded, '#' dropped, words of three letters or more).
- **Delay**: per found event, the first matching page's time minus the event's onset, in minutes.
- **Delay floor**: per event, from its onset to the moment it has `min_posts` posts from
  `min_accounts` accounts: no tracker that waits for that much can page sooner. Its median says how
  much of the delay is the stream's (a thin sample) and how much the detectors'.
- **Delay over the floor**: per event found, its delay minus its floor: the detectors' own share.
- **Unmatched pages per quiet day**: pages matching no event, paged on a quiet day, per quiet day.
  A quiet day is a UTC calendar day with no event onset on it or on the day before. Also given
  per day of the whole stream.

Pure: no I/O, no printing.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from detectors.issue_streams import EventRow
from pantau.folding import fold

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Page:
    """One alert as the desk received it."""

    id: str
    at: datetime
    label: tuple[str, ...]
    posts: tuple[str, ...]


def words(text: str) -> set[str]:
    folded = fold(text)
    return {w for w in _WORD.findall(folded) if len(w) >= 3}


def event_words(event: EventRow) -> set[str]:
    found = words(event.name)
    for keyword in event.keywords:
        found |= words(keyword)
    return found


def matched_event(page: Page, truth: Mapping[str, str], majority: float = 0.5) -> str:
    """The event most of the page's known posts belong to, or "" (background or split)."""
    known = Counter(truth[p] for p in page.posts if p in truth)
    total = sum(known.values())
    if not total:
        return ""
    event, count = known.most_common(1)[0]
    return event if event and count / total > majority else ""


def quiet_days(events: Sequence[EventRow], first: datetime, last: datetime) -> set[date]:
    busy = {e.onset.date() for e in events} | {(e.onset + timedelta(days=1)).date() for e in events}
    day, days = first.date(), set()
    while day <= last.date():
        if day not in busy:
            days.add(day)
        day += timedelta(days=1)
    return days


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def score_pages(
    pages: Sequence[Page],
    truth: Mapping[str, str],
    events: Sequence[EventRow],
    *,
    first: datetime,
    last: datetime,
    majority: float = 0.5,
) -> dict[str, Any]:
    in_stream = {e for e in truth.values() if e}
    known_events = [e for e in events if e.event in in_stream]
    by_event: dict[str, list[Page]] = {}
    unmatched: list[Page] = []
    for page in pages:
        name = matched_event(page, truth, majority)
        if name:
            by_event.setdefault(name, []).append(page)
        else:
            unmatched.append(page)
    named = 0
    delays: dict[str, float] = {}
    for event in known_events:
        matching = by_event.get(event.event, [])
        if not matching:
            continue
        keywords = event_words(event)
        named += sum(1 for page in matching if any(words(item) & keywords for item in page.label))
        first_page = min(matching, key=lambda p: p.at)
        delays[event.event] = round((first_page.at - event.onset).total_seconds() / 60, 1)
    matched_pages = sum(len(by_event.get(e.event, [])) for e in known_events)
    quiet = quiet_days(known_events, first, last)
    days = max(1.0, (last - first).total_seconds() / 86400)
    delay_values = list(delays.values())
    return {
        "events": len(known_events),
        "events_found": len(delays),
        "found_share": round(len(delays) / len(known_events), 3) if known_events else None,
        "alerts": len(pages),
        "alerts_per_found_event": round(matched_pages / len(delays), 3) if delays else None,
        "labels_naming_event": round(named / matched_pages, 3) if matched_pages else None,
        "delay_minutes_median": statistics.median(delay_values) if delay_values else None,
        "delay_minutes_p90": _percentile(delay_values, 0.9),
        "unmatched_alerts": len(unmatched),
        "unmatched_per_quiet_day": (
            round(sum(1 for p in unmatched if p.at.date() in quiet) / len(quiet), 3) if quiet else None
        ),
        "unmatched_per_day": round(len(unmatched) / days, 3),
        "quiet_days": len(quiet),
        "missed_events": sorted(e.event for e in known_events if e.event not in delays),
        "per_event": {
            event: {"alerts": len(by_event.get(event, [])), "delay_minutes": delay}
            for event, delay in sorted(delays.items())
        },
    }


def delay_floor(
    posts: Sequence[tuple[str, datetime, str]],
    truth: Mapping[str, str],
    events: Sequence[EventRow],
    *,
    min_posts: int,
    min_accounts: int,
) -> dict[str, Any]:
    """Minutes from each event's onset until `min_posts` of its posts from `min_accounts` accounts
    exist (posts: id, time, author); an event that never gets there has no floor."""
    by_event: dict[str, list[tuple[datetime, str]]] = {}
    for post_id, at, author in posts:
        name = truth.get(post_id, "")
        if name:
            by_event.setdefault(name, []).append((at, author))
    floors: dict[str, float] = {}
    for event in events:
        count, authors = 0, set()
        for at, author in sorted(by_event.get(event.event, [])):
            if at < event.onset:
                continue
            count += 1
            authors.add(author)
            if count >= min_posts and len(authors) >= min_accounts:
                floors[event.event] = round((at - event.onset).total_seconds() / 60, 1)
                break
    values = list(floors.values())
    return {
        "delay_floor_minutes_median": statistics.median(values) if values else None,
        "delay_floor_minutes_p90": _percentile(values, 0.9),
        "per_event": dict(sorted(floors.items())),
    }


def delay_over_floor(scores: Mapping[str, Any], floor: Mapping[str, Any]) -> dict[str, Any]:
    """Per event found and with a floor: its delay minus its floor, in minutes. The median says how
    long the pages wait beyond what the stream allows; the delay alone mixes that with the data's
    thinness."""
    floors = floor["per_event"]
    over = {
        event: round(row["delay_minutes"] - floors[event], 1)
        for event, row in scores["per_event"].items()
        if event in floors
    }
    values = list(over.values())
    return {
        "over_floor_minutes_median": statistics.median(values) if values else None,
        "over_floor_minutes_p90": _percentile(values, 0.9),
        "per_event": dict(sorted(over.items())),
    }

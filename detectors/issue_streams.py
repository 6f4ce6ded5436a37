"""Dev data for the issue evaluation: post streams with many real-world events and their ground truth.

`pantau eval issues` asks whether Pantau turns a stream of posts into one alert per real-world event
(an "issue"). That needs a stream in Pantau's ingest format in which every post is known to belong to
one event or to none, and a table of the events. This module builds one from CrisisLex T26 and writes
and reads the three files the evaluation takes:

- `stream.jsonl`: one post a line, in the shape `POST /ingest` and `pantau replay` accept
  (`pantau.normalise.PostIn`), sorted by `created_at`;
- `truth.csv` (`post_id,event`): the post id as Pantau stores it (`x:<native id>`) and its event,
  or an empty event for a background post;
- `events.csv` (`event,name,onset,keywords`): each event's id, display name, onset (ISO UTC) and
  keywords joined by `|`.

How the CrisisLex stream is made (`build_crisislex_stream`), all of it fixed by the seed:

- **Event posts** are each event's labelled tweets marked related ("Related and informative",
  "Related - but not informative"). Each keeps its real time relative to its event's onset (the
  start of the first ten-minute bin whose count of related tweets reaches 10% of the busiest bin's
  and 3 tweets, `fine_onset`); tweets more than 12 h before the onset or more than 7 days after it
  are dropped. Event i (ordered by real onset) has its onset at `base + i * spacing_hours` plus its
  real hour of day, on one synthetic timeline, so the real rise and decay of each event are kept,
  events overlap in their tails, and no real date (2012-2013) reaches the output.
- **Background posts** are the tweets labelled "Not related" or "Not applicable" (from every event)
  and, when given, the airline tweets. Their times are drawn afresh over the whole timeline (two
  days before the first event post to a day after the last) at a diurnal rate proportional to
  `1 + 0.8 sin` over the hour of day, peaking at 15:00 UTC.
- **Authors** are synthesised: each event, and the background, has a pool of about 0.7 accounts per
  post drawn from with Zipf-like weights (a few accounts post often, most once or twice); one post
  in ten comes from a pool shared by everything, so some accounts take part in several events.
  Account ids are random, so an id says nothing about the event; the handle is derived from the id.
- **Reposts**: a text starting `RT @name:` gets `repost_of` = the native id of the earliest earlier
  post of the same event (or of the background) whose text is the retweet's body, compared
  lowercased with whitespace collapsed; a body truncated with `...` or `…` matches a text it is a
  prefix of (at least 30 characters). Unmatched retweets keep no `repost_of`. Texts stay as posted.
- **Ids** are a large base plus the post's rank in time, platform `x`: unique, increasing with time,
  and silent about the event. `lang` is `en` for the airline tweets and empty (unknown: Pantau
  detects it) for CrisisLex, which has Spanish, Italian, Portuguese and other tweets too.

Known limits: the labelled tweets are a sample of about 1,000 per event spread over weeks, so the
volumes are small (a peak hour of 9 to 372 related tweets) and the 10% onset of a sparse event can
be early. Each onset keeps its real hour of day (UTC) after `base + i * spacing`.
The accounts are invented: who posts is realistic in
shape only. The background is unrelated to every event by its label, but the CrisisLex part of it was
collected with the events' keywords, so some of it names their places.

Everything here is pure (no printing, no hard-coded paths); files come in as arguments.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from detectors.evaluation import parse_hour, read_events
from pantau.domain import as_utc
from pantau.tables import TableError, parse_cells, read_table

LABELLED_FILE = "crisislex_t26_labeled.csv.gz"
EVENT_TABLE_FILE = "events.csv"
LABELLED_COLUMNS = ("event", "tweet_id", "created_at", "text", "informativeness")
AIRLINE_COLUMNS = ("text",)
RELATED = frozenset({"Related and informative", "Related - but not informative"})
UNRELATED = frozenset({"Not related", "Not applicable"})

BACKGROUND = ""  # the truth event of a post that belongs to no event
PLATFORM = "x"
BASE = datetime(2026, 1, 5, tzinfo=UTC)
FIRST_NATIVE_ID = 1_880_000_000_000_000_000
ACCOUNT_ID_RANGE = (1_000_000_000, 10_000_000_000)
DIURNAL_PEAK_HOUR = 15.0  # UTC

STREAM_FILE = "stream.jsonl"
TRUTH_FILE = "truth.csv"
EVENTS_FILE = "events.csv"
TRUTH_COLUMNS = ("post_id", "event")
ISSUE_EVENT_COLUMNS = ("event", "name", "onset", "keywords")

RETWEET_PREFIX = re.compile(r"^RT @\w+:?\s*")
TRUNCATION_MARKS = ("...", "…")
MIN_TRUNCATED_MATCH = 30


@dataclass(frozen=True)
class EventRow:
    """One event of a stream: its id (the truth table's `event`), display name, keywords, onset."""

    event: str
    name: str
    keywords: tuple[str, ...]
    onset: datetime


@dataclass(frozen=True)
class IssueStream:
    """Posts in ingest format (sorted by time), their truth (`(post id, event or "")`), the events."""

    posts: list[dict[str, Any]]
    truth: list[tuple[str, str]]
    events: list[EventRow]
    dropped_event_posts: int = 0  # related tweets outside [onset - 12 h, onset + 7 d]


@dataclass(frozen=True)
class LabelledTweet:
    event: str
    tweet_id: str
    at: datetime
    text: str
    informativeness: str


@dataclass
class _Draft:
    """A post before it has its id: when, what, whose, and which event (or "") it belongs to."""

    at: datetime
    order: int  # a stable tie-break between posts of the same second
    text: str
    event: str
    lang: str
    author: tuple[str, str] = ("", "")
    repost_of: int | None = None  # index of the reposted draft, once sorted


# -- reading the sources ------------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (`Z` allowed) as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def read_labelled(path: Path) -> list[LabelledTweet]:
    """CrisisLex T26's labelled tweets (gzipped or not), in file order."""
    rows = read_table(path, LABELLED_COLUMNS, what="CrisisLex T26 labelled tweets")
    return parse_cells(
        path,
        rows,
        lambda row: LabelledTweet(
            event=row["event"],
            tweet_id=row["tweet_id"],
            at=parse_time(row["created_at"]),
            text=row["text"],
            informativeness=row["informativeness"].strip(),
        ),
    )


def read_texts(path: Path) -> list[str]:
    """The non-blank `text` cells of a CSV (the airline tweets), in file order."""
    rows = read_table(path, AIRLINE_COLUMNS, what="tweets")
    return [row["text"] for row in rows if row["text"].strip()]


def event_keywords(keywords: Iterable[str], name: str) -> tuple[str, ...]:
    """The table's keywords, then the words of the display name, as spelt, without repeats."""
    words = [k.strip() for k in keywords if k.strip()] + name.split()
    return tuple(dict.fromkeys(words))


def fine_onset(
    times: Sequence[datetime], *, bin_minutes: int = 10, fraction: float = 0.1, min_posts: int = 3
) -> datetime:
    """The start of the first `bin_minutes` bin whose count reaches `fraction` of the busiest bin's
    and `min_posts` (or the busiest bin's count, if lower). The labelled tweets have exact times, so
    the onset is known to ten minutes, not to the hour (an hourly onset starts the clock up to an
    hour before the first tweet: a quake at 14:42 would have its onset at 14:00)."""
    width = timedelta(minutes=bin_minutes)
    base = datetime(1970, 1, 1, tzinfo=as_utc(times[0]).tzinfo)
    counts = Counter(base + width * ((as_utc(t) - base) // width) for t in times)
    peak = max(counts.values())
    threshold = max(fraction * peak, min(min_posts, peak))
    return min(start for start, n in counts.items() if n >= threshold)


# -- the synthetic parts -------------------------------------------------------------------------------


def diurnal_rate(at: datetime, *, amplitude: float = 0.8, peak_hour: float = DIURNAL_PEAK_HOUR) -> float:
    """The relative background rate at `at`: `1 + amplitude * sin`, highest at `peak_hour` UTC."""
    hour = at.hour + at.minute / 60 + at.second / 3600
    return 1 + amplitude * math.sin(2 * math.pi * (hour - peak_hour + 6) / 24)


def draw_diurnal_times(
    rng: random.Random, start: datetime, end: datetime, n: int, *, amplitude: float = 0.8
) -> list[datetime]:
    """`n` whole-second times in [start, end] at a rate following `diurnal_rate` (rejection sampling)."""
    span = int((end - start).total_seconds())
    if span < 0:
        raise ValueError("the background span ends before it starts")
    ceiling = 1 + abs(amplitude)
    times: list[datetime] = []
    while len(times) < n:
        at = start + timedelta(seconds=rng.randint(0, span))
        if rng.random() * ceiling < diurnal_rate(at, amplitude=amplitude):
            times.append(at)
    return times


class _Accounts:
    """Synthetic accounts: random distinct ids, a handle derived from each, drawn from pools."""

    def __init__(self, rng: random.Random, total: int) -> None:
        low, high = ACCOUNT_ID_RANGE
        self._ids = iter(rng.sample(range(low, high), total))

    def pool(self, size: int) -> list[tuple[str, str]]:
        accounts = []
        for _ in range(max(1, size)):
            account_id = next(self._ids)
            accounts.append((str(account_id), handle_for(account_id)))
        return accounts


def handle_for(account_id: int) -> str:
    """A handle that is a function of the id alone (its base-36 digits)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while account_id:
        account_id, rest = divmod(account_id, 36)
        out = digits[rest] + out
    return f"u_{out or '0'}"


def _zipf_cumulative(size: int, exponent: float) -> list[float]:
    return list(accumulate(1 / (rank + 1) ** exponent for rank in range(size)))


def assign_authors(
    rng: random.Random,
    groups: Sequence[Sequence[_Draft]],
    *,
    accounts_per_post: float = 0.7,
    shared_share: float = 0.1,
    shared_accounts: int = 300,
    zipf_exponent: float = 0.5,
) -> None:
    """Give every draft an author: from its group's own pool, or (with `shared_share`) the shared one."""
    sizes = [max(1, round(accounts_per_post * len(group))) for group in groups]
    accounts = _Accounts(rng, shared_accounts + sum(sizes))
    shared = accounts.pool(shared_accounts)
    shared_weights = _zipf_cumulative(len(shared), zipf_exponent)
    for group, size in zip(groups, sizes, strict=True):
        own = accounts.pool(size)
        own_weights = _zipf_cumulative(len(own), zipf_exponent)
        for draft in group:
            if rng.random() < shared_share:
                draft.author = rng.choices(shared, cum_weights=shared_weights)[0]
            else:
                draft.author = rng.choices(own, cum_weights=own_weights)[0]


# -- reposts -------------------------------------------------------------------------------------------


def normalise_for_match(text: str) -> str:
    """Lowercased, whitespace collapsed and trimmed."""
    return " ".join(text.lower().split())


def retweet_body(text: str) -> str | None:
    """What an `RT @name:` text retweets, or None for a text that is no such retweet."""
    match = RETWEET_PREFIX.match(text)
    return text[match.end() :] if match else None


def resolve_reposts(drafts: Sequence[_Draft]) -> int:
    """Point each retweet at the earliest earlier post of its group whose text it repeats.

    `drafts` must be in time order. A body ending in a truncation mark matches a text it is a prefix
    of (at least `MIN_TRUNCATED_MATCH` characters); any other body must equal the text. A match that
    is itself a resolved retweet is followed to what it reposts. Returns how many were resolved.
    """
    exact: dict[tuple[str, str], int] = {}
    by_prefix: dict[tuple[str, str], list[tuple[str, int]]] = {}
    found = 0
    for index, draft in enumerate(drafts):
        body = retweet_body(draft.text)
        if body is not None:
            match = _find_original(draft.event, body, exact, by_prefix)
            if match is not None:
                original = drafts[match].repost_of
                draft.repost_of = match if original is None else original
                found += 1
        text = normalise_for_match(draft.text)
        exact.setdefault((draft.event, text), index)
        by_prefix.setdefault((draft.event, text[:MIN_TRUNCATED_MATCH]), []).append((text, index))
    return found


def _find_original(
    event: str,
    body: str,
    exact: dict[tuple[str, str], int],
    by_prefix: dict[tuple[str, str], list[tuple[str, int]]],
) -> int | None:
    wanted = normalise_for_match(body)
    for mark in TRUNCATION_MARKS:
        if wanted.endswith(mark):
            stem = wanted[: -len(mark)].rstrip()
            if len(stem) < MIN_TRUNCATED_MATCH:
                break
            for text, index in by_prefix.get((event, stem[:MIN_TRUNCATED_MATCH]), []):
                if text.startswith(stem):
                    return index
            break
    return exact.get((event, wanted)) if wanted else None


# -- the stream ----------------------------------------------------------------------------------------


def build_crisislex_stream(
    crisislex_dir: Path,
    airline_csv: Path | None,
    *,
    seed: int = 26,
    spacing_hours: float = 72,
    base: datetime = BASE,
    before_onset: timedelta = timedelta(hours=12),
    after_onset: timedelta = timedelta(days=7),
    onset_fraction: float = 0.1,
    background_lead: timedelta = timedelta(days=2),
    background_tail: timedelta = timedelta(days=1),
    diurnal_amplitude: float = 0.8,
    accounts_per_post: float = 0.7,
    shared_share: float = 0.1,
    shared_accounts: int = 300,
) -> IssueStream:
    """A multi-event stream from CrisisLex T26 (plus airline chatter); see the module docstring."""
    rng = random.Random(seed)
    table = {event.event: event for event in read_events(crisislex_dir / EVENT_TABLE_FILE)}
    tweets = sorted(read_labelled(crisislex_dir / LABELLED_FILE), key=lambda t: (t.event, t.at, t.tweet_id))

    related: dict[str, list[LabelledTweet]] = {}
    for tweet in tweets:
        if tweet.informativeness in RELATED and tweet.text.strip():
            related.setdefault(tweet.event, []).append(tweet)
    real_onsets = {
        event: fine_onset([t.at for t in group], fraction=onset_fraction) for event, group in related.items()
    }
    order = sorted(related, key=lambda event: (real_onsets[event], event))

    drafts: list[_Draft] = []
    event_groups: list[list[_Draft]] = []
    events: list[EventRow] = []
    dropped = 0
    for i, event in enumerate(order):
        # The real onset's hour of day is kept: an event that broke at night breaks at night here,
        # against a quiet background, and one that broke at noon meets the busy hours.
        real = real_onsets[event]
        time_of_day = timedelta(hours=real.hour, minutes=real.minute)
        synthetic_onset = as_utc(base) + timedelta(hours=i * spacing_hours) + time_of_day
        known = table.get(event)
        name = known.name if known else event.replace("_", " ")
        events.append(
            EventRow(event, name, event_keywords(known.keywords if known else (), name), synthetic_onset)
        )
        group: list[_Draft] = []
        for tweet in related[event]:
            offset = tweet.at - real_onsets[event]
            if not -before_onset <= offset <= after_onset:
                dropped += 1
                continue
            at = (synthetic_onset + offset).replace(microsecond=0)
            group.append(_Draft(at=at, order=len(drafts) + len(group), text=tweet.text, event=event, lang=""))
        drafts.extend(group)
        event_groups.append(group)
    if not drafts:
        raise TableError(f"{crisislex_dir / LABELLED_FILE}: no related tweet near any event's onset")

    background_texts = [(t.text, "") for t in tweets if t.informativeness in UNRELATED and t.text.strip()]
    if airline_csv is not None:
        background_texts += [(text, "en") for text in read_texts(airline_csv)]
    start = min(d.at for d in drafts) - background_lead
    end = max(d.at for d in drafts) + background_tail
    times = draw_diurnal_times(rng, start, end, len(background_texts), amplitude=diurnal_amplitude)
    background = [
        _Draft(at=at, order=len(drafts) + j, text=text, event=BACKGROUND, lang=lang)
        for j, (at, (text, lang)) in enumerate(zip(times, background_texts, strict=True))
    ]
    drafts.extend(background)

    assign_authors(
        rng,
        [*event_groups, background],
        accounts_per_post=accounts_per_post,
        shared_share=shared_share,
        shared_accounts=shared_accounts,
    )
    drafts.sort(key=lambda d: (d.at, d.order))
    resolve_reposts(drafts)

    posts: list[dict[str, Any]] = []
    truth: list[tuple[str, str]] = []
    for index, draft in enumerate(drafts):
        native_id = str(FIRST_NATIVE_ID + index)
        author_id, handle = draft.author
        post: dict[str, Any] = {
            "platform": PLATFORM,
            "id": native_id,
            "created_at": iso_utc(draft.at),
            "author": {"id": author_id, "handle": handle},
            "text": draft.text,
            "lang": draft.lang,
        }
        if draft.repost_of is not None:
            post["repost_of"] = str(FIRST_NATIVE_ID + draft.repost_of)
        posts.append(post)
        truth.append((f"{PLATFORM}:{native_id}", draft.event))
    return IssueStream(posts=posts, truth=truth, events=events, dropped_event_posts=dropped)


def iso_utc(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_counts(stream: IssueStream) -> dict[str, Any]:
    """What a stream holds, in numbers: posts, event and background posts, events, days, reposts."""
    event_posts = sum(1 for _, event in stream.truth if event != BACKGROUND)
    times = [parse_time(p["created_at"]) for p in stream.posts]
    days = (max(times) - min(times)).total_seconds() / 86400 if times else 0.0
    per_event = Counter(event for _, event in stream.truth if event != BACKGROUND)
    return {
        "posts": len(stream.posts),
        "event_posts": event_posts,
        "background": len(stream.posts) - event_posts,
        "events": len(stream.events),
        "days": round(days, 1),
        "reposts_found": sum(1 for p in stream.posts if p.get("repost_of")),
        "retweets": sum(1 for p in stream.posts if retweet_body(p["text"]) is not None),
        "dropped_event_posts": stream.dropped_event_posts,
        "authors": len({p["author"]["id"] for p in stream.posts}),
        "event_posts_min": min(per_event.values(), default=0),
        "event_posts_max": max(per_event.values(), default=0),
    }


# -- the files -----------------------------------------------------------------------------------------


def write_issue_stream(stream: IssueStream, out_dir: Path) -> dict[str, Path]:
    """`stream.jsonl`, `truth.csv` and `events.csv` in `out_dir` (made if missing); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"stream": out_dir / STREAM_FILE, "truth": out_dir / TRUTH_FILE, "events": out_dir / EVENTS_FILE}
    with paths["stream"].open("w", encoding="utf-8", newline="\n") as fh:
        for post in stream.posts:
            fh.write(json.dumps(post, ensure_ascii=False) + "\n")
    with paths["truth"].open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        writer.writerows(stream.truth)
    with paths["events"].open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(ISSUE_EVENT_COLUMNS)
        for row in stream.events:
            writer.writerow([row.event, row.name, iso_utc(row.onset), "|".join(row.keywords)])
    return paths


def read_truth(path: Path) -> dict[str, str]:
    """`truth.csv`: post id -> event ("" for background). A post id given twice is an error."""
    rows = read_table(path, TRUTH_COLUMNS, what="a truth table")
    pairs = parse_cells(path, rows, lambda row: (row["post_id"].strip(), row["event"].strip()))
    truth: dict[str, str] = {}
    for number, (post_id, event) in enumerate(pairs, start=1):
        if not post_id:
            raise TableError(f"{path}: row {number}: no post_id")
        if post_id in truth:
            raise TableError(f"{path}: row {number}: post {post_id} is given twice")
        truth[post_id] = event
    return truth


def read_issue_events(path: Path) -> list[EventRow]:
    """`events.csv` of an issue stream, in file order."""
    rows = read_table(path, ISSUE_EVENT_COLUMNS, what="an issue event table")
    return parse_cells(
        path,
        rows,
        lambda row: EventRow(
            event=row["event"].strip(),
            name=row["name"].strip(),
            keywords=tuple(k.strip() for k in row["keywords"].split("|") if k.strip()),
            onset=parse_hour(row["onset"]),
        ),
    )

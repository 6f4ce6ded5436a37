"""pantau.normalise: every input shape, times, errors, entities, text cleaning; no I/O."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pantau.domain import Post
from pantau.normalise import (
    MAX_TEXT_CHARS_DEFAULT,
    InvalidPost,
    PostIn,
    Retention,
    clean_text,
    extract_entities,
    make_envelope,
    normalise,
    parse_timestamp,
    post_from_input,
)

WHEN = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def flat_post(**changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "platform": "X",
        "id": "123",
        "created_at": "2024-05-01T10:00:00Z",
        "author": {"id": "u1", "handle": "@Bob"},
        "text": "Halo #Pemilu lihat @Raka",
        "lang": "ID",
        "url": "https://x.example/bob/status/123",
        "metrics": {"likes": 4, "reposts": 3, "replies": 2, "quotes": 1, "views": 100},
    }
    post.update(changes)
    return post


def csv_row(**changes: str) -> dict[str, str]:
    """What csv.DictReader gives: every value a string, '' where the source had nothing."""
    row = {
        "platform": "x",
        "id": "5",
        "created_at": "2024-05-01 10:00:00",
        "author_id": "u1",
        "author_handle": "bob",
        "text": "hi #Tag",
        "lang": "",
        "url": "",
        "reply_to": "",
        "repost_of": "",
        "quote_of": "",
        "likes": "3",
        "reposts": "",
        "replies": "",
        "quotes": "",
        "views": "",
    }
    row.update(changes)
    return row


def x_tweet(**data_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "77",
        "text": "RT hi #Foo @Bar https://t.co/x",
        "author_id": "u9",
        "created_at": "2024-05-01T10:00:00.000Z",
        "lang": "in",
        "referenced_tweets": [
            {"type": "replied_to", "id": "66"},
            {"type": "quoted", "id": "55"},
            {"type": "retweeted", "id": "44"},
        ],
        "entities": {
            "hashtags": [{"start": 6, "end": 10, "tag": "Foo"}, {"tag": "foo"}],
            "mentions": [{"username": "Bar"}],
            "urls": [
                {"url": "https://t.co/x", "expanded_url": "https://ex.com/a"},
                {"url": "https://t.co/y"},
            ],
        },
        "public_metrics": {
            "like_count": 4,
            "retweet_count": 2,
            "reply_count": 1,
            "quote_count": 7,
            "impression_count": 100,
        },
    }
    data.update(data_changes)
    return {"data": data, "includes": {"users": [{"id": "u9", "username": "handle9"}, {"id": "zz"}]}}


def norm(value: Any, **kwargs: Any) -> Post:
    return normalise(orjson.dumps(value), **kwargs)


def reason_of(value: Any) -> str:
    raw = value if isinstance(value, bytes | str) else orjson.dumps(value)
    with pytest.raises(InvalidPost) as info:
        normalise(raw)
    assert str(info.value) == info.value.reason
    return info.value.reason


# -- shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True])
def test_flat_post_object(wrapped: bool) -> None:
    payload = flat_post()
    raw = make_envelope(payload, source="api") if wrapped else orjson.dumps(payload)
    post = normalise(raw)
    assert post.id == "x:123"
    assert post.platform == "x"
    assert post.native_id == "123"
    assert post.author_id == "u1"
    assert post.author_handle == "Bob"
    assert post.lang == "id"
    assert post.created_at == WHEN
    assert post.hashtags == ("pemilu",)
    assert post.mentions == ("raka",)
    assert (post.metrics.likes, post.metrics.reposts, post.metrics.replies) == (4, 3, 2)
    assert (post.metrics.quotes, post.metrics.views) == (1, 100)
    assert post.source == ("api" if wrapped else "unknown")
    assert orjson.loads(post.raw) == payload


def test_envelope_received_at_and_source_are_kept() -> None:
    received = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    post = normalise(make_envelope(flat_post(), source="collector-a", received_at=received))
    assert post.received_at == received
    assert post.source == "collector-a"


def test_unwrapped_post_is_received_now() -> None:
    before = datetime.now(UTC)
    post = norm(flat_post())
    assert before - timedelta(seconds=1) <= post.received_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_pantau_post_with_null_optional_fields() -> None:
    post = norm(flat_post(lang=None, url=None, reply_to=None, repost_of=None, quote_of=None))
    assert (post.lang, post.url, post.reply_to, post.repost_of, post.quote_of) == ("", "", "", "", "")


@pytest.mark.parametrize("wrapped", [False, True])
def test_csv_row(wrapped: bool) -> None:
    row = csv_row()
    raw = make_envelope(row, source="replay") if wrapped else orjson.dumps(row)
    post = normalise(raw)
    assert post.id == "x:5"
    assert post.author_id == "u1"
    assert post.author_handle == "bob"
    assert post.created_at == WHEN
    assert post.metrics.likes == 3
    assert (post.metrics.reposts, post.metrics.replies, post.metrics.quotes, post.metrics.views) == (0,) * 4
    assert (post.lang, post.url, post.reply_to, post.repost_of, post.quote_of) == ("", "", "", "", "")
    assert post.hashtags == ("tag",)


def test_csv_row_references_are_scoped() -> None:
    post = norm(csv_row(reply_to="9", repost_of="8", quote_of="7"))
    assert (post.reply_to, post.repost_of, post.quote_of) == ("x:9", "x:8", "x:7")


def test_csv_row_bad_metric_names_the_column() -> None:
    assert "likes" in reason_of(csv_row(likes="many"))


@pytest.mark.parametrize(("column", "field"), [("author_id", "author"), ("created_at", "created_at")])
def test_csv_row_empty_required_column_names_the_field(column: str, field: str) -> None:
    assert field in reason_of(csv_row(**{column: ""}))


@pytest.mark.parametrize("column", ["hashtags", "mentions", "links"])
def test_csv_row_empty_list_column_means_not_given(column: str) -> None:
    post = norm(csv_row(**{column: ""}))
    assert post.id == "x:5"


@pytest.mark.parametrize("wrapped", [False, True])
def test_x_v2_tweet(wrapped: bool) -> None:
    tweet = x_tweet()
    raw = make_envelope(tweet, source="x-collector") if wrapped else orjson.dumps(tweet)
    post = normalise(raw)
    assert post.id == "x:77"
    assert post.platform == "x"
    assert post.author_id == "u9"
    assert post.author_handle == "handle9"
    assert post.url == "https://x.com/handle9/status/77"
    assert post.lang == "in"
    assert post.created_at == WHEN
    assert (post.reply_to, post.quote_of, post.repost_of) == ("x:66", "x:55", "x:44")
    # The entities X gives override extraction; de-duplicated, lower case.
    assert post.hashtags == ("foo",)
    assert post.mentions == ("bar",)
    assert post.links == ("https://ex.com/a", "https://t.co/y")
    m = post.metrics
    assert (m.likes, m.reposts, m.replies, m.quotes, m.views) == (4, 2, 1, 7, 100)
    # raw keeps the payload as it came, not the mapped form.
    assert orjson.loads(post.raw) == tweet


def test_x_v2_tweet_without_optional_parts() -> None:
    tweet = {"data": {"id": 9, "text": "hello #Aa", "author_id": "u1", "created_at": "2024-05-01T10:00:00Z"}}
    post = norm(tweet)
    assert post.id == "x:9"
    assert post.author_handle == ""
    assert post.url == "https://x.com/i/status/9"
    assert post.hashtags == ("aa",)  # no entities: extracted from the text
    assert (post.reply_to, post.repost_of, post.quote_of) == ("", "", "")
    assert post.metrics.likes == 0


def test_x_v2_data_not_an_object() -> None:
    assert "data" in reason_of({"data": "text"})


def test_x_v2_missing_fields_are_named() -> None:
    reason = reason_of({"data": {"id": "1"}})
    assert "created_at" in reason
    assert "text" in reason
    assert "author" in reason


@pytest.mark.parametrize(
    "tweet",
    [
        {**x_tweet(), "includes": None},
        {**x_tweet(), "includes": []},
        {**x_tweet(), "includes": {"users": [{"id": ["u9"]}]}},
        x_tweet(referenced_tweets=None),
        x_tweet(entities={"hashtags": None}),
        x_tweet(entities={"urls": 5}),
        x_tweet(public_metrics=[1, 2]),
        x_tweet(author_id=["u9"]),
    ],
    ids=[
        "includes-null",
        "includes-list",
        "user-id-list",
        "referenced-null",
        "hashtags-null",
        "urls-int",
        "metrics-list",
        "author-id-list",
    ],
)
def test_x_v2_malformed_optional_parts_give_invalid_post_or_post(tweet: dict[str, Any]) -> None:
    try:
        post = norm(tweet)
    except InvalidPost:
        return
    assert post.id == "x:77"


# -- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", WHEN),
        ("2024-05-01T10:00:00.250Z", WHEN + timedelta(milliseconds=250)),
        ("2024-05-01T17:00:00+07:00", WHEN),
        ("2024-05-01T05:30:00-04:30", WHEN),
        ("2024-05-01T10:00:00", WHEN),
        ("2024-05-01 10:00:00", WHEN),
        (1714557600, WHEN),
        (1714557600.5, WHEN + timedelta(milliseconds=500)),
        (1714557600000, WHEN),
        (1714557600123, WHEN + timedelta(milliseconds=123)),
        ("1714557600", WHEN),
        (" 1714557600000 ", WHEN),
        ("Wed May 01 10:00:00 +0000 2024", WHEN),
        ("Wed May 01 17:00:00 +0700 2024", WHEN),
        ("Wed, 01 May 2024 10:00:00 +0000", WHEN),
    ],
)
def test_times_become_utc(value: Any, expected: datetime) -> None:
    post = norm(flat_post(created_at=value))
    assert post.created_at == expected
    assert post.created_at.utcoffset() == timedelta(0)


def test_twitter_classic_time() -> None:
    assert parse_timestamp("Wed Oct 10 20:19:24 +0000 2018") == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)


def test_parse_timestamp_accepts_datetimes() -> None:
    naive = datetime(2024, 5, 1, 10, 0)
    assert parse_timestamp(naive) == WHEN
    assert parse_timestamp(naive.replace(tzinfo=UTC).astimezone()) == WHEN


@pytest.mark.parametrize(
    "value",
    ["yesterday", "", "   ", "2024-13-45T00:00:00Z", True, None, [2024], {"t": 1}, "nan", -5,
     "1999-12-31T23:59:59Z", 946684799, "99999999999999999999999"],
)  # fmt: skip
def test_bad_times_are_rejected_naming_created_at(value: Any) -> None:
    assert reason_of(flat_post(created_at=value)).startswith("created_at")


def test_year_2000_is_the_earliest_time() -> None:
    assert norm(flat_post(created_at=946684800)).created_at == datetime(2000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("days", [2, 365 * 70])
def test_times_far_in_the_future_are_rejected(days: int) -> None:
    future = datetime.now(UTC) + timedelta(days=days)
    assert reason_of(flat_post(created_at=future.isoformat())).startswith("created_at")


def test_envelope_bad_received_at_is_named() -> None:
    raw = orjson.dumps({"envelope": "pantau/1", "payload": flat_post(), "received_at": "soon"})
    assert reason_of(raw).startswith("envelope.received_at")


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{nope", b"", b"\xff\xfe", "[1", b"null null"])
def test_not_json(raw: bytes | str) -> None:
    assert reason_of(raw).startswith("not JSON")


@pytest.mark.parametrize("value", [[flat_post()], "a string", 42, None, True])
def test_json_that_is_not_an_object(value: Any) -> None:
    assert "expected a JSON object" in reason_of(orjson.dumps(value))


@pytest.mark.parametrize("field", ["id", "text", "author", "created_at", "platform"])
@pytest.mark.parametrize("wrapped", [False, True])
def test_missing_required_field_is_named(field: str, wrapped: bool) -> None:
    payload = {k: v for k, v in flat_post().items() if k != field}
    raw = make_envelope(payload, source="s") if wrapped else orjson.dumps(payload)
    reason = reason_of(raw)
    assert reason.startswith(field)
    assert "required" in reason.lower()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": [1]}, "id"),
        ({"id": 1.5}, "id"),
        ({"id": True}, "id"),
        ({"id": "   "}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"text": 5}, "text"),
        ({"text": None}, "text"),
        ({"author": "bob"}, "author"),
        ({"author": {"handle": "bob"}}, "author.id"),
        ({"author": {"id": "a", "handle": "h" * 101}}, "author.handle"),
        ({"platform": ""}, "platform"),
        ({"platform": "x y"}, "platform"),
        ({"platform": 7}, "platform"),
        ({"metrics": {"likes": -1}}, "metrics.likes"),
        ({"metrics": {"views": "lots"}}, "metrics.views"),
        ({"metrics": [1]}, "metrics"),
        ({"hashtags": {"a": 1}}, "hashtags"),
        ({"mentions": [1]}, "mentions"),
        ({"reply_to": ["1"]}, "reply_to"),
    ],
)
def test_wrong_types_name_the_field(changes: dict[str, Any], field: str) -> None:
    assert reason_of(flat_post(**changes)).startswith(field)


def test_flat_negative_metric_is_named() -> None:
    payload = flat_post(likes=-1)
    del payload["metrics"]
    assert reason_of(payload).startswith("metrics.likes")


def test_unknown_envelope_version() -> None:
    reason = reason_of({"envelope": "pantau/2", "payload": flat_post()})
    assert "envelope" in reason
    assert "pantau/2" in reason


@pytest.mark.parametrize("payload", [[flat_post()], "text", None, 3])
def test_envelope_payload_not_an_object(payload: Any) -> None:
    assert "envelope.payload" in reason_of({"envelope": "pantau/1", "payload": payload})


def test_envelope_without_payload() -> None:
    assert "envelope.payload" in reason_of({"envelope": "pantau/1", "source": "s"})


# -- entities -------------------------------------------------------------------------------------


def test_entities_lower_case_without_sign_deduplicated_in_order() -> None:
    text = "#Pemilu @Raka #debat #PEMILU @raka @Sari x@y.com a&#39;s https://a.b/c). https://a.b/c)."
    hashtags, mentions, links = extract_entities(text)
    assert hashtags == ("pemilu", "debat")
    assert mentions == ("raka", "sari")
    assert links == ("https://a.b/c",)


@pytest.mark.parametrize("tail", [".", ",", ";", ":", "!", "?", ")", "]", "}", "…", "'", '"', ").", "!!"])
def test_links_lose_trailing_punctuation(tail: str) -> None:
    post = norm(flat_post(text=f"lihat https://ex.com/a/b?q=1{tail} sekarang"))
    assert post.links == ("https://ex.com/a/b?q=1",)


def test_explicit_entities_override_extraction() -> None:
    post = norm(
        flat_post(
            text="#fromtext @fromtext https://from.text/",
            hashtags=["#Alpha", "alpha", "Beta", "", "#"],
            mentions=["@X", "x", "@"],
            links=["https://given.example/1", "https://given.example/1"],
        )
    )
    assert post.hashtags == ("alpha", "beta")
    assert post.mentions == ("x",)
    assert post.links == ("https://given.example/1",)


def test_explicit_empty_entities_mean_none() -> None:
    post = norm(flat_post(text="#fromtext @fromtext https://from.text/", hashtags=[], mentions=[], links=[]))
    assert (post.hashtags, post.mentions, post.links) == ((), (), ())


# -- ids ------------------------------------------------------------------------------------------


def test_ids_and_references_are_platform_scoped() -> None:
    post = norm(flat_post(platform="TikTok", id=987, reply_to=5, repost_of=" 6 ", quote_of="7"))
    assert post.id == "tiktok:987"
    assert post.native_id == "987"
    assert (post.reply_to, post.repost_of, post.quote_of) == ("tiktok:5", "tiktok:6", "tiktok:7")


# -- text -----------------------------------------------------------------------------------------


def test_control_characters_removed_newlines_and_tabs_kept() -> None:
    post = norm(flat_post(text="a\x00b\x07c\nd\te\x1bf\x7f"))
    assert post.text == "abc\nd\tef"


def test_text_truncated_raw_keeps_everything() -> None:
    text = "kata " * 100
    post = norm(flat_post(text=text), max_text_chars=42)
    assert post.text == text[:42]
    assert orjson.loads(post.raw)["text"] == text


def test_default_text_cap() -> None:
    assert len(norm(flat_post(text="x" * 20000)).text) == 10000


def test_lone_surrogate_in_json_is_rejected_not_crashing() -> None:
    raw = '{"platform":"x","id":"1","created_at":1714557600,"author":{"id":"a"},"text":"a\\ud800b"}'
    assert reason_of(raw)  # orjson refuses it; the post goes to the DLQ with a reason


def test_lone_surrogate_in_a_python_payload_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="text"):
        PostIn.model_validate(flat_post(text="a\ud800b"))


def test_clean_text_repairs_lone_surrogates() -> None:
    cleaned = clean_text("a\ud800b\udfffc", 100)
    assert cleaned == "a?b?c"
    cleaned.encode("utf-8")  # valid UTF-8 now


def test_post_from_input_cleans_and_caps() -> None:
    item = PostIn.model_validate(flat_post(text="ab\x00cdef #Tag"))
    post = post_from_input(item, source="api", raw="{}", max_text_chars=4)
    assert post.text == "abcd"
    assert post.hashtags == ()  # entities come from the cleaned, capped text
    assert (post.source, post.raw) == ("api", "{}")


def test_clean_text() -> None:
    assert clean_text("ab\x00cd", 3) == "abc"
    assert clean_text("😀 ok", 10) == "😀 ok"


# "…" (UTF-8 e2 80 a6) read as Latin-1, where 0x80 is a control character, and as Windows-1252.
ELLIPSIS_AS_LATIN_1 = "\u00e2\u0080\u00a6"
ELLIPSIS_AS_CP1252 = "\u00e2\u20ac\u00a6"


@pytest.mark.parametrize("mojibake", [ELLIPSIS_AS_LATIN_1, ELLIPSIS_AS_CP1252])
def test_mojibake_after_a_hashtag_is_repaired_before_entities_are_taken(mojibake: str) -> None:
    post = norm(flat_post(text=f"Watching #GOPDebate{mojibake}"))
    assert post.text == "Watching #GOPDebate…"
    assert post.hashtags == ("gopdebate",)


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        ("caf\u00c3\u00a9 #Pemilu", "café #Pemilu"),
        ("😀".encode().decode("latin-1"), "😀"),  # four bytes, two of them C1 controls
        ("😀".encode().decode("cp1252", "replace"), "😀"),
        ("A &amp; B &lt;3", "A & B <3"),  # platforms that send their text HTML-escaped
        ("a\r\nb\rc", "a\nb\nc"),  # a lone carriage return ends a line; it no longer joins words
    ],
)
def test_clean_text_repairs_mojibake_escapes_and_line_breaks(broken: str, repaired: str) -> None:
    assert clean_text(broken, 100) == repaired


def test_the_cap_counts_repaired_characters() -> None:
    emoji_as_latin_1 = "😀".encode().decode("latin-1")  # the widest mojibake: four characters for one
    assert clean_text(emoji_as_latin_1 * 10, 10) == "😀" * 10
    assert clean_text("caf\u00c3\u00a9 " * 5, 5) == "café "


def test_an_escaped_ampersand_in_a_link_is_unescaped() -> None:
    post = norm(flat_post(text="lihat https://x.example/?a=1&amp;b=2"))
    assert post.links == ("https://x.example/?a=1&b=2",)


# -- properties -----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
interesting_keys = st.sampled_from(
    ["platform", "id", "text", "author", "author_id", "author_handle", "created_at", "data", "includes",
     "envelope", "payload", "received_at", "metrics", "likes", "hashtags", "mentions", "links", "reply_to",
     "lang", "url", "users", "entities", "referenced_tweets", "public_metrics", "tag", "username"]
)  # fmt: skip
loose_dicts = st.recursive(
    st.dictionaries(interesting_keys | st.text(max_size=8), json_scalars, max_size=6),
    lambda children: st.dictionaries(
        interesting_keys | st.text(max_size=8),
        children | json_scalars | st.lists(children, max_size=3),
        max_size=6,
    ),
    max_leaves=25,
)


def _post_or_invalid(raw: bytes) -> None:
    try:
        post = normalise(raw)
    except InvalidPost as exc:
        assert exc.reason
        return
    assert isinstance(post, Post)
    assert post.created_at.tzinfo is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_gives_post_or_invalid_post(value: Any) -> None:
    _post_or_invalid(orjson.dumps(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loose_dicts.filter(lambda d: "data" not in d))
def test_any_pantau_shaped_dict_gives_post_or_invalid_post(value: dict[str, Any]) -> None:
    _post_or_invalid(orjson.dumps(value))
    _post_or_invalid(make_envelope(value, source="s"))


x_slots = st.sampled_from(["referenced_tweets", "entities", "public_metrics", "author_id", "lang", "id"])


@settings(max_examples=200, deadline=None, database=None, phases=[Phase.generate])
@given(slots=st.dictionaries(x_slots, json_values | loose_dicts, max_size=3), includes=json_values)
def test_any_x_shaped_dict_gives_post_or_invalid_post(slots: dict[str, Any], includes: Any) -> None:
    tweet = x_tweet(**slots)
    tweet["includes"] = includes
    _post_or_invalid(orjson.dumps(tweet))


ids = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.text(alphabet=string.ascii_letters + string.digits + "-_:", min_size=1, max_size=40),
)
platforms = st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1, max_size=32)
# Post times from 2000 up to now: later than a day ahead is refused (tested on its own).
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime.now().replace(microsecond=0), timezones=st.timezones()
)


@settings(max_examples=200, deadline=None)
@given(
    platform=platforms,
    native=ids,
    when=aware_times,
    text=st.text(max_size=200),
    as_epoch=st.booleans(),
    wrapped=st.booleans(),
)
def test_valid_posts_are_scoped_and_utc(
    platform: str, native: int | str, when: datetime, text: str, as_epoch: bool, wrapped: bool
) -> None:
    payload = {
        "platform": platform,
        "id": native,
        "created_at": when.timestamp() if as_epoch else when.isoformat(),
        "author": {"id": "a1"},
        "text": text,
    }
    raw = make_envelope(payload, source="s") if wrapped else orjson.dumps(payload)
    post = normalise(raw)
    assert post.id == f"{platform.lower()}:{native}"
    assert post.created_at.utcoffset() == timedelta(0)
    assert abs(post.created_at - when) < timedelta(milliseconds=1)
    # Not "never longer than the input": repair spells ligatures out ("\ufb00" -> "ff", below).
    assert len(post.text) <= MAX_TEXT_CHARS_DEFAULT
    assert all(ch in "\n\t" or ord(ch) >= 32 for ch in post.text if ord(ch) < 128)


def test_a_ligature_is_spelled_out_so_the_words_match_and_the_cap_still_holds() -> None:
    # Found by the property test above: "\ufb00" (one character) is repaired into "ff".
    assert clean_text("\ufb00", 100) == "ff"
    assert clean_text("e\ufb03cient #\ufb01nance", 100) == "efficient #finance"
    assert clean_text("\ufb00" * 10, 5) == "fffff"


def test_a_csv_list_cell_is_split_on_spaces_commas_and_semicolons() -> None:
    row = {"platform": "x", "id": "1", "created_at": "2024-01-01T00:00:00Z", "author_id": "u", "text": "t",
           "hashtags": "#Pemilu, debat;Capres", "mentions": "", "links": ""}  # fmt: skip
    post = normalise(orjson.dumps(row))
    assert post.hashtags == ("pemilu", "debat", "capres")
    assert post.mentions == () and post.links == ()


def test_a_time_more_than_a_day_ahead_is_refused_naming_created_at() -> None:
    row = {
        "platform": "x",
        "id": "1",
        "created_at": "2099-01-01T00:00:00Z",
        "author": {"id": "u"},
        "text": "t",
    }
    with pytest.raises(InvalidPost, match=r"created_at.*future"):
        normalise(orjson.dumps(row))


# -- retention at the door ----------------------------------------------------------------------------
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def aged(days: float) -> bytes:
    created = (NOW - timedelta(days=days)).isoformat()
    return orjson.dumps(
        {"platform": "x", "id": "old", "text": "arsip", "author": {"id": "a"}, "created_at": created}
    )


def test_a_post_older_than_the_retention_is_refused_with_its_reason() -> None:
    retention = Retention(days=400, now=NOW)
    with pytest.raises(InvalidPost) as refused:
        normalise(aged(401), retention=retention)
    assert "older than the 400-day retention" in refused.value.reason
    assert "PANTAU_POSTS_TTL_DAYS" in refused.value.reason and "PANTAU_BACKFILL" in refused.value.reason
    assert normalise(aged(399), retention=retention).id == "x:old"


def test_no_retention_or_a_zero_day_one_keeps_any_age() -> None:
    assert normalise(aged(5000)).id == "x:old"
    assert normalise(aged(5000), retention=Retention(days=0, now=NOW)).id == "x:old"

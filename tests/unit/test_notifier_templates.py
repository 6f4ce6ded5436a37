"""alerts.notifiers rendering and alerts.channels config: messages in Indonesian and English for every
signal kind and reason, escaping, the webhook signature, and secrets kept out of reprs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from alerts.channels import Channel, EmailChannel, TelegramChannel, WebhookChannel, sign, verify_signature
from alerts.messages import Language, Notification, NotificationReason
from alerts.notifiers import MAX_ALERTS_LISTED, render, slack_payload, telegram_html
from pantau.domain import Alert, Severity, SignalKind

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LINK = "https://warroom.example.org/"

# Per kind: the alert's numbers, and how they must read in each language.
NUMBERS: dict[SignalKind, tuple[dict[str, float], dict[str, list[str]]]] = {
    SignalKind.volume_burst: (
        {"count": 1234, "ratio": 8.46, "window_seconds": 300},
        {"en": ["1,234 posts", "5 min", "8.5×"], "id": ["1.234 unggahan", "5 menit", "8,5×"]},
    ),
    SignalKind.sentiment_shift: (
        {"share_before": 0.2, "share_after": 0.55},
        {"en": ["rose from 20% to 55%"], "id": ["naik dari 20% menjadi 55%"]},
    ),
    SignalKind.stance_shift: (
        {"share_before": 0.5, "share_after": 0.3},
        {"en": ["fell from 50% to 30%"], "id": ["turun dari 50% menjadi 30%"]},
    ),
    SignalKind.emerging_topic: (
        {"posts": 12, "authors": 5},
        {"en": ["12 posts from 5 accounts"], "id": ["12 unggahan dari 5 akun"]},
    ),
    SignalKind.coordinated_posting: (
        {"accounts": 9, "posts": 14, "window_seconds": 120},
        {"en": ["9 accounts", "14 posts", "2 min"], "id": ["9 akun", "14 unggahan", "2 menit"]},
    ),
}
KIND_WORDS: dict[Language, dict[SignalKind, str]] = {
    "en": {
        SignalKind.volume_burst: "Volume burst",
        SignalKind.sentiment_shift: "Sentiment shift",
        SignalKind.stance_shift: "Stance shift",
        SignalKind.emerging_topic: "Emerging topic",
        SignalKind.coordinated_posting: "coordinated posting",
    },
    "id": {
        SignalKind.volume_burst: "Lonjakan volume",
        SignalKind.sentiment_shift: "Pergeseran sentimen",
        SignalKind.stance_shift: "Pergeseran sikap",
        SignalKind.emerging_topic: "Topik baru muncul",
        SignalKind.coordinated_posting: "Indikasi unggahan terkoordinasi",
    },
}
REASON_WORDS: dict[Language, dict[NotificationReason, str]] = {
    "en": {
        NotificationReason.firing: "New or changed alerts",
        NotificationReason.repeat: "still firing",
        NotificationReason.resolved: "have cleared",
        NotificationReason.escalation: "unacknowledged",
    },
    "id": {
        NotificationReason.firing: "peringatan baru",
        NotificationReason.repeat: "masih aktif",
        NotificationReason.resolved: "sudah selesai",
        NotificationReason.escalation: "belum ditanggapi",
    },
}
OTHER: dict[Language, Language] = {"en": "id", "id": "en"}


def make_alert(
    kind: SignalKind = SignalKind.volume_burst,
    *,
    n: int = 1,
    title: str = "",
    key: str = "raka-wibisana",
    key_kind: str = "target",
    severity: Severity = Severity.critical,
) -> Alert:
    return Alert(
        id=f"alert-{kind.value}-{n}",
        fingerprint=f"fp-{n}",
        kind=kind,
        key_kind=key_kind,
        key=key,
        target=key if key_kind == "target" else "",
        severity=severity,
        # Titles are English (alerts.lifecycle); a neutral one here keeps the language checks honest.
        title=title or f"T{n}",
        numbers=NUMBERS[kind][0],
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=7),
        created_at=T0,
        updated_at=T0,
    )


def make_notification(
    alerts: tuple[Alert, ...],
    *,
    language: Language = "en",
    reason: NotificationReason = NotificationReason.firing,
    link: str = "",
) -> Notification:
    resolved = reason == NotificationReason.resolved
    return Notification(
        id="n-1",
        receiver="desk",
        language=language,
        reason=reason,
        group_key="target=raka-wibisana",
        group_labels={"target": "raka-wibisana"},
        firing=() if resolved else alerts,
        resolved=alerts if resolved else (),
        created_at=T0,
        link=link,
    )


@pytest.mark.parametrize("language", ["en", "id"])
@pytest.mark.parametrize("reason", list(NotificationReason))
@pytest.mark.parametrize("kind", list(SignalKind))
def test_each_kind_and_reason_reads_in_the_receivers_language(
    language: Language, reason: NotificationReason, kind: SignalKind
) -> None:
    message = render(make_notification((make_alert(kind),), language=language, reason=reason))
    for part in (message.text, message.html):
        assert KIND_WORDS[language][kind] in part
        assert KIND_WORDS[OTHER[language]][kind] not in part
        assert REASON_WORDS[language][reason] in part
        assert REASON_WORDS[OTHER[language]][reason] not in part
        for number in NUMBERS[kind][1][language]:
            assert number in part
        assert "2026-11-20 12:00 UTC" in part
        assert "2026-11-20 12:07 UTC" in part
    assert KIND_WORDS[language][kind] in message.subject
    assert ("KRITIS" if language == "id" else "CRITICAL") in message.subject
    assert "\n" not in message.subject


def test_escalation_and_resolution_are_named_in_the_subject() -> None:
    alerts = (make_alert(),)
    subjects = {
        (language, reason): render(make_notification(alerts, language=language, reason=reason)).subject
        for language in ("en", "id")
        for reason in (NotificationReason.escalation, NotificationReason.resolved)
    }
    assert "ESCALATION" in subjects["en", NotificationReason.escalation]
    assert "ESKALASI" in subjects["id", NotificationReason.escalation]
    assert "RESOLVED" in subjects["en", NotificationReason.resolved]
    assert "SELESAI" in subjects["id", NotificationReason.resolved]


def test_link_to_each_alert_only_when_the_war_room_has_one() -> None:
    alerts = (make_alert(n=1), make_alert(SignalKind.emerging_topic, n=2, key="t1-1", key_kind="topic"))
    linked = render(make_notification(alerts, link=LINK))
    for alert in alerts:
        assert f"https://warroom.example.org/alerts/{alert.id}" in linked.text
        assert f'href="https://warroom.example.org/alerts/{alert.id}"' in linked.html
    plain = render(make_notification(alerts, link=""))
    assert "/alerts/" not in plain.text
    assert "href" not in plain.html


def test_markup_in_a_title_is_escaped_for_html_telegram_and_slack() -> None:
    title = 'Burst on <script>alert("x")</script> & co'
    message = render(make_notification((make_alert(title=title),), language="id"))
    assert title in message.text
    for escaped in (message.html, telegram_html(message)):
        assert "<script>" not in escaped
        assert "&lt;script&gt;" in escaped
    assert telegram_html(message).startswith("<b>")
    sections = [b["text"]["text"] for b in slack_payload(message)["blocks"] if b["type"] == "section"]
    assert any("&lt;script&gt;" in text and "&amp; co" in text for text in sections)
    assert not any("<script>" in text for text in sections)


def test_a_big_group_lists_some_alerts_and_counts_the_rest() -> None:
    alerts = tuple(make_alert(n=i) for i in range(MAX_ALERTS_LISTED + 5))
    en = render(make_notification(alerts))
    assert en.text.count("Volume burst") == MAX_ALERTS_LISTED
    assert "(+5 more)" in en.text
    assert f"(+{len(alerts) - 1} more)" in en.subject
    assert "(+5 lainnya)" in render(make_notification(alerts, language="id")).text


def test_hashtags_read_as_hashtags_and_opaque_keys_stay_out_of_sentences() -> None:
    hashtag = make_alert(key="tolakRUU", key_kind="hashtag")
    topic = make_alert(SignalKind.emerging_topic, n=2, key="t1790000000-3", key_kind="topic")
    text = render(make_notification((hashtag, topic), language="id")).text
    assert "Lonjakan volume pada #tolakRUU:" in text
    assert "Topik baru muncul: 12 unggahan" in text


# The webhook signature


def test_signature_verifies_and_binds_the_timestamp() -> None:
    body, secret = b'{"id":"n-1"}', b"s3cret"
    signature = sign(secret, "1790000000", body)
    assert signature.startswith("sha256=")
    assert verify_signature(secret, "1790000000", body, signature, now=1790000010)
    assert not verify_signature(secret, "1790000001", body, signature, tolerance_seconds=None)
    assert not verify_signature(b"other", "1790000000", body, signature, now=1790000010)
    # A captured request replayed later is refused, and so is a timestamp that is not one.
    assert not verify_signature(secret, "1790000000", body, signature, now=1790000000 + 301)
    assert not verify_signature(secret, "soon", body, sign(secret, "soon", body))


@given(secret=st.binary(min_size=1), body=st.binary(), timestamp=st.integers(0, 2**40), data=st.data())
def test_signature_property(secret: bytes, body: bytes, timestamp: int, data: st.DataObject) -> None:
    signature = sign(secret, str(timestamp), body)
    assert verify_signature(secret, str(timestamp), body, signature, now=timestamp)
    if body:
        at = data.draw(st.integers(0, len(body) - 1))
        bit = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]))
        flipped = body[:at] + bytes([body[at] ^ bit]) + body[at + 1 :]
        assert not verify_signature(secret, str(timestamp), flipped, signature, now=timestamp)


# Channel config


def test_channels_parse_by_type_and_keep_secrets_out_of_reprs() -> None:
    adapter: TypeAdapter[Channel] = TypeAdapter(Channel)
    secrets: dict[str, dict[str, object]] = {
        "webhook": {"url": "https://hooks.example.org/p", "secret": "whsec-1", "headers": {"X-Key": "tok-2"}},
        "slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/slk-3"},
        "telegram": {"bot_token": "123456:tg-4", "chat_id": "-1001"},
        "email": {
            "host": "smtp.example.org",
            "password": "pw-5",
            "sender": "p@example.org",
            "to": ["d@example.org"],
        },
    }
    for kind, fields in secrets.items():
        channel = adapter.validate_python({"type": kind, **fields})
        assert channel.type == kind
        assert channel.display_name == kind
        for value in ("whsec-1", "tok-2", "slk-3", "tg-4", "pw-5"):
            assert value not in repr(channel)
            assert value not in str(channel)
    assert adapter.validate_python({"type": "log", "name": "audit"}).display_name == "audit"


@pytest.mark.parametrize(
    "config",
    [
        {"type": "sms", "number": "+62"},
        {"type": "webhook", "url": "not a url"},
        {"type": "webhook", "url": "https://x.example.org", "retries": 3},
        {"type": "slack", "webhook_url": "hooks.slack.com/services/x"},
        {"type": "telegram", "bot_token": "1:x", "chat_id": ""},
        {"type": "email", "host": "smtp", "sender": "a@example.org", "to": []},
        {"type": "email", "host": "smtp", "sender": "a@example.org", "to": ["b@x.org"], "use_tls": True},
    ],
)
def test_bad_channel_configs_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Channel).validate_python(config)


def test_channels_are_frozen() -> None:
    channel = TelegramChannel(bot_token="1:x", chat_id="1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        channel.chat_id = "2"
    assert EmailChannel(
        host="smtp", sender="a@example.org", to=["b@example.org"], starttls=False, use_tls=True
    ).use_tls
    assert WebhookChannel(url="https://x.example.org/hook").secret is None  # type: ignore[arg-type]


def test_messages_name_targets_by_their_names_and_topics_and_campaigns_by_what_they_say() -> None:
    named = make_alert().model_copy(
        update={"labels": {"target": "raka-wibisana", "target_name": "Raka Wibisana"}}
    )
    assert "Raka Wibisana" in render(make_notification((named,), language="id")).text
    topic = make_alert(SignalKind.emerging_topic, key="c0ffee", key_kind="topic").model_copy(
        update={"details": {"terms": "banjir, tanggul, jebol"}}
    )
    campaign = make_alert(SignalKind.coordinated_posting, n=2, key="bead", key_kind="text").model_copy(
        update={"details": {"text": "Pilih Bima! " * 20}}
    )
    text = render(make_notification((topic, campaign), language="id")).text
    assert "“banjir, tanggul, jebol”" in text
    assert "“Pilih Bima! Pilih Bima!" in text and "…”" in text  # cut to 80 characters
    assert "c0ffee" not in text.split("Kunci")[0]  # the hash key is not the name


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "Issue: #KPDBocor · kartu pangan (about Kartu Pangan Digital)",
                "1,234 posts from 980 accounts",
                "4.2× the usual rate",
                "signals: volume burst, stance shift",
                "what moved it: #KPDBocor, data",
            ],
        ),
        (
            "id",
            [
                "Isu: #KPDBocor · kartu pangan (tentang Kartu Pangan Digital)",
                "1.234 unggahan dari 980 akun",
                "4,2× dari biasanya",
                "sinyal: lonjakan volume, pergeseran sikap",
                "pemicunya: #KPDBocor, data",
            ],
        ),
    ],
)
def test_an_issue_reads_as_an_issue_named_by_its_label(language: Language, words: list[str]) -> None:
    alert = make_alert(key="iss1", key_kind="issue").model_copy(
        update={
            "target": "kartu-pangan-digital",
            "numbers": {"posts": 1234, "voices": 980, "growth": 4.2},
            "labels": {"kinds": "volume_burst,stance_shift", "target_name": "Kartu Pangan Digital"},
            "details": {"label": "#KPDBocor, kartu pangan", "drivers": "#KPDBocor, data"},
        }
    )
    message = render(make_notification((alert,), language=language))
    for part in (message.text, message.html):
        for word in words:
            assert word in part.replace("&#183;", "·"), (word, part)
    assert "iss1" not in message.text.split("\n")[2]  # the id is not how a person names it

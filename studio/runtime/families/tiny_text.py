"""The tiny offline tokenizer and text-encoder sizes that every family's tiny test components share."""

from __future__ import annotations

# A small fixed vocabulary: real tokenizers would need a download, and the weights are random anyway.
_WORDS = (
    "a an the of and in on with at to from by is are red green blue yellow white black orange purple "
    "cat dog bird fish car tree house sky sea river mountain city street forest field flower sun moon "
    "star cloud rain snow fire light dark night day morning evening big small fast slow walking running "
    "flying swimming jumping camera pan zoom left right up down over under close wide shot video scene "
    "square circle ball box person man woman child boat train road bridge water grass stone sand"
).split()

# Small enough that 2 denoising steps at 9 frames x 32x32 take well under a second on a CPU.
TEXT_DIM = 32


def build_tokenizer():
    """A word-level tokenizer built offline; PreTrainedTokenizerFast because T5TokenizerFast fails to reload."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def vocab_size(tokenizer) -> int:
    # Rounded up so a few added tokens never index past the embedding table.
    return (len(tokenizer) + 15) // 16 * 16


def t5_kwargs(vocab: int) -> dict:
    """A one-layer T5/UMT5 config of TEXT_DIM for a vocabulary of ``vocab`` tokens."""
    return dict(
        vocab_size=vocab,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )


def tiny_text_parts(encoder: str = "t5") -> tuple:
    """(tokenizer, text encoder): a T5 ("t5") or UMT5 ("umt5") encoder over the tiny vocabulary."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    tokenizer = build_tokenizer()
    kwargs = t5_kwargs(vocab_size(tokenizer))
    if encoder == "umt5":
        return tokenizer, UMT5EncoderModel(UMT5Config(**kwargs))
    return tokenizer, T5EncoderModel(T5Config(**kwargs))

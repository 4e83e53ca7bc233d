"""Build a tiny random-weight Qwen2 model and a locally trained tokenizer (no downloads)."""

from __future__ import annotations

from pathlib import Path

SENTENCES = [
    "Greetings traveller, the road to the keep is long and cold.",
    "The smith says the forge has been quiet since the storm.",
    "Bring me three wolf pelts and I will pay you in silver.",
    "The river floods every spring and the village moves uphill.",
    "Beware the old mill at night, the lanterns move by themselves.",
    '{"mood": "calm", "line": "hello there"} {"mood": "angry"}',
    "Name your price, stranger, and be quick about it.",
]


def build_tiny_qwen2(directory: Path) -> Path:
    """Write a 2-layer Qwen2 with random weights and a byte-level BPE tokenizer to ``directory``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(SENTENCES * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|pad|>",
        model_max_length=512,
    )
    fast.save_pretrained(directory)
    vocab_size = 64 * ((len(fast) + 63) // 64)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(directory, safe_serialization=True)
    return directory

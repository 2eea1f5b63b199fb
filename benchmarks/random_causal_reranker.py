"""Build a random Qwen3-Reranker-style causal reranker of a chosen size, for crossrank bench --prefix-sharing.

No causal reranker can be downloaded here, so speed and memory are measured on a randomly
initialised one with Qwen3-0.6B's layout (GQA, tied embeddings, the chat template and
yes/no LogitScore of the test zoo) at a size where the model's arithmetic, not Python,
dominates. The scores mean nothing; their equality between modes, and the timings, do.

    python benchmarks/random_causal_reranker.py models/random-qwen3-reranker --vocab 151669
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--vocab", type=int, default=151_669, help="Qwen3's vocabulary size (default)")
    args = parser.parse_args()

    # The test zoo's tokenizer, template and module files; only the transformer is resized.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import torch
    import transformers
    from model_zoo import build_family

    with tempfile.TemporaryDirectory() as scratch:
        source = build_family("qwen3-reranker", Path(scratch))
        if args.output.exists():
            shutil.rmtree(args.output)
        shutil.copytree(source, args.output)
    config = transformers.Qwen3Config.from_pretrained(args.output)
    config.hidden_size = args.hidden
    config.num_hidden_layers = args.layers
    config.layer_types = ["full_attention"] * args.layers
    config.num_attention_heads = args.heads
    config.num_key_value_heads = args.kv_heads
    config.head_dim = args.hidden // args.heads
    config.intermediate_size = args.intermediate
    config.vocab_size = args.vocab
    config.initializer_range = 0.02
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(config).eval()
    for stale in args.output.glob("*.safetensors"):
        stale.unlink()
    model.save_pretrained(args.output)
    print(f"{args.output}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters")


if __name__ == "__main__":
    main()

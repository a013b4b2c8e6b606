"""Model throughput through our client: prompt (prefill) and generation tokens/s, separately.

    .venv/bin/python bench/model_throughput.py [--model SPEC] [--repeats N] [--out FILE]

Prefill: a long prompt with max_tokens=1, so the time is almost all prompt processing; each
repeat starts with a fresh nonce so llama.cpp's prompt cache cannot serve it.
Generation: a short prompt with a long max_tokens; its own prefill (estimated from the
prefill rate) is subtracted. Medians over the repeats are reported, with the raw samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import uuid
from pathlib import Path

from harness.config import load_config
from harness.models import ModelClient
from harness.servers import running_model

FILLER = ("The quick brown fox jumps over the lazy dog while the harness measures how fast "
          "the model reads. ")


async def prefill_rate(client: ModelClient, words: int) -> float:
    prompt = f"[{uuid.uuid4().hex}] " + FILLER * (words // 18) + "\nReply with one word."
    result = await client.chat([{"role": "user", "content": prompt}], max_tokens=1,
                               temperature=0)
    return result.usage.input_tokens / result.latency_s


async def generation_rate(client: ModelClient, max_tokens: int, prefill: float) -> float:
    prompt = f"[{uuid.uuid4().hex}] Write a long story about a lighthouse keeper."
    result = await client.chat([{"role": "user", "content": prompt}], max_tokens=max_tokens,
                               temperature=0.7)
    decode_s = result.latency_s - result.usage.input_tokens / prefill
    return result.usage.output_tokens / max(decode_s, 1e-6)


async def measure(spec: str | None, repeats: int, words: int, max_tokens: int) -> dict:
    config = load_config(None, model=spec)
    async with running_model(config) as client:
        await client.chat([{"role": "user", "content": "warm up"}], max_tokens=4)
        prefill = [await prefill_rate(client, words) for _ in range(repeats)]
        median_prefill = statistics.median(prefill)
        generation = [await generation_rate(client, max_tokens, median_prefill)
                      for _ in range(repeats)]
        model = client.model
    return {
        "model": model, "spec": config.model, "repeats": repeats,
        "prompt_tokens_per_s": round(median_prefill, 1),
        "generation_tokens_per_s": round(statistics.median(generation), 1),
        "samples": {"prefill": [round(x, 1) for x in prefill],
                    "generation": [round(x, 1) for x in generation]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model spec (default: configured)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-words", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    report = asyncio.run(measure(args.model, args.repeats, args.prompt_words, args.max_tokens))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

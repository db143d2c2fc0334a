"""``forensics eval`` and ``forensics bench``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from forensics_app.errors import InputError


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _command_line(args: argparse.Namespace) -> str:
    """The run's command, rebuilt from its resolved options (recorded in the outputs)."""
    parts = ["forensics", "eval", "--models", args.models, "--data", args.data, "--out", args.out]
    if args.max_subjects:
        parts += ["--max-subjects", str(args.max_subjects)]
    parts += ["--frames-per-subject", str(args.frames_per_subject)]
    if args.all_subjects:
        parts.append("--all-subjects")
    if args.attacker_steps:
        parts += ["--attacker-steps", str(args.attacker_steps)]
    if args.attributes:
        parts += ["--attributes", args.attributes]
    if args.s_gender is not None:
        parts += ["--s-gender", str(args.s_gender)]
    if args.donor_candidates is not None:
        parts += ["--donor-candidates", str(args.donor_candidates)]
    return " ".join(shlex.quote(str(p)) for p in parts)


def _eval(args: argparse.Namespace) -> int:
    from forensics_app.uunet.evaluation.report import markdown, write_outputs
    from forensics_app.uunet.evaluation.suite import run_evaluation

    models, data, out = Path(args.models), Path(args.data), Path(args.out)
    if not models.is_dir():
        raise InputError(f"no models folder at {models}")
    if not data.is_dir():
        raise InputError(f"no data folder at {data}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    if args.attributes and not (Path(args.attributes) / "da.safetensors").is_file():
        raise InputError(f"no da.safetensors in {args.attributes}")

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[eval] {message}", file=sys.stderr, flush=True)

    results, arrays = run_evaluation(
        models,
        data,
        args.max_subjects,
        args.frames_per_subject,
        log=log,
        all_subjects=args.all_subjects,
        attacker_steps=args.attacker_steps,
        attributes_model=Path(args.attributes) if args.attributes else None,
        s_gender=args.s_gender,
        **({} if args.donor_candidates is None else {"donor_candidates": args.donor_candidates}),
    )
    command = _command_line(args)
    results["command"] = command
    paths = write_outputs(out, results, arrays, command)
    print(markdown(results, command))
    for path in paths:
        print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from forensics_app.benchrun import run_benchmarks

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    summary = run_benchmarks(args.out, args.only, log=log)
    failed = [n for n, row in summary["stages"].items() if row["exit_code"] != 0]
    print((Path(args.out) / "bench.md").read_text(encoding="utf-8"), end="")
    if failed:
        print(f"forensics: error: benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="measure quality (detection, leakage, reconstruction)",
        description="Run the paper's quality experiments on held-back faces; write eval.json, "
        "eval.md and PNG plots into --out.",
    )
    parser.add_argument(
        "--models", required=True, help="folder with ue.safetensors, ud.safetensors"
    )
    parser.add_argument("--data", required=True, help="faces as DATA/<subject>/<sequence>/<frame>")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--max-subjects", type=_positive, help="use at most N held-back subjects")
    parser.add_argument(
        "--frames-per-subject", type=_positive, default=4, help="frames per subject (default 4)"
    )
    parser.add_argument(
        "--all-subjects",
        action="store_true",
        help="use every subject, not only the model card's held-back ones (unseen data sets)",
    )
    parser.add_argument(
        "--attacker-steps",
        type=int,
        default=0,
        help="also train an independent re-identification CNN on the other subjects for N "
        "steps (1500 takes a few minutes on a CPU) and report its leakage rows",
    )
    parser.add_argument(
        "--attributes",
        help="folder with the da.safetensors that reads soft labels for the attribute-control "
        "table (default: the one in --models); labels come from DATA/attributes.csv",
    )
    parser.add_argument(
        "--s-gender",
        type=int,
        choices=(1, -1, 0),
        help="donor gender control of a virtual-identity U_e: 1 keep x's gender, -1 flip it, "
        "0 gender-blind (default: keep when the card has donor tags, else gender-blind)",
    )
    parser.add_argument(
        "--donor-candidates",
        type=_positive,
        metavar="K",
        help="donors weighed per track under gender control; the one the package's own E_id "
        "finds least like the track is taken (default: the encoder's, 1: the seed's hash alone)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=_eval)
    bench = sub.add_parser(
        "bench",
        help="measure speed of every stage",
        description="Run every speed benchmark of benchmarks/ once, in sequence, so ratios are "
        "fair; write each one's JSON plus bench.json/bench.md (wall time, peak memory) to --out.",
    )
    bench.add_argument("--out", required=True, help="output folder (created)")
    bench.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages")
    bench.add_argument("--quiet", action="store_true", help="no progress lines")
    bench.set_defaults(handler=_bench)

"""Attribute control checked by a reader independent of training; writes JSON.

    python benchmarks/bench_attribute_reader.py --data DATA --models models runs/soft_equal \
        runs/soft_diff [--steps 600] [--out benchmarks/results/bench_attribute_reader.json]

`forensics eval` reads soft labels with D_a, which is also what U_e trained against (paper
§IV-E). Here, per soft label of ``DATA/attributes.csv``, the attacker CNN is trained from
scratch to tell the label's two values apart on the *original* faces of the labelled
training subjects (nothing of D_a or U_e), then scores the held-back subjects' originals x
(its ceiling) and each model's surrogates a. ROC AUC > 0.5: a reads as its subject's value;
< 0.5: as the opposite value (a flipped label); 0.5: no signal. Training subjects' surrogates
are scored too (the reader saw their x, never their a).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forensics_app.uunet.data import UNKNOWN, read_attributes  # noqa: E402
from forensics_app.uunet.evaluation.attributes import (  # noqa: E402
    reader_auc,
    train_attribute_reader,
)
from forensics_app.uunet.evaluation.suite import load_eval_faces  # noqa: E402
from forensics_app.uunet.export import read_card  # noqa: E402
from forensics_app.uunet.inference import FaceEncoder  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--models", nargs="+", required=True, type=Path, help="model folders")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--frames", type=int, default=8, help="frames per subject (default 8)")
    ap.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/bench_attribute_reader.json"
    )
    args = ap.parse_args()
    started = time.time()
    attributes = read_attributes(args.data / "attributes.csv")
    held = set(read_card(args.models[0] / "ud.json")["data"]["heldout_subjects"])
    labels = sorted({label for row in attributes.values() for label in row})
    encoders = {str(m): FaceEncoder.from_file(m / "ue.safetensors") for m in args.models}
    results: dict = {"data": str(args.data), "steps": args.steps, "labels": {}}
    for label in labels:
        known = {s for s, row in attributes.items() if row.get(label, "").lower() not in UNKNOWN}
        train = load_eval_faces(args.data, sorted(known - held), None, args.frames)
        test = load_eval_faces(args.data, sorted(known & held), None, args.frames)

        def values_of(ev, label=label):
            return [attributes[s][label] for s in ev.subjects]

        reader = train_attribute_reader(train.faces, values_of(train), steps=args.steps)
        row = {
            "positive_value": reader.positive,
            "train_subjects": len(train.gallery),
            "heldout_subjects": len(test.gallery),
            "x_heldout": reader_auc(reader, test.faces, values_of(test)),
            "x_training_subjects": reader_auc(reader, train.faces, values_of(train)),
            "models": {},
        }
        for name, enc in encoders.items():
            a_test = enc.encode(test.faces, test.seeds)
            a_train = enc.encode(train.faces, train.seeds)
            row["models"][name] = {
                "ue_sha256": enc.sha256,
                "s": enc.card.get("training", {}).get("s"),
                "a_heldout": reader_auc(reader, a_test, values_of(test)),
                "a_training_subjects": reader_auc(reader, a_train, values_of(train)),
            }
        results["labels"][label] = row
        print(f"{label}: x held-back AUC {row['x_heldout']['auc']}", file=sys.stderr)
        for name, m in row["models"].items():
            print(
                f"  {name}: a held-back {m['a_heldout']['auc']}, "
                f"training subjects {m['a_training_subjects']['auc']}",
                file=sys.stderr,
            )
    results["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

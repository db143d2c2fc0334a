"""Gender control of U_e(x, z) against *hand labels* of x, for s_gender = 0, +1 and −1.

``forensics eval`` reports how often the independent gender judge reads a as it reads x.
On small, blurred or grey faces the judge misreads x itself (on the held-back LFW faces it
agrees with the hand labels only 60 % of the time), so that figure mixes the donor choice
with the judge's own errors. This benchmark keeps the judge as the reader of a but takes
x's gender from hand labels (``resources/labels/``), and also says how well each reader
reads x:

* ``judge_x_vs_label`` / ``own_reader_x_vs_label``: the judge's and the producer's own
  reader's (E_id + probe) reading of x against the labels (per face);
* for each s: ``judge_a_is_label`` = share of faces whose surrogate the judge reads as x's
  labelled gender (s = +1 wants high, s = −1 wants low; s = 0 is the gender-blind donor).

Faces and track seeds are those of ``forensics eval`` (``load_eval_faces``: held-back
subjects of the model card, 4 frames each, one seed per subject). Writes JSON.

    python benchmarks/bench_gender_control.py --data DATA/boot \
        --labels DATA/boot/attributes.csv --key subject --out benchmarks/results/gender_real.json
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np

from forensics_app.uunet.evaluation.judges import GenderReader
from forensics_app.uunet.evaluation.suite import load_eval_faces
from forensics_app.uunet.export import read_card
from forensics_app.uunet.inference import FaceEncoder


def measure(
    models: Path, data: Path, labels: Path, key: str, max_subjects: int | None
) -> dict[str, object]:
    """The figures described in the module docstring, as a JSON-ready dict."""
    held = read_card(models / "ud.json").get("data", {}).get("heldout_subjects")
    ev = load_eval_faces(data, held, max_subjects, 4)
    with labels.open(encoding="utf-8", newline="") as handle:
        by_subject = {row[key]: (row.get("gender") or "").strip() for row in csv.DictReader(handle)}
    truth = np.array([by_subject.get(s, "") for s in ev.subjects])
    known = truth != ""
    male = truth[known] == "male"
    judge = GenderReader()
    keep = FaceEncoder.from_file(models / "ue.safetensors", s_gender=1, models_dir=models)
    assert keep.gender is not None
    own = keep.gender.reader.logits(ev.faces[known])
    out: dict[str, object] = {
        "labelled_faces": int(known.sum()),
        "labelled_subjects": len(set(np.array(ev.subjects)[known].tolist())),
        "female_faces": int((~male).sum()),
        "judge_x_vs_label": round(
            float(np.mean((judge.p_male(ev.faces[known]) >= 0.5) == male)), 4
        ),
        "own_reader_x_vs_label": round(float(np.mean((own < 0) == male)), 4),
    }
    for s in (0, 1, -1):
        enc = FaceEncoder.from_file(models / "ue.safetensors", s_gender=s, models_dir=models)
        a = enc.encode(ev.faces, ev.seeds)[known]
        read_male = judge.p_male(a) >= 0.5
        out["s=0" if s == 0 else f"s={s:+d}"] = {
            "donors": enc.gender_note,
            "judge_a_is_label": round(float(np.mean(read_male == male)), 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="models")
    parser.add_argument("--data", required=True, help="DATA/<subject>/<sequence>/<frame>")
    parser.add_argument("--labels", required=True, help="CSV with a subject key and gender")
    parser.add_argument("--key", default="subject", help="the CSV column naming the subject")
    parser.add_argument("--max-subjects", type=int, help="as forensics eval --max-subjects")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    started = time.time()
    result = {
        "benchmark": "gender_control",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}",
        "data": args.data,
        "labels": args.labels,
        **measure(
            Path(args.models), Path(args.data), Path(args.labels), args.key, args.max_subjects
        ),
    }
    result["seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

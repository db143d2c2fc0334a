"""Which donors show their gender through U_e(x, z)? A screen of the bank, and what it buys.

Gender control (``uunet/gender.py``) picks a donor of the wanted gender, but the surrogate
keeps x's light and layout (hair outline included), so the gender a viewer reads in ``a`` is
not always the donor's. This benchmark measures, for every tagged donor, how often the
producer's *own* reader (E_id + probe, never the evaluation's judge) reads the surrogate as
the donor's tagged gender, over hand-labelled *training* faces (``--labels``; subjects that
the model card holds back are left out), split by whether x has the donor's gender (what
``s = +1`` produces) or the other (``s = −1``). The evaluation's judge is run on the same
surrogates as a diagnostic only: nothing is chosen by it.

With ``--screened-models DIR`` it also writes a copy of ``--models`` whose encoder card keeps
the gender tag only of donors whose mean own-reader rate reaches ``--shown-min`` (the others
become untagged, so gender control never picks them). Measure that copy on held-back faces
with ``bench_gender_control.py --models DIR``.

    python benchmarks/bench_donor_gender.py --data DATA/syn \
        --labels resources/labels/synthetic_gender.csv --out benchmarks/results/donor_gender.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from forensics_app.uunet.evaluation.judges import GenderReader
from forensics_app.uunet.gender import SHOWN_MIN, screen_donors, screen_inputs, shown_rates


def measure(models: Path, data: Path, labels: Path, frames: int) -> dict[str, object]:
    """Per-donor shown rates (own reader, judge) on labelled training faces, and summaries."""
    enc, card, faces, genders = screen_inputs(models, data, labels, frames)
    tags = card["donor_bank"]["gender"]
    own, judge = enc.gender.reader, GenderReader()
    readers = {"own": lambda f: own.logits(f) < 0, "judge": lambda f: judge.p_male(f) >= 0.5}
    donors = shown_rates(enc, faces, genders, tags, readers)
    keys = ("own_same", "own_other", "judge_same", "judge_other")
    summary: dict[str, object] = {}
    for gender in ("female", "male", "all"):
        rows = [v for v in donors.values() if gender in ("all", v["tag"])]
        summary[gender] = {
            "donors": len(rows),
            **{k: round(float(np.mean([v[k] for v in rows])), 4) for k in keys},
        }
    own_mean = np.array([(v["own_same"] + v["own_other"]) / 2 for v in donors.values()])
    judge_same = np.array([v["judge_same"] for v in donors.values()])
    summary["corr_own_judge_same"] = round(float(np.corrcoef(own_mean, judge_same)[0, 1]), 3)
    return {
        "faces": len(faces),
        "male_faces": genders.count("male"),
        "summary": summary,
        "donors": donors,
    }


def screened_copy(models: Path, out: Path, data: Path, labels: Path, shown_min: float) -> dict:
    """Copy ``models`` to ``out`` and screen its donors as ``forensics train screen-donors``."""
    if out.exists():
        raise SystemExit(f"{out} exists; choose a new folder")
    shutil.copytree(models, out)
    bank = screen_donors(out, data, labels, shown_min)
    return {"note": bank["gender_shown_note"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="models")
    parser.add_argument("--data", required=True, help="the synthetic DATA/<subject>/... root")
    parser.add_argument("--labels", default="resources/labels/synthetic_gender.csv")
    parser.add_argument("--frames", type=int, default=2, help="frames per subject")
    parser.add_argument("--screened-models", help="write a screened copy of --models here")
    parser.add_argument("--shown-min", type=float, default=SHOWN_MIN)
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    started = time.time()
    result: dict[str, object] = {
        "benchmark": "donor_gender",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}",
        "models": args.models,
        **measure(Path(args.models), Path(args.data), Path(args.labels), args.frames),
    }
    if args.screened_models:
        result["screened"] = {
            "shown_min": args.shown_min,
            "out": args.screened_models,
            **screened_copy(
                Path(args.models),
                Path(args.screened_models),
                Path(args.data),
                Path(args.labels),
                args.shown_min,
            ),
        }
    result["seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "donors"}, indent=2))


if __name__ == "__main__":
    main()

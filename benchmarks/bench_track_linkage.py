"""Can two tracks of one person be linked through their surrogates? SFace against baselines.

``forensics eval`` reports ``two_tracks_same_person_a``: each held-back face encoded under
its own track seed and again under another (as if the person had been tracked twice), and
the share whose two surrogates SFace calls one person. Alone that number does not say *why*
they match: the same donor drawn twice, or x's own structure surviving in both. This
benchmark puts it beside

* ``same_donor_share``: how often the second seed drew the same donor as the first;
* ``different_subjects_same_person_a``: surrogates of two *different* held-back subjects
  called one person (the false-match floor of surrogates), and the same for pairs whose
  donors differ;
* ``different_subjects_same_person_x``: the same floor for the originals.

If two tracks of one person match far more often than two different people's surrogates,
while their donors differ, what links them is x, carried in a (its layout and code), not
the donor. Faces and seeds are those of ``forensics eval`` (4 frames per subject).

    python benchmarks/bench_track_linkage.py --data DATA/boot --out benchmarks/results/track_linkage_real.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from forensics_app.uunet.evaluation.judges import SFaceEmbedder
from forensics_app.uunet.evaluation.suite import load_eval_faces, load_models
from forensics_app.uunet.export import read_card

#: the offset ``forensics eval`` gives the second track's seed (suite._track_identity)
SECOND_TRACK = 1_000_003


def measure(models: Path, data: Path, max_subjects: int | None) -> dict[str, object]:
    """The figures described in the module docstring."""
    held = read_card(models / "ud.json").get("data", {}).get("heldout_subjects")
    ev = load_eval_faces(data, held, max_subjects, 4)
    enc, _ = load_models(models)
    seeds = [int(s) for s in ev.seeds]
    other = [s + SECOND_TRACK for s in seeds]
    a, b = enc.encode(ev.faces, seeds), enc.encode(ev.faces, other)
    sface = SFaceEmbedder()
    marks = sface.landmarks(ev.faces)
    s_x, s_a, s_b = sface(ev.faces, marks), sface(a, marks), sface(b, marks)
    threshold = SFaceEmbedder.match_cosine
    subjects = np.array(ev.subjects)
    i, j = np.triu_indices(len(a), k=1)
    keep = subjects[i] != subjects[j]
    i, j = i[keep], j[keep]
    donor_a = np.array(enc.donor_indices(ev.faces, seeds)) if enc.donor_count else None
    donor_b = np.array(enc.donor_indices(ev.faces, other)) if enc.donor_count else None

    def rate(hits: np.ndarray) -> float:
        return round(float(np.mean(hits)), 4)

    out: dict[str, object] = {
        "faces": len(a),
        "subjects": len(set(ev.subjects)),
        "different_subject_pairs": int(i.size),
        "match_cosine": threshold,
        "two_tracks_same_person_a": rate(np.sum(s_a * s_b, axis=1) >= threshold),
        "different_subjects_same_person_a": rate(np.sum(s_a[i] * s_a[j], axis=1) >= threshold),
        "different_subjects_same_person_x": rate(np.sum(s_x[i] * s_x[j], axis=1) >= threshold),
    }
    if donor_a is not None and donor_b is not None:
        differ = donor_a[i] != donor_a[j]
        out["same_donor_share"] = rate(donor_a == donor_b)
        out["different_subjects_and_donors_same_person_a"] = rate(
            (np.sum(s_a[i] * s_a[j], axis=1) >= threshold)[differ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="models")
    parser.add_argument("--data", required=True, help="DATA/<subject>/<sequence>/<frame>")
    parser.add_argument("--max-subjects", type=int, help="as forensics eval --max-subjects")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    started = time.time()
    result = {
        "benchmark": "track_linkage",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}",
        "models": args.models,
        "data": args.data,
        **measure(Path(args.models), Path(args.data), args.max_subjects),
    }
    result["seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

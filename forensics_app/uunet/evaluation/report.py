"""Outputs of ``forensics eval``: ``eval.json``, ``eval.md`` (tables) and PNG plots.

Plots use matplotlib's Agg backend (no display, no Qt), so they render on a headless server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.uunet.evaluation.leakage import LeakageRow
from forensics_app.uunet.evaluation.metrics import roc_curve


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any], command: str | None = None) -> str:
    """The tables of ``eval.md`` (and of docs/RESULTS.md) from a results dict."""
    det, leak, rec = results["detection"], results["leakage"], results["reconstruction"]
    data, models = results["data"], results["models"]
    out = []
    if command:
        out.append(f"Command: `{command}`  ")
    out.append(
        f"Date: {results['date_utc']}; machine: {results['machine']}; "
        f"run time {results['seconds']} s.  \n"
        f"Models (card sha256): U_e `{models['ue_sha256']}`, U_d `{models['ud_sha256']}`; "
        f"training steps {models.get('steps_done')}.  \n"
        f"Data: {data['subjects']} subjects, {data['faces']} faces ({data['probes']} probes); "
        f"held-back subjects from the model card: {_cell(data['heldout_from_model_card'])}."
    )
    out.append("\n### Targets\n")
    out.append(
        table(
            ["target", "measured", "met"],
            [[k, v["measured"], v["met"]] for k, v in results["targets"].items()],
        )
    )
    out.append(f"\n### Detection on transformed faces (paper §IV-B; {results['detector']})\n")
    out.append(
        table(
            ["faces", "mean conf.", "Pearson r with x", "detection rate", "rate / x's rate"],
            [
                [
                    k,
                    v["mean_confidence"],
                    v["pearson_with_x"],
                    v["detection_rate"],
                    v["rate_ratio_to_x"],
                ]
                for k, v in det.items()
            ],
        )
    )
    threshold = next(iter(det.values()))["threshold"]
    out.append(f"\nDetected = best CenterFace score ≥ {threshold}.")
    if results.get("detection_by_source"):
        out.append("\nBy source (subject id prefix):\n")
        rows = [
            [src, name, v["mean_confidence"], v["detection_rate"], v["rate_ratio_to_x"]]
            for src, table_ in results["detection_by_source"].items()
            for name, v in table_.items()
        ]
        out.append(table(["source", "faces", "mean conf.", "detection rate", "rate / x's"], rows))
    out.append(f"\n### Identity leakage (paper §IV-C; {results['embedder']})\n")
    out.append(_leakage_table(leak))
    if "attacker" in results:
        att = results["attacker"]
        out.append(f"\n### Identity leakage, independent attacker ({att['embedder']})\n")
        out.append(_leakage_table(att["leakage"]))
        t = att["training"]
        out.append(
            f"\nTrained here for {t['steps']} steps on {t['train_faces']} original faces of "
            f"{t['train_subjects']} subjects that are not evaluated (seed {t['seed']}); "
            "nothing of dlib, D_a or U_e went into it."
        )
    if "independent_judges" in results:
        judges = results["independent_judges"]
        sf, gender = judges["sface"], judges["gender"]
        out.append(f"\n### Identity leakage, independent judge ({sf['embedder']})\n")
        out.append(_leakage_table(sf["leakage"]))
        same = results.get("same_person_x_a", {})
        out.append(
            "\nSame-person rate x↔a (the face and its own surrogate judged one person): "
            + ", ".join(f"{k} {v:.1%}" for k, v in same.items())
            + f". SFace was {sf['trained_against']}."
        )
        if "tracks" in sf:
            t = sf["tracks"]
            out.append(
                f"\nTracks, by SFace: frames of one track judged one person "
                f"{t['within_track_same_person_a']:.1%} of the time for a "
                f"({t['within_subject_same_person_x']:.1%} for x; {t['within_pairs']} pairs); "
                f"the same faces under a second track seed judged the same person as under the "
                f"first {t['two_tracks_same_person_a']:.1%} of the time (low: a second track is "
                "a second person)."
            )
        kept = gender["kept_rate"]
        out.append(
            f"\nGender read by {gender['reader']}: on {gender['faces_sure']} of "
            f"{gender['faces']} faces whose x it is sure of, a keeps x's gender in "
            + (f"{kept:.1%}" if kept is not None else "– (none sure)")
            + f" (U_e trained with s_gender = {gender['s_gender_trained']}; donors: "
            + f"{gender.get('donor_choice', 'gender-blind')})."
        )
    out.append(
        "\nGallery: one original frame per subject; probes: the subject's other frames after "
        "the transform. AUC 0.5 = the embedder cannot link the probe to the person."
    )
    if "temporal" in results:
        out.append("\n### Temporal consistency (paper §IV-D; same embedder)\n")
        out.append(
            table(
                [
                    "pairs",
                    "KS statistic",
                    "KS p-value",
                    "AUC",
                    "d′",
                    "within mean",
                    "impostor mean",
                ],
                [
                    [
                        k,
                        v["ks_statistic"],
                        f"{v['ks_p_value']:.3g}",
                        v["auc"],
                        v["d_prime"],
                        v["within_mean"],
                        v["between_mean"],
                    ]
                    for k, v in results["temporal"].items()
                ],
            )
        )
        out.append(
            "\nWithin-track pairs (two frames of one subject) against pairs of different "
            "subjects; a consistent surrogate keeps them apart as the originals do."
        )
    if "attribute_control" in results:
        out.append("\n### Attribute control (paper §IV-E; responses of D_a)\n")
        out.append(attribute_markdown(results["attribute_control"]))
    out.append("\n### Reconstruction r = U_d(channel(a)) vs x\n")
    rows = [
        ["a = U_e(x) vs x (no decoder)", rec["a_vs_x"]["psnr"], rec["a_vs_x"]["ssim"], None, None]
    ]
    for name, v in rec.items():
        if name in ("a_vs_x", "box24"):
            continue
        ch = v["channel_on_x_vs_x"]
        rows.append([name, v["r_vs_x"]["psnr"], v["r_vs_x"]["ssim"], ch["psnr"], ch["ssim"]])
    out.append(
        table(["channel", "PSNR dB", "SSIM", "channel on x: PSNR dB", "channel on x: SSIM"], rows)
    )
    out.append(
        "\nThe last two columns apply the same channel to x itself (no network): the quality a "
        "plain crop of the public video would give."
    )
    if "box24" in rec:
        box = rec["box24"]
        side = box["side"]
        out.append(f"\n### Reconstruction at box resolution ({side}×{side} px)\n")
        out.append(
            table(
                ["a in its box, then", "PSNR dB", "SSIM"],
                [[k, v["psnr"], v["ssim"]] for k, v in box.items() if k != "side"],
            )
        )
        out.append(
            f"\na is shrunk into a {side}-px box (what the public frame holds), optionally "
            "coded by libx264, scaled back to 64 px for U_d; r and x are compared at the box's "
            "own size. The last row codes x itself: the ceiling the codec allows."
        )
    return "\n".join(out) + "\n"


def attribute_markdown(att: dict[str, Any]) -> str:
    """The §IV-E table: Pearson r of D_a,l(x_j, a_i) with 1[label_l(i) = label_l(j)]."""
    if "evaluated" not in att:
        return att.get("note", "not measured")
    rows = []
    blocks = [("evaluated", att["evaluated"])]
    if "training_subjects" in att:
        blocks.append(("training subjects", att["training_subjects"]))
    for block, labels in blocks:
        for label, v in labels.items():
            if label == "id":
                continue
            if "a" not in v:
                rows.append([block, label, None, None, None, None, None, v.get("note")])
                continue
            a, ref = v["a"], v["x_reference"]
            rows.append(
                [
                    block,
                    label,
                    a["s"],
                    _with_range(a),
                    _with_range(ref),
                    v["paired_mean_da_x_a"],
                    f"{a['subjects']} / {a['pairs']}",
                    a["follows_s"],
                ]
            )
    text = table(
        [
            "subjects",
            "label",
            "s (as trained)",
            "r, surrogates a (5–95 %)",
            "r, real faces x (5–95 %)",
            "mean D_a(x_i, a_i)",
            "subjects / pairs",
            "follows s",
        ],
        rows,
    )
    sha = f"`{att['reader_da_sha256'][:12]}…`"
    if att.get("reader_is_training_da"):
        reader = f"D_a {sha}, the one this U_e trained against, so not independent of training"
    else:
        reader = f"D_a {sha}, which this U_e never trained against"
    return (
        text + "\n\nPairs: each surrogate a_i with the enrolment face x_j of every other labelled "
        "subject; r > 0 means surrogates keep their subject's label, r < 0 that they take the "
        "other one; the real-face column is D_a's own reading (the ceiling of |r|). Ranges: 50 "
        "draws of 90 % of the subjects with repetition. 'training subjects' were seen by U_e "
        f"and D_a in training. Read by {reader}. "
        "s = 0: the label was not constrained in training."
    )


def _with_range(row: dict[str, Any]) -> str:
    return f"{_cell(row['pearson_r'])} ({_cell(row['p5'])}…{_cell(row['p95'])})"


def _leakage_table(leak: dict[str, dict[str, Any]]) -> str:
    return table(
        ["pair", "AUC", "d′", "genuine mean", "impostor mean", "genuine / impostor pairs"],
        [
            [
                k,
                v["auc"],
                v["d_prime"],
                v["genuine_mean"],
                v["impostor_mean"],
                f"{v['genuine_pairs']} / {v['impostor_pairs']}",
            ]
            for k, v in leak.items()
        ],
    )


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histograms(rows: Sequence[LeakageRow], path: Path) -> None:
    """Genuine/impostor distance histograms, one panel per leakage row."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(rows), figsize=(3.0 * len(rows), 2.8), squeeze=False)
    bins = np.linspace(0, max(float(np.max(r.impostor)) for r in rows) * 1.05, 30)
    for ax, row in zip(axes[0], rows, strict=True):
        ax.hist(row.impostor, bins=bins, density=True, alpha=0.6, label="impostor")
        ax.hist(row.genuine, bins=bins, density=True, alpha=0.6, label="genuine")
        ax.set_title(f"{row.name}\nAUC {row.auc:.3f}, d′ {row.d_prime:.2f}", fontsize=8)
        ax.set_xlabel("dlib distance", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roc(rows: Sequence[LeakageRow], path: Path) -> None:
    """ROC curves (true- vs false-accept rate) of every leakage row."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for row in rows:
        fpr, tpr = roc_curve(row.genuine, row.impostor)
        ax.plot(fpr, tpr, label=f"{row.name} (AUC {row.auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_grid(columns: dict[str, np.ndarray], path: Path, n: int = 8) -> None:
    """An image grid: one column per stack (x | a | r | …), ``n`` evenly spaced faces."""
    plt = _plt()
    first = next(iter(columns.values()))
    pick = np.linspace(0, len(first) - 1, min(n, len(first))).astype(int)
    fig, axes = plt.subplots(
        len(pick), len(columns), figsize=(1.2 * len(columns), 1.2 * len(pick)), squeeze=False
    )
    for c, (title, imgs) in enumerate(columns.items()):
        for r, i in enumerate(pick):
            ax = axes[r][c]
            ax.imshow(imgs[i][..., ::-1])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(
    out: Path, results: dict[str, Any], arrays: dict[str, Any], command: str | None = None
) -> list[Path]:
    """Write eval.json, eval.md and the plots into ``out``; returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "eval.json", out / "eval.md"]
    paths[0].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text("# Evaluation\n\n" + markdown(results, command), encoding="utf-8")
    rows = arrays["leakage_rows"]
    main_rows = [r for r in rows if r.name in ("x↔x", "x↔a", "x↔r")] or rows
    paths.append(out / "leakage_histograms.png")
    plot_histograms(main_rows, paths[-1])
    paths.append(out / "roc.png")
    plot_roc(rows, paths[-1])
    columns = {"x": arrays["x"], "a = U_e(x)": arrays["a"], "r = U_d(a)": arrays["r"]}
    columns.update(arrays["baselines"])
    paths.append(out / "grid.png")
    plot_grid(columns, paths[-1])
    if arrays.get("box24") is not None:
        x_box, a_box, r_box = arrays["box24"]
        side = x_box.shape[1]
        paths.append(out / f"grid_box{side}.png")
        plot_rows(
            {
                f"x ({side} px)": _enlarge(x_box),
                f"a in its {side}-px box": _enlarge(a_box),
                "r after H.264 CRF 23": _enlarge(r_box),
            },
            paths[-1],
            n=16,
        )
    return paths


def plot_rows(rows: dict[str, np.ndarray], path: Path, n: int = 16) -> None:
    """One row per stack (x / a / r), ``n`` evenly spaced faces side by side, no gaps: the
    way a reader compares a face with its surrogate and its reconstruction at a glance."""
    plt = _plt()
    first = next(iter(rows.values()))
    pick = np.linspace(0, len(first) - 1, min(n, len(first))).astype(int)
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.75 * len(pick), 0.95 * len(rows)))
    for ax, (title, imgs) in zip(np.atleast_1d(axes), rows.items(), strict=True):
        ax.imshow(np.concatenate([imgs[i] for i in pick], axis=1)[..., ::-1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _enlarge(faces: np.ndarray, factor: int = 4) -> np.ndarray:
    """Box-size faces blown up by pixel replication, so the grid shows what the box holds."""
    return np.repeat(np.repeat(faces, factor, axis=1), factor, axis=2)

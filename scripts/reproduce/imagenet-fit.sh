#!/usr/bin/env bash
# ImageNet-class models on the CM accelerator specs (issue #20, docs/results/cm.md "ImageNet-class
# models"): each zoo model compiled on configs/hw/default.yaml (which their 112x112 early layers
# overflow) and on configs/hw/imagenet.yaml, one image through the timing simulator; prints a
# Markdown table of cores, peak buffer per core, fit, first-image latency and throughput.
#
#   scripts/reproduce/imagenet-fit.sh [OUT]      (default OUT: /tmp/imagenet-fit)
set -euo pipefail
OUT=${1:-/tmp/imagenet-fit}
NC=${NC:-build/neurocore}
MODELS=${MODELS:-"resnet18 resnet50 mobilenet_v2 googlenet densenet121"}
mkdir -p "$OUT"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "Commit $commit. \`neurocore compile MODEL --hw configs/hw/SPEC.yaml --images 1\` (zoo models, random weights)."
echo
echo "| model | spec | cores | peak buffer per core (bytes) | buffer.bytes_per_core | fits | first image (us) | images/s |"
echo "|---|---|---|---|---|---|---|---|"
for m in $MODELS; do
  for spec in default imagenet; do
    dir="$OUT/$m-$spec"
    rm -rf "$dir"
    "$NC" compile "$m" --hw "configs/hw/$spec.yaml" --images 1 --out "$dir" > "$dir.log" 2>&1 || true
    python3 - "$dir/report.json" "$m" "$spec" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j["timing"]
peak = max(c["max_buffer_bytes"] for c in t["cores"])
size = j["hardware"]["buffer_bytes_per_core"]
lat = t["first_latency_cycles"] / t["clock_ghz"] / 1e3
print(f"| {sys.argv[2]} | {sys.argv[3]} | {j['cores']} | {peak:,} | {size:,} | {'yes' if peak <= size else '**no**'} | {lat:.1f} | {t['throughput_images_per_s']:.1f} |")
PY
  done
done

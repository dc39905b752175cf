#!/usr/bin/env bash
# Renders the README's screenshots of the real window under a virtual X server (xvfb-run).
# Run after a build (./test.sh or ./run.sh); writes docs/screenshots/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/app/vlmscope
[ -x "$bin" ] || { echo "build first (./test.sh)" >&2; exit 1; }
out=docs/screenshots
mkdir -p "$out"
# The bundled demo model and image, Grad-CAM of the second caption token.
xvfb-run -a -s "-screen 0 1400x1000x24" "$bin" resources/images/demo.png --explain-token 2 --screenshot "$out/main-window.png"
# The same with two masks drawn and the caption regenerated (word diff, log-probability change).
xvfb-run -a -s "-screen 0 1400x1000x24" "$bin" resources/images/demo.png --explain-token 2 --mask 60,40,200,180 --mask 300,300,180,200 \
  --screenshot "$out/masks-regenerate.png"
# Shapley values (KernelSHAP over a 4x4 grid) of the second token, with the bar chart.
xvfb-run -a -s "-screen 0 1400x1000x24" "$bin" resources/images/demo.png --method shap --explain-token 2 --screenshot "$out/shapley.png"
echo "wrote $out/main-window.png $out/masks-regenerate.png $out/shapley.png"

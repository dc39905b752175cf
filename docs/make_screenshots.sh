#!/usr/bin/env bash
# Renders the README's screenshots of the real window under a virtual X server (xvfb-run).
# Run after a build (./test.sh or ./run.sh); writes docs/screenshots/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/app/vlmscope
[ -x "$bin" ] || { echo "build first (./test.sh)" >&2; exit 1; }
out=docs/screenshots
mkdir -p "$out"
shot() { xvfb-run -a -s "-screen 0 1400x1000x24" "$bin" resources/images/demo.png "$@"; }
# The bundled shapes-world models (captioner, VQA, CLIP: loaded by default) and demo scene, Grad-CAM of the second caption token ("purple").
shot --explain-token 2 --screenshot "$out/main-window.png"
# A mask over the orange circle and the caption regenerated (word diff, log-probability change, CLIP before /
# after with the bundled shapes-world CLIP).
shot --explain-token 2 --mask 57,45,44,44 --screenshot "$out/masks-regenerate.png"
# A question to the bundled shapes-world VQA model.
shot --question "what colour is the star?" --screenshot "$out/vqa.png"
# Shapley values (KernelSHAP over a 4x4 grid) of the second token: the bar chart, the force plot.
shot --method shap --explain-token 2 --tab bars --screenshot "$out/shapley.png"
shot --method shap --explain-token 2 --tab force --screenshot "$out/shapley-force.png"
shot --method shap --explain-token 2 --tab features --screenshot "$out/shapley-features.png"
# The layer evolution of the second token (a middle layer shown, play button beside the slider).
shot --explain-token 2 --layers --screenshot "$out/layers.png"
echo "wrote $(ls "$out"/*.png | tr '\n' ' ')"

#!/usr/bin/env bash
# Install what is missing, build, start VLMScope on the bundled demo image and model.
set -euo pipefail
cd "$(dirname "$0")"
source packaging/deps.sh
vlm_install_deps
vlm_build build
exec build/app/vlmscope --model resources/models/blip-caption-tiny resources/images/demo.png "$@"

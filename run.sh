#!/usr/bin/env bash
# Install what is missing, build, start VLMScope on the bundled demo image and model.
set -euo pipefail
cd "$(dirname "$0")"
source packaging/deps.sh
vlm_install_deps
vlm_build build
# Without --model the window loads the bundled demo model and says what it is.
exec build/app/vlmscope resources/images/demo.png "$@"

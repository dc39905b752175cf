#!/usr/bin/env bash
# Install what is missing, build, run the test suite (ctest, default labels).
set -euo pipefail
cd "$(dirname "$0")"
source packaging/deps.sh
vlm_install_deps
start=$(date +%s)
vlm_build build
echo "VLMScope: build took $(( $(date +%s) - start )) s"
# The Debian package (packaging/cpack.cmake): build/vlmscope_VERSION_ARCH.deb.
cmake --build build --target package
cd build
# The default run excludes tests labelled 'slow' (run them with: ctest -L slow).
ctest --output-on-failure -j"$(nproc)" -LE slow "$@"

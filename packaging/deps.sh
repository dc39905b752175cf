#!/usr/bin/env bash
# The Debian 12 / Ubuntu packages VLMScope builds, tests and runs with.
# Sourced by ./run.sh and ./test.sh: `vlm_install_deps` installs whatever is missing
# with apt-get (non-interactive; as root directly, otherwise through sudo).
VLM_BUILD_PACKAGES=(
  build-essential clang cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp
  qt6-base-dev qt6-base-dev-tools qt6-charts-dev qt6-svg-dev
  libopencv-dev libopencv-contrib-dev
  libavcodec-dev libavformat-dev libswscale-dev libavutil-dev
  libeigen3-dev nlohmann-json3-dev libicu-dev zlib1g-dev
  xvfb xauth
  # ffprobe (from the ffmpeg package) checks the MP4 files tests/test_render.cpp writes;
  # VLMScope itself encodes through the libav* libraries, never the ffmpeg binary.
  ffmpeg
  # tests/test_package.cpp validates the .desktop entry, the AppStream metainfo and the man page
  # of the Debian package with the tools distributions use.
  desktop-file-utils appstream groff-base
)

vlm_missing_packages() {
  local p missing=()
  for p in "${VLM_BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]}"
}

vlm_install_deps() {
  local missing
  missing=$(vlm_missing_packages)
  [ -z "$missing" ] && return 0
  echo "VLMScope: installing missing packages: $missing"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      echo "VLMScope: these packages are missing and this user is not root (no sudo): $missing" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq || return 1
  # shellcheck disable=SC2086
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing || return 1
}

# Configure (once) and build into $1 (default: build/).
vlm_build() {
  local dir=${1:-build}
  local cxx=clang++
  command -v clang++ >/dev/null 2>&1 || cxx=g++
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" || return 1
  fi
  cmake --build "$dir" -j"$(nproc)"
}

// Precompiled header of core/ and the tests: LibTorch costs ~10-20 s per translation unit
// without it. Only .cpp files get it (through CMake); headers include what they use.
#pragma once
// clang 14 in C++20 mode needs IValue complete before the rest of LibTorch.
#include <ATen/core/ivalue.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

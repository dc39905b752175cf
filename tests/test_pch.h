#pragma once
// Precompiled for every test: LibTorch, Qt Test, and the shared helpers.
// clang 14 in C++20 mode needs IValue complete before the rest of LibTorch.
#include <ATen/core/ivalue.h>
#include <torch/torch.h>
#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <string>
#include <vector>

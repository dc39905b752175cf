#pragma once
// Checking the vlm::Error a statement throws: its code, that the message is one line and
// names what it should (the file, the tensor, the offending global), and the tensor field.

#include <QtTest/QtTest>

#include <exception>
#include <initializer_list>
#include <string>

#include "common/error.h"

namespace vlm::test {

// Empty when `f` throws vlm::Error `code` whose message contains every needle (and whose
// tensor() is `tensor` when that is not empty); otherwise what went wrong.
template <class F>
std::string errorMismatch(F&& f, ErrorCode code, const std::string& tensor,
                          std::initializer_list<std::string> needles) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (e.code() != code)
      return std::string("error code '") + toString(e.code()) + "' instead of '" + toString(code) + "': " + msg;
    if (msg.find('\n') != std::string::npos) return "the message is not one line: " + msg;
    for (const auto& needle : needles)
      if (msg.find(needle) == std::string::npos) return "the message does not mention '" + needle + "': " + msg;
    if (!tensor.empty() && e.tensor() != tensor)
      return "Error::tensor() is '" + e.tensor() + "' instead of '" + tensor + "': " + msg;
    return {};
  } catch (const std::exception& e) {
    return std::string("threw something else than vlm::Error: ") + e.what();
  }
  return std::string("no error thrown (expected '") + toString(code) + "')";
}

}  // namespace vlm::test

// VLM_EXPECT_ERROR(statement, ErrorCode::X, "needle", ...): fails the test unless the statement
// throws vlm::Error X whose message names every needle.
#define VLM_EXPECT_ERROR(statement, code, ...)                                                           \
  do {                                                                                                   \
    const std::string vlm_mismatch_ =                                                                    \
        ::vlm::test::errorMismatch([&] { (void)(statement); }, (code), std::string(), {__VA_ARGS__});    \
    if (!vlm_mismatch_.empty()) QFAIL(vlm_mismatch_.c_str());                                            \
  } while (0)

// As above, and Error::tensor() must be `tensor` (which the message must name too).
#define VLM_EXPECT_TENSOR_ERROR(statement, code, tensor, ...)                                            \
  do {                                                                                                   \
    const std::string vlm_tensor_ = (tensor);                                                            \
    const std::string vlm_mismatch_ = ::vlm::test::errorMismatch([&] { (void)(statement); }, (code),     \
                                                                 vlm_tensor_, {vlm_tensor_, __VA_ARGS__}); \
    if (!vlm_mismatch_.empty()) QFAIL(vlm_mismatch_.c_str());                                            \
  } while (0)

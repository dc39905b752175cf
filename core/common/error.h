#pragma once
// The one error type of core/: a code to branch on, a one-line message for people,
// and the file / tensor it concerns (empty when not applicable).

#include <stdexcept>
#include <string>

namespace vlm {

enum class ErrorCode {
  InvalidArgument,  // a value given by the user is malformed or out of range
  NotFound,         // a file, folder, model or entry that should exist does not
  Io,               // the operating system refused to read or write
  Truncated,        // a file ends before its own header says it should
  Corrupt,          // a file's structure is inconsistent (bad header, overlaps, ...)
  Unsupported,      // a well-formed input using something VLMScope does not handle
  Unsafe,           // refused for safety (e.g. a pickle that references code)
  MissingTensor,    // a tensor the model needs is absent from the checkpoint
  ShapeMismatch,    // a tensor is present with the wrong shape
  ResourceLimit,    // the input exceeds a budget (pixels, memory)
  Cancelled,        // the caller asked to stop
};

const char* toString(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string file = {},
        std::string tensor = {})
      : std::runtime_error(message), code_(code), file_(std::move(file)),
        tensor_(std::move(tensor)) {}

  ErrorCode code() const noexcept { return code_; }
  const std::string& file() const noexcept { return file_; }
  const std::string& tensor() const noexcept { return tensor_; }

 private:
  ErrorCode code_;
  std::string file_;
  std::string tensor_;
};

// A one-line description of the exception being handled (call inside a catch block):
// vlm::Error's message, LibTorch errors without their C++ backtrace, others' what().
std::string describeCurrentException();

}  // namespace vlm

#include "common/error.h"

#include <c10/util/Exception.h>

#include <exception>

namespace vlm {

const char* toString(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::Io: return "i/o error";
    case ErrorCode::Truncated: return "truncated file";
    case ErrorCode::Corrupt: return "corrupt file";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Unsafe: return "unsafe content";
    case ErrorCode::MissingTensor: return "missing tensor";
    case ErrorCode::ShapeMismatch: return "shape mismatch";
    case ErrorCode::ResourceLimit: return "over budget";
    case ErrorCode::Cancelled: return "cancelled";
  }
  return "error";
}

std::string describeCurrentException() {
  try {
    throw;
  } catch (const Error& e) {
    return e.what();
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    return "internal error in LibTorch: " + msg;
  } catch (const std::bad_alloc&) {
    return "out of memory";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace vlm

#include "common_options.h"

#include "runtime/runtime.h"

namespace vlm::cli {

ModelOptions modelOptionsFrom(const Args& args) {
  runtime::setThreads(args.intValue("threads", 0, 0, 1024));
  ModelOptions o;
  if (auto d = args.value("dtype")) {
    auto parsed = parseComputeDType(*d);
    if (!parsed) throw UsageError("--dtype must be float32 or bfloat16, got '" + *d + "'");
    o.dtype = *parsed;
  }
  if (auto d = args.value("device")) o.device = *d;
  return o;
}

}  // namespace vlm::cli

// vlmscope make-random-model: a full-size checkpoint with random weights, for benchmarks.
#include <cstdio>

#include "commands.h"
#include "args.h"
#include "pipeline/random_model.h"

namespace vlm::cli {

int cmdMakeRandomModel(int argc, char** argv) {
  Args args(argc, argv, 2, {"like", "out", "seed"}, {});
  const std::string like = args.required("like"), out = args.required("out");
  const int seed = args.intValue("seed", 0, 0, 2147483647);
  makeRandomModel(like, out, static_cast<uint64_t>(seed));
  std::fprintf(stderr, "wrote a random-weight %s checkpoint to %s\n", like.c_str(), out.c_str());
  return 0;
}

}  // namespace vlm::cli

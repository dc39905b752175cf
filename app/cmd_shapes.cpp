// vlmscope shapes: shapes-world scenes (images, object label maps, captions, questions) on disk.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "common_options.h"
#include "shapes/dataset.h"

namespace vlm::cli {

int cmdShapes(int argc, char** argv) {
  Args args(argc, argv, 2, {"out", "n", "seed", "size", "min-objects", "max-objects"}, {"texture", "distractors", "json"});
  const std::string out = args.required("out");
  shapes::WorldOptions o;
  o.imageSize = args.intValue("size", o.imageSize, 32, 4096);
  o.minObjects = args.intValue("min-objects", o.minObjects, 1, 4);
  o.maxObjects = args.intValue("max-objects", o.maxObjects, 1, 4);
  if (o.minObjects > o.maxObjects) throw UsageError("--min-objects must not exceed --max-objects");
  o.texture = args.flag("texture");
  o.distractors = args.flag("distractors");
  const int n = args.intValue("n", 10, 1, 1000000);
  const int seed = args.intValue("seed", 0, 0, 2147483647);
  const auto index = shapes::writeScenes(o, uint64_t(seed), n, out, terminalProgress());
  finishProgress();
  if (args.flag("json")) printJson(index);
  else
    for (const auto& s : index["scenes"]) std::printf("%s  %s\n", s["image"].get<std::string>().c_str(), s["caption"].get<std::string>().c_str());
  return 0;
}

}  // namespace vlm::cli

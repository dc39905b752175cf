#include "shapes/dataset.h"

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "io/files.h"
#include "render/colormap.h"

namespace vlm::shapes {

namespace fs = std::filesystem;

nlohmann::ordered_json describe(const Scene& s) {
  nlohmann::ordered_json j;
  j["seed"] = s.seed;
  j["caption"] = s.caption;
  j["words"] = s.words;
  j["word_object"] = s.wordObject;
  auto objects = nlohmann::ordered_json::array();
  for (size_t k = 0; k < s.objects.size(); ++k) {
    const Object& o = s.objects[k];
    size_t area = 0;
    for (uint8_t v : s.masks[k]) area += v;
    objects.push_back({{"shape", nameOf(o.shape)}, {"colour", nameOf(o.colour)}, {"cx", o.cx}, {"cy", o.cy}, {"radius", o.radius}, {"area", area}});
  }
  j["objects"] = objects;
  auto questions = nlohmann::ordered_json::array();
  for (const auto& q : s.questions) questions.push_back({{"question", q.question}, {"answer", q.answer}, {"kind", q.kind}});
  j["questions"] = questions;
  return j;
}

nlohmann::ordered_json writeScenes(const WorldOptions& options, uint64_t firstSeed, int count, const fs::path& dir, const JobContext& job) {
  validate(options);
  if (count < 1) throw Error(ErrorCode::InvalidArgument, "shapes: the number of scenes must be at least 1");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::Io, "cannot create " + dir.string() + ": " + ec.message());
  nlohmann::ordered_json index;
  index["world"] = {{"image_size", options.imageSize}, {"min_objects", options.minObjects}, {"max_objects", options.maxObjects},
                    {"min_radius", options.minRadius}, {"max_radius", options.maxRadius}, {"texture", options.texture},
                    {"distractors", options.distractors}};
  auto scenes = nlohmann::ordered_json::array();
  for (int i = 0; i < count; ++i) {
    job.throwIfCancelled();
    const uint64_t seed = firstSeed + uint64_t(i);
    const Scene s = generate(options, seed);
    const std::string stem = "scene_" + std::to_string(seed);
    render::writePng(dir / (stem + ".png"), s.image);
    std::vector<uint8_t> labels(size_t(options.imageSize) * options.imageSize, 0);
    for (size_t k = 0; k < s.masks.size(); ++k)
      for (size_t p = 0; p < labels.size(); ++p)
        if (s.masks[k][p]) labels[p] = uint8_t(k + 1);
    std::vector<uchar> png;
    cv::imencode(".png", cv::Mat(options.imageSize, options.imageSize, CV_8UC1, labels.data()), png);
    io::writeFileAtomic(dir / (stem + "_labels.png"), std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    auto j = describe(s);
    j["image"] = stem + ".png";
    j["labels"] = stem + "_labels.png";
    scenes.push_back(std::move(j));
    job.progress(double(i + 1) / count, "scenes");
  }
  index["scenes"] = scenes;
  io::writeFileAtomic(dir / "scenes.json", index.dump(2) + "\n");
  return index;
}

}  // namespace vlm::shapes

#include "pipeline/explain_export.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <system_error>

#include "common/error.h"
#include "io/files.h"
#include "io/npy.h"
#include "io/sha256.h"
#include "render/video_writer.h"

namespace vlm {

namespace {

void ensureDir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw Error(ErrorCode::Io, "cannot create the output folder " + dir.string() + ": " + (ec ? ec.message() : "not a folder"), dir.string());
}

std::string safeToken(const std::string& token) {
  std::string s;
  for (unsigned char c : token)
    if (std::isalnum(c)) s += char(std::tolower(c));
  return s.substr(0, 24);
}

io::ImageU8 scaledToFit(const io::ImageU8& image, int maxSide) {
  const int side = std::max(image.width, image.height);
  if (side <= maxSide) return image;
  const double f = double(maxSide) / side;
  io::ImageU8 out;
  out.width = std::max(1, int(std::lround(image.width * f)));
  out.height = std::max(1, int(std::lround(image.height * f)));
  out.rgb.resize(size_t(out.width) * out.height * 3);
  cv::resize(cv::Mat(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data())),
             cv::Mat(out.height, out.width, CV_8UC3, out.rgb.data()), cv::Size(out.width, out.height), 0, 0, cv::INTER_AREA);
  return out;
}

nlohmann::ordered_json mapJson(const ExplainedMap& m) {
  nlohmann::ordered_json j{{"label", m.label}, {"token", m.token}, {"position", m.position}, {"y", m.y}, {"side", m.side}};
  if (m.fInput) j["f_input"] = *m.fInput;
  if (m.fBaseline) j["f_baseline"] = *m.fBaseline;
  if (m.delta) j["convergence_delta"] = *m.delta;
  if (!m.questionScores.empty()) j["question_scores"] = m.questionScores;
  return j;
}

}  // namespace

std::string mapFileStem(const ExplainedMap& m) {
  char buf[32];
  if (m.label.rfind("token ", 0) == 0) {
    std::snprintf(buf, sizeof buf, "token%02lld", static_cast<long long>(m.position));
    const std::string t = safeToken(m.token);
    return t.empty() ? buf : std::string(buf) + "_" + t;
  }
  if (m.label.rfind("layer ", 0) == 0) {
    std::snprintf(buf, sizeof buf, "layer%02d", std::atoi(m.label.c_str() + 6));
    return buf;
  }
  return safeToken(m.label).empty() ? "map" : m.label == "post_layernorm" ? "post_layernorm" : safeToken(m.label);
}

io::ImageU8 overlayImage(const ExplainResult& result, const ExplainedMap& map, const io::ImageU8& image,
                         const render::OverlayOptions& overlay) {
  if (map.side == 0) throw Error(ErrorCode::InvalidArgument, "this explanation scores question tokens: there is no image map to draw");
  const std::vector<float> onImage = result.onImage(map);
  return render::overlayHeatmap(image, onImage.data(), image.width, image.height, overlay);
}

nlohmann::ordered_json describeExplanation(const ExplainResult& r, const io::ImageU8& image, const ExportOptions& o) {
  nlohmann::ordered_json j;
  j["tool"] = "vlmscope";
  j["version"] = VLM_VERSION;
  j["model"] = r.model;
  j["family"] = r.family;
  j["image"] = o.imagePath.string();
  if (!o.imagePath.empty()) {
    const std::string bytes = io::readFile(o.imagePath);
    j["image_sha256"] = io::sha256Hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }
  j["image_size"] = {image.width, image.height};
  nlohmann::ordered_json target{{"text", r.text}, {"ids", r.ids}, {"tokens", r.tokens}};
  if (!r.question.empty()) {
    target["question"] = r.question;
    target["question_tokens"] = r.questionTokens;
  }
  j["target"] = target;
  j["method"] = r.method;
  j["layer"] = r.layer;
  if (r.geometry) j["grid"] = {{"input_size", r.geometry->inputSize()}, {"patch_size", r.geometry->patchSize()}, {"side", r.geometry->gridSide()}};
  j["parameters"] = o.parameters;
  j["overlay"] = {{"colormap", render::toString(o.overlay.colormap)}, {"alpha", o.overlay.alpha}, {"contour", o.overlay.contour}};
  nlohmann::ordered_json maps = nlohmann::ordered_json::array();
  for (const auto& m : r.maps) maps.push_back(mapJson(m));
  j["maps"] = maps;
  j["timings"] = {{"generate_s", r.generateSeconds}, {"explain_s", r.explainSeconds}};
  j["notes"] = r.notes;
  return j;
}

nlohmann::ordered_json writeExplanation(const std::filesystem::path& dir, const ExplainResult& r, const io::ImageU8& image,
                                        const ExportOptions& o) {
  ensureDir(dir);
  nlohmann::ordered_json j = describeExplanation(r, image, o);
  for (size_t i = 0; i < r.maps.size(); ++i) {
    const ExplainedMap& m = r.maps[i];
    const std::string stem = mapFileStem(m);
    if (m.side > 0) {
      io::writeNpy(dir / (stem + ".npy"), m.raw.data(), {m.side, m.side});
      render::writePng(dir / (stem + ".png"), overlayImage(r, m, image, o.overlay));
      j["maps"][i]["npy"] = stem + ".npy";
      j["maps"][i]["png"] = stem + ".png";
    } else {
      io::writeNpy(dir / (stem + ".npy"), m.questionScores.data(), {int64_t(m.questionScores.size())});
      j["maps"][i]["npy"] = stem + ".npy";
    }
  }
  io::writeFileAtomic(dir / "explanation.json", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return j;
}

VideoExportResult writeLayerVideo(const std::filesystem::path& out, const ExplainResult& layers, const io::ImageU8& image,
                                  const VideoExportOptions& o, const JobContext& job) {
  if (o.framesPerLayer < 1 || o.framesPerLayer > 1000)
    throw Error(ErrorCode::InvalidArgument, "frames per layer must be in 1..1000, got " + std::to_string(o.framesPerLayer));
  if (layers.maps.empty()) throw Error(ErrorCode::InvalidArgument, "no layer maps to render");
  if (!o.framesDir.empty()) ensureDir(o.framesDir);
  const io::ImageU8 small = scaledToFit(image, o.maxSide);
  const ExplainedMap& first = layers.maps.front();
  const std::string what = first.position >= 0 ? "token " + std::to_string(first.position) + " '" + first.token + "'" : "the whole caption";
  const std::string subtitle = what + " of \"" + layers.text + "\"";
  const int numLayers = int(layers.maps.size()) - (layers.maps.back().label == "post_layernorm" ? 1 : 0);
  std::vector<io::ImageU8> frames;
  for (const auto& m : layers.maps) {
    const std::vector<float> onImage = layers.onImage(m);
    const io::ImageU8 over = render::overlayHeatmap(image, onImage.data(), image.width, image.height, o.overlay);
    const std::string title = m.label == "post_layernorm" ? "post_layernorm (after layer " + std::to_string(numLayers - 1) + ")"
                                                          : m.label + " of 0.." + std::to_string(numLayers - 1) + "   " + layers.method;
    frames.push_back(render::composeFrame({small, scaledToFit(over, o.maxSide)}, title, subtitle));
  }
  render::VideoOptions vo;
  vo.fps = o.fps;
  vo.codec = o.codec;
  render::VideoWriter writer(out, frames[0].width, frames[0].height, vo);
  int64_t n = 0;
  const int64_t total = int64_t(frames.size()) * o.framesPerLayer;
  for (size_t i = 0; i < frames.size(); ++i) {
    for (int k = 0; k < o.framesPerLayer; ++k) {
      job.throwIfCancelled();
      writer.addFrame(frames[i]);
      if (!o.framesDir.empty()) {
        char name[32];
        std::snprintf(name, sizeof name, "frame%04lld.png", static_cast<long long>(n));
        render::writePng(o.framesDir / name, frames[i]);
      }
      ++n;
      job.progress(double(n) / double(total), "encoding");
    }
  }
  writer.finish();
  return {writer.codecName(), writer.framesWritten(), frames[0].width, frames[0].height};
}

nlohmann::ordered_json describeRegeneration(const RegenerateResult& r) {
  nlohmann::ordered_json j;
  j["masker"] = r.masker;
  nlohmann::ordered_json rects = nlohmann::ordered_json::array();
  for (const auto& x : r.rects) rects.push_back({x.x, x.y, x.width, x.height});
  j["rects"] = rects;
  if (!r.removedPatches.empty() || r.masker == "patch") j["removed_patches"] = r.removedPatches;
  j["original"] = r.original;
  j["masked"] = r.masked;
  j["original_ids"] = r.originalIds;
  j["masked_ids"] = r.maskedIds;
  nlohmann::ordered_json diff = nlohmann::ordered_json::array();
  for (const auto& c : r.diff) diff.push_back({{"op", toString(c.op)}, {"word", c.word}});
  j["diff"] = diff;
  std::vector<std::string> removed, inserted;
  for (const auto& c : r.diff) {
    if (c.op == WordChange::Op::Removed) removed.push_back(c.word);
    if (c.op == WordChange::Op::Inserted) inserted.push_back(c.word);
  }
  j["removed_words"] = removed;
  j["inserted_words"] = inserted;
  j["log_prob_original"] = r.logProbBefore;
  j["log_prob_masked"] = r.logProbAfter;
  j["log_prob_change"] = r.logProbAfter - r.logProbBefore;
  j["token_log_probs_original"] = r.tokenLogProbBefore;
  j["token_log_probs_masked"] = r.tokenLogProbAfter;
  if (r.clipBefore) {
    j["clip"] = {{"original_text_original_image", *r.clipBefore},
                 {"original_text_masked_image", *r.clipAfter},
                 {"masked_text_masked_image", *r.clipMaskedText},
                 {"change", *r.clipAfter - *r.clipBefore}};
    if (r.masker == "patch") j["clip"]["removed_patches"] = r.clipRemovedPatches;
  }
  if (r.explanation) {
    const auto& e = *r.explanation;
    j["auto_mask"] = {{"method", e.method}, {"layer", e.layer}, {"label", e.maps.at(0).label}, {"token", e.maps.at(0).token}};
  }
  j["seconds"] = r.seconds;
  return j;
}

}  // namespace vlm

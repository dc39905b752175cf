#include "pipeline/batch.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "io/image.h"
#include "io/json_util.h"
#include "io/model_location.h"
#include "models/model_kind.h"
#include "pipeline/captioner.h"
#include "pipeline/explain_export.h"
#include "pipeline/shap_export.h"
#include "pipeline/similarity.h"
#include "pipeline/vqa.h"

namespace vlm {

namespace {

const std::set<std::string> kGradientMethods = {"gradcam", "hirescam", "gradxact", "xattn", "ig"};

std::vector<std::filesystem::path> listImages(const std::filesystem::path& dir) {
  static const std::set<std::string> exts = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw Error(ErrorCode::NotFound, "not a folder of images", dir.string());
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (e.is_regular_file() && exts.count(ext) && e.path().filename().string()[0] != '.') out.push_back(e.path());
  }
  if (ec) throw Error(ErrorCode::Io, "cannot list the folder: " + ec.message(), dir.string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The CSV rows of one finished image/method (from its done.json).
void appendRows(std::ostringstream& csv, const nlohmann::json& done) {
  for (const auto& row : done.at("rows")) {
    csv << csvField(done.at("image").get<std::string>()) << ',' << done.at("method").get<std::string>() << ','
        << csvField(row.at("label").get<std::string>()) << ',' << csvField(row.at("token").get<std::string>()) << ','
        << row.at("position").get<int64_t>() << ',' << row.at("y").get<double>() << ',';
    if (row.contains("deletion_auc")) csv << row["deletion_auc"].get<double>() << ',' << row["insertion_auc"].get<double>();
    else csv << ',';
    csv << ',' << done.at("seconds").get<double>() << '\n';
  }
}

// Inside a catch block: the failure goes to the summary and to DIR/error.json (a rerun retries).
void recordFailure(BatchSummary& s, const std::filesystem::path& dir, const std::string& what) {
  const std::string message = describeCurrentException();
  ++s.failed;
  s.errors.push_back(what + ": " + message);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  try {
    io::writeFileAtomic(dir / "error.json", nlohmann::ordered_json{{"error", message}}.dump(2) + "\n");
  } catch (const Error&) {
    // The summary still has it; the folder is unwritable and the next pair will say so too.
  }
}

}  // namespace

BatchSummary runBatch(const BatchOptions& o, const JobContext& job) {
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards)
    throw Error(ErrorCode::InvalidArgument, "the shard must be I/N with 0 <= I < N, got " + std::to_string(o.shard) + "/" + std::to_string(o.shards));
  if (o.methods.empty()) throw Error(ErrorCode::InvalidArgument, "no methods to run");
  for (const auto& m : o.methods)
    if (!kGradientMethods.count(m) && !parseShapEstimator(m))
      throw Error(ErrorCode::InvalidArgument, "unknown method '" + m + "' (gradcam, hirescam, gradxact, xattn, ig, exact, kernel, permutation, owen, interactions)");
  const auto all = listImages(o.images);
  if (all.empty()) throw Error(ErrorCode::NotFound, "no images (.png .jpg .jpeg .bmp .webp .tif) in the folder", o.images.string());
  std::vector<std::filesystem::path> mine;
  for (size_t i = 0; i < all.size(); ++i)
    if (int(i % size_t(o.shards)) == o.shard) mine.push_back(all[i]);

  const models::ModelFamily family = models::detectModelKind(io::resolveModel(o.model).dir).family;
  std::unique_ptr<Captioner> captioner;
  std::unique_ptr<QuestionAnswerer> vqa;
  std::unique_ptr<SimilarityModel> clip;
  switch (family) {
    case models::ModelFamily::BlipCaption: captioner = Captioner::load(o.model, o.modelOptions); break;
    case models::ModelFamily::BlipVqa:
      if (o.question.empty()) throw Error(ErrorCode::InvalidArgument, "a BLIP VQA model needs a question");
      vqa = QuestionAnswerer::load(o.model, o.modelOptions);
      break;
    case models::ModelFamily::Clip:
      if (o.text.empty()) throw Error(ErrorCode::InvalidArgument, "a CLIP model needs a text");
      clip = SimilarityModel::load(o.model, o.modelOptions);
      break;
  }
  std::filesystem::create_directories(o.out);

  BatchSummary s;
  s.images = int(mine.size());
  const size_t total = mine.size() * o.methods.size();
  size_t step = 0;
  for (const auto& imagePath : mine) {
    for (const auto& method : o.methods) {
      job.throwIfCancelled();
      job.progress(double(step++) / double(total), imagePath.filename().string() + " / " + method);
      const std::filesystem::path dir = o.out / imagePath.stem() / method;
      if (std::filesystem::exists(dir / "done.json")) {
        ++s.skipped;
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      try {
        io::ImageLoadOptions lo;
        lo.applyExifOrientation = o.applyExifOrientation;
        const io::ImageU8 image = io::loadImage(imagePath, lo);
        ExportOptions eo;
        eo.imagePath = imagePath;
        ExplainResult explained;
        if (kGradientMethods.count(method)) {
          ExplainOptions e;
          e.method = *parseExplainMethod(method);
          e.scope = o.everyToken ? TokenScope::All : TokenScope::Whole;
          if (captioner) explained = explainCaption(*captioner, image, e);
          else if (vqa) explained = explainAnswer(*vqa, image, o.question, e);
          else explained = explainSimilarity(*clip, image, o.text, e);
          eo.parameters = {{"method", method}, {"scope", o.everyToken ? "all-tokens" : "whole"}};
          writeExplanation(dir, explained, image, eo);
        } else {
          ShapOptions so = o.shap;
          so.estimator = *parseShapEstimator(method);
          if (captioner) so.value = o.everyToken ? ShapValue::TokenLogProb : ShapValue::CaptionLogProb;
          else if (vqa) so.value = o.everyToken ? ShapValue::TokenLogProb : ShapValue::Answer;
          else so.value = ShapValue::Clip;
          ShapResult r;
          if (captioner) r = shapCaption(*captioner, image, so);
          else if (vqa) r = shapAnswer(*vqa, image, o.question, so);
          else r = shapSimilarity(*clip, image, o.text, so);
          eo.parameters = {{"estimator", method}, {"features", so.features}, {"evals", so.evaluations}, {"seed", so.seed}};
          writeShap(dir, r, image, eo);
          explained = r.info;
        }
        nlohmann::ordered_json rows = nlohmann::ordered_json::array();
        std::optional<FaithfulnessResult> f;
        if (o.metrics) {
          if (captioner) f = faithfulnessCaption(*captioner, image, explained, o.faithfulness);
          else if (vqa) f = faithfulnessAnswer(*vqa, image, explained, o.faithfulness);
          else f = faithfulnessSimilarity(*clip, image, explained, o.faithfulness);
          io::writeFileAtomic(dir / "metrics.json", describeFaithfulness(*f).dump(2) + "\n");
        }
        size_t fi = 0;
        for (const auto& m : explained.maps) {
          nlohmann::ordered_json row{{"label", m.label}, {"token", m.token}, {"position", m.position}, {"y", m.y}};
          if (f && m.side > 0 && fi < f->maps.size()) {
            row["deletion_auc"] = f->maps[fi].deletionAuc;
            row["insertion_auc"] = f->maps[fi].insertionAuc;
            ++fi;
          }
          rows.push_back(row);
        }
        const nlohmann::ordered_json done{{"image", imagePath.filename().string()}, {"method", method}, {"text", explained.text},
                                          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
                                          {"rows", rows}};
        std::filesystem::remove(dir / "error.json");
        io::writeFileAtomic(dir / "done.json", done.dump(2) + "\n");  // last: marks the pair finished
        ++s.done;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::Cancelled) throw;
        recordFailure(s, dir, imagePath.filename().string() + " / " + method);
      } catch (const std::exception&) {
        recordFailure(s, dir, imagePath.filename().string() + " / " + method);
      }
    }
  }
  // The shard's CSV from every finished pair (this run's and earlier runs').
  std::ostringstream csv;
  csv << "image,method,label,token,position,y,deletion_auc,insertion_auc,seconds\n";
  for (const auto& imagePath : mine)
    for (const auto& method : o.methods) {
      const std::filesystem::path done = o.out / imagePath.stem() / method / "done.json";
      if (std::filesystem::exists(done)) appendRows(csv, io::readJsonFile(done));
    }
  s.csv = o.out / ("summary-" + std::to_string(o.shard) + "-of-" + std::to_string(o.shards) + ".csv");
  io::writeFileAtomic(s.csv, csv.str());
  job.progress(1, "done");
  return s;
}

}  // namespace vlm

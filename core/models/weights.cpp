#include "models/weights.h"

#include <set>
#include <sstream>

#include "common/error.h"
#include "io/state_dict.h"

namespace vlm::models {

namespace {

std::string shapeString(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

bool ignoredKey(const std::string& key, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (p == key) return true;
    if (!p.empty() && p[0] == '*' && key.size() >= p.size() - 1 && key.compare(key.size() - (p.size() - 1), p.size() - 1, p, 1) == 0)
      return true;
  }
  return false;
}

}  // namespace

WeightLoadReport loadWeights(torch::nn::Module& module, const io::StateDict& weights, const WeightTable& table,
                             at::ScalarType dtype, const at::Device& device) {
  WeightLoadReport report;
  report.source = weights.describe();
  std::set<std::string> used;
  torch::NoGradGuard noGrad;
  for (auto& item : module.named_parameters(true)) {
    const std::string& name = item.key();
    at::Tensor& param = item.value();
    std::string key = name;
    if (!weights.contains(key)) {
      key.clear();
      if (auto it = table.alternatives.find(name); it != table.alternatives.end())
        for (const auto& alt : it->second)
          if (weights.contains(alt)) { key = alt; break; }
      if (key.empty())
        throw Error(ErrorCode::MissingTensor, report.source + ": tensor '" + name + "' is missing (the model that config.json describes needs it)",
                    report.source, name);
      report.substitutions.push_back(name + " <- " + key);
    }
    at::Tensor t = weights.get(key);
    if (t.sizes() != param.sizes())
      throw Error(ErrorCode::ShapeMismatch, weights.fileOf(key).string() + ": tensor '" + key + "' has shape " + shapeString(t.sizes()) +
                                                " but config.json implies " + shapeString(param.sizes()),
                  weights.fileOf(key).string(), key);
    if (!t.is_floating_point())
      throw Error(ErrorCode::Unsupported, weights.fileOf(key).string() + ": tensor '" + key + "' has dtype " + std::string(c10::toString(t.scalar_type())) + ", expected floating point",
                  weights.fileOf(key).string(), key);
    param.set_data(t.to(device, dtype));
    param.set_requires_grad(false);
    used.insert(key);
  }
  for (const auto& key : weights.names())
    if (!used.count(key) && !ignoredKey(key, table.ignored)) report.unusedKeys.push_back(key);
  return report;
}

WeightLoadReport loadFolderWeights(torch::nn::Module& module, const std::filesystem::path& dir, const WeightTable& table,
                                   at::ScalarType dtype, const at::Device& device) {
  WeightLoadReport report = loadWeights(module, io::StateDict::loadFolder(dir), table, dtype, device);
  module.eval();
  return report;
}

void appendVitLayerNormsAndMlp(std::vector<TensorSpec>& t, const std::string& l, int64_t C, int64_t I) {
  t.push_back({l + "layer_norm1.weight", {C}});
  t.push_back({l + "layer_norm1.bias", {C}});
  t.push_back({l + "mlp.fc1.weight", {I, C}});
  t.push_back({l + "mlp.fc1.bias", {I}});
  t.push_back({l + "mlp.fc2.weight", {C, I}});
  t.push_back({l + "mlp.fc2.bias", {C}});
  t.push_back({l + "layer_norm2.weight", {C}});
  t.push_back({l + "layer_norm2.bias", {C}});
}

}  // namespace vlm::models

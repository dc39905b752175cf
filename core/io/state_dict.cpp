#include "io/state_dict.h"
#include "common/error.h"
#include "io/safetensors.h"
namespace vlm::io {
StateDict StateDict::loadFolder(const std::filesystem::path& dir) {
  StateDict sd;
  auto f = SafetensorsFile::open(dir / "model.safetensors");
  for (const auto& t : f->tensors()) { sd.tensors_[t.name] = f->tensor(t); sd.files_[t.name] = f->path(); }
  sd.keep_.push_back(f);
  sd.desc_ = (dir / "model.safetensors").string();
  return sd;
}
at::Tensor StateDict::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::MissingTensor, desc_ + ": no tensor '" + name + "'", desc_, name);
  return it->second;
}
std::vector<std::string> StateDict::names() const { std::vector<std::string> n; for (auto& [k, v] : tensors_) n.push_back(k); return n; }
}

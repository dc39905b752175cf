#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace vlm::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& valued,
           const std::set<std::string>& flags) {
  bool onlyPositional = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (onlyPositional || a.size() < 2 || a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") { onlyPositional = true; continue; }
    std::string name = a.substr(2), value;
    bool hasValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    if (flags.count(name)) {
      if (hasValue) throw UsageError("option --" + name + " takes no value");
      flags_.insert(name);
    } else if (valued.count(name)) {
      if (!hasValue) {
        if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      throw UsageError("unknown option --" + name);
    }
  }
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  if (it->second.size() > 1) throw UsageError("option --" + name + " given more than once");
  return it->second.front();
}

std::string Args::required(const std::string& name) const {
  auto v = value(name);
  if (!v) throw UsageError("missing required option --" + name);
  return *v;
}

std::vector<std::string> Args::values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int Args::intValue(const std::string& name, int fallback, int min, int max) const {
  auto v = value(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0)
    throw UsageError("option --" + name + " expects an integer, got '" + *v + "'");
  if (n < min || n > max)
    throw UsageError("option --" + name + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *v);
  return static_cast<int>(n);
}

double Args::doubleValue(const std::string& name, double fallback, double min, double max) const {
  auto v = value(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0 || !std::isfinite(d))
    throw UsageError("option --" + name + " expects a number, got '" + *v + "'");
  if (d < min || d > max)
    throw UsageError("option --" + name + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *v);
  return d;
}

}  // namespace vlm::cli

// VLM_TEST_LABELS: fast
// Acceptance (GUI issue): no widget reaches LibTorch. Every header ui/ includes is followed
// through core/ (quoted includes, resolved as the build resolves them: the including file's
// folder, ui/, core/); none of the files reached may include a LibTorch header (torch/, ATen/,
// c10/). The scanner is shown to find such a chain where one exists (captioner_impl.h).
#include "testing.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = VLM_SOURCE_DIR;

struct Includes {
  std::vector<std::string> quoted;  // "x.h"
  std::vector<std::string> torch;   // <torch/...>, <ATen/...>, <c10/...>
};

Includes scan(const fs::path& file) {
  Includes out;
  std::ifstream in(file);
  std::string line;
  static const std::regex quoted(R"(^\s*#\s*include\s*"([^"]+)\")"), angled(R"(^\s*#\s*include\s*<((torch|ATen|c10)/[^>]*)>)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, quoted)) out.quoted.push_back(m[1]);
    else if (std::regex_search(line, m, angled)) out.torch.push_back(m[1]);
  }
  return out;
}

std::optional<fs::path> resolve(const std::string& name, const fs::path& from) {
  for (const fs::path& dir : {from.parent_path(), kRoot / "ui", kRoot / "core"}) {
    const fs::path p = dir / name;
    if (fs::exists(p)) return fs::weakly_canonical(p);
  }
  return std::nullopt;  // a generated or system header
}

// The first include chain from `start` that reaches a LibTorch header, or "" if none.
std::string torchChain(const fs::path& start) {
  std::map<fs::path, fs::path> parent;
  std::vector<fs::path> todo{fs::weakly_canonical(start)};
  std::set<fs::path> seen{todo[0]};
  while (!todo.empty()) {
    const fs::path f = todo.back();
    todo.pop_back();
    const Includes inc = scan(f);
    if (!inc.torch.empty()) {
      std::string chain = "<" + inc.torch[0] + ">";
      for (fs::path p = f;; p = parent[p]) {
        chain = fs::relative(p, kRoot).string() + " -> " + chain;
        if (!parent.count(p)) break;
      }
      return chain;
    }
    for (const auto& name : inc.quoted)
      if (auto p = resolve(name, f); p && seen.insert(*p).second) {
        parent[*p] = f;
        todo.push_back(*p);
      }
  }
  return {};
}

}  // namespace

class TestUiBoundary : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void scannerFindsAChain() {
    const std::string chain = torchChain(kRoot / "core" / "pipeline" / "captioner_impl.h");
    QVERIFY2(chain.find("ATen/") != std::string::npos, chain.c_str());
  }

  void noWidgetReachesLibTorch() {
    int files = 0;
    for (const auto& e : fs::directory_iterator(kRoot / "ui")) {
      const std::string ext = e.path().extension().string();
      if (ext != ".h" && ext != ".cpp") continue;
      ++files;
      const std::string chain = torchChain(e.path());
      QVERIFY2(chain.empty(), chain.c_str());
    }
    QVERIFY(files >= 10);
  }
};

QTEST_APPLESS_MAIN(TestUiBoundary)
#include "test_ui_boundary.moc"

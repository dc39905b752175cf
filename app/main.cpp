// vlmscope: the GUI when started without a subcommand, headless subcommands otherwise.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "main_window.h"
#include "runtime/runtime.h"

int main(int argc, char** argv) {
  vlm::runtime::prepareProcess(argc, argv);
  if (argc >= 2 && vlm::cli::isSubcommand(argv[1])) return vlm::cli::run(argc, argv);
  vlm::ui::StartOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--version") { std::printf("vlmscope %s\n", VLM_VERSION); return 0; }
    if (a == "--help" || a == "-h") { vlm::cli::printUsage(stdout); return 0; }
    if (a == "--model" && i + 1 < argc) { options.modelPath = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--demo-model") { options.demoModel = true; continue; }
    if (!a.empty() && a[0] == '-') {
      // Qt's own options (-platform offscreen, -style fusion, ...) pass through to QApplication.
      static const char* withValue[] = {"-platform", "-style", "-stylesheet", "-display", "-geometry",
                                        "-qwindowgeometry", "-qwindowtitle", "-qwindowicon", "-session"};
      for (const char* q : withValue)
        if (a == q) { ++i; break; }
      continue;
    }
    options.imagePath = QString::fromLocal8Bit(argv[i]);
  }
  return vlm::ui::runGui(argc, argv, options);
}

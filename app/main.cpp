// vlmscope: the GUI when started without a subcommand, headless subcommands otherwise.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <string>

#include "cli.h"
#include "main_window.h"
#include "runtime/runtime.h"

int main(int argc, char** argv) {
  vlm::runtime::prepareProcess(argc, argv);
  if (argc >= 2 && vlm::cli::isSubcommand(argv[1])) return vlm::cli::run(argc, argv);
  if (argc >= 2 && argv[1][0] != '-' && !std::strchr(argv[1], '.') && !std::strchr(argv[1], '/') &&
      !std::filesystem::exists(argv[1])) {
    std::fprintf(stderr, "vlmscope: unknown subcommand '%s' (see vlmscope --help)\n", argv[1]);
    return 2;
  }
  vlm::ui::StartOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--version") { std::printf("vlmscope %s\n", VLM_VERSION); return 0; }
    if (a == "--help" || a == "-h") { vlm::cli::printUsage(stdout); return 0; }
    if (a == "--model" && i + 1 < argc) { options.modelPath = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--screenshot" && i + 1 < argc) { options.screenshotPath = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--explain-token" && i + 1 < argc) { options.explainToken = std::atoi(argv[++i]); continue; }
    if (a == "--method" && i + 1 < argc) { options.method = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--vqa-model" && i + 1 < argc) { options.vqaModelPath = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--question" && i + 1 < argc) { options.question = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--clip-model" && i + 1 < argc) { options.clipModelPath = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--tab" && i + 1 < argc) { options.tab = QString::fromLocal8Bit(argv[++i]); continue; }
    if (a == "--layers") { options.layers = true; continue; }
    if (a == "--mask" && i + 1 < argc) {
      int x = 0, y = 0, w = 0, h = 0;
      if (std::sscanf(argv[++i], "%d,%d,%d,%d", &x, &y, &w, &h) != 4 || w <= 0 || h <= 0) {
        std::fprintf(stderr, "vlmscope: --mask must be x,y,w,h with a positive width and height, got '%s'\n", argv[i]);
        return 2;
      }
      options.masks.emplace_back(x, y, w, h);
      continue;
    }
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
  // A slot given no model gets the bundled shapes-world demo model; the window says which are demos.
  vlm::ui::applyBundledModels(options);
  const bool platformGiven = std::getenv("QT_QPA_PLATFORM") != nullptr ||
                             std::find_if(argv, argv + argc, [](const char* a) { return std::strcmp(a, "-platform") == 0; }) != argv + argc;
  if (!platformGiven && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    std::fprintf(stderr, "vlmscope: no display to open the window on (DISPLAY is not set); the subcommands run headless, see vlmscope --help\n");
    return 2;
  }
  return vlm::ui::runGui(argc, argv, options);
}

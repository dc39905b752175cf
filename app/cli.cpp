#include "cli.h"

#include <cstring>
#include <exception>
#include <string>

#include "args.h"
#include "commands.h"
#include "common/error.h"

namespace vlm::cli {

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* usage;
};

const Command kCommands[] = {
    {"inspect", cmdInspect, "inspect FILE.safetensors|FOLDER [--json]   list the tensors of a checkpoint"},
};

}  // namespace

bool isSubcommand(const char* name) {
  for (const auto& c : kCommands)
    if (std::strcmp(c.name, name) == 0) return true;
  return false;
}

void printUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: vlmscope [--model M] [IMAGE]          start the workbench (GUI)\n"
               "       vlmscope --version\n"
               "       vlmscope SUBCOMMAND [options]         headless\n\nsubcommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %s\n", c.usage);
}

int run(int argc, char** argv) {
  for (const auto& c : kCommands) {
    if (std::strcmp(c.name, argv[1]) != 0) continue;
    try {
      return c.run(argc, argv);
    } catch (const UsageError& e) {
      std::fprintf(stderr, "vlmscope %s: %s (see vlmscope --help)\n", c.name, e.what());
      return 2;
    } catch (...) {
      std::fprintf(stderr, "vlmscope %s: %s\n", c.name, vlm::describeCurrentException().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "vlmscope: unknown subcommand '%s'\n", argv[1]);
  return 2;
}

}  // namespace vlm::cli

#pragma once
// Each subcommand: int name(int argc, char** argv), argv[1] being the subcommand.
namespace vlm::cli {
int cmdInspect(int argc, char** argv);
}  // namespace vlm::cli

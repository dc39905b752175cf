#pragma once
#include <cstdio>

namespace vlm::cli {

bool isSubcommand(const char* name);
void printUsage(std::FILE* out);
// Runs argv[1] as a subcommand; returns the process exit code. User mistakes and bad input
// print one line on stderr and return non-zero; nothing escapes as an exception.
int run(int argc, char** argv);

}  // namespace vlm::cli

#pragma once
// Process-wide settings that make LibTorch fast on this platform (see PLATFORM_NOTES):
// glibc malloc without mmap/trim (first-touch page faults are very slow on these VMs),
// OpenMP threads that sleep instead of spinning, and the number of compute threads.

#include <filesystem>

namespace vlm::runtime {

// Call first thing in main(). Applies the malloc settings and, when OMP_WAIT_POLICY is not
// set (libgomp reads it only when the library is loaded), sets it and re-executes the
// program once so that it takes effect. Returns normally when nothing had to change.
void prepareProcess(int argc, char** argv);

// Applies the malloc settings only (for tests and embedders that cannot re-execute).
void applyAllocatorSettings();

// Physical cores of this machine (hyper-threads not counted), at least 1.
int physicalCores();

// Sets LibTorch's intra-op thread count; n <= 0 means physicalCores().
void setThreads(int n);
int threads();

// Folder of VLMScope's resources (tokenizer vocabularies, demo images and models): next to
// an installed binary (../share/vlmscope/resources), else the source tree's resources/.
std::filesystem::path resourceDir();

// Peak resident memory of this process, in MiB.
double peakRssMb();

}  // namespace vlm::runtime

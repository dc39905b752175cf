#pragma once
// Each subcommand: int name(int argc, char** argv), argv[1] being the subcommand.
namespace vlm::cli {
int cmdInspect(int argc, char** argv);
int cmdCaption(int argc, char** argv);
int cmdVqa(int argc, char** argv);
int cmdDump(int argc, char** argv);
int cmdTokenize(int argc, char** argv);
int cmdMakeRandomModel(int argc, char** argv);
int cmdBench(int argc, char** argv);
int cmdSimilarity(int argc, char** argv);
int cmdExplain(int argc, char** argv);
int cmdMask(int argc, char** argv);
int cmdVideo(int argc, char** argv);
int cmdShap(int argc, char** argv);
int cmdMetrics(int argc, char** argv);
int cmdBatch(int argc, char** argv);
int cmdShapes(int argc, char** argv);
int cmdTrainShapes(int argc, char** argv);
int cmdEvalGt(int argc, char** argv);
int cmdModels(int argc, char** argv);
int cmdReport(int argc, char** argv);
}  // namespace vlm::cli

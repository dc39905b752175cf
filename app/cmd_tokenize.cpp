// vlmscope tokenize: a checkpoint's tokenizer on texts (arguments, or JSON strings on stdin).
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/model_location.h"
#include "text/wordpiece.h"

namespace vlm::cli {

int cmdTokenize(int argc, char** argv) {
  Args args(argc, argv, 2, {"model"}, {});
  const io::ModelLocation loc = io::resolveModel(args.required("model"));
  const text::WordPieceTokenizer tok = text::WordPieceTokenizer::fromFolder(loc.dir);
  auto emit = [&](const std::string& text) {
    const std::vector<int64_t> ids = tok.encode(text, true);
    std::vector<std::string> tokens;
    for (int64_t id : ids) tokens.push_back(tok.idToToken(id));
    const nlohmann::ordered_json o{{"text", text}, {"ids", ids}, {"tokens", tokens}};
    std::printf("%s\n", o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  };
  if (!args.positional().empty()) {
    for (const auto& t : args.positional()) emit(t);
    return 0;
  }
  std::string line;
  int lineNo = 0;
  while (std::getline(std::cin, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorCode::InvalidArgument, "stdin line " + std::to_string(lineNo) + ": not a JSON string");
    }
    if (!j.is_string()) throw Error(ErrorCode::InvalidArgument, "stdin line " + std::to_string(lineNo) + ": expected a JSON string");
    emit(j.get<std::string>());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace vlm::cli

// vlmscope tokenize: a checkpoint's tokenizer on texts (arguments, or JSON strings on stdin).
// BERT WordPiece for BLIP checkpoints, CLIP byte-level BPE for CLIP ones (same output contract).
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/model_location.h"
#include "text/clip_tokenizer.h"
#include "text/wordpiece.h"

namespace vlm::cli {

int cmdTokenize(int argc, char** argv) {
  Args args(argc, argv, 2, {"model", "text-cleaning"}, {});
  const std::string model = args.required("model");
  const std::optional<std::string> cleaningName = args.value("text-cleaning");
  std::optional<text::ClipTextCleaning> cleaning;
  if (cleaningName) {
    cleaning = text::parseClipTextCleaning(*cleaningName);
    if (!cleaning) throw UsageError("option --text-cleaning must be ftfy or basic, got '" + *cleaningName + "'");
  }
  const io::ModelLocation loc = io::resolveModel(model);

  // The CLIP tokenizer for CLIP folders, WordPiece (BERT / BLIP) otherwise.
  std::function<std::vector<int64_t>(const std::string&)> encode;
  std::function<std::string(int64_t)> idToToken;
  std::optional<text::ClipTokenizer> clip;
  std::optional<text::WordPieceTokenizer> wordPiece;
  if (text::ClipTokenizer::isClipTokenizerFolder(loc.dir)) {
    clip.emplace(text::ClipTokenizer::fromFolder(loc.dir, cleaning.value_or(text::ClipTextCleaning::Ftfy)));
    encode = [&](const std::string& t) { return clip->encode(t, true); };
    idToToken = [&](int64_t id) { return clip->idToToken(id); };
  } else {
    if (cleaning) throw UsageError("option --text-cleaning applies to CLIP tokenizers only ('" + model + "' is not a CLIP checkpoint)");
    wordPiece.emplace(text::WordPieceTokenizer::fromFolder(loc.dir));
    encode = [&](const std::string& t) { return wordPiece->encode(t, true); };
    idToToken = [&](int64_t id) { return wordPiece->idToToken(id); };
  }

  auto emit = [&](const std::string& text) {
    const std::vector<int64_t> ids = encode(text);
    std::vector<std::string> tokens;
    for (int64_t id : ids) tokens.push_back(idToToken(id));
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

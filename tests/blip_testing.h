#pragma once
// BLIP configs for tests (and, through model_table_testing.h, the key-table check).
#include "model_table_testing.h"
#include "models/blip/blip_config.h"

namespace vlm::test {

// Sizes no real checkpoint has (text width != vision width, odd head counts, one text layer),
// so that a table or a module that hard-codes a size or mixes up two widths fails.
inline models::BlipConfig oddBlipConfig() {
  models::BlipConfig c;
  c.vision.hiddenSize = 24;
  c.vision.intermediateSize = 40;
  c.vision.numHiddenLayers = 3;
  c.vision.numAttentionHeads = 2;
  c.vision.imageSize = 48;
  c.vision.patchSize = 8;
  c.text.vocabSize = 1000;
  c.text.hiddenSize = 20;
  c.text.encoderHiddenSize = 24;
  c.text.intermediateSize = 33;
  c.text.numHiddenLayers = 1;
  c.text.numAttentionHeads = 5;
  c.text.maxPositionEmbeddings = 30;
  return c;
}

}  // namespace vlm::test

#pragma once
// The shapes world: synthetic scenes whose content is known pixel-exactly. A scene holds 1-4
// flat-coloured shapes that do not touch, on a light background (optionally textured, with
// thin grey distractor lines that are no objects); each object's mask is exactly the pixels
// drawn in its colour. Every scene comes with a caption from a small grammar, the object each
// caption word names, and VQA question / answer pairs. Everything is a function of the seed
// (portable randomness, common/random.h), so a scene can be regenerated anywhere.
// No LibTorch types in this header.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace vlm::shapes {

enum class Shape { Circle, Square, Triangle, Star, Diamond };
enum class Colour { Red, Green, Blue, Yellow, Purple, Orange };
constexpr int kShapes = 5, kColours = 6;

const char* nameOf(Shape s);       // "circle"
const char* pluralOf(Shape s);     // "circles"
const char* nameOf(Colour c);      // "red"
std::array<uint8_t, 3> rgbOf(Colour c);

struct Object {
  Shape shape = Shape::Circle;
  Colour colour = Colour::Red;
  double cx = 0, cy = 0;  // centre, image pixels
  double radius = 0;      // the shape fits in the circle of this radius around the centre
};

struct QuestionAnswer {
  std::string question, answer;
  std::string kind;  // "colour", "count", "exists", "shape"
};

struct WorldOptions {
  int imageSize = 128;   // square images
  int minObjects = 1, maxObjects = 4;
  double minRadius = 0.09, maxRadius = 0.16;  // as a share of the image size
  bool texture = false;      // background noise (+-12 grey levels)
  bool distractors = false;  // 0-3 thin grey lines under the objects
};
// InvalidArgument for sizes below 32, object counts outside 1..4 or min > max, radii outside (0, 0.25].
void validate(const WorldOptions& options);

struct Scene {
  uint64_t seed = 0;
  io::ImageU8 image;
  std::vector<Object> objects;            // in caption order
  std::vector<std::vector<uint8_t>> masks;  // per object, size x size, 1 where its pixels are
  std::string caption;                    // "a red circle above a blue square"
  std::vector<std::string> words;         // the caption split on spaces
  std::vector<int> wordObject;            // per word: the object it names (shape or colour word), -1 if none
  std::vector<QuestionAnswer> questions;
};

// The scene of `seed`: objects placed without overlap (rejection sampling), captioned:
//   1 object:  "a red circle" ("an" before "orange")
//   2 objects: "a red circle above / below / left of / right of a blue square" (the larger of
//              the vertical and horizontal offsets decides; objects in caption order)
//   3-4:       "a red circle, a blue square and a green star" (left to right)
// Questions: the colour of each shape that occurs once, how many of each shape (one..four, or
// zero for an absent shape), "is there a <colour> <shape>?" (yes, and no for an absent pair),
// and the shape of each colour that occurs once.
Scene generate(const WorldOptions& options, uint64_t seed);

// Whether two captions say the same about a scene: equal, or two-object captions naming the
// same pair in the other order with the inverse relation ("a red circle above a blue square" =
// "a blue square below a red circle"): the one freedom the grammar has (two objects are captioned
// in the order they were drawn, which the image does not show).
bool sameMeaning(const std::string& a, const std::string& b);

// Every word captions and answers use (the grammar's closed vocabulary).
std::vector<std::string> vocabulary();

}  // namespace vlm::shapes

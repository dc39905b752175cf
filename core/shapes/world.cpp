#include "shapes/world.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <sstream>
#include <optional>
#include <map>
#include <cmath>
#include <numbers>
#include <set>
#include <string_view>

#include "common/error.h"
#include "common/random.h"

namespace vlm::shapes {

namespace {

constexpr std::array<uint8_t, 3> kBackground{226, 226, 222};
constexpr std::array<uint8_t, 3> kDistractor{150, 150, 150};
const char* const kNumbers[] = {"zero", "one", "two", "three", "four"};

std::vector<cv::Point> polygon(const Object& o) {
  std::vector<cv::Point> pts;
  auto at = [&](double angleDeg, double r) {
    const double a = angleDeg * std::numbers::pi / 180;
    pts.emplace_back(int(std::lround(o.cx + r * std::cos(a))), int(std::lround(o.cy + r * std::sin(a))));
  };
  switch (o.shape) {
    case Shape::Square:
      for (double a : {-135.0, -45.0, 45.0, 135.0}) at(a, o.radius);
      break;
    case Shape::Diamond:
      for (double a : {-90.0, 0.0, 90.0, 180.0}) at(a, o.radius);
      break;
    case Shape::Triangle:
      for (double a : {-90.0, 30.0, 150.0}) at(a, o.radius);
      break;
    case Shape::Star:
      for (int k = 0; k < 10; ++k) at(-90.0 + 36.0 * k, k % 2 ? o.radius * 0.45 : o.radius);
      break;
    case Shape::Circle: break;
  }
  return pts;
}

// The object's pixels (value 1) in a size x size mask, drawn without anti-aliasing so that the
// mask and the painted pixels are the same set.
std::vector<uint8_t> maskOf(const Object& o, int size) {
  std::vector<uint8_t> mask(size_t(size) * size, 0);
  cv::Mat m(size, size, CV_8UC1, mask.data());
  if (o.shape == Shape::Circle)
    cv::circle(m, cv::Point(int(std::lround(o.cx)), int(std::lround(o.cy))), int(std::lround(o.radius)), cv::Scalar(1), cv::FILLED, cv::LINE_8);
  else {
    const std::vector<std::vector<cv::Point>> polys{polygon(o)};
    cv::fillPoly(m, polys, cv::Scalar(1), cv::LINE_8);
  }
  return mask;
}

// "a", or "an" before a vowel ("an orange star").
const char* articleFor(Colour c) {
  const char first = nameOf(c)[0];
  return std::string_view("aeiou").find(first) != std::string_view::npos ? "an" : "a";
}

std::string joinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty() && w != "," && w != "?") out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

const char* nameOf(Shape s) {
  switch (s) {
    case Shape::Circle: return "circle";
    case Shape::Square: return "square";
    case Shape::Triangle: return "triangle";
    case Shape::Star: return "star";
    case Shape::Diamond: return "diamond";
  }
  return "?";
}

const char* pluralOf(Shape s) {
  switch (s) {
    case Shape::Circle: return "circles";
    case Shape::Square: return "squares";
    case Shape::Triangle: return "triangles";
    case Shape::Star: return "stars";
    case Shape::Diamond: return "diamonds";
  }
  return "?";
}

const char* nameOf(Colour c) {
  switch (c) {
    case Colour::Red: return "red";
    case Colour::Green: return "green";
    case Colour::Blue: return "blue";
    case Colour::Yellow: return "yellow";
    case Colour::Purple: return "purple";
    case Colour::Orange: return "orange";
  }
  return "?";
}

std::array<uint8_t, 3> rgbOf(Colour c) {
  switch (c) {
    case Colour::Red: return {214, 39, 40};
    case Colour::Green: return {44, 160, 44};
    case Colour::Blue: return {31, 119, 180};
    case Colour::Yellow: return {240, 200, 20};
    case Colour::Purple: return {148, 83, 189};
    case Colour::Orange: return {255, 127, 14};
  }
  return {0, 0, 0};
}

void validate(const WorldOptions& o) {
  if (o.imageSize < 32 || o.imageSize > 4096)
    throw Error(ErrorCode::InvalidArgument, "shapes world: image size must be 32..4096, got " + std::to_string(o.imageSize));
  if (o.minObjects < 1 || o.maxObjects > 4 || o.minObjects > o.maxObjects)
    throw Error(ErrorCode::InvalidArgument, "shapes world: objects per scene must be 1 <= min <= max <= 4, got " + std::to_string(o.minObjects) +
                                                "..." + std::to_string(o.maxObjects));
  if (!(o.minRadius > 0 && o.minRadius <= o.maxRadius && o.maxRadius <= 0.25))
    throw Error(ErrorCode::InvalidArgument, "shapes world: radii must satisfy 0 < min <= max <= 0.25 of the image size");
}

Scene generate(const WorldOptions& options, uint64_t seed) {
  validate(options);
  Rng rng(seed);
  Scene scene;
  scene.seed = seed;
  const int size = options.imageSize;
  const int count = options.minObjects + int(rng.below(uint64_t(options.maxObjects - options.minObjects + 1)));

  // Objects: distinct (shape, colour) pairs, bounding circles at least 3 px apart. When a
  // placement keeps failing (a crowded draw) the radii of the scene are drawn again.
  std::vector<Object> objects;
  for (int attempt = 0; int(objects.size()) < count; ++attempt) {
    if (attempt % 200 == 199) objects.clear();
    Object o;
    o.shape = Shape(rng.below(kShapes));
    o.colour = Colour(rng.below(kColours));
    o.radius = std::max(4.0, rng.uniform(options.minRadius, options.maxRadius) * size);
    o.cx = rng.uniform(o.radius + 2, size - o.radius - 2);
    o.cy = rng.uniform(o.radius + 2, size - o.radius - 2);
    const bool clash = std::any_of(objects.begin(), objects.end(), [&](const Object& p) {
      return (p.shape == o.shape && p.colour == o.colour) || std::hypot(p.cx - o.cx, p.cy - o.cy) < p.radius + o.radius + 3;
    });
    if (!clash) objects.push_back(o);
  }

  // The background, distractors under the objects, then the objects.
  scene.image.width = scene.image.height = size;
  scene.image.rgb.resize(size_t(size) * size * 3);
  for (size_t i = 0; i < size_t(size) * size; ++i) {
    const int noise = options.texture ? int(rng.below(25)) - 12 : 0;
    for (int c = 0; c < 3; ++c) scene.image.rgb[i * 3 + c] = uint8_t(kBackground[size_t(c)] + noise);
  }
  cv::Mat canvas(size, size, CV_8UC3, scene.image.rgb.data());
  if (options.distractors) {
    const int lines = int(rng.below(4));
    for (int k = 0; k < lines; ++k) {
      const cv::Point a(int(rng.below(uint64_t(size))), int(rng.below(uint64_t(size)))), b(int(rng.below(uint64_t(size))), int(rng.below(uint64_t(size))));
      cv::line(canvas, a, b, cv::Scalar(kDistractor[0], kDistractor[1], kDistractor[2]), 1, cv::LINE_8);
    }
  }

  // Caption order: as drawn for two objects (the relation reads first -> second), left to right otherwise.
  if (objects.size() != 2) std::stable_sort(objects.begin(), objects.end(), [](const Object& a, const Object& b) { return a.cx < b.cx; });
  scene.objects = objects;
  for (const Object& o : objects) {
    auto mask = maskOf(o, size);
    const auto rgb = rgbOf(o.colour);
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i])
        for (int c = 0; c < 3; ++c) scene.image.rgb[i * 3 + c] = rgb[size_t(c)];
    scene.masks.push_back(std::move(mask));
  }

  // The caption, and which object each word names.
  auto describe = [&](int k) {
    scene.words.push_back(articleFor(objects[size_t(k)].colour));
    scene.wordObject.push_back(-1);
    scene.words.push_back(nameOf(objects[size_t(k)].colour));
    scene.wordObject.push_back(k);
    scene.words.push_back(nameOf(objects[size_t(k)].shape));
    scene.wordObject.push_back(k);
  };
  auto word = [&](const char* w) {
    scene.words.push_back(w);
    scene.wordObject.push_back(-1);
  };
  describe(0);
  if (objects.size() == 2) {
    const double dx = objects[0].cx - objects[1].cx, dy = objects[0].cy - objects[1].cy;
    if (std::abs(dy) >= std::abs(dx)) word(dy < 0 ? "above" : "below");
    else {
      word(dx < 0 ? "left" : "right");
      word("of");
    }
    describe(1);
  } else {
    for (int k = 1; k < int(objects.size()); ++k) {
      word(k + 1 == int(objects.size()) ? "and" : ",");
      describe(k);
    }
  }
  scene.caption = joinWords(scene.words);

  // Questions.
  auto ask = [&](std::vector<std::string> q, std::string answer, std::string kind) {
    q.push_back("?");
    scene.questions.push_back({joinWords(q), std::move(answer), std::move(kind)});
  };
  std::array<int, kShapes> shapeCount{};
  std::array<int, kColours> colourCount{};
  for (const Object& o : objects) {
    ++shapeCount[size_t(o.shape)];
    ++colourCount[size_t(o.colour)];
  }
  for (const Object& o : objects)
    if (shapeCount[size_t(o.shape)] == 1) ask({"what", "colour", "is", "the", nameOf(o.shape)}, nameOf(o.colour), "colour");
  std::vector<int> absentShapes;
  for (int s = 0; s < kShapes; ++s) {
    if (shapeCount[size_t(s)] > 0) ask({"how", "many", pluralOf(Shape(s)), "are", "there"}, kNumbers[shapeCount[size_t(s)]], "count");
    else absentShapes.push_back(s);
  }
  if (!absentShapes.empty()) {
    const Shape s = Shape(absentShapes[rng.below(absentShapes.size())]);
    ask({"how", "many", pluralOf(s), "are", "there"}, kNumbers[0], "count");
  }
  for (const Object& o : objects) ask({"is", "there", articleFor(o.colour), nameOf(o.colour), nameOf(o.shape)}, "yes", "exists");
  for (;;) {  // a pair that is not in the scene (there are 30 pairs and at most 4 objects)
    const Shape s = Shape(rng.below(kShapes));
    const Colour c = Colour(rng.below(kColours));
    if (std::none_of(objects.begin(), objects.end(), [&](const Object& o) { return o.shape == s && o.colour == c; })) {
      ask({"is", "there", articleFor(c), nameOf(c), nameOf(s)}, "no", "exists");
      break;
    }
  }
  for (const Object& o : objects)
    if (colourCount[size_t(o.colour)] == 1) ask({"what", "shape", "is", "the", nameOf(o.colour), "object"}, nameOf(o.shape), "shape");
  return scene;
}

namespace {

// A two-object caption: "ART COLOUR SHAPE RELATION ART COLOUR SHAPE" (RELATION one or two words).
struct Pair {
  std::string first, relation, second;
};
std::optional<Pair> parsePair(const std::string& caption) {
  std::vector<std::string> w;
  std::istringstream in(caption);
  for (std::string x; in >> x;) w.push_back(x);
  if (w.size() != 7 && w.size() != 8) return std::nullopt;
  const size_t relationWords = w.size() - 6;
  Pair p{w[0] + " " + w[1] + " " + w[2], w[3] + (relationWords == 2 ? " " + w[4] : ""), {}};
  p.second = w[3 + relationWords] + " " + w[4 + relationWords] + " " + w[5 + relationWords];
  return p;
}

}  // namespace

bool sameMeaning(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto pa = parsePair(a), pb = parsePair(b);
  if (!pa || !pb) return false;
  static const std::map<std::string, std::string> inverse{{"above", "below"}, {"below", "above"}, {"left of", "right of"}, {"right of", "left of"}};
  const auto it = inverse.find(pa->relation);
  return it != inverse.end() && pb->relation == it->second && pa->first == pb->second && pa->second == pb->first;
}

std::vector<std::string> vocabulary() {
  std::set<std::string> v{"a", "an", "above", "below", "left", "right", "of", "and", ",", "?", "what", "colour", "is", "the", "how",
                          "many", "are", "there", "shape", "object", "yes", "no"};
  for (const char* n : kNumbers) v.insert(n);
  for (int s = 0; s < kShapes; ++s) {
    v.insert(nameOf(Shape(s)));
    v.insert(pluralOf(Shape(s)));
  }
  for (int c = 0; c < kColours; ++c) v.insert(nameOf(Colour(c)));
  return {v.begin(), v.end()};
}

}  // namespace vlm::shapes

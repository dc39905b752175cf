// VLM_TEST_LABELS: fast
// The shapes world (core/shapes/world.h): scenes are a function of the seed; each object's
// mask is exactly the set of pixels painted in its colour (and no other pixel has an object
// colour); the shapes have the areas geometry says; captions follow the grammar (the words
// naming each object are its colour and shape, relations agree with the centres, 3-4 objects
// read left to right), every word is one of the closed vocabulary and a whole word of the
// real BERT vocabulary; VQA answers agree with the objects; bad options are refused.
#include "testing.h"
#include "error_testing.h"

#include <QtTest>

#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "shapes/world.h"
#include "text/wordpiece.h"

using namespace vlm;
using namespace vlm::shapes;

namespace {

std::array<uint8_t, 3> pixelAt(const io::ImageU8& img, size_t i) { return {img.rgb[i * 3], img.rgb[i * 3 + 1], img.rgb[i * 3 + 2]}; }

// The area of the shape inscribed in a circle of radius r.
double expectedArea(Shape s, double r) {
  switch (s) {
    case Shape::Circle: return std::numbers::pi * r * r;
    case Shape::Square:
    case Shape::Diamond: return 2 * r * r;
    case Shape::Triangle: return 3 * std::sqrt(3.0) / 4 * r * r;
    case Shape::Star: return 5 * r * (0.45 * r) * std::sin(std::numbers::pi / 5);  // 10 triangles (r, 0.45 r, 36 degrees)
  }
  return 0;
}

}  // namespace

class TestShapesWorld : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void deterministicBySeed() {
    WorldOptions o;
    o.texture = o.distractors = true;
    const Scene a = generate(o, 7), b = generate(o, 7), c = generate(o, 8);
    QVERIFY(a.image.rgb == b.image.rgb);
    QCOMPARE(a.caption, b.caption);
    QCOMPARE(a.questions.size(), b.questions.size());
    for (size_t i = 0; i < a.questions.size(); ++i) QCOMPARE(a.questions[i].question, b.questions[i].question);
    QVERIFY(a.image.rgb != c.image.rgb);
    QCOMPARE(a.image.width, 128);
  }

  // Ground truth: masks are disjoint, each mask pixel has exactly its object's colour, and no
  // pixel outside the masks has any object colour (background, texture and distractors never
  // do), so the masks are the objects, pixel for pixel.
  void masksAreExact() {
    const std::set<std::array<uint8_t, 3>> colours = [] {
      std::set<std::array<uint8_t, 3>> s;
      for (int c = 0; c < kColours; ++c) s.insert(rgbOf(Colour(c)));
      return s;
    }();
    for (uint64_t seed = 0; seed < 300; ++seed) {
      WorldOptions o;
      o.texture = seed % 2 == 1;
      o.distractors = seed % 3 == 0;
      const Scene s = generate(o, seed);
      const size_t n = size_t(o.imageSize) * o.imageSize;
      QCOMPARE(s.masks.size(), s.objects.size());
      std::vector<int> owner(n, -1);
      for (size_t k = 0; k < s.masks.size(); ++k) {
        const auto& m = s.masks[k];
        QCOMPARE(m.size(), n);
        size_t area = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!m[i]) continue;
          ++area;
          QVERIFY2(owner[i] == -1, "masks overlap");
          owner[i] = int(k);
          QVERIFY(pixelAt(s.image, i) == rgbOf(s.objects[k].colour));
        }
        const double expected = expectedArea(s.objects[k].shape, s.objects[k].radius);
        QVERIFY2(std::abs(double(area) - expected) < 0.2 * expected + 12,
                 qPrintable(QStringLiteral("seed %1 %2: area %3, expected %4").arg(seed).arg(nameOf(s.objects[k].shape)).arg(area).arg(expected)));
      }
      for (size_t i = 0; i < n; ++i)
        if (owner[i] < 0) QVERIFY2(!colours.count(pixelAt(s.image, i)), qPrintable(QStringLiteral("seed %1 pixel %2").arg(seed).arg(i)));
    }
  }

  void captionsFollowTheGrammar() {
    const auto vocab = vocabulary();
    const std::set<std::string> words(vocab.begin(), vocab.end());
    const auto bert = text::WordPieceTokenizer::fromFolder(test::dataPath("tokenizers/bert-base-uncased"));
    std::map<int, int> counts;
    for (uint64_t seed = 0; seed < 500; ++seed) {
      const Scene s = generate(WorldOptions{}, seed);
      const int n = int(s.objects.size());
      ++counts[n];
      QVERIFY(n >= 1 && n <= 4);
      QCOMPARE(s.words.size(), s.wordObject.size());
      // The words naming object k are exactly its colour then its shape.
      for (int k = 0; k < n; ++k) {
        std::vector<std::string> named;
        for (size_t w = 0; w < s.words.size(); ++w)
          if (s.wordObject[w] == k) named.push_back(s.words[w]);
        QCOMPARE(named, (std::vector<std::string>{nameOf(s.objects[size_t(k)].colour), nameOf(s.objects[size_t(k)].shape)}));
      }
      for (const auto& w : s.words) QVERIFY2(words.count(w), w.c_str());
      if (n == 2) {
        const double dx = s.objects[0].cx - s.objects[1].cx, dy = s.objects[0].cy - s.objects[1].cy;
        const std::string relation = s.words[3];
        if (std::abs(dy) >= std::abs(dx)) QCOMPARE(relation, std::string(dy < 0 ? "above" : "below"));
        else QCOMPARE(relation, std::string(dx < 0 ? "left" : "right"));
      } else {
        for (int k = 1; k < n; ++k) QVERIFY(s.objects[size_t(k - 1)].cx <= s.objects[size_t(k)].cx);
      }
      const std::string colour0 = nameOf(s.objects[0].colour);
      if (n == 1) QCOMPARE(s.caption, (colour0 == "orange" ? "an " : "a ") + colour0 + " " + nameOf(s.objects[0].shape));
      // Each word is a whole word of the real BERT vocabulary (no [UNK], no ## pieces).
      const auto tokens = bert.tokenize(s.caption);
      QCOMPARE(tokens.size(), s.words.size());
      for (size_t w = 0; w < tokens.size(); ++w) QCOMPARE(tokens[w], s.words[w]);
    }
    for (int n = 1; n <= 4; ++n) QVERIFY2(counts[n] > 60, qPrintable(QString::number(counts[n])));
  }

  void answersAgreeWithTheScene() {
    const auto vocab = vocabulary();
    const std::set<std::string> words(vocab.begin(), vocab.end());
    const char* numbers[] = {"zero", "one", "two", "three", "four"};
    int yes = 0, no = 0, zero = 0;
    for (uint64_t seed = 0; seed < 300; ++seed) {
      const Scene s = generate(WorldOptions{}, seed);
      for (const auto& qa : s.questions) {
        QVERIFY(words.count(qa.answer));
        QVERIFY(qa.question.back() == '?');
        if (qa.kind == "count") {
          int count = 0, found = -1;
          for (int sh = 0; sh < kShapes; ++sh)
            if (qa.question == "how many " + std::string(pluralOf(Shape(sh))) + " are there?") found = sh;
          QVERIFY(found >= 0);
          for (const auto& o : s.objects) count += o.shape == Shape(found);
          QCOMPARE(qa.answer, std::string(numbers[count]));
          zero += count == 0;
        } else if (qa.kind == "colour") {
          int matches = 0;
          for (const auto& o : s.objects)
            if (qa.question == "what colour is the " + std::string(nameOf(o.shape)) + "?") {
              ++matches;
              QCOMPARE(qa.answer, std::string(nameOf(o.colour)));
            }
          QCOMPARE(matches, 1);
        } else if (qa.kind == "exists") {
          bool present = false;
          for (const auto& o : s.objects)
            present |= qa.question == "is there " + std::string(o.colour == Colour::Orange ? "an " : "a ") + nameOf(o.colour) + " " + nameOf(o.shape) + "?";
          QCOMPARE(qa.answer, std::string(present ? "yes" : "no"));
          (present ? yes : no) += 1;
        } else {
          QCOMPARE(qa.kind, std::string("shape"));
          int matches = 0;
          for (const auto& o : s.objects)
            if (qa.question == "what shape is the " + std::string(nameOf(o.colour)) + " object?") {
              ++matches;
              QCOMPARE(qa.answer, std::string(nameOf(o.shape)));
            }
          QCOMPARE(matches, 1);
        }
      }
    }
    QVERIFY(yes > 0 && no > 0 && zero > 0);
  }

  // Shapes and colours are drawn uniformly: over 3000 objects each occurs 20 % / 16.7 % of the
  // time within 4 points.
  void attributesAreBalanced() {
    std::array<int, kShapes> shapes{};
    std::array<int, kColours> colours{};
    int total = 0;
    for (uint64_t seed = 0; total < 3000; ++seed) {
      for (const auto& o : generate(WorldOptions{}, seed).objects) {
        ++shapes[size_t(o.shape)];
        ++colours[size_t(o.colour)];
        ++total;
      }
    }
    for (int c : shapes) QVERIFY2(std::abs(double(c) / total - 1.0 / kShapes) < 0.04, qPrintable(QString::number(double(c) / total)));
    for (int c : colours) QVERIFY2(std::abs(double(c) / total - 1.0 / kColours) < 0.04, qPrintable(QString::number(double(c) / total)));
  }

  // Two objects are captioned in the order they were drawn: the same scene also reads as the
  // other object first with the inverse relation; nothing else counts as the same meaning.
  void sameMeaning() {
    QVERIFY(shapes::sameMeaning("a red circle above a blue square", "a red circle above a blue square"));
    QVERIFY(shapes::sameMeaning("a red circle above a blue square", "a blue square below a red circle"));
    QVERIFY(shapes::sameMeaning("an orange diamond right of a blue circle", "a blue circle left of an orange diamond"));
    QVERIFY(!shapes::sameMeaning("a red circle above a blue square", "a blue square above a red circle"));
    QVERIFY(!shapes::sameMeaning("a red circle above a blue square", "a red circle below a blue square"));
    QVERIFY(!shapes::sameMeaning("a red circle left of a blue square", "a blue square below a red circle"));
    QVERIFY(!shapes::sameMeaning("a red circle", "a blue circle"));
    QVERIFY(!shapes::sameMeaning("a red circle, a blue square and a green star", "a green star, a blue square and a red circle"));
    // Every two-object scene: swapping its objects' order and inverting the relation is the same.
    int pairs = 0;
    for (uint64_t seed = 0; seed < 400; ++seed) {
      const shapes::Scene s = shapes::generate(shapes::WorldOptions{}, seed);
      if (s.objects.size() != 2) continue;
      ++pairs;
      const auto& w = s.words;
      const size_t rel = w.size() - 6;
      std::string relation = w[3] + (rel == 2 ? " " + w[4] : "");
      const std::map<std::string, std::string> inverse{{"above", "below"}, {"below", "above"}, {"left of", "right of"}, {"right of", "left of"}};
      const std::string swapped = w[3 + rel] + " " + w[4 + rel] + " " + w[5 + rel] + " " + inverse.at(relation) + " " + w[0] + " " + w[1] + " " + w[2];
      QVERIFY2(shapes::sameMeaning(s.caption, swapped), swapped.c_str());
      QVERIFY(shapes::sameMeaning(swapped, s.caption));
    }
    QVERIFY(pairs > 50);
  }

  void badOptions() {
    WorldOptions o;
    o.imageSize = 16;
    VLM_EXPECT_ERROR(generate(o, 0), ErrorCode::InvalidArgument, "image size");
    o = {};
    o.maxObjects = 5;
    VLM_EXPECT_ERROR(generate(o, 0), ErrorCode::InvalidArgument, "objects per scene");
    o = {};
    o.minRadius = 0.3;
    o.maxRadius = 0.3;
    VLM_EXPECT_ERROR(generate(o, 0), ErrorCode::InvalidArgument, "radii");
  }
};

QTEST_APPLESS_MAIN(TestShapesWorld)
#include "test_shapes_world.moc"

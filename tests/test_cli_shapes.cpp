// VLM_TEST_LABELS: fast
// vlmscope shapes: the files on disk are the core's scenes: each image decodes to the
// generator's pixels, each label map marks exactly the object masks (k + 1 for object k), and
// scenes.json describes the same captions, objects and questions; bad options fail cleanly.
#include "cli_helpers.h"

#include <QTemporaryDir>

#include <opencv2/imgcodecs.hpp>

#include "io/image.h"
#include "shapes/dataset.h"
#include "shapes/world.h"

using namespace vlm;
using namespace vlm::test;

class TestCliShapes : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void writesTheGeneratorsScenes() {
    const QString out = tmp_.filePath(QStringLiteral("scenes"));
    const auto j = runCliJson({QStringLiteral("shapes"), QStringLiteral("--out"), out, QStringLiteral("--n"), QStringLiteral("3"),
                               QStringLiteral("--seed"), QStringLiteral("41"), QStringLiteral("--size"), QStringLiteral("96"),
                               QStringLiteral("--texture"), QStringLiteral("--json")});
    QCOMPARE(j["scenes"].size(), size_t(3));
    QCOMPARE(j["world"]["image_size"].get<int>(), 96);
    shapes::WorldOptions o;
    o.imageSize = 96;
    o.texture = true;
    for (int i = 0; i < 3; ++i) {
      const shapes::Scene s = shapes::generate(o, uint64_t(41 + i));
      const auto& d = j["scenes"][size_t(i)];
      QCOMPARE(d["seed"].get<uint64_t>(), uint64_t(41 + i));
      QCOMPARE(d["caption"].get<std::string>(), s.caption);
      QCOMPARE(d["word_object"].get<std::vector<int>>(), s.wordObject);
      QCOMPARE(d["questions"].size(), s.questions.size());
      QCOMPARE(d["questions"][0]["answer"].get<std::string>(), s.questions[0].answer);
      const std::string dir = out.toStdString() + "/";
      const io::ImageU8 img = io::loadImage(dir + d["image"].get<std::string>());
      QVERIFY(img.rgb == s.image.rgb);
      const cv::Mat labels = cv::imread(dir + d["labels"].get<std::string>(), cv::IMREAD_UNCHANGED);
      QCOMPARE(labels.type(), CV_8UC1);
      QCOMPARE(labels.rows, 96);
      for (int p = 0; p < 96 * 96; ++p) {
        int expected = 0;
        for (size_t k = 0; k < s.masks.size(); ++k)
          if (s.masks[k][size_t(p)]) expected = int(k) + 1;
        QCOMPARE(int(labels.data[p]), expected);
      }
      for (size_t k = 0; k < s.objects.size(); ++k) {
        size_t area = 0;
        for (uint8_t v : s.masks[k]) area += v;
        QCOMPARE(d["objects"][k]["area"].get<size_t>(), area);
        QCOMPARE(d["objects"][k]["shape"].get<std::string>(), std::string(shapes::nameOf(s.objects[k].shape)));
      }
    }
  }

  void badOptions() {
    VLM_EXPECT_CLEAN_FAILURE(QStringList({QStringLiteral("shapes")}), 2, "--out");
    VLM_EXPECT_CLEAN_FAILURE(QStringList({QStringLiteral("shapes"), QStringLiteral("--out"), tmp_.filePath(QStringLiteral("x")),
                                          QStringLiteral("--min-objects"), QStringLiteral("3"), QStringLiteral("--max-objects"), QStringLiteral("2")}),
                             2, "--min-objects");
    VLM_EXPECT_CLEAN_FAILURE(QStringList({QStringLiteral("shapes"), QStringLiteral("--out"), tmp_.filePath(QStringLiteral("x")),
                                          QStringLiteral("--size"), QStringLiteral("8")}),
                             2, "--size");
  }
};

QTEST_GUILESS_MAIN(TestCliShapes)
#include "test_cli_shapes.moc"

// VLM_TEST_LABELS: fast
// Pixel <-> patch geometry (vision/geometry.h), rectangles and pixel maskers
// (explain/masking.h), the word diff (pipeline/counterfactual.h) and SHA-256: hand-derived
// values, identities, and bad input.
#include "testing.h"
#include "error_testing.h"

#include <opencv2/imgproc.hpp>

#include "explain/masking.h"
#include "io/sha256.h"
#include "pipeline/counterfactual.h"
#include "vision/geometry.h"

using namespace vlm;
using namespace vlm::vision;
using namespace vlm::explain;

namespace {

io::ImageU8 gradientImage(int w, int h) {
  io::ImageU8 img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.pixel(x, y);
      p[0] = uint8_t((x * 7 + y) % 256);
      p[1] = uint8_t((y * 5) % 256);
      p[2] = uint8_t((x * y) % 256);
    }
  return img;
}

bool samePixel(const io::ImageU8& a, const io::ImageU8& b, int x, int y) {
  return std::equal(a.pixel(x, y), a.pixel(x, y) + 3, b.pixel(x, y));
}

std::string diffText(const std::vector<WordChange>& d) {
  std::string s;
  for (const auto& c : d) s += std::string(c.op == WordChange::Op::Kept ? "=" : c.op == WordChange::Op::Removed ? "-" : "+") + c.word + " ";
  return s;
}

}  // namespace

class TestMasking : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // BLIP: a 768 x 384 image squashed to 384 x 384 (sx = 1/2, sy = 1), 16-pixel patches, g = 24.
  //   pixel (100, 50): u = 100.5 / 2 = 50.25 -> column 3; v = 50.5 -> row 3; patch 3*24+3 = 75
  //   patch 75 = input (48, 48, 16, 16) = image x 96..128, y 48..64
  void blipGeometry() {
    const InputGeometry g(ImageProcessorConfig::blipDefaults(), 768, 384, 384, 16);
    QCOMPARE(g.gridSide(), 24);
    QCOMPARE(g.numPatches(), 576);
    QCOMPARE(g.patchAtImagePixel(100, 50).value(), 75);
    QCOMPARE(g.patchAtInputPixel(50, 50), 75);
    QCOMPARE(g.inputRectOfPatch(75), (PixelRect{48, 48, 16, 16}));
    const RectF r = g.imageRectOfPatch(75);
    QCOMPARE(r.x, 96.0);
    QCOMPARE(r.y, 48.0);
    QCOMPARE(r.width, 32.0);
    QCOMPARE(r.height, 16.0);
    QCOMPARE(g.patchAtImagePixel(767, 383).value(), 575);
    // Every pixel of a patch's image rectangle maps back to that patch.
    for (int p : {0, 75, 300, 575}) {
      const RectF pr = g.imageRectOfPatch(p);
      for (int y = int(pr.y); y < int(pr.y + pr.height); y += 3)
        for (int x = int(pr.x); x < int(pr.x + pr.width); x += 5) QCOMPARE(g.patchAtImagePixel(x, y).value(), p);
    }
    // Bicubic 768 -> 384 horizontally: scale 2, support 2 * 2 = 4; output xx reads input
    // [int(2xx + 1 - 3.5), int(2xx + 1 + 4.5)) = [2xx - 3, 2xx + 5) (xx >= 2). Input columns
    // 100..109 reach xx with 2xx - 3 < 110 and 100 < 2xx + 5: xx = 48..56. Rows: 384 -> 384 is a
    // copy in Pillow (no vertical pass): 50..59 stay 50..59.
    QCOMPARE(g.inputPixelsInfluencedBy({100, 50, 10, 10}), (PixelRect{48, 50, 9, 10}));
    QCOMPARE(g.patchesInfluencedBy({{100, 50, 10, 10}}), std::vector<int>{75});
    // Column 0 reaches xx = 0, 1 (xx = 2 reads from column 1).
    QCOMPARE(g.inputPixelsInfluencedBy({0, 0, 1, 1}), (PixelRect{0, 0, 2, 1}));
    // Near a patch border the support spills into the next column of patches: input columns
    // 122..127 (2xx - 3 < 128 -> xx <= 65; 122 < 2xx + 5 -> xx >= 59) = 59..65 -> columns 3, 4.
    QCOMPARE(g.patchesInfluencedBy({{122, 0, 6, 4}}), (std::vector<int>{3, 4}));
  }

  // CLIP: 448 x 224 -> shortest edge 224 (448 x 224) -> centre crop 224 x 224 at left 112,
  // 32-pixel patches, g = 7.
  void clipGeometry() {
    const InputGeometry g(ImageProcessorConfig::clipDefaults(), 448, 224, 224, 32);
    QCOMPARE(g.gridSide(), 7);
    QVERIFY(!g.patchAtImagePixel(0, 0).has_value());      // cropped away
    QVERIFY(!g.patchAtImagePixel(447, 100).has_value());  // cropped away
    QCOMPARE(g.patchAtImagePixel(152, 70).value(), 15);   // u = 40.5 -> col 1, v = 70.5 -> row 2
    const RectF r = g.imageRectOfPatch(0);
    QCOMPARE(r.x, 112.0);
    QCOMPARE(r.width, 32.0);
    // A rectangle in the cropped-away margin influences nothing.
    QVERIFY(g.inputPixelsInfluencedBy({0, 0, 50, 50}).empty());
    QVERIFY(g.patchesInfluencedBy({{0, 0, 50, 50}}).empty());
    // A map drawn over the image: the cropped margins get `outside`, a constant map stays constant.
    const auto img = g.mapToImage(std::vector<float>(49, 0.5f), 7, -1.f);
    QCOMPARE(img.size(), size_t(448 * 224));
    QCOMPARE(img[size_t(100) * 448 + 5], -1.f);
    QCOMPARE(img[size_t(100) * 448 + 200], 0.5f);
    VLM_EXPECT_ERROR(g.mapToImage(std::vector<float>(48), 7), ErrorCode::InvalidArgument, "49 values");
    VLM_EXPECT_ERROR(InputGeometry(ImageProcessorConfig::blipDefaults(), 100, 100, 384, 15), ErrorCode::InvalidArgument, "does not divide");
    VLM_EXPECT_ERROR(InputGeometry(ImageProcessorConfig::blipDefaults(), 100, 100, 224, 16), ErrorCode::InvalidArgument, "384 x 384");
    VLM_EXPECT_ERROR(g.patchAtImagePixel(448, 0), ErrorCode::InvalidArgument, "outside the 448 x 224 image");
    VLM_EXPECT_ERROR(g.inputRectOfPatch(49), ErrorCode::InvalidArgument, "patch 49", "0..48");
  }

  // mapToImage on a 2 x 2 grid over a 4 x 4 BLIP input of a 4 x 4 image (no resize): pixel
  // centres 0.5 .. 3.5 are grid coordinates 0.25 .. 1.75; bilinear with align_corners = false
  // (clamped at the border): row 0 = [a, a, 0.75a + 0.25b, 0.25a + 0.75b ...].
  void mapToImageBilinear() {
    ImageProcessorConfig c = ImageProcessorConfig::blipDefaults();
    c.resizeHeight = c.resizeWidth = 4;
    const InputGeometry g(c, 4, 4, 4, 2);
    const auto m = g.mapToImage({0.f, 1.f, 0.f, 1.f}, 2);
    const float want[4] = {0.f, 0.25f, 0.75f, 1.f};
    for (int x = 0; x < 4; ++x) QVERIFY(std::abs(m[size_t(x)] - want[x]) < 1e-6);
  }

  void rectangles() {
    QCOMPARE(parseRect("10,20,30,40"), (PixelRect{10, 20, 30, 40}));
    QCOMPARE(parseRect("-5,0,10,10"), (PixelRect{-5, 0, 10, 10}));
    VLM_EXPECT_ERROR(parseRect("10,20,30"), ErrorCode::InvalidArgument, "'10,20,30'", "x,y,w,h");
    VLM_EXPECT_ERROR(parseRect("a,b,c,d"), ErrorCode::InvalidArgument, "x,y,w,h");
    VLM_EXPECT_ERROR(parseRect("1,2,3,4,5"), ErrorCode::InvalidArgument, "x,y,w,h");
    const auto clipped = validateRects({{-5, -5, 10, 10}, {90, 40, 50, 50}}, 100, 50);
    QCOMPARE(clipped[0], (PixelRect{0, 0, 5, 5}));
    QCOMPARE(clipped[1], (PixelRect{90, 40, 10, 10}));
    VLM_EXPECT_ERROR(validateRects({{0, 0, 10, 10}, {5, 5, 0, 3}}, 100, 50), ErrorCode::InvalidArgument, "rectangle 2", "(5,5,0,3)", "empty");
    VLM_EXPECT_ERROR(validateRects({{200, 10, 5, 5}}, 100, 50), ErrorCode::InvalidArgument, "rectangle 1", "outside the 100 x 50 image");
    VLM_EXPECT_ERROR(validateRects({{-20, 10, 20, 5}}, 100, 50), ErrorCode::InvalidArgument, "outside");
    VLM_EXPECT_ERROR(validateRects({}, 100, 50), ErrorCode::InvalidArgument, "no rectangle");
  }

  // Pixel maskers change the rectangles only; constant = round(255 * mean); blur = the blurred
  // image inside; inpainting fills a flat image with its own colour.
  void pixelMaskers() {
    const io::ImageU8 img = gradientImage(40, 30);
    const std::vector<PixelRect> rects{{5, 5, 10, 8}, {30, 20, 20, 20}};  // the second is clipped to 30..39 x 20..29
    const std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
    QCOMPARE(meanColor(mean), (std::array<uint8_t, 3>{123, 117, 104}));  // 122.77, 116.75, 104.09
    const auto inside = [&](int x, int y) { return (x >= 5 && x < 15 && y >= 5 && y < 13) || (x >= 30 && y >= 20); };
    for (MaskerKind k : {MaskerKind::Constant, MaskerKind::Blur, MaskerKind::Telea, MaskerKind::NavierStokes}) {
      const io::ImageU8 out = applyPixelMasker(img, rects, k, {}, mean);
      int changedInside = 0;
      for (int y = 0; y < 30; ++y)
        for (int x = 0; x < 40; ++x) {
          if (!inside(x, y)) QVERIFY2(samePixel(out, img, x, y), (std::string(toString(k)) + " changed a pixel outside").c_str());
          else changedInside += !samePixel(out, img, x, y);
        }
      QVERIFY2(changedInside > 100, toString(k));
    }
    const io::ImageU8 c = applyPixelMasker(img, rects, MaskerKind::Constant, {}, mean);
    QCOMPARE(int(c.pixel(7, 7)[0]), 123);
    QCOMPARE(int(c.pixel(39, 29)[2]), 104);
    MaskerOptions red;
    red.color = std::array<uint8_t, 3>{255, 0, 0};
    QCOMPARE(int(applyPixelMasker(img, rects, MaskerKind::Constant, red, mean).pixel(6, 6)[0]), 255);
    // Blur: inside = OpenCV's Gaussian blur of the whole image at that pixel.
    MaskerOptions bo;
    bo.blurSigma = 2;
    cv::Mat src(30, 40, CV_8UC3, const_cast<uint8_t*>(img.rgb.data())), blurred;
    cv::GaussianBlur(src, blurred, cv::Size(0, 0), 2, 2, cv::BORDER_REFLECT_101);
    const io::ImageU8 b = applyPixelMasker(img, rects, MaskerKind::Blur, bo, mean);
    for (int ch = 0; ch < 3; ++ch) QCOMPARE(b.pixel(9, 9)[ch], blurred.at<cv::Vec3b>(9, 9)[ch]);
    // Inpainting a hole in a flat image restores the flat colour.
    io::ImageU8 flat = gradientImage(20, 20);
    for (size_t i = 0; i < flat.rgb.size(); i += 3) flat.rgb[i] = 200, flat.rgb[i + 1] = 100, flat.rgb[i + 2] = 50;
    io::ImageU8 holed = applyPixelMasker(flat, {{6, 6, 5, 5}}, MaskerKind::Constant, {}, mean);
    for (MaskerKind k : {MaskerKind::Telea, MaskerKind::NavierStokes}) {
      const io::ImageU8 f = applyPixelMasker(holed, {{6, 6, 5, 5}}, k, {}, mean);
      QVERIFY2(std::abs(int(f.pixel(8, 8)[0]) - 200) <= 1 && std::abs(int(f.pixel(8, 8)[2]) - 50) <= 1, toString(k));
    }
    VLM_EXPECT_ERROR(applyPixelMasker(img, rects, MaskerKind::PatchRemoval, {}, mean), ErrorCode::InvalidArgument, "patch");
    QCOMPARE(parseMasker("ns").value(), MaskerKind::NavierStokes);
    QCOMPARE(parseMasker("patch").value(), MaskerKind::PatchRemoval);
    QVERIFY(!parseMasker("gauss").has_value());
  }

  void topPercent() {
    const std::vector<float> m{0.1f, 0.9f, 0.5f, 0.9f, 0.0f, 0.3f, 0.7f, 0.2f, 0.4f, 0.6f};
    QCOMPARE(topPercentPatches(m, 20), (std::vector<int>{1, 3}));         // the two 0.9s
    QCOMPARE(topPercentPatches(m, 25), (std::vector<int>{1, 3, 6}));      // ceil(2.5) = 3
    QCOMPARE(topPercentPatches(m, 1), std::vector<int>{1});               // at least one; tie -> lower index
    QCOMPARE(topPercentPatches(m, 100).size(), size_t(10));
    VLM_EXPECT_ERROR(topPercentPatches(m, 0), ErrorCode::InvalidArgument, "(0, 100]");
    VLM_EXPECT_ERROR(topPercentPatches(m, 150), ErrorCode::InvalidArgument, "(0, 100]");
    const InputGeometry g(ImageProcessorConfig::blipDefaults(), 768, 384, 384, 16);
    QCOMPARE(patchRects(g, {75}), std::vector<PixelRect>{(PixelRect{96, 48, 32, 16})});
  }

  void words() {
    QCOMPARE(diffText(wordDiff("a cat on a sofa", "a dog on a sofa")), std::string("=a -cat +dog =on =a =sofa "));
    QCOMPARE(diffText(wordDiff("a man riding a horse", "a man")), std::string("=a =man -riding -a -horse "));
    QCOMPARE(diffText(wordDiff("", "two birds")), std::string("+two +birds "));
    QCOMPARE(diffText(wordDiff("same  words", "same words")), std::string("=same =words "));
  }

  // FIPS 180-4 examples.
  void sha256() {
    auto h = [](const std::string& s) { return io::sha256Hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); };
    QCOMPARE(h(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    QCOMPARE(h("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QCOMPARE(h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  }
};

QTEST_GUILESS_MAIN(TestMasking)
#include "test_masking.moc"

// VLM_TEST_LABELS: fast
// The rendering / export layer: colormaps against matplotlib's values worked out by hand,
// heatmap overlays on tiny images with hand-computed blends and contours, video frame
// composition, PNG export, .npy files byte for byte as numpy writes them (derived from the
// format spec, numpy is not needed), and MP4 export checked with ffprobe / ffmpeg.
#include "testing.h"

#include <QProcess>
#include <QStandardPaths>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "common/error.h"
#include "error_testing.h"
#include "io/files.h"
#include "io/image.h"
#include "io/npy.h"
#include "render/colormap.h"
#include "render/video_writer.h"

using namespace vlm;
using render::Colormap;
namespace fs = std::filesystem;

namespace {

using Rgb = std::array<uint8_t, 3>;

QString rgbText(const Rgb& c) { return QString("(%1,%2,%3)").arg(c[0]).arg(c[1]).arg(c[2]); }

#define COMPARE_RGB(actual, expected) QCOMPARE(rgbText(actual), rgbText(expected))

Rgb pixelAt(const io::ImageU8& im, int x, int y) {
  const uint8_t* p = im.pixel(x, y);
  return {p[0], p[1], p[2]};
}

io::ImageU8 solid(int w, int h, Rgb c) {
  io::ImageU8 im;
  im.width = w;
  im.height = h;
  im.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0; i < im.rgb.size(); i += 3) std::copy(c.begin(), c.end(), im.rgb.begin() + i);
  return im;
}

std::string bytesOf(const fs::path& p) { return io::readFile(p); }

void writeBytes(const fs::path& p, const std::string& b) {
  std::ofstream o(p, std::ios::binary);
  o.write(b.data(), std::streamsize(b.size()));
}

std::set<std::string> listFolder(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// The little-endian bytes of floats, written out independently of the writer.
std::string leFloats(std::initializer_list<float> values) {
  std::string out;
  for (float f : values) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int b = 0; b < 4; ++b) out += char((u >> (8 * b)) & 0xff);
  }
  return out;
}

struct ProcessResult {
  int exitCode = -1;
  QByteArray out, err;
};

ProcessResult runTool(const QString& program, const QStringList& args) {
  QProcess p;
  p.start(program, args);
  ProcessResult r;
  if (!p.waitForFinished(60000)) return r;
  r.exitCode = p.exitCode();
  r.out = p.readAllStandardOutput();
  r.err = p.readAllStandardError();
  return r;
}

}  // namespace

class TestRender : public QObject {
  Q_OBJECT
  fs::path tmp_;

  fs::path freshDir(const std::string& name) {
    const fs::path d = tmp_ / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = fs::temp_directory_path() / ("vlm_render_" + std::to_string(::getpid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() { fs::remove_all(tmp_); }

  // ---------------------------------------------------------------- colormaps

  void colormapNames() {
    for (Colormap c : {Colormap::Viridis, Colormap::Inferno, Colormap::Jet, Colormap::Gray})
      QCOMPARE(render::parseColormap(render::toString(c)), std::optional<Colormap>(c));
    QCOMPARE(render::parseColormap("grey"), std::optional<Colormap>(Colormap::Gray));
    QCOMPARE(std::string(render::toString(Colormap::Gray)), std::string("gray"));
    QVERIFY(!render::parseColormap("Viridis"));
    QVERIFY(!render::parseColormap("hot"));
    QVERIFY(!render::parseColormap(""));
  }

  // matplotlib.colors.to_hex(viridis(v)) for v = 0, .25, .5, .75, 1 is
  // #440154 #3b528b #21918c #5ec962 #fde725 (entries 0, 64, 128, 192, 255 of the 256 floats,
  // e.g. entry 128 = (0.127568, 0.566949, 0.550556) * 255 = (32.53, 144.57, 140.39) -> rounded).
  void viridis() {
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 0.f), Rgb({68, 1, 84}));
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 0.25f), Rgb({0x3b, 0x52, 0x8b}));
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 0.5f), Rgb({0x21, 0x91, 0x8c}));
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 0.75f), Rgb({0x5e, 0xc9, 0x62}));
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 1.f), Rgb({253, 231, 37}));
  }

  // #000004 #57106e #bc3754 #f98e09 #fcffa4; entry 128 = (0.735683, 0.215906, 0.330245).
  void inferno() {
    COMPARE_RGB(render::colormapColor(Colormap::Inferno, 0.f), Rgb({0, 0, 4}));
    COMPARE_RGB(render::colormapColor(Colormap::Inferno, 0.25f), Rgb({0x57, 0x10, 0x6e}));
    COMPARE_RGB(render::colormapColor(Colormap::Inferno, 0.5f), Rgb({0xbc, 0x37, 0x54}));
    COMPARE_RGB(render::colormapColor(Colormap::Inferno, 0.75f), Rgb({0xf9, 0x8e, 0x09}));
    COMPARE_RGB(render::colormapColor(Colormap::Inferno, 1.f), Rgb({252, 255, 164}));
  }

  // matplotlib's _jet_data, sampled at entry i / 255:
  //   red   (0,0) (0.35,0) (0.66,1) (0.89,1) (1,0.5)
  //   green (0,0) (0.125,0) (0.375,1) (0.64,1) (0.91,0) (1,0)
  //   blue  (0,0.5) (0.11,1) (0.34,1) (0.65,0) (1,0)
  // v = 0.5 -> entry 128, x = 128/255 = 0.501961: red (x - 0.35) / 0.31 = 0.490196 -> 125.0,
  // green 1 -> 255, blue 1 - (x - 0.34) / 0.31 = 0.477546 -> 121.77 -> 122.
  // v = 0.75 -> entry 192, x = 0.752941: red 1, green 1 - (x - 0.64) / 0.27 = 0.581699 -> 148.3,
  // blue 0. (OpenCV's COLORMAP_JET differs: (130,255,126) at entry 128.)
  void jet() {
    COMPARE_RGB(render::colormapColor(Colormap::Jet, 0.f), Rgb({0, 0, 128}));
    COMPARE_RGB(render::colormapColor(Colormap::Jet, 0.5f), Rgb({125, 255, 122}));
    COMPARE_RGB(render::colormapColor(Colormap::Jet, 0.75f), Rgb({255, 148, 0}));
    COMPARE_RGB(render::colormapColor(Colormap::Jet, 1.f), Rgb({128, 0, 0}));
  }

  void gray() {
    COMPARE_RGB(render::colormapColor(Colormap::Gray, 0.f), Rgb({0, 0, 0}));
    COMPARE_RGB(render::colormapColor(Colormap::Gray, 0.2f), Rgb({51, 51, 51}));     // 51.0
    COMPARE_RGB(render::colormapColor(Colormap::Gray, 0.3f), Rgb({77, 77, 77}));     // 76.5 (float 0.3f is above)
    COMPARE_RGB(render::colormapColor(Colormap::Gray, 0.61f), Rgb({156, 156, 156}));  // 155.55
    COMPARE_RGB(render::colormapColor(Colormap::Gray, 1.f), Rgb({255, 255, 255}));
  }

  void clamping() {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (Colormap c : {Colormap::Viridis, Colormap::Inferno, Colormap::Jet, Colormap::Gray}) {
      const Rgb lo = render::colormapColor(c, 0.f), hi = render::colormapColor(c, 1.f);
      QVERIFY(lo != hi);
      COMPARE_RGB(render::colormapColor(c, -0.5f), lo);
      COMPARE_RGB(render::colormapColor(c, -inf), lo);
      COMPARE_RGB(render::colormapColor(c, nan), lo);
      COMPARE_RGB(render::colormapColor(c, 1.5f), hi);
      COMPARE_RGB(render::colormapColor(c, inf), hi);
    }
    // The last of the 256 entries covers [255/256, 1].
    COMPARE_RGB(render::colormapColor(Colormap::Viridis, 0.999f), Rgb({253, 231, 37}));
  }

  void heatmapImage() {
    const float map[] = {0.f, 1.f, 0.5f, 0.75f, 0.f, 1.f};  // 3 x 2
    const io::ImageU8 im = render::heatmapImage(map, 3, 2, Colormap::Jet);
    QCOMPARE(im.width, 3);
    QCOMPARE(im.height, 2);
    QCOMPARE(im.rgb.size(), size_t(18));
    COMPARE_RGB(pixelAt(im, 0, 0), Rgb({0, 0, 128}));
    COMPARE_RGB(pixelAt(im, 1, 0), Rgb({128, 0, 0}));
    COMPARE_RGB(pixelAt(im, 2, 0), Rgb({125, 255, 122}));
    COMPARE_RGB(pixelAt(im, 0, 1), Rgb({255, 148, 0}));
    VLM_EXPECT_ERROR(render::heatmapImage(nullptr, 3, 2, Colormap::Jet), ErrorCode::InvalidArgument, "null");
    VLM_EXPECT_ERROR(render::heatmapImage(map, 0, 2, Colormap::Jet), ErrorCode::InvalidArgument, "empty");
  }

  // ---------------------------------------------------------------- overlays

  void overlayBlend() {
    io::ImageU8 image = solid(2, 2, {0, 0, 0});
    const Rgb px[4] = {{12, 20, 32}, {200, 100, 50}, {0, 0, 0}, {255, 255, 255}};
    for (int i = 0; i < 4; ++i) std::copy(px[i].begin(), px[i].end(), image.pixel(i % 2, i / 2));
    const float map[] = {0.f, 0.5f, 0.75f, 1.f};
    render::OverlayOptions o;
    o.colormap = Colormap::Viridis;
    o.alpha = 0.25f;
    const io::ImageU8 out = render::overlayHeatmap(image, map, 2, 2, o);
    QCOMPARE(out.width, 2);
    QCOMPARE(out.height, 2);
    // Fully by hand: pixel (0,0) = 0.75 * (12,20,32) + 0.25 * viridis(0) = 0.75 * (12,20,32) +
    // 0.25 * (68,1,84) = (9 + 17, 15 + 0.25, 24 + 21) = (26, 15.25, 45) -> (26, 15, 45).
    COMPARE_RGB(pixelAt(out, 0, 0), Rgb({26, 15, 45}));
    // Every pixel: the formula with the colours of colormapColor.
    for (int i = 0; i < 4; ++i) {
      const Rgb c = render::colormapColor(Colormap::Viridis, map[i]);
      Rgb e;
      for (int k = 0; k < 3; ++k) e[k] = uint8_t(std::lround(0.75 * px[i][k] + 0.25 * c[k]));
      COMPARE_RGB(pixelAt(out, i % 2, i / 2), e);
    }
    // (1,1) by hand too: 0.75 * 255 + 0.25 * (253,231,37) = (254.5, 249, 200.5) -> (255, 249, 201).
    COMPARE_RGB(pixelAt(out, 1, 1), Rgb({255, 249, 201}));

    // alpha 0: the image; alpha 1: the colours.
    o.alpha = 0.f;
    QVERIFY(render::overlayHeatmap(image, map, 2, 2, o).rgb == image.rgb);
    o.alpha = 1.f;
    QVERIFY(render::overlayHeatmap(image, map, 2, 2, o).rgb == render::heatmapImage(map, 2, 2, Colormap::Viridis).rgb);
  }

  // A 2x1 map on a 4x1 image: cv::resize INTER_LINEAR samples source x = (x + 0.5) / 2 - 0.5,
  // i.e. -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1): values 0, 0.25, 0.75, 1; in gray
  // with alpha 1: 0, round(63.75) = 64, round(191.25) = 191, 255.
  void overlayResizesTheMap() {
    const io::ImageU8 image = solid(4, 1, {9, 9, 9});
    const float map[] = {0.f, 1.f};
    render::OverlayOptions o;
    o.colormap = Colormap::Gray;
    o.alpha = 1.f;
    const io::ImageU8 out = render::overlayHeatmap(image, map, 2, 1, o);
    QCOMPARE(out.width, 4);
    const int expected[] = {0, 64, 191, 255};
    for (int x = 0; x < 4; ++x) COMPARE_RGB(pixelAt(out, x, 0), Rgb({uint8_t(expected[x]), uint8_t(expected[x]), uint8_t(expected[x])}));
    // A 1x1 map fills the whole image.
    const float one[] = {1.f};
    o.colormap = Colormap::Jet;
    const io::ImageU8 filled = render::overlayHeatmap(solid(3, 2, {1, 2, 3}), one, 1, 1, o);
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) COMPARE_RGB(pixelAt(filled, x, y), Rgb({128, 0, 0}));
  }

  // 5x5 map, a 3x3 block of ones at x, y in 1..3: the boundary is the block's 8 outer pixels;
  // its centre (2,2) and everything outside keep the image colour (alpha 0).
  void overlayContour() {
    std::vector<float> map(25, 0.f);
    for (int y = 1; y <= 3; ++y)
      for (int x = 1; x <= 3; ++x) map[y * 5 + x] = 1.f;
    const io::ImageU8 image = solid(5, 5, {50, 60, 70});
    render::OverlayOptions o;
    o.alpha = 0.f;
    o.contour = true;
    o.contourLevel = 0.5f;
    const io::ImageU8 out = render::overlayHeatmap(image, map.data(), 5, 5, o);
    const char* expected[5] = {".....", ".###.", ".#.#.", ".###.", "....."};
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 5; ++x) {
        const Rgb want = expected[y][x] == '#' ? Rgb({255, 255, 255}) : Rgb({50, 60, 70});
        QVERIFY2(pixelAt(out, x, y) == want, qPrintable(QString("pixel (%1,%2) is %3").arg(x).arg(y).arg(rgbText(pixelAt(out, x, y)))));
      }
    // Without contour: no white pixel.
    o.contour = false;
    QVERIFY(render::overlayHeatmap(image, map.data(), 5, 5, o).rgb == image.rgb);
    // A set that covers the whole image has no boundary (the image border is not one).
    std::vector<float> ones(25, 1.f);
    o.contour = true;
    QVERIFY(render::overlayHeatmap(image, ones.data(), 5, 5, o).rgb == image.rgb);
    // The level is inclusive: map == level is inside.
    std::vector<float> half(25, 0.f);
    half[12] = 0.5f;
    const io::ImageU8 dot = render::overlayHeatmap(image, half.data(), 5, 5, o);
    COMPARE_RGB(pixelAt(dot, 2, 2), Rgb({255, 255, 255}));
    COMPARE_RGB(pixelAt(dot, 1, 2), Rgb({50, 60, 70}));
  }

  void overlayErrors() {
    const io::ImageU8 image = solid(2, 2, {1, 2, 3});
    const float map[] = {0.f, 0.5f, 0.75f, 1.f};
    render::OverlayOptions o;
    o.alpha = 1.5f;
    VLM_EXPECT_ERROR(render::overlayHeatmap(image, map, 2, 2, o), ErrorCode::InvalidArgument, "alpha", "1.5");
    o.alpha = -0.1f;
    VLM_EXPECT_ERROR(render::overlayHeatmap(image, map, 2, 2, o), ErrorCode::InvalidArgument, "alpha");
    o.alpha = std::numeric_limits<float>::quiet_NaN();
    VLM_EXPECT_ERROR(render::overlayHeatmap(image, map, 2, 2, o), ErrorCode::InvalidArgument, "alpha");
    o.alpha = 0.5f;
    VLM_EXPECT_ERROR(render::overlayHeatmap(io::ImageU8{}, map, 2, 2, o), ErrorCode::InvalidArgument, "empty");
    VLM_EXPECT_ERROR(render::overlayHeatmap(image, nullptr, 2, 2, o), ErrorCode::InvalidArgument, "null");
    VLM_EXPECT_ERROR(render::overlayHeatmap(image, map, 0, 2, o), ErrorCode::InvalidArgument, "empty");
    io::ImageU8 bad = image;
    bad.rgb.pop_back();
    VLM_EXPECT_ERROR(render::overlayHeatmap(bad, map, 2, 2, o), ErrorCode::InvalidArgument, "bytes");
  }

  // ---------------------------------------------------------------- frames and PNG

  void composeFramePlacesPanels() {
    const Rgb red = {255, 0, 0}, blue = {0, 0, 255}, green = {0, 255, 0};
    // 30x20 red; 15x10 blue (scaled to 30x20); 11x20 green: 71 px wide, rounded up to 72.
    const io::ImageU8 f = render::composeFrame({solid(30, 20, red), solid(15, 10, blue), solid(11, 20, green)}, "", "");
    QCOMPARE(f.width, 72);
    QCOMPARE(f.width % 2, 0);
    QCOMPARE(f.height % 2, 0);
    QVERIFY(f.height > 20 + 10);  // a bar with two text lines below the panels
    QCOMPARE(f.rgb.size(), size_t(f.width) * f.height * 3);
    COMPARE_RGB(pixelAt(f, 0, 0), red);
    COMPARE_RGB(pixelAt(f, 29, 19), red);
    COMPARE_RGB(pixelAt(f, 30, 0), blue);
    COMPARE_RGB(pixelAt(f, 45, 10), blue);
    COMPARE_RGB(pixelAt(f, 59, 19), blue);
    COMPARE_RGB(pixelAt(f, 60, 0), green);
    COMPARE_RGB(pixelAt(f, 70, 19), green);
    const Rgb bar = render::kFrameBarColor;
    COMPARE_RGB(pixelAt(f, 71, 0), bar);  // the padding column
    // No text: the whole bar is the bar colour.
    for (int y = 20; y < f.height; ++y)
      for (int x = 0; x < f.width; ++x)
        QVERIFY2(pixelAt(f, x, y) == bar, qPrintable(QString("bar pixel (%1,%2)").arg(x).arg(y)));

    // A taller second panel is scaled down to the first's height: 40x40 -> 20x20.
    const io::ImageU8 g = render::composeFrame({solid(10, 20, red), solid(40, 40, blue)}, "", "");
    QCOMPARE(g.width, 30);
    COMPARE_RGB(pixelAt(g, 9, 5), red);
    COMPARE_RGB(pixelAt(g, 10, 5), blue);
    COMPARE_RGB(pixelAt(g, 29, 19), blue);
  }

  void composeFrameText() {
    const std::vector<io::ImageU8> panels = {solid(200, 100, {0, 0, 0})};
    const io::ImageU8 plain = render::composeFrame(panels, "", "");
    const io::ImageU8 titled = render::composeFrame(panels, "Grad-CAM", "a dog");
    QCOMPARE(titled.width, plain.width);
    QCOMPARE(titled.height, plain.height);  // the bar height does not depend on the text
    int bright = 0;
    for (int y = 100; y < titled.height; ++y)
      for (int x = 0; x < titled.width; ++x) bright += pixelAt(titled, x, y)[0] > 150;
    QVERIFY2(bright > 20, qPrintable(QString("%1 bright pixels in the bar").arg(bright)));
    // The panel is untouched by the text.
    for (int y = 0; y < 100; ++y) QVERIFY(pixelAt(titled, 100, y) == Rgb({0, 0, 0}));
    // Non-ASCII characters (UTF-8 'é', 2 bytes) and control bytes render as '?'.
    QVERIFY(render::composeFrame(panels, "caf\xc3\xa9!", "a\tb").rgb == render::composeFrame(panels, "caf?!", "a?b").rgb);
    QVERIFY(render::composeFrame(panels, "caf\xc3\xa9!", "").rgb != render::composeFrame(panels, "cafe!", "").rgb);
    // A line longer than the frame is cut, not an error.
    const io::ImageU8 longText = render::composeFrame(panels, std::string(500, 'x'), std::string(500, 'y'));
    QCOMPARE(longText.width, plain.width);
  }

  void composeFrameErrors() {
    VLM_EXPECT_ERROR(render::composeFrame({}, "t", "s"), ErrorCode::InvalidArgument, "no panels");
    VLM_EXPECT_ERROR(render::composeFrame({solid(4, 4, {1, 1, 1}), io::ImageU8{}}, "t", "s"), ErrorCode::InvalidArgument, "empty");
  }

  void pngRoundTrip() {
    const fs::path dir = freshDir("png");
    io::ImageU8 im = solid(3, 2, {10, 20, 30});
    std::copy_n(Rgb({250, 5, 128}).begin(), 3, im.pixel(2, 1));
    const fs::path p = dir / "out.png";
    render::writePng(p, im);
    const std::string bytes = bytesOf(p);
    QCOMPARE(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    const io::ImageU8 back = io::loadImage(p);
    QCOMPARE(back.width, 3);
    QCOMPARE(back.height, 2);
    QVERIFY(back.rgb == im.rgb);
    QCOMPARE(listFolder(dir), std::set<std::string>({"out.png"}));  // no temporary file left

    const fs::path missing = dir / "no_such_folder" / "x.png";
    VLM_EXPECT_ERROR(render::writePng(missing, im), ErrorCode::Io, missing.string());
    QVERIFY(!fs::exists(dir / "no_such_folder"));
    QCOMPARE(listFolder(dir), std::set<std::string>({"out.png"}));
    VLM_EXPECT_ERROR(render::writePng(dir / "e.png", io::ImageU8{}), ErrorCode::InvalidArgument, "e.png");
  }

  // ---------------------------------------------------------------- .npy

  // numpy.save of a C-order float32 array (numpy 1.23+): magic "\x93NUMPY", version 1.0, the
  // uint16 little-endian header length, the dict, 21 - len(str(shape[0])) spare spaces, padding
  // spaces so that 10 + header length is a multiple of 64 (64 - (10 + len + 1) % 64 of them),
  // then '\n'.
  //   (2, 3): dict "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" is 59 chars;
  //           + 20 spare = 79; + '\n' = 80; 10 + 80 = 90, 90 % 64 = 26 -> 38 padding spaces;
  //           header length 80 + 38 = 118 = 0x76; data at 128.
  //   (5,):   dict 57 chars; + 20 = 77; + '\n' = 78; 88 % 64 = 24 -> 40 spaces; 118; data at 128.
  //   ():     dict 55 chars; no spare space for 0-D; + '\n' = 56; 66 % 64 = 2 -> 62 spaces; 118.
  void npyHeaderBytes() {
    const fs::path dir = freshDir("npy");
    const std::string prefix("\x93NUMPY\x01\x00\x76\x00", 10);

    const float a[] = {1.f, -2.5f, 3.25f, 0.f, 1e-3f, 65504.f};
    io::writeNpy(dir / "a.npy", a, {2, 3});
    const std::string header23 = prefix + "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                                 std::string(20 + 38, ' ') + "\n";
    QCOMPARE(header23.size(), size_t(128));
    const std::string fileA = bytesOf(dir / "a.npy");
    QCOMPARE(fileA.size(), size_t(128 + 6 * 4));
    QCOMPARE(fileA.substr(0, 128), header23);
    QCOMPARE(fileA.substr(128), leFloats({1.f, -2.5f, 3.25f, 0.f, 1e-3f, 65504.f}));
    // 1.0f is 0x3f800000: little-endian 00 00 80 3f.
    QCOMPARE(fileA.substr(128, 4), std::string("\x00\x00\x80\x3f", 4));

    const float b[] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f};
    io::writeNpy(dir / "b.npy", b, {5});
    const std::string header5 =
        prefix + "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + std::string(20 + 40, ' ') + "\n";
    QCOMPARE(header5.size(), size_t(128));
    const std::string fileB = bytesOf(dir / "b.npy");
    QCOMPARE(fileB.substr(0, 128), header5);
    QCOMPARE(fileB.substr(128), leFloats({0.5f, 1.5f, 2.5f, 3.5f, 4.5f}));

    const float c[] = {7.f};
    io::writeNpy(dir / "c.npy", c, {});
    const std::string header0 =
        prefix + "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" + std::string(62, ' ') + "\n";
    QCOMPARE(header0.size(), size_t(128));
    QCOMPARE(bytesOf(dir / "c.npy"), header0 + leFloats({7.f}));

    // numpy's spare space can push the data to the next 64 bytes: 15 dimensions of 1,
    // "(1, 1, ..., 1)" is 3 * 15 = 45 chars, the dict 53 + 45 = 98; + 20 spare + '\n' = 119;
    // 10 + 119 = 129, 129 % 64 = 1 -> 63 padding spaces; header length 182 = 0xb6; data at 192
    // (without the spare space it would be at 128).
    const std::vector<int64_t> ones(15, 1);
    const float one[] = {2.f};
    io::writeNpy(dir / "ones.npy", one, ones);
    std::string shape15 = "(1";
    for (int i = 1; i < 15; ++i) shape15 += ", 1";
    shape15 += ")";
    const std::string header15 = std::string("\x93NUMPY\x01\x00\xb6\x00", 10) + "{'descr': '<f4', 'fortran_order': False, 'shape': " +
                                 shape15 + ", }" + std::string(20 + 63, ' ') + "\n";
    QCOMPARE(header15.size(), size_t(192));
    QCOMPARE(bytesOf(dir / "ones.npy"), header15 + leFloats({2.f}));
    QCOMPARE(io::readNpy(dir / "ones.npy").shape, ones);

    // Longer shapes: the data still starts at a multiple of 64, the length field says where.
    std::vector<float> big(2 * 3 * 4 * 5 * 6 * 7, 1.f);
    io::writeNpy(dir / "d.npy", big.data(), {2, 3, 4, 5, 6, 7});
    const std::string fileD = bytesOf(dir / "d.npy");
    const size_t hlen = uint8_t(fileD[8]) | (size_t(uint8_t(fileD[9])) << 8);
    QCOMPARE((10 + hlen) % 64, size_t(0));
    QCOMPARE(fileD[10 + hlen - 1], '\n');
    QCOMPARE(fileD.size(), 10 + hlen + big.size() * 4);
    QCOMPARE(listFolder(dir), std::set<std::string>({"a.npy", "b.npy", "c.npy", "d.npy", "ones.npy"}));
  }

  void npyRoundTrip() {
    const fs::path dir = freshDir("npy_rt");
    const float a[] = {1.f, -2.5f, 3.25f, 0.f, std::numeric_limits<float>::infinity(), -0.f};
    for (const auto& shape : std::vector<std::vector<int64_t>>{{2, 3}, {6}, {1, 2, 1, 3}, {3, 2}}) {
      io::writeNpy(dir / "x.npy", a, shape);
      const io::NpyArray r = io::readNpy(dir / "x.npy");
      QCOMPARE(r.shape, shape);
      QCOMPARE(r.data.size(), size_t(6));
      QVERIFY(std::memcmp(r.data.data(), a, sizeof a) == 0);
    }
    io::writeNpy(dir / "empty.npy", nullptr, {0, 4});
    const io::NpyArray e = io::readNpy(dir / "empty.npy");
    QCOMPARE(e.shape, (std::vector<int64_t>{0, 4}));
    QVERIFY(e.data.empty());
    const float s[] = {42.f};
    io::writeNpy(dir / "scalar.npy", s, {});
    const io::NpyArray sc = io::readNpy(dir / "scalar.npy");
    QVERIFY(sc.shape.empty());
    QCOMPARE(sc.data, std::vector<float>{42.f});
    VLM_EXPECT_ERROR(io::writeNpy(dir / "neg.npy", a, {-1, 2}), ErrorCode::InvalidArgument, "neg.npy", "negative");
    VLM_EXPECT_ERROR(io::writeNpy(dir / "null.npy", nullptr, {2}), ErrorCode::InvalidArgument, "null.npy");
    VLM_EXPECT_ERROR(io::writeNpy(dir / "nope" / "x.npy", a, {2}), ErrorCode::Io, "x.npy");
    QVERIFY(!fs::exists(dir / "neg.npy"));
  }

  // Headers numpy (or other writers) produce that VLMScope does not write itself.
  void npyReadsOtherHeaders() {
    const fs::path dir = freshDir("npy_other");
    const std::string data = leFloats({1.f, 2.f});
    // Version 2.0 and 3.0: a uint32 header length.
    for (char major : {'\x02', '\x03'}) {
      std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
      dict += std::string(64 - (12 + dict.size() + 1) % 64, ' ') + "\n";
      const uint32_t n = uint32_t(dict.size());
      std::string file = std::string("\x93NUMPY", 6) + major + '\0';
      for (int b = 0; b < 4; ++b) file += char((n >> (8 * b)) & 0xff);
      writeBytes(dir / "v.npy", file + dict + data);
      const io::NpyArray r = io::readNpy(dir / "v.npy");
      QCOMPARE(r.shape, std::vector<int64_t>{2});
      QCOMPARE(r.data, (std::vector<float>{1.f, 2.f}));
    }
    // Compact spelling, other key order, double quotes, no alignment, old "L" integers.
    const std::string dict = "{\"shape\":(2L,),\"descr\":\"<f4\",\"fortran_order\":False}\n";
    writeBytes(dir / "compact.npy", std::string("\x93NUMPY\x01\x00", 8) + char(dict.size()) + '\0' + dict + data);
    QCOMPARE(io::readNpy(dir / "compact.npy").data, (std::vector<float>{1.f, 2.f}));
  }

  void npyErrors() {
    const fs::path dir = freshDir("npy_err");
    auto npy = [&](const std::string& name, const std::string& dictBody, const std::string& data) {
      std::string dict = "{" + dictBody + "}";
      dict += std::string(64 - (10 + dict.size() + 1) % 64, ' ') + "\n";
      writeBytes(dir / name, std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 0xff) + char(dict.size() >> 8) + dict + data);
      return dir / name;
    };
    const std::string six = leFloats({1, 2, 3, 4, 5, 6});
    const std::string ok = "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ";
    QCOMPARE(io::readNpy(npy("ok.npy", ok, six)).data.size(), size_t(6));

    const fs::path truncated = npy("truncated.npy", ok, six.substr(0, 22));
    VLM_EXPECT_ERROR(io::readNpy(truncated), ErrorCode::Truncated, truncated.string(), "22 of 24");
    const fs::path f8 = npy("f8.npy", "'descr': '<f8', 'fortran_order': False, 'shape': (3,), ", six);
    VLM_EXPECT_ERROR(io::readNpy(f8), ErrorCode::Unsupported, f8.string(), "'<f8'");
    const fs::path be = npy("be.npy", "'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), ", six);
    VLM_EXPECT_ERROR(io::readNpy(be), ErrorCode::Unsupported, be.string(), "'>f4'");
    const fs::path fortran = npy("fortran.npy", "'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), ", six);
    VLM_EXPECT_ERROR(io::readNpy(fortran), ErrorCode::Unsupported, fortran.string(), "Fortran");
    const fs::path structured = npy("structured.npy", "'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,), ", six);
    VLM_EXPECT_ERROR(io::readNpy(structured), ErrorCode::Unsupported, structured.string(), "structured");
    const fs::path noShape = npy("noshape.npy", "'descr': '<f4', 'fortran_order': False, ", six);
    VLM_EXPECT_ERROR(io::readNpy(noShape), ErrorCode::Corrupt, noShape.string(), "'shape'");
    const fs::path extraKey = npy("extra.npy", ok + "'x': 1, ", six);
    VLM_EXPECT_ERROR(io::readNpy(extraKey), ErrorCode::Corrupt, extraKey.string(), "'x'");
    const fs::path negative = npy("negative.npy", "'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), ", six);
    VLM_EXPECT_ERROR(io::readNpy(negative), ErrorCode::Corrupt, negative.string(), "non-negative");
    const fs::path garbled = npy("garbled.npy", "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), !!", six);
    VLM_EXPECT_ERROR(io::readNpy(garbled), ErrorCode::Corrupt, garbled.string(), "malformed");
    const fs::path trailing = npy("trailing.npy", ok, six + "xyz");
    VLM_EXPECT_ERROR(io::readNpy(trailing), ErrorCode::Corrupt, trailing.string(), "3 unexpected bytes");

    std::string good = io::readFile(dir / "ok.npy");
    std::string badMagic = good;
    badMagic[1] = 'X';
    writeBytes(dir / "magic.npy", badMagic);
    VLM_EXPECT_ERROR(io::readNpy(dir / "magic.npy"), ErrorCode::Corrupt, (dir / "magic.npy").string(), "magic");
    writeBytes(dir / "png.npy", "\x89PNG\r\n\x1a\n");
    VLM_EXPECT_ERROR(io::readNpy(dir / "png.npy"), ErrorCode::Corrupt, "png.npy", "magic");
    std::string v4 = good;
    v4[6] = 4;
    writeBytes(dir / "v4.npy", v4);
    VLM_EXPECT_ERROR(io::readNpy(dir / "v4.npy"), ErrorCode::Unsupported, "v4.npy", "4.0");
    writeBytes(dir / "cut_header.npy", good.substr(0, 50));
    VLM_EXPECT_ERROR(io::readNpy(dir / "cut_header.npy"), ErrorCode::Truncated, "cut_header.npy");
    VLM_EXPECT_ERROR(io::readNpy(dir / "absent.npy"), ErrorCode::NotFound, "absent.npy");
  }

  // ---------------------------------------------------------------- video

  void videoDefaultCodec() {
    if (!haveFfmpegTools()) QSKIP("ffprobe / ffmpeg not on PATH (Debian package ffmpeg): cannot check the MP4 files");
    checkVideo("auto");
  }
  void videoMpeg4() {
    if (!haveFfmpegTools()) QSKIP("ffprobe / ffmpeg not on PATH (Debian package ffmpeg): cannot check the MP4 files");
    checkVideo("mpeg4");
  }

  void videoErrors() {
    const fs::path dir = freshDir("video_err");
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "odd.mp4", 63, 48), ErrorCode::InvalidArgument, "odd.mp4", "63x48", "even");
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "odd.mp4", 64, 47), ErrorCode::InvalidArgument, "64x47");
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "zero.mp4", 0, 0), ErrorCode::InvalidArgument, "zero.mp4");
    render::VideoOptions badFps;
    badFps.fps = 0;
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "fps.mp4", 64, 48, badFps), ErrorCode::InvalidArgument, "fps");
    render::VideoOptions unknown;
    unknown.codec = "no_such_codec";
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "u.mp4", 64, 48, unknown), ErrorCode::Unsupported, "no_such_codec", "u.mp4");
    render::VideoOptions audio;
    audio.codec = "aac";
    VLM_EXPECT_ERROR(render::VideoWriter(dir / "a.mp4", 64, 48, audio), ErrorCode::Unsupported, "aac", "not a video encoder");
    QVERIFY2(listFolder(dir).empty(), "a refused writer left a file behind");

    const fs::path missing = dir / "no_such_folder" / "v.mp4";
    VLM_EXPECT_ERROR(render::VideoWriter(missing, 64, 48), ErrorCode::Io, missing.string(), "No such file or directory");
    QVERIFY(!fs::exists(dir / "no_such_folder"));
    QVERIFY(listFolder(dir).empty());

    {
      render::VideoWriter w(dir / "size.mp4", 64, 48);
      VLM_EXPECT_ERROR(w.addFrame(solid(32, 48, {1, 2, 3})), ErrorCode::InvalidArgument, "32x48", "64x48");
      VLM_EXPECT_ERROR(w.finish(), ErrorCode::InvalidArgument, "no frames");
      VLM_EXPECT_ERROR(w.addFrame(solid(64, 48, {1, 2, 3})), ErrorCode::InvalidArgument, "discarded");
    }
    QVERIFY(listFolder(dir).empty());

    {
      render::VideoWriter w(dir / "twice.mp4", 64, 48);
      w.addFrame(solid(64, 48, {1, 2, 3}));
      w.finish();
      VLM_EXPECT_ERROR(w.finish(), ErrorCode::InvalidArgument, "after finish");
      VLM_EXPECT_ERROR(w.addFrame(solid(64, 48, {1, 2, 3})), ErrorCode::InvalidArgument, "after finish");
    }
    QCOMPARE(listFolder(dir), std::set<std::string>({"twice.mp4"}));
    fs::remove(dir / "twice.mp4");
  }

  // Destroyed without finish(): the temporary file is gone and the folder is as before,
  // including an older file of the same name, which keeps its content.
  void videoAbandonedLeavesNothing() {
    const fs::path dir = freshDir("video_abandon");
    {
      render::VideoWriter w(dir / "v.mp4", 64, 48);
      for (int i = 0; i < 5; ++i) w.addFrame(solid(64, 48, {uint8_t(i * 40), 0, 0}));
      QCOMPARE(listFolder(dir).size(), size_t(1));  // the hidden temporary file exists meanwhile
      QVERIFY(!fs::exists(dir / "v.mp4"));
    }
    QVERIFY2(listFolder(dir).empty(), "an abandoned video left a file behind");

    writeBytes(dir / "v.mp4", "older video");
    try {
      render::VideoWriter w(dir / "v.mp4", 64, 48);
      w.addFrame(solid(64, 48, {9, 9, 9}));
      throw std::runtime_error("cancelled");
    } catch (const std::runtime_error&) {
    }
    QCOMPARE(listFolder(dir), std::set<std::string>({"v.mp4"}));
    QCOMPARE(bytesOf(dir / "v.mp4"), std::string("older video"));
  }

 private:
  static bool haveFfmpegTools() {
    return !QStandardPaths::findExecutable("ffprobe").isEmpty() && !QStandardPaths::findExecutable("ffmpeg").isEmpty();
  }

  // 12 solid-colour 64x48 frames; the file checked with ffprobe (codec, size, frame count) and
  // decoded back with the ffmpeg program (the colour of every frame, the last one included).
  void checkVideo(const std::string& codec) {
    const QString ffprobe = QStandardPaths::findExecutable("ffprobe");
    const QString ffmpeg = QStandardPaths::findExecutable("ffmpeg");

    const fs::path dir = freshDir("video_" + codec);
    const fs::path out = dir / "clip.mp4";
    const int w = 64, h = 48, n = 12;
    const Rgb colors[n] = {{255, 0, 0},   {0, 255, 0},   {0, 0, 255},     {255, 255, 0},
                           {0, 255, 255}, {255, 0, 255}, {255, 255, 255}, {0, 0, 0},
                           {128, 128, 128}, {255, 128, 0}, {100, 40, 160}, {20, 140, 120}};
    render::VideoOptions options;
    options.codec = codec;
    std::string codecName;
    {
      render::VideoWriter writer(out, w, h, options);
      codecName = writer.codecName();
      if (codec == "mpeg4") QCOMPARE(codecName, std::string("mpeg4"));
      else QVERIFY2(codecName == "libx264" || codecName == "mpeg4", codecName.c_str());
      for (int i = 0; i < n; ++i) writer.addFrame(solid(w, h, colors[i]));
      QCOMPARE(writer.framesWritten(), int64_t(n));
      QVERIFY(!fs::exists(out));  // not before finish()
      writer.finish();
    }
    QCOMPARE(listFolder(dir), std::set<std::string>({"clip.mp4"}));

    const ProcessResult probe = runTool(ffprobe, {"-v", "error", "-count_frames", "-select_streams", "v:0",
                                                  "-show_entries", "stream=codec_name,width,height,nb_read_frames,duration",
                                                  "-of", "json", QString::fromStdString(out.string())});
    QVERIFY2(probe.exitCode == 0, probe.err.constData());
    const auto json = nlohmann::json::parse(probe.out.toStdString());
    const auto& stream = json.at("streams").at(0);
    QCOMPARE(stream.at("width").get<int>(), w);
    QCOMPARE(stream.at("height").get<int>(), h);
    QCOMPARE(stream.at("nb_read_frames").get<std::string>(), std::to_string(n));
    QCOMPARE(stream.at("codec_name").get<std::string>(), std::string(codecName == "libx264" ? "h264" : "mpeg4"));
    // 12 frames at the default 2 fps: 6 s, the last frame shown for its full 1/2 s.
    QCOMPARE(std::stod(stream.at("duration").get<std::string>()), 6.0);

    // Pixels: decode every frame back to RGB with the ffmpeg program; the centre of frame i
    // must be colour i (the yuv420p round trip of a solid colour is within a few levels).
    const ProcessResult raw = runTool(ffmpeg, {"-v", "error", "-i", QString::fromStdString(out.string()), "-fps_mode",
                                               "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"});
    QVERIFY2(raw.exitCode == 0, raw.err.constData());
    QCOMPARE(size_t(raw.out.size()), size_t(n) * w * h * 3);
    for (int i = 0; i < n; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(raw.out.constData()) + (size_t(i) * w * h + (h / 2) * w + w / 2) * 3;
      const Rgb got = {p[0], p[1], p[2]};
      for (int k = 0; k < 3; ++k)
        QVERIFY2(std::abs(int(got[k]) - int(colors[i][k])) <= 6,
                 qPrintable(QString("frame %1: %2 instead of %3").arg(i).arg(rgbText(got)).arg(rgbText(colors[i]))));
    }
  }
};

QTEST_GUILESS_MAIN(TestRender)
#include "test_render.moc"

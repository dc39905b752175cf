// VLM_TEST_LABELS: fast
// Image decoding (core/io/image.h): the fixture pictures against images.json, files written by
// OpenCV or assembled byte by byte here with hand-computed expected pixels (16-bit, gray+alpha,
// palette, WebP, BMP, TIFF, EXIF orientation), header probing, the pixel budget checked before
// decoding, and the errors for missing, empty, foreign, truncated and damaged files.
#include "testing.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "common/error.h"
#include "io/files.h"
#include "io/image.h"

using namespace vlm;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes readBytes(const fs::path& p) {
  const std::string s = io::readFile(p);
  return Bytes(s.begin(), s.end());
}

void writeBytes(const fs::path& p, const Bytes& b) {
  std::ofstream o(p, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// --- a minimal PNG writer (stored deflate blocks), independent of the decoder under test ---

uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32be(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void chunk(Bytes& png, const char* type, const Bytes& data) {
  put32be(png, uint32_t(data.size()));
  Bytes td(type, type + 4);
  td.insert(td.end(), data.begin(), data.end());
  png.insert(png.end(), td.begin(), td.end());
  put32be(png, crc32(td.data(), td.size()));
}

// zlib stream made of stored (uncompressed) deflate blocks.
Bytes zlibStored(const Bytes& raw) {
  Bytes z = {0x78, 0x01};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    z.push_back(uint8_t(n));
    z.push_back(uint8_t(n >> 8));
    z.push_back(uint8_t(~n));
    z.push_back(uint8_t(~n >> 8));
    z.insert(z.end(), raw.begin() + long(pos), raw.begin() + long(pos + n));
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put32be(z, b << 16 | a);
  return z;
}

Bytes ihdr(uint32_t w, uint32_t h, uint8_t depth, uint8_t colorType) {
  Bytes d;
  put32be(d, w);
  put32be(d, h);
  d.insert(d.end(), {depth, colorType, 0, 0, 0});
  return d;
}

// rows: the raw scanlines without the filter byte.
Bytes makePng(uint32_t w, uint32_t h, uint8_t depth, uint8_t colorType, const std::vector<Bytes>& rows,
              const std::vector<std::pair<std::string, Bytes>>& before = {},
              const std::vector<std::pair<std::string, Bytes>>& after = {}) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  chunk(png, "IHDR", ihdr(w, h, depth, colorType));
  for (const auto& [t, d] : before) chunk(png, t.c_str(), d);
  Bytes raw;
  for (const auto& r : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), r.begin(), r.end());
  }
  chunk(png, "IDAT", zlibStored(raw));
  for (const auto& [t, d] : after) chunk(png, t.c_str(), d);
  chunk(png, "IEND", {});
  return png;
}

// A TIFF structure with one IFD0 entry: Orientation = o (SHORT).
Bytes exifOrientation(int o, bool bigEndian) {
  if (bigEndian) return {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, uint8_t(o), 0, 0, 0, 0, 0, 0};
  return {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(o), 0, 0, 0, 0, 0, 0, 0};
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::span<const uint8_t> span(const Bytes& b) { return {b.data(), b.size()}; }

template <class F>
ErrorCode errorOf(F&& f, const std::string& mustMention = {}) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find('\n') != std::string::npos) qWarning("multi-line message: %s", msg.c_str());
    if (msg.find('\n') != std::string::npos) return ErrorCode::Cancelled;  // fails the caller's QCOMPARE
    if (!mustMention.empty() && msg.find(mustMention) == std::string::npos) {
      qWarning("message does not name %s: %s", mustMention.c_str(), msg.c_str());
      return ErrorCode::Cancelled;
    }
    qInfo("%s", msg.c_str());
    return e.code();
  }
  qWarning("no error thrown");
  return ErrorCode::Cancelled;
}

std::array<int, 3> px(const io::ImageU8& im, int x, int y) {
  const uint8_t* p = im.pixel(x, y);
  return {p[0], p[1], p[2]};
}

}  // namespace

class TestImage : public QObject {
  Q_OBJECT

  fs::path tmp_;

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = fs::temp_directory_path() / ("vlm_test_image_" + std::to_string(::getpid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  // Every fixture picture decodes to the stored size of images.json; the header probe finds the
  // same size, the format and the EXIF orientation.
  void fixturesMatchImagesJson() {
    const auto meta = nlohmann::json::parse(io::readFile(test::dataPath("images/images.json")));
    QCOMPARE(meta.size(), size_t(7));
    for (const auto& [file, m] : meta.items()) {
      const fs::path path = test::dataPath("images/" + file);
      const Bytes bytes = readBytes(path);
      QCOMPARE(bytes.size(), m["bytes"].get<size_t>());
      io::ImageLoadOptions stored;
      stored.applyExifOrientation = false;
      const io::ImageU8 im = io::loadImage(path, stored);
      QCOMPARE(im.width, m["width"].get<int>());
      QCOMPARE(im.height, m["height"].get<int>());
      QCOMPARE(im.rgb.size(), size_t(im.width) * im.height * 3);

      const auto info = io::probeImage(span(bytes));
      QVERIFY2(info.has_value(), file.c_str());
      QCOMPARE(info->width, im.width);
      QCOMPARE(info->height, im.height);
      QCOMPARE(info->format, std::string(fs::path(file).extension() == ".jpg" ? "jpeg" : "png"));
      const int orientation = m["exif_orientation"].is_null() ? 0 : m["exif_orientation"].get<int>();
      QCOMPARE(info->exifOrientation, orientation);

      const std::string mode = m["mode"];
      if (mode == "L") {  // replicated into R, G, B
        for (size_t i = 0; i < im.rgb.size(); i += 3) {
          if (im.rgb[i] != im.rgb[i + 1] || im.rgb[i] != im.rgb[i + 2]) QFAIL("gray image with unequal channels");
        }
      }
      // EXIF orientation 6 (rotate 90 degrees clockwise) swaps the sides; 1 and none change nothing.
      const io::ImageU8 oriented = io::loadImage(path);
      if (orientation == 6) {
        QCOMPARE(oriented.width, im.height);
        QCOMPARE(oriented.height, im.width);
        for (int y = 0; y < oriented.height; ++y)
          for (int x = 0; x < oriented.width; ++x) QCOMPARE(px(oriented, x, y), px(im, y, im.height - 1 - x));
      } else {
        QVERIFY(oriented.rgb == im.rgb);
      }
    }
  }

  // Pillow: "P" looks up the palette, "LA"/"RGBA" drop alpha without compositing, 1/2/4-bit gray
  // scales to 0..255, 16-bit colour keeps the high byte, 16-bit gray+alpha too (Pillow opens it
  // as RGBA), palette transparency is ignored.
  void pngPixelTypes() {
    // palette: 3 entries, indices 2 0 1 / 1 1 0, tRNS makes entry 0 fully transparent
    const Bytes plte = {10, 20, 30, 200, 100, 50, 7, 8, 9};
    auto pal = io::decodeImage(span(makePng(3, 2, 8, 3, {{2, 0, 1}, {1, 1, 0}}, {{"PLTE", plte}, {"tRNS", {0, 255}}})));
    QCOMPARE(px(pal, 0, 0), (std::array<int, 3>{7, 8, 9}));
    QCOMPARE(px(pal, 1, 0), (std::array<int, 3>{10, 20, 30}));
    QCOMPARE(px(pal, 2, 1), (std::array<int, 3>{10, 20, 30}));
    QCOMPARE(px(pal, 0, 1), (std::array<int, 3>{200, 100, 50}));

    // gray + alpha, 8 bit: alpha 0 must not turn the pixel black
    auto la = io::decodeImage(span(makePng(2, 1, 8, 4, {{77, 0, 200, 128}})));
    QCOMPARE(px(la, 0, 0), (std::array<int, 3>{77, 77, 77}));
    QCOMPARE(px(la, 1, 0), (std::array<int, 3>{200, 200, 200}));

    // gray + alpha, 16 bit: high byte of the gray sample
    auto la16 = io::decodeImage(span(makePng(2, 1, 16, 4, {{0x12, 0x34, 0x00, 0x00, 0xFF, 0x01, 0xFF, 0xFF}})));
    QCOMPARE(px(la16, 0, 0), (std::array<int, 3>{0x12, 0x12, 0x12}));
    QCOMPARE(px(la16, 1, 0), (std::array<int, 3>{0xFF, 0xFF, 0xFF}));

    // RGBA 8 bit, alpha 0: colours kept as stored
    auto rgba = io::decodeImage(span(makePng(1, 1, 8, 6, {{10, 200, 30, 0}})));
    QCOMPARE(px(rgba, 0, 0), (std::array<int, 3>{10, 200, 30}));

    // RGB 16 bit: high byte (R 0x1234, G 0x80FF, B 0x00FF)
    auto rgb16 = io::decodeImage(span(makePng(1, 1, 16, 2, {{0x12, 0x34, 0x80, 0xFF, 0x00, 0xFF}})));
    QCOMPARE(px(rgb16, 0, 0), (std::array<int, 3>{0x12, 0x80, 0x00}));

    // 2-bit gray 0,1,2,3 -> 0,85,170,255; 4-bit 15 -> 255, 1 -> 17
    auto g2 = io::decodeImage(span(makePng(4, 1, 2, 0, {{0b00011011}})));
    QCOMPARE(px(g2, 1, 0)[0], 85);
    QCOMPARE(px(g2, 2, 0)[0], 170);
    QCOMPARE(px(g2, 3, 0)[0], 255);
    auto g4 = io::decodeImage(span(makePng(2, 1, 4, 0, {{0xF1}})));
    QCOMPARE(px(g4, 0, 0)[0], 255);
    QCOMPARE(px(g4, 1, 0)[0], 17);
  }

  // 16-bit gray: Pillow's "I" -> "RGB" clips to 255 (the default); HighByte takes v >> 8.
  void sixteenBitGray() {
    const std::vector<uint16_t> values = {0, 100, 255, 256, 0x1234, 65535};
    Bytes row;
    for (uint16_t v : values) row.insert(row.end(), {uint8_t(v >> 8), uint8_t(v)});
    const Bytes png = makePng(uint32_t(values.size()), 1, 16, 0, {row});
    const std::vector<int> pillow = {0, 100, 255, 255, 255, 255}, high = {0, 0, 0, 1, 0x12, 255};
    auto a = io::decodeImage(span(png));
    io::ImageLoadOptions o;
    o.gray16 = io::Gray16Policy::HighByte;
    auto b = io::decodeImage(span(png), o);
    for (size_t i = 0; i < values.size(); ++i) {
      QCOMPARE(px(a, int(i), 0), (std::array<int, 3>{pillow[i], pillow[i], pillow[i]}));
      QCOMPARE(px(b, int(i), 0), (std::array<int, 3>{high[i], high[i], high[i]}));
    }
  }

  // Files written by OpenCV: 16-bit PNG and TIFF (colour and gray), lossless WebP, BMP (24-bit,
  // 32-bit with alpha, 8-bit gray), 8-bit TIFF with alpha, PGM/PPM and Sun raster.
  void filesWrittenByOpenCv() {
    // 3 x 2, BGR order in the Mat. 16-bit samples chosen so that high byte != low byte.
    cv::Mat c16(2, 3, CV_16UC3);
    cv::Mat g16(2, 3, CV_16UC1);
    cv::Mat c8(2, 3, CV_8UC4);
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const int i = y * 3 + x;
        c16.at<cv::Vec3w>(y, x) = cv::Vec3w(uint16_t(0x0100 * i + 0xFF), uint16_t(0x1000 * i + 0x34), uint16_t(0xFFFF - 0x2000 * i));
        g16.at<uint16_t>(y, x) = uint16_t(i == 0 ? 200 : 0x1111 * i);
        // (alpha 0 would let the WebP encoder drop the colour of that pixel)
        c8.at<cv::Vec4b>(y, x) = cv::Vec4b(uint8_t(10 * i), uint8_t(100 + i), uint8_t(250 - i), uint8_t(i == 0 ? 1 : 40 * i));
      }
    auto expect16 = [&](const io::ImageU8& im) {
      QCOMPARE(im.width, 3);
      QCOMPARE(im.height, 2);
      for (int i = 0; i < 6; ++i) {
        const int r = (0xFFFF - 0x2000 * i) >> 8, g = (0x1000 * i + 0x34) >> 8, b = (0x0100 * i + 0xFF) >> 8;
        QCOMPARE(px(im, i % 3, i / 3), (std::array<int, 3>{r, g, b}));
      }
    };
    auto expectGray16 = [&](const io::ImageU8& im) {
      for (int i = 0; i < 6; ++i) {
        const int v = i == 0 ? 200 : 255;  // clipped like Pillow
        QCOMPARE(px(im, i % 3, i / 3), (std::array<int, 3>{v, v, v}));
      }
    };
    auto expect8 = [&](const io::ImageU8& im) {  // alpha dropped, colours as stored
      for (int i = 0; i < 6; ++i) QCOMPARE(px(im, i % 3, i / 3), (std::array<int, 3>{250 - i, 100 + i, 10 * i}));
    };
    for (const char* ext : {".png", ".tiff"}) {
      const fs::path p16 = tmp_ / (std::string("c16") + ext), pg = tmp_ / (std::string("g16") + ext);
      QVERIFY(cv::imwrite(p16.string(), c16));
      QVERIFY(cv::imwrite(pg.string(), g16));
      expect16(io::loadImage(p16));
      expectGray16(io::loadImage(pg));
      QCOMPARE(io::probeImage(span(readBytes(p16)))->format, std::string(ext == std::string(".png") ? "png" : "tiff"));
    }
    for (const char* ext : {".png", ".webp", ".bmp", ".tiff"}) {
      const fs::path p = tmp_ / (std::string("c8") + ext);
      QVERIFY(cv::imwrite(p.string(), c8));
      expect8(io::loadImage(p));
      const auto info = io::probeImage(span(readBytes(p)));
      QVERIFY(info);
      QCOMPARE(info->width, 3);
      QCOMPARE(info->height, 2);
    }
    // 3-channel WebP and BMP, and 8-bit gray BMP (palette)
    cv::Mat c3;
    cv::cvtColor(c8, c3, cv::COLOR_BGRA2BGR);
    cv::Mat g8(2, 3, CV_8UC1);
    for (int i = 0; i < 6; ++i) g8.at<uint8_t>(i / 3, i % 3) = uint8_t(40 * i + 3);
    for (const char* ext : {".webp", ".bmp"}) {
      const fs::path p = tmp_ / (std::string("c3") + ext);
      QVERIFY(cv::imwrite(p.string(), c3));
      expect8(io::loadImage(p));
    }
    for (const char* ext : {".bmp", ".pgm", ".ras"}) {
      const fs::path pg8 = tmp_ / (std::string("g8") + ext);
      QVERIFY(cv::imwrite(pg8.string(), g8));
      const auto gray = io::loadImage(pg8);
      for (int i = 0; i < 6; ++i) QCOMPARE(px(gray, i % 3, i / 3), (std::array<int, 3>{40 * i + 3, 40 * i + 3, 40 * i + 3}));
    }
    // Other formats OpenCV reads: PPM and Sun raster (colour)
    for (const char* ext : {".ppm", ".ras"}) {
      const fs::path p = tmp_ / (std::string("c3") + ext);
      QVERIFY(cv::imwrite(p.string(), c3));
      expect8(io::loadImage(p));
      QVERIFY(io::probeImage(span(readBytes(p))));
    }
  }

  // ImageOps.exif_transpose for all eight orientations (eXIf chunk, both byte orders), on a
  // 3 x 2 image whose pixels are numbered 0..5 row by row.
  void exifOrientations() {
    std::vector<Bytes> rows(2);
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const uint8_t id = uint8_t(y * 3 + x);
        rows[y].insert(rows[y].end(), {uint8_t(id * 10), id, uint8_t(255 - id)});
      }
    // expected pixel ids, row by row, and the width after the transpose
    const std::vector<std::pair<int, std::vector<int>>> expected = {
        {3, {0, 1, 2, 3, 4, 5}},  // 1: as stored
        {3, {2, 1, 0, 5, 4, 3}},  // 2: mirror left-right
        {3, {5, 4, 3, 2, 1, 0}},  // 3: rotate 180
        {3, {3, 4, 5, 0, 1, 2}},  // 4: mirror top-bottom
        {2, {0, 3, 1, 4, 2, 5}},  // 5: transpose
        {2, {3, 0, 4, 1, 5, 2}},  // 6: rotate 90 clockwise
        {2, {5, 2, 4, 1, 3, 0}},  // 7: transverse
        {2, {2, 5, 1, 4, 0, 3}},  // 8: rotate 90 counter-clockwise
    };
    for (int o = 1; o <= 8; ++o) {
      const Bytes png = makePng(3, 2, 8, 2, rows, {{"eXIf", exifOrientation(o, o % 2 == 0)}});
      QCOMPARE(io::readExifOrientation(span(png)), o);
      QCOMPARE(io::probeImage(span(png))->exifOrientation, o);
      const auto im = io::decodeImage(span(png));
      const auto& [w, ids] = expected[size_t(o - 1)];
      QCOMPARE(im.width, w);
      QCOMPARE(im.height, 6 / w);
      for (int i = 0; i < 6; ++i) {
        const int id = ids[size_t(i)];
        QCOMPARE(px(im, i % w, i / w), (std::array<int, 3>{id * 10, id, 255 - id}));
      }
      io::ImageLoadOptions stored;
      stored.applyExifOrientation = false;
      const auto raw = io::decodeImage(span(png), stored);
      QCOMPARE(raw.width, 3);
      QCOMPARE(px(raw, 2, 1), (std::array<int, 3>{50, 5, 250}));
    }
    // Other places Pillow finds the orientation in a PNG: eXIf after the image data, the
    // "Raw profile type exif" text (hex), XMP; EXIF wins over XMP even when it says 1.
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {}, {{"eXIf", exifOrientation(6, false)}}))), 6);
    std::string hex;
    const Bytes exif = [&] {
      Bytes e = text(std::string("Exif\0\0", 6));
      const Bytes t = exifOrientation(8, false);
      e.insert(e.end(), t.begin(), t.end());
      return e;
    }();
    for (uint8_t c : exif) {
      static const char* digits = "0123456789abcdef";
      hex += digits[c >> 4];
      hex += digits[c & 15];
      if (hex.size() % 37 == 36) hex += '\n';
    }
    const std::string raw = "\nexif\n      " + std::to_string(exif.size()) + "\n" + hex + "\n";
    Bytes rawChunk = text("Raw profile type exif");
    rawChunk.push_back(0);
    rawChunk.insert(rawChunk.end(), raw.begin(), raw.end());
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {{"tEXt", rawChunk}}))), 8);
    Bytes zChunk = text("Raw profile type exif");
    zChunk.insert(zChunk.end(), {0, 0});
    const Bytes z = zlibStored(text(raw));
    zChunk.insert(zChunk.end(), z.begin(), z.end());
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {{"zTXt", zChunk}}))), 8);
    Bytes xmp = text("XML:com.adobe.xmp");
    xmp.insert(xmp.end(), {0, 0, 0, 0, 0});
    const Bytes x = text("<rdf:Description tiff:Orientation=\"3\"/>");
    xmp.insert(xmp.end(), x.begin(), x.end());
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {{"iTXt", xmp}}))), 3);
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {{"eXIf", exifOrientation(1, false)}, {"iTXt", xmp}}))), 1);
    // A damaged EXIF block is ignored.
    QCOMPARE(io::readExifOrientation(span(makePng(3, 2, 8, 2, rows, {{"eXIf", text("garbage")}}))), 0);
  }

  // The header alone gives the size, from a prefix of the file.
  void probeFromHeaderBytes() {
    const Bytes astro = readBytes(test::dataPath("images/astronaut.png"));
    const auto png = io::probeImage(std::span<const uint8_t>(astro.data(), 64));
    QVERIFY(png);
    QCOMPARE(png->width, 512);
    QCOMPARE(png->height, 512);
    const Bytes jpg = readBytes(test::dataPath("images/exif_rot6.jpg"));
    const auto j = io::probeImage(std::span<const uint8_t>(jpg.data(), 1024));
    QVERIFY(j);
    QCOMPARE(j->format, std::string("jpeg"));
    QCOMPARE(j->width, 90);
    QCOMPARE(j->height, 60);
    QCOMPARE(j->exifOrientation, 6);
    QVERIFY(!io::probeImage(span(text("just some text, not an image"))));
    QVERIFY(!io::probeImage(std::span<const uint8_t>(astro.data(), 20)));  // ends before IHDR
    QVERIFY(!io::probeImage({}));
  }

  // Headers that claim enormous sizes are refused before decoding. The pixel data is garbage:
  // had the decoder run, the error would be Corrupt, not ResourceLimit.
  void pixelBudgetBeforeDecoding() {
    const Bytes garbage(64, 0xAB);
    // PNG 60000 x 60000 (IHDR with a valid CRC)
    Bytes bomb = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    chunk(bomb, "IHDR", ihdr(60000, 60000, 8, 2));
    chunk(bomb, "IDAT", garbage);
    chunk(bomb, "IEND", {});
    const fs::path bombPath = tmp_ / "bomb.png";
    writeBytes(bombPath, bomb);
    QCOMPARE(io::probeImage(span(bomb))->width, 60000);
    const auto t0 = std::chrono::steady_clock::now();
    QCOMPARE(errorOf([&] { io::loadImage(bombPath); }, bombPath.string()), ErrorCode::ResourceLimit);
    QVERIFY(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));

    // JPEG SOF0 65535 x 65535
    Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xFF, 0xFF, 0xFF, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0};
    jpeg.insert(jpeg.end(), garbage.begin(), garbage.end());
    QCOMPARE(errorOf([&] { io::decodeImage(span(jpeg), {}, "big.jpg"); }, "big.jpg"), ErrorCode::ResourceLimit);
    // WebP VP8X canvas 16384 x 16384
    Bytes webp = text("RIFF");
    webp.insert(webp.end(), {100, 0, 0, 0});
    const Bytes vp8x = text("WEBPVP8X");
    webp.insert(webp.end(), vp8x.begin(), vp8x.end());
    webp.insert(webp.end(), {10, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0x3F, 0, 0xFF, 0x3F, 0});
    webp.insert(webp.end(), garbage.begin(), garbage.end());
    QCOMPARE(io::probeImage(span(webp))->height, 16384);
    QCOMPARE(errorOf([&] { io::decodeImage(span(webp), {}, "big.webp"); }), ErrorCode::ResourceLimit);
    // BMP 30000 x -30000 (top-down)
    Bytes bmp = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 0x30, 0x75, 0, 0, 0xD0, 0x8A, 0xFF, 0xFF, 1, 0, 24, 0};
    bmp.resize(54);
    bmp.insert(bmp.end(), garbage.begin(), garbage.end());
    QCOMPARE(io::probeImage(span(bmp))->height, 30000);
    QCOMPARE(errorOf([&] { io::decodeImage(span(bmp), {}, "big.bmp"); }), ErrorCode::ResourceLimit);
    // TIFF 100000 x 100000 (LONG width and length in IFD0)
    Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,
                  0, 1, 4, 0, 1, 0, 0, 0, 0xA0, 0x86, 0x01, 0,
                  1, 1, 4, 0, 1, 0, 0, 0, 0xA0, 0x86, 0x01, 0, 0, 0, 0, 0};
    tiff.insert(tiff.end(), garbage.begin(), garbage.end());
    QCOMPARE(io::probeImage(span(tiff))->width, 100000);
    QCOMPARE(errorOf([&] { io::decodeImage(span(tiff), {}, "big.tif"); }), ErrorCode::ResourceLimit);

    // PNM 60000 x 60000 (text header with a comment)
    Bytes pnm = text("P6\n# big\n60000 60000\n255\n");
    pnm.insert(pnm.end(), garbage.begin(), garbage.end());
    QCOMPARE(io::probeImage(span(pnm))->format, std::string("pnm"));
    QCOMPARE(errorOf([&] { io::decodeImage(span(pnm), {}, "big.ppm"); }), ErrorCode::ResourceLimit);
    // Floating-point formats are refused before decoding.
    QCOMPARE(errorOf([&] { io::decodeImage(span(text("PF\n60000 60000\n-1.0\n")), {}, "x.pfm"); }), ErrorCode::Unsupported);

    // The budget is configurable: astronaut.png is 512 x 512.
    io::ImageLoadOptions o;
    o.maxPixels = 512 * 512 - 1;
    QCOMPARE(errorOf([&] { io::loadImage(test::dataPath("images/astronaut.png"), o); }), ErrorCode::ResourceLimit);
    o.maxPixels = 512 * 512;
    QCOMPARE(io::loadImage(test::dataPath("images/astronaut.png"), o).width, 512);
    o.maxFileBytes = 1000;
    QCOMPARE(errorOf([&] { io::loadImage(test::dataPath("images/astronaut.png"), o); }), ErrorCode::ResourceLimit);
  }

  void errors() {
    const fs::path missing = tmp_ / "no_such_image.png";
    QCOMPARE(errorOf([&] { io::loadImage(missing); }, missing.string()), ErrorCode::NotFound);

    const fs::path empty = tmp_ / "empty.png";
    writeBytes(empty, {});
    QCOMPARE(errorOf([&] { io::loadImage(empty); }, empty.string()), ErrorCode::Corrupt);

    const fs::path textFile = tmp_ / "notes.png";
    writeBytes(textFile, text("These are my notes, not a picture.\n"));
    QCOMPARE(errorOf([&] { io::loadImage(textFile); }, textFile.string()), ErrorCode::Unsupported);

    const Bytes astro = readBytes(test::dataPath("images/astronaut.png"));
    const fs::path cut = tmp_ / "cut.png";
    writeBytes(cut, Bytes(astro.begin(), astro.begin() + long(astro.size() / 2)));
    QCOMPARE(errorOf([&] { io::loadImage(cut); }, cut.string()), ErrorCode::Truncated);

    const Bytes jpg = readBytes(test::dataPath("images/exif_rot6.jpg"));
    const fs::path cutJpg = tmp_ / "cut.jpg";
    writeBytes(cutJpg, Bytes(jpg.begin(), jpg.end() - 200));
    QCOMPARE(errorOf([&] { io::loadImage(cutJpg); }, cutJpg.string()), ErrorCode::Truncated);

    // A PNG whose image data is damaged (IDAT content replaced, CRC recomputed).
    const Bytes bad = makePng(2, 2, 8, 2, {}, {}, {});  // no scanlines at all
    QCOMPARE(errorOf([&] { io::decodeImage(span(bad), {}, "bad.png"); }, "bad.png"), ErrorCode::Corrupt);
    // PNG signature followed by something that is not IHDR
    Bytes noIhdr = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    chunk(noIhdr, "tEXt", text("a\0b"));
    chunk(noIhdr, "IEND", {});
    QCOMPARE(errorOf([&] { io::decodeImage(span(noIhdr), {}, "x.png"); }), ErrorCode::Corrupt);
    // GIF is recognised and refused with a clear message.
    QCOMPARE(errorOf([&] { io::decodeImage(span(text("GIF89a\1\0\1\0\0\0\0;")), {}, "a.gif"); }), ErrorCode::Unsupported);
    // A folder is not an image.
    QVERIFY(errorOf([&] { io::loadImage(tmp_); }) != ErrorCode::Cancelled);
  }

  // Damaged copies of small files (bytes overwritten, cut, inserted) either decode or throw
  // vlm::Error; nothing else escapes and nothing crashes.
  void garbageNeverCrashes() {
    std::vector<Bytes> seeds = {readBytes(test::dataPath("images/exif_rot6.jpg")),
                                readBytes(test::dataPath("images/green_palette.png"))};
    cv::Mat m(9, 11, CV_8UC3);
    cv::randu(m, 0, 255);
    for (const char* ext : {".bmp", ".webp", ".tiff"}) {
      std::vector<uchar> buf;
      QVERIFY(cv::imencode(ext, m, buf));
      seeds.emplace_back(buf.begin(), buf.end());
    }
    std::mt19937 rng(20240611);
    int decoded = 0, refused = 0;
    io::ImageLoadOptions o;
    o.maxPixels = 4'000'000;
    for (const Bytes& seed : seeds) {
      for (int it = 0; it < 60; ++it) {
        Bytes b = seed;
        const int n = 1 + int(rng() % 6);
        switch (rng() % 4) {
          case 0: for (int k = 0; k < n; ++k) b[rng() % b.size()] = uint8_t(rng()); break;
          case 1: b.resize(rng() % b.size()); break;
          case 2: for (int k = 0; k < n; ++k) b[rng() % std::min<size_t>(b.size(), 64)] = uint8_t(rng()); break;
          default: b.insert(b.begin() + long(rng() % b.size()), size_t(n), uint8_t(rng())); break;
        }
        try {
          const auto im = io::decodeImage(span(b), o, "fuzz");
          QCOMPARE(im.rgb.size(), size_t(im.width) * im.height * 3);
          ++decoded;
        } catch (const Error&) {
          ++refused;
        }
        (void)io::probeImage(span(b));
      }
    }
    qInfo("damaged files: %d decoded, %d refused", decoded, refused);
    QVERIFY(refused > 0);
  }
};

QTEST_GUILESS_MAIN(TestImage)
#include "test_image.moc"

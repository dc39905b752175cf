// VLM_TEST_LABELS: fast
// Preprocessing parity with Hugging Face BlipImageProcessor / CLIPImageProcessor
// (transformers 4.43.4, Pillow 9.4.0): for every setup and every fixture image, the uint8 image
// after Pillow's resize, the crop box and the float pixel_values, against
// tests/data/preprocess/reference.safetensors; Pillow's other filters against
// pillow_filters.safetensors; preprocessor_config.json parsing in current and legacy forms.
#include "testing.h"

#include <chrono>

#include "common/error.h"
#include "io/files.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "vision/preprocess.h"
#include "vision/resize.h"
#include "vision/tensor.h"

using namespace vlm;
using vision::ImageProcessorConfig;
using Kind = ImageProcessorConfig::Kind;

namespace {

io::ImageU8 toImage(const at::Tensor& hwc) {
  const at::Tensor t = hwc.contiguous();
  io::ImageU8 im;
  im.height = int(t.size(0));
  im.width = int(t.size(1));
  im.rgb.assign(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  return im;
}

nlohmann::json referenceJson() {
  return nlohmann::json::parse(io::readFile(test::dataPath("preprocess/reference.json")));
}

// Describes where two uint8 tensors differ (empty when equal).
std::string byteDiff(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream s;
    s << "shape " << actual.sizes() << " != " << expected.sizes();
    return s.str();
  }
  if (actual.equal(expected)) return {};
  const at::Tensor d = (actual.to(at::kInt) - expected.to(at::kInt)).abs();
  std::ostringstream s;
  s << d.gt(0).sum().item<int64_t>() << " of " << d.numel() << " bytes differ, max " << d.max().item<int>();
  return s.str();
}

template <class F>
ErrorCode errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) return ErrorCode::Cancelled;
    qInfo("%s", e.what());
    return e.code();
  }
  return ErrorCode::Cancelled;  // no error: fails the caller's QCOMPARE
}

ImageProcessorConfig parse(const std::string& json) { return vision::parseImageProcessorConfigJson(json); }

}  // namespace

class TestPreprocess : public QObject {
  Q_OBJECT

  std::shared_ptr<io::SafetensorsFile> ref_;
  nlohmann::json refJson_;
  std::map<std::string, io::ImageU8> images_;  // fixture name -> decoded RGB

 private Q_SLOTS:
  void initTestCase() {
    ref_ = io::SafetensorsFile::open(test::dataPath("preprocess/reference.safetensors"));
    refJson_ = referenceJson();
    io::ImageLoadOptions stored;  // as the processors get them: PIL.Image.open, no EXIF transpose
    stored.applyExifOrientation = false;
    for (const auto& name : refJson_["images"]) {
      const std::string n = name.get<std::string>();
      images_[n] = io::loadImage(test::dataPath("images/" + n), stored);
    }
    // transformers.image_utils.load_image: EXIF orientation applied
    images_["exif_rot6.jpg+load_image"] = io::loadImage(test::dataPath("images/exif_rot6.jpg"));
    QCOMPARE(images_.size(), size_t(8));
  }

  void valueTablesMatchReference_data() {
    QTest::addColumn<QString>("setup");
    for (const char* s : {"blip384", "blip64", "clip224", "clip64"}) QTest::newRow(s) << QString(s);
  }
  void valueTablesMatchReference() {
    QFETCH(QString, setup);
    const std::string s = setup.toStdString();
    const auto config = vision::parseImageProcessorConfig(test::dataPath("preprocess/" + s + "/preprocessor_config.json"));
    const auto table = vision::valueTable(config);
    at::Tensor t = at::empty({3, 256}, at::kFloat);
    for (int c = 0; c < 3; ++c)
      for (int v = 0; v < 256; ++v) t[c][v] = table[size_t(c)][size_t(v)];
    VLM_COMPARE_TENSORS(t, ref_->tensor(s + "/value_lut"), 0.0, 0.0, s + "/value_lut");
  }

  // The whole pipeline for every setup and every image: resized uint8 byte for byte, crop box,
  // pixel values bit for bit (stored ones, and value_lut applied to the reference uint8).
  void matchesHuggingFace_data() { valueTablesMatchReference_data(); }
  void matchesHuggingFace() {
    QFETCH(QString, setup);
    const std::string s = setup.toStdString();
    const auto config = vision::parseImageProcessorConfig(test::dataPath("preprocess/" + s + "/preprocessor_config.json"));
    const at::Tensor lut = ref_->tensor(s + "/value_lut");
    int checkedStored = 0;
    for (const auto& [name, image] : images_) {
      const std::string key = s + "/" + name;
      const auto& shape = refJson_["shapes"][key];
      QCOMPARE(image.width, shape["input_wh"][0].get<int>());
      QCOMPARE(image.height, shape["input_wh"][1].get<int>());

      const vision::Preprocessed p = vision::preprocess(image, config);

      const at::Tensor expectedU8 = ref_->tensor(key + "/resized_u8");
      const std::string diff = byteDiff(vision::imageTensor(p.resized), expectedU8);
      QVERIFY2(diff.empty(), (key + " resized_u8: " + diff).c_str());

      // crop box [top, left, height, width]
      std::vector<int64_t> box = {0, 0, expectedU8.size(0), expectedU8.size(1)};
      if (config.kind == Kind::Clip) {
        const at::Tensor b = ref_->tensor(key + "/crop_box");
        box = std::vector<int64_t>(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + 4);
        QCOMPARE(refJson_["crop_boxes"][key].get<std::vector<int64_t>>(), box);
      }
      QCOMPARE((std::vector<int64_t>{p.cropTop, p.cropLeft, p.height, p.width}), box);

      const at::Tensor actual = vision::pixelValuesTensor(p);
      QCOMPARE(actual.sizes().vec(), (std::vector<int64_t>{1, 3, box[2], box[3]}));
      // value_lut[c, u8] over the reference crop of the reference uint8 image
      const at::Tensor crop = expectedU8.slice(0, box[0], box[0] + box[2]).slice(1, box[1], box[1] + box[3]).to(at::kLong);
      std::vector<at::Tensor> planes;
      for (int c = 0; c < 3; ++c)
        planes.push_back(lut[c].index_select(0, crop.select(2, c).flatten()).view({box[2], box[3]}));
      VLM_COMPARE_TENSORS(actual[0], at::stack(planes), 0.0, 0.0, key + " pixel_values (value_lut)");
      if (ref_->find(key + "/pixel_values")) {
        VLM_COMPARE_TENSORS(actual[0], ref_->tensor(key + "/pixel_values"), 0.0, 0.0, key + "/pixel_values");
        ++checkedStored;
      }
    }
    QVERIFY(checkedStored >= 2);
  }

  // The configs save_pretrained wrote parse to what reference.json lists.
  void savedConfigsMatchReferenceJson_data() { valueTablesMatchReference_data(); }
  void savedConfigsMatchReferenceJson() {
    QFETCH(QString, setup);
    const std::string s = setup.toStdString();
    const auto c = vision::parseImageProcessorConfig(test::dataPath("preprocess/" + s + "/preprocessor_config.json"));
    const auto& r = refJson_["setups"][s];
    QCOMPARE(c.kind, r["image_processor_type"] == "BlipImageProcessor" ? Kind::Blip : Kind::Clip);
    QCOMPARE(c.doResize, r["do_resize"].get<bool>());
    QCOMPARE(c.doRescale, r["do_rescale"].get<bool>());
    QCOMPARE(c.doNormalize, r["do_normalize"].get<bool>());
    QCOMPARE(c.doConvertRgb, r["do_convert_rgb"].get<bool>());
    QCOMPARE(c.resample, r["resample"].get<int>());
    QCOMPARE(c.rescaleFactor, r["rescale_factor"].get<double>());
    for (int i = 0; i < 3; ++i) {
      QCOMPARE(c.mean[size_t(i)], r["image_mean"][i].get<float>());
      QCOMPARE(c.std[size_t(i)], r["image_std"][i].get<float>());
    }
    if (c.kind == Kind::Blip) {
      QCOMPARE(c.resizeHeight, r["size"]["height"].get<int>());
      QCOMPARE(c.resizeWidth, r["size"]["width"].get<int>());
      QVERIFY(!c.doCenterCrop);
    } else {
      QCOMPARE(c.shortestEdge, r["size"]["shortest_edge"].get<int>());
      QCOMPARE(c.doCenterCrop, r["do_center_crop"].get<bool>());
      QCOMPARE(c.cropHeight, r["crop_size"]["height"].get<int>());
      QCOMPARE(c.cropWidth, r["crop_size"]["width"].get<int>());
    }
  }

  // The legacy hub files parse as HF parses them (reference.json "hub_style_parsed"), with the
  // processor defaults for the keys they lack.
  void hubStyleConfigs() {
    const auto& parsed = refJson_["hub_style_parsed"];
    const auto blip = vision::parseImageProcessorConfig(test::dataPath("preprocess/blip_hub_style_preprocessor_config.json"));
    QCOMPARE(blip.kind, Kind::Blip);
    QCOMPARE(blip.resizeHeight, parsed["blip"]["size"]["height"].get<int>());
    QCOMPARE(blip.resizeWidth, parsed["blip"]["size"]["width"].get<int>());
    QCOMPARE(blip.resample, parsed["blip"]["resample"].get<int>());
    QCOMPARE(blip.shortestEdge, 0);
    QVERIFY(blip.doResize && blip.doRescale && blip.doNormalize && blip.doConvertRgb && !blip.doCenterCrop);
    QCOMPARE(blip.rescaleFactor, 1 / 255.0);

    const auto clip = vision::parseImageProcessorConfig(test::dataPath("preprocess/clip_hub_style_preprocessor_config.json"));
    QCOMPARE(clip.kind, Kind::Clip);  // from "feature_extractor_type": "CLIPFeatureExtractor"
    QCOMPARE(clip.shortestEdge, parsed["clip"]["size"]["shortest_edge"].get<int>());
    QCOMPARE(clip.resizeHeight, 0);
    QCOMPARE(clip.cropHeight, parsed["clip"]["crop_size"]["height"].get<int>());
    QCOMPARE(clip.cropWidth, parsed["clip"]["crop_size"]["width"].get<int>());
    QCOMPARE(clip.resample, parsed["clip"]["resample"].get<int>());
    QVERIFY(clip.doCenterCrop && clip.doRescale && clip.doConvertRgb);
    QCOMPARE(clip.rescaleFactor, 1 / 255.0);
    // The hub configs give the same pixels as the saved ones.
    const auto& astro = images_.at("astronaut.png");
    const auto a = vision::preprocess(astro, clip), b = vision::preprocess(
        astro, vision::parseImageProcessorConfig(test::dataPath("preprocess/clip224/preprocessor_config.json")));
    QVERIFY(a.pixelValues == b.pixelValues);
  }

  // Absent keys take the processors' defaults; other spellings HF accepts; errors.
  void defaultsLegacyFormsAndErrors() {
    const auto blip = parse(R"({"image_processor_type": "BlipImageProcessor"})");
    QCOMPARE(blip.resizeHeight, 384);
    QCOMPARE(blip.resizeWidth, 384);
    QCOMPARE(blip.resample, 3);
    QCOMPARE(blip.rescaleFactor, 1 / 255.0);
    QCOMPARE(blip.mean, (std::array<float, 3>{0.48145466f, 0.4578275f, 0.40821073f}));
    QCOMPARE(blip.std, (std::array<float, 3>{0.26862954f, 0.26130258f, 0.27577711f}));
    QVERIFY(blip.doResize && blip.doRescale && blip.doNormalize && blip.doConvertRgb && !blip.doCenterCrop);
    const auto clip = parse(R"({"image_processor_type": "CLIPImageProcessor"})");
    QCOMPARE(clip.shortestEdge, 224);
    QCOMPARE(clip.cropHeight, 224);
    QCOMPARE(clip.cropWidth, 224);
    QVERIFY(clip.doCenterCrop);

    const auto pair = parse(R"({"image_processor_type": "BlipImageProcessor", "size": [320, 480]})");
    QCOMPARE(pair.resizeHeight, 320);
    QCOMPARE(pair.resizeWidth, 480);
    const auto clipHw = parse(R"({"feature_extractor_type": "CLIPFeatureExtractor", "size": {"height": 300, "width": 200},
                                  "crop_size": [100, 120], "image_mean": 0.5, "resample": 1})");
    QCOMPARE(clipHw.resizeHeight, 300);
    QCOMPARE(clipHw.resizeWidth, 200);
    QCOMPARE(clipHw.cropHeight, 100);
    QCOMPARE(clipHw.cropWidth, 120);
    QCOMPARE(clipHw.mean, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
    QCOMPARE(clipHw.resample, 1);
    const auto square = parse(R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 64}, "use_square_size": true})");
    QCOMPARE(square.resizeHeight, 64);
    QCOMPARE(square.resizeWidth, 64);
    // None: resample falls back to BILINEAR in transformers' resize(); flags are falsy.
    const auto nulls = parse(R"({"image_processor_type": "BlipImageProcessor", "resample": null, "do_resize": null, "size": null})");
    QCOMPARE(nulls.resample, 2);
    QVERIFY(!nulls.doResize);
    QCOMPARE(nulls.resizeHeight, 384);
    // No type: the processor_class hint, then the caller's fallback.
    QCOMPARE(parse(R"({"processor_class": "BlipProcessor"})").kind, Kind::Blip);
    QCOMPARE(vision::parseImageProcessorConfigJson("{}", Kind::Clip).shortestEdge, 224);

    QCOMPARE(errorOf([] { parse("{}"); }), ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "ViTImageProcessor"})"); }), ErrorCode::Unsupported);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "BlipImageProcessor", "size": {"height": 10}})"); }),
             ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "BlipImageProcessor", "size": {"shortest_edge": 10}})"); }),
             ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "BlipImageProcessor", "size": 0})"); }), ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "BlipImageProcessor", "resample": 6})"); }), ErrorCode::Unsupported);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "BlipImageProcessor", "image_mean": [1, 2]})"); }),
             ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse(R"({"image_processor_type": "CLIPImageProcessor", "crop_size": {"shortest_edge": 3}})"); }),
             ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([] { parse("{not json"); }), ErrorCode::Corrupt);
    QCOMPARE(errorOf([] { vision::parseImageProcessorConfig(test::dataPath("preprocess/none/preprocessor_config.json")); }),
             ErrorCode::NotFound);
  }

  // Pillow's nearest, lanczos, bilinear, bicubic, box and hamming, byte for byte.
  void resizeMatchesPillowForEveryFilter() {
    const auto f = io::SafetensorsFile::open(test::dataPath("preprocess/pillow_filters.safetensors"));
    int checked = 0;
    for (const auto& info : f->tensors()) {
      if (info.name.rfind("input/", 0) == 0) continue;
      // <input>/<filter>/<W>x<H>
      const auto s1 = info.name.find('/'), s2 = info.name.find('/', s1 + 1), x = info.name.find('x', s2);
      const io::ImageU8 in = toImage(f->tensor("input/" + info.name.substr(0, s1)));
      const int filter = std::stoi(info.name.substr(s1 + 1, s2 - s1 - 1));
      const int w = std::stoi(info.name.substr(s2 + 1, x - s2 - 1)), h = std::stoi(info.name.substr(x + 1));
      const io::ImageU8 out = vision::resizePillow(in, w, h, filter);
      const std::string diff = byteDiff(vision::imageTensor(out), f->tensor(info));
      QVERIFY2(diff.empty(), (info.name + " (" + vision::resampleName(filter) + "): " + diff).c_str());
      ++checked;
    }
    QCOMPARE(checked, 54);
  }

  void resizeHandComputed() {
    // Bilinear 2 -> 4 pixels, values 0 and 255. Output centres 0.25, 0.75, 1.25, 1.75 (input units):
    // weights (1), (0.75, 0.25), (0.25, 0.75), (1); 22-bit fixed point, +0.5, floor:
    // 0, 63.75 + 0.5 -> 64, 191.25 + 0.5 -> 191, 255.
    io::ImageU8 row;
    row.width = 2;
    row.height = 1;
    row.rgb = {0, 0, 0, 255, 255, 255};
    const auto wide = vision::resizePillow(row, 4, 1, 2);
    QCOMPARE(wide.rgb, (std::vector<uint8_t>{0, 0, 0, 64, 64, 64, 191, 191, 191, 255, 255, 255}));
    io::ImageU8 column = row;
    column.width = 1;
    column.height = 2;
    const auto tall = vision::resizePillow(column, 1, 4, 2);  // the vertical pass alone
    QCOMPARE(tall.rgb, wide.rgb);

    // A constant image stays constant under every filter and size.
    io::ImageU8 flat;
    flat.width = 13;
    flat.height = 7;
    flat.rgb.resize(13 * 7 * 3);
    for (size_t i = 0; i < flat.rgb.size(); i += 3) flat.rgb[i] = 9, flat.rgb[i + 1] = 128, flat.rgb[i + 2] = 250;
    for (int filter = 0; filter <= 5; ++filter)
      for (auto [w, h] : {std::pair{5, 3}, {31, 17}, {13, 2}, {1, 1}, {40, 7}}) {
        const auto r = vision::resizePillow(flat, w, h, filter);
        QCOMPARE(r.width, w);
        QCOMPARE(r.height, h);
        for (size_t i = 0; i < r.rgb.size(); i += 3)
          QCOMPARE((std::array<int, 3>{r.rgb[i], r.rgb[i + 1], r.rgb[i + 2]}), (std::array<int, 3>{9, 128, 250}));
      }
    QVERIFY(vision::resizePillow(flat, 13, 7, 3).rgb == flat.rgb);  // same size: unchanged

    QCOMPARE(errorOf([&] { vision::resizePillow(flat, 0, 5); }), ErrorCode::InvalidArgument);
    QCOMPARE(errorOf([&] { vision::resizePillow(flat, 5, 5, 7); }), ErrorCode::Unsupported);
    QCOMPARE(errorOf([&] { vision::resizePillow(io::ImageU8{}, 5, 5); }), ErrorCode::InvalidArgument);
  }

  // CLIP's resize arithmetic (shortest edge, long side truncated) and center crop, including a
  // crop larger than the image (transformers pads with zeros before rescaling).
  void clipResizeAndCropArithmetic() {
    auto c = ImageProcessorConfig::clipDefaults();
    QCOMPARE(vision::resizedSize(c, 451, 300), (std::array<int, 2>{224, 336}));  // 224*451/300 = 336.7
    QCOMPARE(vision::resizedSize(c, 300, 451), (std::array<int, 2>{336, 224}));
    QCOMPARE(vision::resizedSize(c, 600, 400), (std::array<int, 2>{224, 336}));
    QCOMPARE(vision::resizedSize(c, 512, 512), (std::array<int, 2>{224, 224}));
    c.shortestEdge = 2;
    QCOMPARE(vision::resizedSize(c, 3, 7), (std::array<int, 2>{4, 2}));  // 2*7/3 = 4.67
    QCOMPARE(vision::resizedSize(ImageProcessorConfig::blipDefaults(), 451, 300), (std::array<int, 2>{384, 384}));

    // 4 wide x 2 tall, no resize, no rescale/normalize: pixel values are the bytes.
    io::ImageU8 im;
    im.width = 4;
    im.height = 2;
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 4; ++x)
        for (int ch = 0; ch < 3; ++ch) im.rgb.push_back(uint8_t(100 * ch + 10 * y + x + 1));
    ImageProcessorConfig raw = ImageProcessorConfig::clipDefaults();
    raw.doResize = raw.doRescale = raw.doNormalize = false;
    raw.cropHeight = 4;
    raw.cropWidth = 6;
    // top = (2 - 4) // 2 = -1, left = (4 - 6) // 2 = -1: one row/column of zeros around
    const auto p = vision::preprocess(im, raw);
    QCOMPARE(p.cropTop, -1);
    QCOMPARE(p.cropLeft, -1);
    QCOMPARE(p.height, 4);
    QCOMPARE(p.width, 6);
    for (int ch = 0; ch < 3; ++ch)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 6; ++x) {
          const bool inside = y >= 1 && y <= 2 && x >= 1 && x <= 4;
          const float expected = inside ? float(100 * ch + 10 * (y - 1) + (x - 1) + 1) : 0.0f;
          QCOMPARE(p.pixelValues[size_t(ch * 24 + y * 6 + x)], expected);
        }
    // odd margins: 4 x 2 cropped to 1 x 1 -> top (2-1)//2 = 0, left (4-1)//2 = 1
    raw.cropHeight = raw.cropWidth = 1;
    const auto one = vision::preprocess(im, raw);
    QCOMPARE(one.cropTop, 0);
    QCOMPARE(one.cropLeft, 1);
    QCOMPARE(one.pixelValues, (std::vector<float>{2, 102, 202}));
    // With normalization the padding is (0 - mean) / std.
    ImageProcessorConfig norm = ImageProcessorConfig::clipDefaults();
    norm.doResize = false;
    norm.cropHeight = norm.cropWidth = 4;
    const auto padded = vision::preprocess(im, norm);
    QCOMPARE(padded.pixelValues[0], (0.0f - norm.mean[0]) / norm.std[0]);
  }

  void timing() {
    const auto& astro = images_.at("astronaut.png");
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = vision::resizePillow(astro, 384, 384, 3);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      QCOMPARE(r.width, 384);
    }
    std::sort(ms.begin(), ms.end());
    qInfo("bicubic 512x512 -> 384x384: median %.2f ms", ms[2]);
  }
};

QTEST_GUILESS_MAIN(TestPreprocess)
#include "test_preprocess.moc"

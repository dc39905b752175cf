#pragma once
// Image decoding (OpenCV) to 8-bit RGB, pixel for pixel what Pillow 9.4 gives for
// `Image.open(path).convert('RGB')` - and, with EXIF orientation applied (the default), what
// transformers.image_utils.load_image(path) gives (ImageOps.exif_transpose, then convert).
//
// Formats matched with Pillow: PNG, JPEG, BMP, WebP, TIFF (1 to 16 bits per sample; gray,
// gray+alpha, RGB, RGBA, palette). Other formats OpenCV reads (PNM/PAM, Sun raster, JPEG 2000,
// DICOM) are decoded with the same rules, without a parity promise (Pillow rescales 16-bit PPM
// by maxval and reads 16-bit JPEG 2000 differently). GIF and floating-point formats (PFM,
// Radiance HDR, OpenEXR) are refused.
//
// Conversion to RGB, as Pillow's convert('RGB') does it:
//   - RGBA / LA: the alpha channel is DROPPED (no compositing on a background). TIFF alpha too:
//     unassociated alpha leaves the stored colours (OpenCV alone would premultiply them),
//     associated alpha is divided out as Pillow's "RGBa" unpacker does (c * 255 / a).
//   - L (gray): replicated into R, G and B. P (palette): looked up in the palette.
//   - 16-bit colour (RGB, RGBA, and 16-bit gray+alpha, which Pillow opens as RGBA): the high
//     byte of each sample (v >> 8), like Pillow's "RGB;16B" unpackers.
//   - 16-bit gray without alpha: Pillow opens it as mode "I" (PNG) / "I;16" (TIFF) and
//     convert('RGB') CLIPS each value to 0..255 (so 256..65535 all become 255 and most 16-bit
//     gray pictures turn white). Gray16Policy::Pillow (the default) reproduces that, for
//     parity with the Hugging Face pipeline; Gray16Policy::HighByte takes v >> 8 instead
//     (what a person expects to see).
//   - 16-bit-per-pixel BMP (RGB555 / RGB565): scaled to 0..255 as Pillow does (v * 255 / 31).
//
// Resource safety: the width and height are read from the file header by this module (PNG
// IHDR, JPEG SOFn, BMP info header, WebP VP8/VP8L/VP8X, TIFF IFD0, PNM, Sun raster, JPEG 2000)
// and checked against ImageLoadOptions::maxPixels BEFORE anything is decoded, so a small file
// that claims to be 60000 x 60000 is refused without allocating. Anything else OpenCV
// recognises is checked after decoding.
//
// Errors are vlm::Error with a one-line message naming the file: NotFound / Io (cannot read),
// Corrupt (empty file, damaged header or data), Truncated (the data ends early), Unsupported
// (not an image, or a format / pixel type not handled), ResourceLimit (over a budget).
//
// A JPEG that ends before its end-of-image marker is refused as Truncated, as Pillow does
// ("image file is truncated"); libjpeg alone would fill the missing part with gray.
//
// Known differences from Pillow (rare inputs): CMYK/YCCK JPEGs are converted to RGB by OpenCV's
// formula (up to 1 level off); damaged EXIF blocks are ignored (Pillow's exif_transpose
// raises); animated WebP is refused (Pillow gives the first frame).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vlm::io {

// 8-bit RGB, interleaved (HWC), rows top to bottom, no padding.
struct ImageU8 {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes

  bool empty() const { return width <= 0 || height <= 0; }
  const uint8_t* pixel(int x, int y) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
  uint8_t* pixel(int x, int y) { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

// How 16-bit grayscale images (no alpha) become 8-bit (see the top of this file).
enum class Gray16Policy {
  Pillow,    // min(v, 255): Pillow's "I" / "I;16" -> "RGB" conversion (default, HF parity)
  HighByte,  // v >> 8, as for 16-bit colour images
};

struct ImageLoadOptions {
  bool applyExifOrientation = true;  // as transformers.image_utils.load_image does
  int64_t maxPixels = 100'000'000;   // width * height budget, checked before decoding
  Gray16Policy gray16 = Gray16Policy::Pillow;
  int64_t maxFileBytes = int64_t(1) << 30;  // loadImage only: larger files are not read
};

struct ImageInfo {
  int width = 0, height = 0;  // as stored (before any EXIF orientation)
  int exifOrientation = 0;    // EXIF Orientation 1..8 found in the given bytes; 0 if none
  std::string format;         // "png", "jpeg", "bmp", "webp", "tiff", "pnm", "sunraster", "jpeg2000"
};

// Reads and decodes an image file. Throws vlm::Error naming the file (see above).
ImageU8 loadImage(const std::filesystem::path& path, const ImageLoadOptions& options = {});

// Decodes an image held in memory; errors name `nameForErrors`.
ImageU8 decodeImage(std::span<const uint8_t> bytes, const ImageLoadOptions& options = {},
                    const std::string& nameForErrors = "image");

// Format, dimensions and EXIF orientation read from the header, without decoding pixels.
// nullopt when the bytes are not one of the formats above or end before the dimensions. The
// orientation is found only if its metadata lies within the given bytes (a PNG may carry its
// eXIf chunk after the image data: pass the whole file to be sure).
std::optional<ImageInfo> probeImage(std::span<const uint8_t> header_bytes);

// The EXIF orientation that Pillow's ImageOps.exif_transpose would apply (1..8; 0 when
// none): EXIF in JPEG APP1, PNG eXIf / "Raw profile type exif" text / XMP tiff:Orientation,
// WebP EXIF chunk, TIFF IFD0 tag 274. Malformed metadata counts as none.
int readExifOrientation(std::span<const uint8_t> bytes);

// Transposes an image as ImageOps.exif_transpose does for `orientation`:
// 2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise,
// 7 transverse, 8 rotate 90 counter-clockwise; any other value returns the image unchanged.
ImageU8 applyExifOrientation(const ImageU8& image, int orientation);

}  // namespace vlm::io

#pragma once
// MP4 video export through the FFmpeg libraries (libavformat / libavcodec / libswscale),
// never the ffmpeg program. Frames are 8-bit RGB (io::ImageU8), converted to yuv420p
// (BT.709 matrix, limited range, tagged as such) and encoded with H.264 (libx264) or, where
// libx264 is missing, MPEG-4 Part 2.
//
// The file appears only when finish() succeeds: frames go to a hidden temporary file in the
// destination folder (".NAME.partial-XXXXXXXX"), renamed to `out` by finish(). On any error,
// and when the writer is destroyed without finish() (an exception, a cancelled job), the
// temporary file is closed and removed: `out` is never left half-written.
//
// libav's console logging is limited to errors (av_log_set_level(AV_LOG_ERROR), process-wide,
// set by the first VideoWriter). Not thread-safe: one writer is used by one thread at a time
// (different writers may run in different threads).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "io/image.h"

namespace vlm::render {

struct VideoOptions {
  int fps = 2;  // frames per second, 1..240
  // "auto": libx264 (H.264) when avcodec_find_encoder_by_name finds it, else mpeg4
  // (MPEG-4 Part 2); or the name of any libav video encoder (e.g. "mpeg4", "libx265").
  std::string codec = "auto";
  // Quality, 0..51, lower is better: the encoder's "crf" option where it has one (libx264,
  // libx265, libvpx-vp9, libaom-av1, libsvtav1); for mpeg4 a fixed quantiser
  // q = clamp(round(crf / 6), 2, 31) (crf 20 -> q 3).
  int crf = 20;
};

class VideoWriter {
 public:
  // Opens the encoder and the temporary file. width and height must be even and >= 2.
  // Throws vlm::Error InvalidArgument (odd or too small size, fps or crf out of range, empty
  // file name), Unsupported (an unknown or non-video encoder, named in the message), Io
  // (the folder does not exist or cannot be written; libav's av_strerror text and the file).
  VideoWriter(std::filesystem::path out, int width, int height, VideoOptions options = {});
  ~VideoWriter();  // without finish(): closes and removes the temporary file
  VideoWriter(VideoWriter&&) noexcept;
  VideoWriter& operator=(VideoWriter&&) noexcept;
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Encodes one frame (shown for 1 / fps seconds). It must be width x height, else
  // InvalidArgument. Io on an encoder or write failure: the writer is then closed, the
  // temporary file removed, and every later call throws InvalidArgument.
  void addFrame(const io::ImageU8& rgb);

  // Flushes the encoder, writes the MP4 trailer, flushes the file to disk and renames it to
  // `out` (replacing an existing file). Io on failure (the temporary file is removed).
  // InvalidArgument when no frame was added (nothing is written, the writer is discarded).
  // Calling addFrame or finish after finish throws InvalidArgument.
  void finish();

  const std::string& codecName() const;  // the encoder's name: "libx264", "mpeg4", ...
  int64_t framesWritten() const;         // frames passed to addFrame so far
  const std::filesystem::path& path() const;  // `out`

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm::render

#include "render/video_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <random>
#include <system_error>

#include "common/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

namespace vlm::render {

namespace fs = std::filesystem;

namespace {

std::string avError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, buf, sizeof buf) < 0) return "libav error " + std::to_string(code);
  return buf;
}

std::string randomSuffix() {
  std::random_device rd;
  std::mt19937 gen(rd());
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(gen()));
  return buf;
}

void quietLibav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_ERROR); });
}

bool supportsYuv420p(const AVCodec* codec) {
  if (!codec->pix_fmts) return true;  // not declared: let avcodec_open2 decide
  for (const AVPixelFormat* p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == AV_PIX_FMT_YUV420P) return true;
  return false;
}

}  // namespace

struct VideoWriter::Impl {
  enum class State { Open, Finished, Failed };

  fs::path out, tmp;
  int width = 0, height = 0;
  VideoOptions options;
  std::string codecName;
  State state = State::Open;
  int64_t frames = 0;

  AVFormatContext* fmt = nullptr;
  AVCodecContext* enc = nullptr;
  AVStream* stream = nullptr;  // owned by fmt
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* pkt = nullptr;

  ~Impl() { discard(); }

  // Frees every libav object and closes the file (without a trailer).
  void closeAll() noexcept {
    if (fmt && fmt->pb) avio_closep(&fmt->pb);
    if (fmt) avformat_free_context(fmt);
    fmt = nullptr;
    stream = nullptr;
    avcodec_free_context(&enc);
    sws_freeContext(sws);
    sws = nullptr;
    av_frame_free(&frame);
    av_packet_free(&pkt);
  }

  // Closes everything and removes the temporary file (no-op once finished).
  void discard() noexcept {
    closeAll();
    if (state == State::Open && !tmp.empty()) {
      std::error_code ec;
      fs::remove(tmp, ec);
    }
    if (state == State::Open) state = State::Failed;
  }

  [[noreturn]] void fail(ErrorCode code, const std::string& what) {
    discard();
    throw Error(code, out.string() + ": " + what, out.string());
  }

  void requireOpen(const char* call) const {
    if (state == State::Finished)
      throw Error(ErrorCode::InvalidArgument, out.string() + ": " + call + " after finish()", out.string());
    if (state == State::Failed)
      throw Error(ErrorCode::InvalidArgument, out.string() + ": " + call + " after an earlier error; the video was discarded",
                  out.string());
  }

  // Moves every packet the encoder has ready into the file.
  void drain() {
    while (true) {
      int ret = avcodec_receive_packet(enc, pkt);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      if (ret < 0) fail(ErrorCode::Io, "video encoding failed (" + codecName + "): " + avError(ret));
      if (!pkt->duration) pkt->duration = 1;  // else the mp4 muxer drops the last frame
      av_packet_rescale_ts(pkt, enc->time_base, stream->time_base);  // the muxer changed stream->time_base
      pkt->stream_index = stream->index;
      ret = av_interleaved_write_frame(fmt, pkt);  // takes the packet's reference
      if (ret < 0) fail(ErrorCode::Io, "cannot write the video file " + tmp.string() + ": " + avError(ret));
    }
  }

  void open() {
    quietLibav();
    const AVCodec* codec = nullptr;
    if (options.codec == "auto") {
      codec = avcodec_find_encoder_by_name("libx264");
      if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
      if (!codec) fail(ErrorCode::Unsupported, "this FFmpeg build has neither the libx264 nor the mpeg4 video encoder");
    } else {
      codec = avcodec_find_encoder_by_name(options.codec.c_str());
      if (!codec)
        fail(ErrorCode::Unsupported,
             "unknown video encoder '" + options.codec + "' (this FFmpeg build has no encoder of that name)");
    }
    codecName = codec->name;
    if (codec->type != AVMEDIA_TYPE_VIDEO) fail(ErrorCode::Unsupported, "encoder '" + codecName + "' is not a video encoder");
    if (!supportsYuv420p(codec))
      fail(ErrorCode::Unsupported, "video encoder '" + codecName + "' does not take yuv420p frames");

    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    tmp = dir / ("." + out.filename().string() + ".partial-" + randomSuffix());

    int ret = avformat_alloc_output_context2(&fmt, nullptr, "mp4", tmp.c_str());
    if (ret < 0 || !fmt) fail(ErrorCode::Unsupported, "the mp4 muxer is not available: " + avError(ret));
    stream = avformat_new_stream(fmt, nullptr);
    enc = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (!stream || !enc || !pkt || !frame) fail(ErrorCode::ResourceLimit, "out of memory opening the video encoder");

    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = AVRational{1, options.fps};
    enc->framerate = AVRational{options.fps, 1};
    enc->sample_aspect_ratio = AVRational{1, 1};
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_BT709;
    enc->color_primaries = AVCOL_PRI_BT709;
    enc->color_trc = AVCOL_TRC_BT709;
    if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (enc->priv_data && av_opt_find(enc->priv_data, "crf", nullptr, 0, 0)) {
      ret = av_opt_set_double(enc->priv_data, "crf", options.crf, 0);
      if (ret < 0)
        fail(ErrorCode::InvalidArgument,
             "encoder '" + codecName + "' refuses crf " + std::to_string(options.crf) + ": " + avError(ret));
    } else {
      // No crf option (mpeg4 and other older encoders): a fixed quantiser.
      const int q = std::clamp(static_cast<int>(std::lround(options.crf / 6.0)), 2, 31);
      enc->flags |= AV_CODEC_FLAG_QSCALE;
      enc->global_quality = FF_QP2LAMBDA * q;
    }
    ret = avcodec_open2(enc, codec, nullptr);
    if (ret < 0)
      fail(ErrorCode::Unsupported, "video encoder '" + codecName + "' cannot encode " + std::to_string(width) + "x" +
                                       std::to_string(height) + " at " + std::to_string(options.fps) + " fps: " + avError(ret));
    stream->time_base = enc->time_base;
    stream->avg_frame_rate = enc->framerate;
    stream->sample_aspect_ratio = enc->sample_aspect_ratio;
    ret = avcodec_parameters_from_context(stream->codecpar, enc);
    if (ret < 0) fail(ErrorCode::Unsupported, "cannot set the mp4 stream parameters: " + avError(ret));

    // "file:" so that a ':' in the path is never read as a protocol name.
    ret = avio_open(&fmt->pb, ("file:" + tmp.string()).c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) fail(ErrorCode::Io, "cannot create the video file in " + dir.string() + ": " + avError(ret));
    ret = avformat_write_header(fmt, nullptr);
    if (ret < 0) fail(ErrorCode::Io, "cannot write the mp4 header: " + avError(ret));

    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    frame->color_range = enc->color_range;
    frame->colorspace = enc->colorspace;
    frame->color_primaries = enc->color_primaries;
    frame->color_trc = enc->color_trc;
    ret = av_frame_get_buffer(frame, 0);
    if (ret < 0) fail(ErrorCode::ResourceLimit, "cannot allocate a video frame: " + avError(ret));

    sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                         SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    if (!sws) fail(ErrorCode::Unsupported, "libswscale cannot convert RGB24 to yuv420p");
    // RGB (full range) -> BT.709 limited-range YUV, matching the tags above.
    const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(sws, bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
  }
};

VideoWriter::VideoWriter(fs::path out, int width, int height, VideoOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.out = std::move(out);
  d.width = width;
  d.height = height;
  d.options = std::move(options);
  const std::string file = d.out.string();
  auto invalid = [&](const std::string& what) {
    d.state = Impl::State::Failed;
    throw Error(ErrorCode::InvalidArgument, file + ": " + what, file);
  };
  if (d.out.filename().empty()) invalid("not a file name");
  if (width < 2 || height < 2 || width % 2 || height % 2)
    invalid("video size " + std::to_string(width) + "x" + std::to_string(height) +
            " must be even and at least 2x2 (yuv420p)");
  if (d.options.fps < 1 || d.options.fps > 240) invalid("video fps " + std::to_string(d.options.fps) + " is outside 1..240");
  if (d.options.crf < 0 || d.options.crf > 51) invalid("video crf " + std::to_string(d.options.crf) + " is outside 0..51");
  d.open();
}

VideoWriter::~VideoWriter() = default;  // Impl::~Impl discards an unfinished file
VideoWriter::VideoWriter(VideoWriter&&) noexcept = default;
VideoWriter& VideoWriter::operator=(VideoWriter&&) noexcept = default;

void VideoWriter::addFrame(const io::ImageU8& rgb) {
  if (!impl_) throw Error(ErrorCode::InvalidArgument, "video writer: addFrame on a moved-from writer");
  Impl& d = *impl_;
  d.requireOpen("addFrame");
  if (rgb.width != d.width || rgb.height != d.height || rgb.rgb.size() != static_cast<size_t>(d.width) * d.height * 3)
    throw Error(ErrorCode::InvalidArgument,
                d.out.string() + ": frame " + std::to_string(d.frames) + " is " + std::to_string(rgb.width) + "x" +
                    std::to_string(rgb.height) + " (" + std::to_string(rgb.rgb.size()) + " bytes), the video is " +
                    std::to_string(d.width) + "x" + std::to_string(d.height),
                d.out.string());
  int ret = av_frame_make_writable(d.frame);  // the encoder may still hold the previous buffer
  if (ret < 0) d.fail(ErrorCode::ResourceLimit, "cannot allocate a video frame: " + avError(ret));
  const uint8_t* src[1] = {rgb.rgb.data()};
  const int srcStride[1] = {3 * d.width};
  sws_scale(d.sws, src, srcStride, 0, d.height, d.frame->data, d.frame->linesize);
  d.frame->pts = d.frames;
  ret = avcodec_send_frame(d.enc, d.frame);
  if (ret < 0) d.fail(ErrorCode::Io, "video encoding failed (" + d.codecName + "): " + avError(ret));
  ++d.frames;
  d.drain();
}

void VideoWriter::finish() {
  if (!impl_) throw Error(ErrorCode::InvalidArgument, "video writer: finish on a moved-from writer");
  Impl& d = *impl_;
  d.requireOpen("finish");
  if (d.frames == 0) d.fail(ErrorCode::InvalidArgument, "no frames were added to the video");
  int ret = avcodec_send_frame(d.enc, nullptr);  // flush
  if (ret < 0) d.fail(ErrorCode::Io, "video encoding failed (" + d.codecName + "): " + avError(ret));
  d.drain();
  ret = av_write_trailer(d.fmt);
  if (ret < 0) d.fail(ErrorCode::Io, "cannot write the mp4 trailer: " + avError(ret));
  ret = avio_closep(&d.fmt->pb);
  if (ret < 0) d.fail(ErrorCode::Io, "cannot close the video file: " + avError(ret));
  // On disk before the rename, as io::writeFileAtomic does.
  const int fd = ::open(d.tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    d.fail(ErrorCode::Io, "cannot flush the video file to disk");
  }
  ::close(fd);
  std::error_code ec;
  fs::rename(d.tmp, d.out, ec);
  if (ec) d.fail(ErrorCode::Io, "cannot rename " + d.tmp.filename().string() + " to the video file: " + ec.message());
  d.state = Impl::State::Finished;
  d.closeAll();
}

const std::string& VideoWriter::codecName() const {
  static const std::string none;
  return impl_ ? impl_->codecName : none;
}

int64_t VideoWriter::framesWritten() const { return impl_ ? impl_->frames : 0; }

const fs::path& VideoWriter::path() const {
  static const fs::path none;
  return impl_ ? impl_->out : none;
}

}  // namespace vlm::render

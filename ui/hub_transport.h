#pragma once
// io::HttpTransport over Qt Network (HTTPS through Qt's TLS backend, redirects followed), for
// model downloads from the Hugging Face hub. Usable from any thread that has no event loop
// running: each get() runs its own QEventLoop. A QCoreApplication must exist.

#include "io/hub_download.h"

namespace vlm::ui {

class QtHttpTransport : public io::HttpTransport {
 public:
  // A transfer that receives nothing for `timeoutSeconds` fails (vlm::Error Io "... timed out").
  explicit QtHttpTransport(double timeoutSeconds = 30.0) : timeoutSeconds_(timeoutSeconds) {}

  io::HttpResponse get(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::function<bool(const io::HttpResponse&)>& onResponse,
                       const std::function<bool(std::string_view)>& onData, const JobContext& job) override;

 private:
  double timeoutSeconds_;
};

}  // namespace vlm::ui

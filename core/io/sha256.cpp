#include "io/sha256.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/job.h"

namespace vlm::io {

namespace {

constexpr std::array<uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

uint32_t bigEndian32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// Merkle-Damgard padding shared by both hashes: 0x80, zeros, the bit length big-endian.
template <class Hash>
void pad(Hash& hash, uint64_t length) {
  const uint64_t bits = length * 8;
  uint8_t tail[72] = {0x80};
  const size_t used = length % 64;
  const size_t zeros = (used < 56 ? 56 - used : 120 - used) - 1;
  for (int i = 0; i < 8; ++i) tail[1 + zeros + i] = uint8_t(bits >> (8 * (7 - i)));
  hash.update(tail, 1 + zeros + 8);
}

template <size_t N>
std::string hex(const std::array<uint32_t, N>& words) {
  std::string out;
  char buf[9];
  for (uint32_t v : words) {
    std::snprintf(buf, sizeof buf, "%08x", v);
    out += buf;
  }
  return out;
}

// Feeds `data` to `blockFn` 64 bytes at a time, keeping the remainder in `buffer`.
template <class BlockFn>
void feed(const void* data, size_t size, std::array<uint8_t, 64>& buffer, size_t& buffered, uint64_t& length, BlockFn blockFn) {
  auto p = static_cast<const uint8_t*>(data);
  length += size;
  if (buffered > 0) {
    const size_t take = std::min(size, 64 - buffered);
    std::memcpy(buffer.data() + buffered, p, take);
    buffered += take;
    p += take;
    size -= take;
    if (buffered < 64) return;
    blockFn(buffer.data());
    buffered = 0;
  }
  for (; size >= 64; p += 64, size -= 64) blockFn(p);
  std::memcpy(buffer.data(), p, size);
  buffered = size;
}

template <class Hash>
std::string hashFile(Hash& hash, const std::filesystem::path& file, const JobContext* job, bool gitBlobHeader) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) throw Error(ErrorCode::NotFound, "cannot read " + file.string() + ": " + ec.message());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(ErrorCode::Io, "cannot open " + file.string());
  if (gitBlobHeader) {
    const std::string header = "blob " + std::to_string(size);
    hash.update(header.data(), header.size() + 1);  // with its '\0'
  }
  std::vector<char> buffer(1 << 20);
  uint64_t done = 0;
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), f.get());
    if (n > 0) hash.update(buffer.data(), n);
    done += n;
    if (n < buffer.size()) break;
    if (job) {
      job->throwIfCancelled();
      job->progress(size ? double(done) / double(size) : 1.0, "checking");
    }
  }
  if (std::ferror(f.get())) throw Error(ErrorCode::Io, "error while reading " + file.string());
  return hash.hexDigest();
}

}  // namespace

Sha256::Sha256() : h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::block(const uint8_t* p) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = bigEndian32(p + 4 * i);
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], hh = h_[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[i] + w[i];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += hh;
}

void Sha256::update(const void* data, size_t size) {
  feed(data, size, buffer_, buffered_, length_, [this](const uint8_t* p) { block(p); });
}

std::string Sha256::hexDigest() {
  pad(*this, length_);
  return hex(h_);
}

Sha1::Sha1() : h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0} {}

void Sha1::block(const uint8_t* p) {
  uint32_t w[80];
  for (int i = 0; i < 16; ++i) w[i] = bigEndian32(p + 4 * i);
  for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int i = 0; i < 80; ++i) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    const uint32_t t = rotl(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e;
}

void Sha1::update(const void* data, size_t size) {
  feed(data, size, buffer_, buffered_, length_, [this](const uint8_t* p) { block(p); });
}

std::string Sha1::hexDigest() {
  pad(*this, length_);
  return hex(h_);
}

std::string sha256Hex(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hexDigest();
}

std::string sha256FileHex(const std::filesystem::path& file, const JobContext* job) {
  Sha256 h;
  return hashFile(h, file, job, false);
}

std::string gitBlobSha1FileHex(const std::filesystem::path& file, const JobContext* job) {
  Sha1 h;
  return hashFile(h, file, job, true);
}

}  // namespace vlm::io

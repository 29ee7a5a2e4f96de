// srs.cpp - SRS0/SRS1 rewriting as postsrsd 1.10 does it (its srs2.c is
// libsrs2 1.0.14; postsrsd.c adds the secret file and the "already
// rewritten" check). Each rule below names the postsrsd function it copies.
//
// Hash: HMAC-SHA1 keyed by the secret over the ASCII-lower-cased fields joined
// without separators, first 4 characters of standard base64, compared
// case-insensitively (srs_hash_create_v, srs_hash_check). Timestamp: days since
// the epoch mod 1024, two base32 characters (srs_timestamp_create/_check).
// One deliberate difference: the host is split at the last '@', not the first,
// so a quoted local part holding an '@' round-trips (postsrsd's cannot).
// After construction only std::bad_alloc, or SrsError from a libcrypto that
// cannot compute HMAC-SHA1, can be thrown.
#include "policy/deliver/srs.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "policy/text/ascii.hpp"

namespace sesame::deliver {
namespace {

constexpr std::string_view kSeparators = "=-+";                           // srs_separators: accepted after SRS0/SRS1
constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";  // SRS_TIME_BASECHARS
constexpr engine::Time kDay = 60 * 60 * 24;                               // SRS_TIME_PRECISION
constexpr engine::Time kTimeSlots = 1024;                                 // SRS_TIME_SLOTS: 2 chars of 5 bits

using text::ascii_lower;
using text::iequals;  // strcasecmp/strncasecmp in the C locale postsrsd runs in
using text::istarts_with;

char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

// SRS_IS_SRS_ADDRESS and the checks in srs_compile_guarded: "SRS0"/"SRS1"
// followed by one of "=-+". postsrsd's strchr() also matches the string's
// terminating NUL, so in srs_compile_guarded a local part of exactly "SRS0"
// counts as tagged too (when_exactly_four).
bool tagged(std::string_view local, std::string_view tag, bool when_exactly_four)
{
    if (!istarts_with(local, tag)) return false;
    if (local.size() == tag.size()) return when_exactly_four;
    return kSeparators.find(local[tag.size()]) != std::string_view::npos;
}

// srs_timestamp_create: the day number, low 10 bits, as two base32 characters.
std::string timestamp(engine::Time now)
{
    const engine::Time day = now / kDay;
    return {kBase32[(day >> 5) & 31], kBase32[day & 31]};
}

// srs_timestamp_check: "" when fresh, otherwise the refusal. A stamp ahead of
// today is taken as one from 1024 days ago, so postsrsd refuses it as expired.
std::string check_timestamp(std::string_view stamp, engine::Time now)
{
    if (stamp.size() != 2) return "expired";  // SRS_ETIMESTAMPOUTOFDATE
    engine::Time then = 0;
    for (char c : stamp) {
        const auto pos = kBase32.find(ascii_upper(c));
        if (pos == std::string_view::npos) return "malformed";  // SRS_EBADTIMESTAMPCHAR
        then = (then << 5) | static_cast<engine::Time>(pos);
    }
    engine::Time today = (now / kDay) % kTimeSlots;
    while (today < then) today += kTimeSlots;
    return today <= then + Srs::kMaxAgeDays ? "" : "expired";
}

// srs_hash_create_v: HMAC-SHA1(secret, lower(part1) + lower(part2) + ...),
// base64 (standard alphabet) of the first bytes, kHashLength characters.
std::string make_hash(const std::string& secret, std::initializer_list<std::string_view> parts)
{
    std::string data;
    for (auto part : parts)
        for (char c : part) data += ascii_lower(c);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &md_len) == nullptr)
        throw SrsError("OpenSSL cannot compute HMAC-SHA1");  // a broken libcrypto, never bad input
    static_assert(Srs::kHashLength == 4, "4 base64 characters come from 3 bytes");
    unsigned char b64[5];
    EVP_EncodeBlock(b64, md, 3);
    return std::string(reinterpret_cast<const char*>(b64), Srs::kHashLength);
}

// Splits "a=b" at the first '=' (SRSSEP); false when there is none.
bool split_field(std::string_view& rest, std::string_view& field)
{
    const auto eq = rest.find('=');
    if (eq == std::string_view::npos) return false;
    field = rest.substr(0, eq);
    rest.remove_prefix(eq + 1);
    return true;
}

std::optional<std::string> refuse(std::string* why, const char* reason)
{
    if (why) *why = reason;
    return std::nullopt;
}

// A file descriptor closed on every way out.
struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Srs::Srs(std::string domain, std::vector<std::string> secrets) : secrets_(std::move(secrets))
{
    // srs_forward: "This is allowed to be a plain domain" - drop up to the last '@'.
    const auto at = domain.rfind('@');
    domain_ = at == std::string::npos ? std::move(domain) : domain.substr(at + 1);
    if (domain_.empty()) throw SrsError("SRS domain is empty");
    if (secrets_.empty()) throw SrsError("no SRS secret given");
    for (std::size_t i = 0; i < secrets_.size(); ++i) {
        if (secrets_[i].empty()) throw SrsError("SRS secret " + std::to_string(i + 1) + " is empty");
        if (secrets_[i].find('\0') != std::string::npos)
            throw SrsError("SRS secret " + std::to_string(i + 1) + " contains a NUL byte");
    }
}

Srs::~Srs()
{
    for (auto& s : secrets_) OPENSSL_cleanse(s.data(), s.size());
}

// postsrsd.c main(): fgets() into a 1024-byte buffer, strtok(line, "\r\n"),
// every non-empty token is a secret (srs_add_secret), in file order. So CR LF
// works, blank lines are skipped, spaces are kept, and a line longer than
// 1023 bytes is cut into several secrets, as postsrsd does.
Srs Srs::from_file(std::string domain, const std::string& path)
{
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) throw SrsError(path + ": cannot open: " + std::strerror(errno));
    std::string data;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            OPENSSL_cleanse(data.data(), data.size());
            OPENSSL_cleanse(buf, sizeof buf);
            throw SrsError(path + ": cannot read: " + std::strerror(err));
        }
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > static_cast<std::size_t>(kMaxSecretFileBytes)) {
            OPENSSL_cleanse(data.data(), data.size());
            OPENSSL_cleanse(buf, sizeof buf);
            throw SrsError(path + ": larger than " + std::to_string(kMaxSecretFileBytes) + " bytes");
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);

    constexpr std::size_t kFgetsMax = 1023;  // sizeof(secretbuf) - 1
    std::vector<std::string> secrets;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t end = std::min(data.size(), pos + kFgetsMax);
        const auto nl = data.find('\n', pos);
        if (nl != std::string::npos && nl < end) end = nl + 1;
        std::string_view chunk(data.data() + pos, end - pos);
        pos = end;
        chunk = chunk.substr(0, chunk.find('\0'));  // a C string ends at the first NUL
        const auto begin = chunk.find_first_not_of("\r\n");
        if (begin == std::string_view::npos) continue;
        const auto stop = chunk.find_first_of("\r\n", begin);
        secrets.emplace_back(chunk.substr(begin, stop == std::string_view::npos ? stop : stop - begin));
    }
    OPENSSL_cleanse(data.data(), data.size());
    if (secrets.empty()) throw SrsError(path + ": no secret in the file (empty, or blank lines only)");
    try {
        return Srs(std::move(domain), std::move(secrets));
    } catch (const SrsError& e) {
        throw SrsError(path + ": " + e.what());
    }
}

bool Srs::looks_like_srs(std::string_view address)
{
    return tagged(address, "SRS0", false) || tagged(address, "SRS1", false);
}

// srs_hash_check: fewer than kHashMin characters is a syntax error, more than
// kHashLength are ignored, and every secret is tried, case-insensitively.
bool Srs::hash_matches(std::string_view given, std::initializer_list<std::string_view> parts) const
{
    given = given.substr(0, kHashLength);
    std::string want(given);
    for (auto& c : want) c = ascii_lower(c);
    bool match = false;
    for (const auto& secret : secrets_) {
        std::string got = make_hash(secret, parts);
        for (auto& c : got) c = ascii_lower(c);
        match |= CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
    }
    return match;
}

// postsrsd.c handle_forward, then srs_forward, srs_compile_guarded and
// srs_compile_shortcut. Where postsrsd answers "500" Postfix keeps the sender,
// so those cases return it unchanged.
std::string Srs::forward(std::string_view sender, engine::Time now) const
{
    if (sender.empty()) return std::string();                      // Postfix never asks for the null sender
    if (reverse(sender, now)) return std::string(sender);          // "500 Already rewritten"
    const auto at = sender.rfind('@');                             // postsrsd: the first '@'
    if (at == std::string_view::npos) return std::string(sender);  // SRS_ENOSENDERATSIGN
    const std::string_view user = sender.substr(0, at);
    const std::string_view host = sender.substr(at + 1);
    if (iequals(host, domain_)) return std::string(sender);  // alwaysrewrite is off

    std::string out;
    if (tagged(user, "SRS1", true)) {
        // SRS1=HHHH=orighost==... from another forwarder: keep its host and the
        // rest, re-sign them for us. With a local part of exactly "SRS1"
        // postsrsd reads past it into the host; that is reproduced here.
        std::string_view rest = user.size() == 4 ? host : user.substr(5);
        std::string_view old_hash, srs_host;
        if (rest.empty() || !split_field(rest, old_hash) || !split_field(rest, srs_host)) return std::string(sender);
        out = "SRS1";
        out += kSeparator;
        out += make_hash(secrets_.front(), {srs_host, rest});
        out.append("=").append(srs_host).append("=").append(rest);
    } else if (tagged(user, "SRS0", true)) {
        // SRS0 of another forwarder: SRS1=HHHH=host= + everything after "SRS0",
        // its separator included, hence the "==".
        const std::string_view srs_user = user.substr(4);
        out = "SRS1";
        out += kSeparator;
        out += make_hash(secrets_.front(), {host, srs_user});
        out.append("=").append(host).append("=").append(srs_user);
    } else {
        const std::string stamp = timestamp(now);
        out = "SRS0";
        out += kSeparator;
        out += make_hash(secrets_.front(), {stamp, host, user});
        out.append("=").append(stamp).append("=").append(host).append("=").append(user);
    }
    return out.append("@").append(domain_);
}

// srs_reverse, srs_parse_guarded and srs_parse_shortcut. The host of the
// address is ignored, as postsrsd does, so addresses made under an older
// domain still reverse. An SRS1 reverses to the SRS0 address it wraps.
std::optional<std::string> Srs::reverse(std::string_view address, engine::Time now, std::string* why) const
{
    if (!looks_like_srs(address)) return refuse(why, "not an SRS address");
    const auto at = address.rfind('@');  // postsrsd: the first '@'
    std::string_view rest = address.substr(5, at == std::string_view::npos ? at : at - 5);
    std::string_view hash, host;
    if (istarts_with(address, "SRS1")) {
        if (rest.empty() || !split_field(rest, hash) || !split_field(rest, host)) return refuse(why, "malformed");
        if (hash.size() < static_cast<std::size_t>(kHashMin)) return refuse(why, "malformed");
        if (!hash_matches(hash, {host, rest})) return refuse(why, "bad hash");
        return "SRS0" + std::string(rest) + "@" + std::string(host);
    }
    std::string_view stamp;
    if (rest.empty() || !split_field(rest, hash) || !split_field(rest, stamp) || !split_field(rest, host))
        return refuse(why, "malformed");
    if (auto bad = check_timestamp(stamp, now); !bad.empty()) return refuse(why, bad.c_str());
    if (hash.size() < static_cast<std::size_t>(kHashMin)) return refuse(why, "malformed");
    if (!hash_matches(hash, {stamp, host, rest})) return refuse(why, "bad hash");
    return std::string(rest) + "@" + std::string(host);
}

}  // namespace sesame::deliver

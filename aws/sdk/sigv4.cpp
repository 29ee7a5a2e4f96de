// sigv4.cpp - see sigv4.hpp.
#include "aws/sdk/sigv4.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "policy/text/ascii.hpp"

namespace sesame::aws {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";
constexpr char kUpperHex[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// True when S holds a valid "%XX" escape at I.
bool is_escape(std::string_view s, std::size_t i)
{
    return s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0;
}

void append_escaped(std::string& out, unsigned char c)
{
    out += '%';
    out += kUpperHex[c >> 4];
    out += kUpperHex[c & 15];
}

// Percent-encodes every byte of S but the unreserved ones (and '/' when
// KEEP_SLASH); valid "%XX" escapes are copied as they are when KEEP_ESCAPES.
std::string encode(std::string_view s, bool keep_slash, bool keep_escapes)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else if (keep_escapes && is_escape(s, i)) {
            out.append(s.substr(i, 3));
            i += 2;
        } else {
            append_escaped(out, c);
        }
    }
    return out;
}

// Decodes valid "%XX" escapes; anything else (a stray '%', '+') is kept.
std::string percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (is_escape(s, i)) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// RFC 3986 remove_dot_segments with empty segments dropped: the result
// starts with '/', ends with '/' when the input ended with '/', "." or "..".
std::string normalize(std::string_view path)
{
    std::vector<std::string_view> kept;
    bool trailing_slash = false;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = std::min(path.find('/', start), path.size());
        std::string_view segment = path.substr(start, end - start);
        bool last = end == path.size();
        if (segment == "..") {
            if (!kept.empty()) kept.pop_back();
        } else if (!segment.empty() && segment != ".") {
            kept.push_back(segment);
        }
        if (last) trailing_slash = segment.empty() || segment == "." || segment == "..";
        start = end + 1;
    }
    std::string out;
    for (std::string_view segment : kept) {
        out += '/';
        out.append(segment);
    }
    if (out.empty() || trailing_slash) out += '/';
    return out;
}

using text::ascii_lower;

// VALUE trimmed, inner runs of whitespace made one space.
std::string trim_all(std::string_view value)
{
    std::string out;
    bool pending_space = false;
    for (char c : value) {
        if (is_space(c)) {
            pending_space = !out.empty();
        } else {
            if (pending_space) out += ' ';
            pending_space = false;
            out += c;
        }
    }
    return out;
}

Headers::iterator find_header(Headers& headers, std::string_view lower_name)
{
    return std::find_if(headers.begin(), headers.end(),
                        [&](const auto& h) { return text::iequals(h.first, lower_name); });
}

void remove_header(Headers& headers, std::string_view lower_name)
{
    std::erase_if(headers, [&](const auto& h) { return text::iequals(h.first, lower_name); });
}

struct CanonicalHeaders {
    std::string lines;    // "name:value\n" per header
    std::string signed_;  // "host;x-amz-date"
};

// Lower-cased, trimmed, merged and sorted headers, as AWS signs them.
CanonicalHeaders canonical_headers(const Headers& headers, bool omit_session_token)
{
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& [name, value] : headers) {
        if (name.empty() || name.find(':') != std::string::npos)
            throw std::invalid_argument("cannot sign a header named \"" + name + "\"");
        std::string key = ascii_lower(name);
        if (omit_session_token && key == "x-amz-security-token") continue;
        entries.emplace_back(std::move(key), trim_all(value));
    }
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    CanonicalHeaders out;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        bool same_as_previous = i > 0 && entries[i].first == entries[i - 1].first;
        if (same_as_previous) {
            out.lines.pop_back();  // the '\n' of the previous value
            out.lines += ',' + entries[i].second + '\n';
            continue;
        }
        out.lines += entries[i].first + ':' + entries[i].second + '\n';
        if (!out.signed_.empty()) out.signed_ += ';';
        out.signed_ += entries[i].first;
    }
    return out;
}

std::string payload_hash(const SignableRequest& req, const SigningParams& params)
{
    return params.sign_body ? sha256_hex(req.body) : "UNSIGNED-PAYLOAD";
}

std::string to_hex(const unsigned char* data, std::size_t size)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

// OpenSSL 3 looks an algorithm up by name on every one-shot call (HMAC(),
// EVP_Digest() with EVP_sha256()): SHA-256 is fetched once for the process,
// and each thread keeps one HMAC context, given a new key per use.
struct MdFree {
    void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MacFree {
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

const EVP_MD* sha256_md()
{
    static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    if (!md) throw std::runtime_error("OpenSSL has no SHA-256");
    return md.get();
}

EVP_MAC_CTX* hmac_context()
{
    static const std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx;
    if (!ctx && mac) {
        std::unique_ptr<EVP_MAC_CTX, MacCtxFree> c(EVP_MAC_CTX_new(mac.get()));
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        if (c && EVP_MAC_CTX_set_params(c.get(), params)) ctx = std::move(c);
    }
    if (!ctx) throw std::runtime_error("OpenSSL has no HMAC-SHA256");
    return ctx.get();
}

// Raw HMAC-SHA256 of DATA under KEY.
std::string hmac_sha256(std::string_view key, std::string_view data)
{
    EVP_MAC_CTX* ctx = hmac_context();
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t size = 0;
    if (!EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr) ||
        !EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ||
        !EVP_MAC_final(ctx, out, &size, sizeof out))
        throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), size);
}

// Throws unless DATE has the form "20150830T123600Z".
void check_amz_date(const std::string& date)
{
    bool ok = date.size() == 16 && date[8] == 'T' && date[15] == 'Z';
    for (std::size_t i = 0; ok && i < 15; ++i)
        if (i != 8 && (date[i] < '0' || date[i] > '9')) ok = false;
    if (!ok) throw std::invalid_argument("not a SigV4 date (YYYYMMDDTHHMMSSZ): \"" + date + "\"");
}

// "20150830/us-east-1/service/aws4_request".
std::string credential_scope(const SigningParams& params)
{
    check_amz_date(params.amz_date);
    return params.amz_date.substr(0, 8) + '/' + params.region + '/' + params.service + "/aws4_request";
}

// Appends VALUE (0 or more) in decimal, zero-padded to WIDTH digits.
void append_digits(std::string& out, long long value, int width)
{
    std::string digits = std::to_string(value);
    if (static_cast<int>(digits.size()) < width) out.append(width - digits.size(), '0');
    out += digits;
}

}  // namespace

std::string amz_date(long long unix_time)
{
    using namespace std::chrono;
    sys_seconds when{seconds{unix_time}};
    sys_days day = floor<days>(when);
    year_month_day ymd{day};
    hh_mm_ss hms{when - day};
    int year = static_cast<int>(ymd.year());
    if (year < 0 || year > 9999)
        throw std::invalid_argument("Unix time out of SigV4 range: " + std::to_string(unix_time));
    std::string out;
    append_digits(out, year, 4);
    append_digits(out, static_cast<unsigned>(ymd.month()), 2);
    append_digits(out, static_cast<unsigned>(ymd.day()), 2);
    out += 'T';
    append_digits(out, hms.hours().count(), 2);
    append_digits(out, hms.minutes().count(), 2);
    append_digits(out, hms.seconds().count(), 2);
    out += 'Z';
    return out;
}

std::string sha256_hex(std::string_view data)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &size, sha256_md(), nullptr))
        throw std::runtime_error("OpenSSL SHA-256 failed");
    return to_hex(out, size);
}

std::string canonical_path(std::string_view path, bool normalize_it)
{
    if (path.empty()) return "/";
    if (normalize_it) return encode(normalize(path), true, false);
    return encode(path, true, true);
}

std::string canonical_query(std::string_view query)
{
    std::vector<std::pair<std::string, std::string>> params;
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = std::min(query.find('&', start), query.size());
        std::string_view piece = query.substr(start, end - start);
        if (!piece.empty()) {
            std::size_t eq = piece.find('=');
            std::string_view name = piece.substr(0, eq);
            std::string_view value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
            params.emplace_back(encode(percent_decode(name), false, false),
                                encode(percent_decode(value), false, false));
        }
        start = end + 1;
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out += '&';
        out += name + '=' + value;
    }
    return out;
}

void add_signing_headers(SignableRequest& req, const Credentials& creds, const SigningParams& params)
{
    remove_header(req.headers, "authorization");
    remove_header(req.headers, "x-amz-security-token");
    remove_header(req.headers, "x-amz-content-sha256");
    if (!creds.session_token.empty()) req.headers.emplace_back("X-Amz-Security-Token", creds.session_token);
    if (find_header(req.headers, "x-amz-date") == req.headers.end()) {
        check_amz_date(params.amz_date);
        req.headers.emplace_back("X-Amz-Date", params.amz_date);
    }
    if (params.add_content_sha256) req.headers.emplace_back("X-Amz-Content-Sha256", payload_hash(req, params));
}

namespace {

std::string canonical_request(const SignableRequest& req, const SigningParams& params, const CanonicalHeaders& headers)
{
    if (req.method.empty()) throw std::invalid_argument("cannot sign a request without a method");
    return req.method + '\n' + canonical_path(req.path, params.normalize_path) + '\n' + canonical_query(req.query) +
           '\n' + headers.lines + '\n' + headers.signed_ + '\n' + payload_hash(req, params);
}

}  // namespace

std::string canonical_request(const SignableRequest& req, const SigningParams& params)
{
    return canonical_request(req, params, canonical_headers(req.headers, params.omit_session_token));
}

std::string string_to_sign(const std::string& canonical, const SigningParams& params)
{
    return std::string(kAlgorithm) + '\n' + params.amz_date + '\n' + credential_scope(params) + '\n' +
           sha256_hex(canonical);
}

std::string signature(const std::string& string_to_sign, const Credentials& creds, const SigningParams& params)
{
    check_amz_date(params.amz_date);
    // A signing key changes once a day (and with the secret): each thread
    // keeps the last few (one per service and region it signs for), which
    // saves four HMACs on nearly every request.
    struct CachedKey {
        std::string secret, date, region, service, key;
    };
    constexpr std::size_t kCachedKeys = 4;
    thread_local std::vector<CachedKey> keys;
    const std::string_view date = std::string_view(params.amz_date).substr(0, 8);
    auto it = std::find_if(keys.begin(), keys.end(), [&](const CachedKey& k) {
        return k.service == params.service && k.region == params.region && k.date == date &&
               k.secret == creds.secret_access_key;
    });
    if (it == keys.end()) {
        std::string key = hmac_sha256("AWS4" + creds.secret_access_key, date);
        key = hmac_sha256(key, params.region);
        key = hmac_sha256(key, params.service);
        key = hmac_sha256(key, "aws4_request");
        if (keys.size() == kCachedKeys) keys.erase(keys.begin());
        keys.push_back({creds.secret_access_key, std::string(date), params.region, params.service, std::move(key)});
        it = keys.end() - 1;
    }
    std::string raw = hmac_sha256(it->key, string_to_sign);
    return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

void sign(SignableRequest& req, const Credentials& creds, const SigningParams& params)
{
    SignableRequest out = req;  // REQ is left alone when signing fails
    add_signing_headers(out, creds, params);
    SigningParams p = params;
    p.amz_date = trim_all(find_header(out.headers, "x-amz-date")->second);
    const CanonicalHeaders headers = canonical_headers(out.headers, p.omit_session_token);
    std::string sts = string_to_sign(canonical_request(out, p, headers), p);
    std::string authorization = std::string(kAlgorithm) + " Credential=" + creds.access_key_id + '/' +
                                credential_scope(p) + ", SignedHeaders=" + headers.signed_ +
                                ", Signature=" + signature(sts, creds, p);
    out.headers.emplace_back("Authorization", std::move(authorization));
    req = std::move(out);
}

}  // namespace sesame::aws

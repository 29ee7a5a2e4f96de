// service.cpp - see service.hpp.
#include "aws/sdk/service.hpp"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <stdexcept>

#include "policy/text/ascii.hpp"

namespace sesame::aws {

namespace {

struct UrlFree {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringFree {
    void operator()(char* s) const { curl_free(s); }
};

// One part of URL ("" when absent).
std::string url_part(CURLU* url, CURLUPart what)
{
    char* raw = nullptr;
    if (curl_url_get(url, what, &raw, 0) != CURLUE_OK) return "";
    std::unique_ptr<char, CurlStringFree> owned(raw);
    return raw;
}

}  // namespace

std::string ServiceContext::base_url(const std::string& host_prefix) const
{
    if (!endpoint.empty()) {
        std::string e = endpoint;
        while (!e.empty() && e.back() == '/') e.pop_back();
        return e;
    }
    return "https://" + host_prefix + "." + region + ".amazonaws.com";
}

void ServiceContext::sign(HttpRequest& request, const std::string& service) const
{
    std::unique_ptr<CURLU, UrlFree> url(curl_url());
    if (!url || curl_url_set(url.get(), CURLUPART_URL, request.url.c_str(), 0) != CURLUE_OK)
        throw std::invalid_argument("cannot sign a request to a malformed URL: " + request.url);
    std::string host = url_part(url.get(), CURLUPART_HOST);
    if (std::string port = url_part(url.get(), CURLUPART_PORT); !port.empty()) host.append(1, ':').append(port);

    SignableRequest s;
    s.method = request.method;
    s.path = url_part(url.get(), CURLUPART_PATH);
    if (s.path.empty()) s.path.assign(1, '/');
    s.query = url_part(url.get(), CURLUPART_QUERY);
    s.body = request.body;
    s.headers.emplace_back("Host", host);
    for (const auto& h : request.headers) {
        const std::string lower = text::ascii_lower(h.first);
        // A previous attempt's signature must not be signed again.
        if (lower == "host" || lower == "authorization" || lower == "x-amz-date" || lower == "x-amz-security-token" ||
            lower == "x-amz-content-sha256")
            continue;
        s.headers.push_back(h);
    }
    SigningParams p;
    p.region = region;
    p.service = service;
    p.amz_date = amz_date(std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count());
    p.normalize_path = service != "s3";
    p.add_content_sha256 = service == "s3";
    if (!credentials) throw std::invalid_argument("no AWS credentials provider configured");
    aws::sign(s, credentials->get(), p);
    request.headers = std::move(s.headers);
}

std::string uri_encode(std::string_view s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~' || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace sesame::aws

// s3.cpp - see s3.hpp. REST calls; errors come back as XML.
#include "aws/sdk/s3.hpp"

namespace sesame::aws {

namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";
constexpr std::size_t kGetReceiveBuffer = 256 * 1024;  // most mails in one read; 8 workers hold 2 MiB

Metadata metadata_of(const HttpResponse& r)
{
    Metadata out;
    for (const auto& [name, value] : r.headers)
        if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0)
            out.emplace(name.substr(kMetaPrefix.size()), value);
    return out;
}

void add_metadata(HttpRequest& r, const Metadata& metadata)
{
    for (const auto& [k, v] : metadata) r.headers.emplace_back(std::string(kMetaPrefix) + k, v);
}

}  // namespace

S3Client::S3Client(const ServiceContext& ctx, HttpOptions options) : ctx_(ctx), http_(options) {}

std::string S3Client::object_url(const std::string& bucket, const std::string& key) const
{
    std::string path = key.empty() ? "" : "/" + uri_encode(key, true);
    if (ctx_.overridden()) return ctx_.base_url("s3") + "/" + uri_encode(bucket, false) + path;
    return "https://" + bucket + ".s3." + ctx_.region + ".amazonaws.com" + (path.empty() ? "/" : path);
}

HttpResponse S3Client::call(HttpRequest request, const std::string& operation, std::size_t max_bytes)
{
    request.max_response_bytes = max_bytes;
    HttpResponse r =
        http_.perform(std::move(request), ctx_.retry, aws_retryable, [&](HttpRequest& q) { ctx_.sign(q, "s3"); });
    if (r.status < 200 || r.status >= 300) {
        AwsError e = parse_error(r);
        if (r.status == 0 && max_bytes && r.error.find("too large") != std::string::npos) {
            e.kind = AwsError::Kind::client;
            e.code = "ObjectTooLarge";
        }
        throw AwsException(operation, e);
    }
    return r;
}

S3Object S3Client::get(const std::string& bucket, const std::string& key, std::size_t max_bytes)
{
    HttpRequest q;
    q.method = "GET";
    q.url = object_url(bucket, key);
    q.receive_buffer = kGetReceiveBuffer;
    HttpResponse r = call(std::move(q), "S3 GetObject s3://" + bucket + "/" + key, max_bytes);
    S3Object o;
    o.metadata = metadata_of(r);
    o.etag = r.header("etag");
    o.size = r.body.size();
    o.body = std::move(r.body);
    return o;
}

std::optional<S3Object> S3Client::head(const std::string& bucket, const std::string& key)
{
    HttpRequest q;
    q.method = "HEAD";
    q.url = object_url(bucket, key);
    try {
        HttpResponse r = call(std::move(q), "S3 HeadObject s3://" + bucket + "/" + key);
        S3Object o;
        o.metadata = metadata_of(r);
        o.etag = r.header("etag");
        try {
            o.size = std::stoull(r.header("content-length"));
        } catch (const std::exception&) {
            o.size = 0;
        }
        return o;
    } catch (const AwsException& e) {
        if (e.error().kind == AwsError::Kind::not_found) return std::nullopt;
        throw;
    }
}

void S3Client::replace_metadata(const std::string& bucket, const std::string& key, const Metadata& metadata)
{
    HttpRequest q;
    q.method = "PUT";
    q.url = object_url(bucket, key);
    q.headers = {{"x-amz-copy-source", "/" + uri_encode(bucket, false) + "/" + uri_encode(key, true)},
                 {"x-amz-metadata-directive", "REPLACE"},
                 {"Content-Type", "message/rfc822"}};
    add_metadata(q, metadata);
    HttpResponse r = call(std::move(q), "S3 CopyObject s3://" + bucket + "/" + key);
    // CopyObject can fail after a 200 with an <Error> body.
    if (r.body.find("<Error>") != std::string::npos) {
        r.status = 500;
        throw AwsException("S3 CopyObject s3://" + bucket + "/" + key, parse_error(r));
    }
}

void S3Client::remove(const std::string& bucket, const std::string& key)
{
    HttpRequest q;
    q.method = "DELETE";
    q.url = object_url(bucket, key);
    call(std::move(q), "S3 DeleteObject s3://" + bucket + "/" + key);
}

void S3Client::put(const std::string& bucket, const std::string& key, const std::string& body, const Metadata& metadata)
{
    HttpRequest q;
    q.method = "PUT";
    q.url = object_url(bucket, key);
    q.headers = {{"Content-Type", "message/rfc822"}};
    add_metadata(q, metadata);
    q.body = body;
    call(std::move(q), "S3 PutObject s3://" + bucket + "/" + key);
}

void S3Client::create_bucket(const std::string& bucket)
{
    HttpRequest q;
    q.method = "PUT";
    q.url = object_url(bucket, "");
    call(std::move(q), "S3 CreateBucket " + bucket);
}

}  // namespace sesame::aws

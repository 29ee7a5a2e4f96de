// s3.hpp - the S3 calls Sesame makes: GetObject (with a size cap),
// HeadObject, CopyObject onto itself to replace the metadata (the
// processed marks), DeleteObject; PutObject for tests and the demo.
//
// Path-style addressing (ENDPOINT/bucket/key) when [aws] endpoint is set,
// virtual-hosted (bucket.s3.REGION.amazonaws.com/key) otherwise. Object
// metadata is the x-amz-meta-* headers, names without the prefix. S3Client
// owns an HttpClient and is NOT thread-safe: one per thread. Failures throw
// AwsException after the context's retries; a missing object is
// AwsError::Kind::not_found (code NoSuchKey), which the caller may retry.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "aws/sdk/error.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/service.hpp"

namespace sesame::aws {

using Metadata = std::map<std::string, std::string>;

struct S3Object {
    std::string body;
    Metadata metadata;
    std::string etag;
    std::size_t size = 0;
};

class S3Client {
  public:
    explicit S3Client(const ServiceContext& ctx, HttpOptions options = {});

    // Throws AwsException (kind client, code "ObjectTooLarge") past MAX_BYTES.
    S3Object get(const std::string& bucket, const std::string& key, std::size_t max_bytes);
    // nullopt when the object does not exist.
    std::optional<S3Object> head(const std::string& bucket, const std::string& key);
    // CopyObject onto itself with x-amz-metadata-directive: REPLACE.
    void replace_metadata(const std::string& bucket, const std::string& key, const Metadata& metadata);
    void remove(const std::string& bucket, const std::string& key);
    void put(const std::string& bucket, const std::string& key, const std::string& body, const Metadata& metadata = {});
    void create_bucket(const std::string& bucket);

    // The URL of KEY in BUCKET, as this client addresses it.
    std::string object_url(const std::string& bucket, const std::string& key) const;

  private:
    HttpResponse call(HttpRequest request, const std::string& operation, std::size_t max_bytes = 0);

    const ServiceContext& ctx_;
    HttpClient http_;
};

}  // namespace sesame::aws

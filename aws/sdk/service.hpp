// service.hpp - where an AWS service is and how to sign for it.
//
// A ServiceContext is what every client needs: the region, the one endpoint
// override of [aws] endpoint (emulators; "" for AWS itself), the
// credentials provider, and the clock used for SigV4 dates. base_url()
// turns a service name into the URL to call; signed() signs a request
// freshly (the HttpClient calls it before every attempt). Values are
// immutable after construction and safe to share between threads; the
// credentials provider is thread-safe itself.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "aws/sdk/credentials.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/sigv4.hpp"

namespace sesame::aws {

struct ServiceContext {
    std::string region = "us-east-1";
    std::string endpoint;  // "http://127.0.0.1:4566"; "" for AWS
    std::shared_ptr<CredentialsProvider> credentials;
    std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
    RetryPolicy retry;

    // "https://sqs.us-east-1.amazonaws.com" for HOST_PREFIX "sqs", or the
    // override without a trailing slash.
    std::string base_url(const std::string& host_prefix) const;
    bool overridden() const { return !endpoint.empty(); }

    // Signs REQUEST (SigV4 for SERVICE) at the current time. S3 requests
    // get the payload hash header and no path normalisation.
    void sign(HttpRequest& request, const std::string& service) const;
};

// RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - _ . ~ (and '/'
// when KEEP_SLASH), upper-case hex: what SigV4 and S3 keys need.
std::string uri_encode(std::string_view s, bool keep_slash);

}  // namespace sesame::aws

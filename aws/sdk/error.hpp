// error.hpp - an AWS answer that was not a success, as one value.
//
// AwsError carries the HTTP status, AWS's error code and message (read from
// a JSON body with "__type"/"message", an XML body with <Code>/<Message>
// as S3 and the query protocol write them, or the x-amzn-query-error
// header), and says whether trying again can help: throttling, 5xx and
// network errors are retryable; credentials and request errors are not.
// parse_error() is pure and never throws (only std::bad_alloc): a body it
// cannot read still gives an AwsError with the status and a short excerpt.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "aws/sdk/http.hpp"

namespace sesame::aws {

struct AwsError {
    enum class Kind {
        network,      // no HTTP answer at all
        throttling,   // Throttling, SlowDown, RequestLimitExceeded, 429 ...
        server,       // 5xx
        credentials,  // AccessDenied, SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken, 403 ...
        not_found,    // NoSuchKey, NoSuchBucket, QueueDoesNotExist, 404
        client,       // any other 4xx: our request is wrong
    };
    Kind kind = Kind::network;
    long status = 0;
    std::string code;     // "NoSuchKey"; "" when none was given
    std::string message;  // AWS's message, or curl's error, one line

    bool retryable() const { return kind == Kind::network || kind == Kind::throttling || kind == Kind::server; }
    // "S3 GetObject: 404 NoSuchKey: The specified key does not exist."
    std::string describe(std::string_view operation) const;
};

const char* to_string(AwsError::Kind kind);

// The error in RESPONSE (which must not be a 2xx).
AwsError parse_error(const HttpResponse& response);

// True when RESPONSE is worth retrying: no answer, 5xx, or throttling.
bool aws_retryable(const HttpResponse& response);

// Thrown by the clients when an operation fails after its retries.
class AwsException : public std::runtime_error {
  public:
    AwsException(std::string operation, AwsError error);
    const AwsError& error() const { return error_; }
    const std::string& operation() const { return operation_; }

  private:
    std::string operation_;
    AwsError error_;
};

}  // namespace sesame::aws

// ses.hpp - SES SendRawEmail (API version 2010-12-01, query protocol).
//
// send_raw() hands RFC 5322 bytes to SES with an optional envelope source
// and destinations, and returns the MessageId SES gives the message (the
// id a later bounce reports). SesClient owns an HttpClient and is NOT
// thread-safe. Failures throw AwsException after the context's retries.
#pragma once

#include <string>
#include <vector>

#include "aws/sdk/error.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/service.hpp"

namespace sesame::aws {

class SesClient {
  public:
    explicit SesClient(const ServiceContext& ctx, HttpOptions options = {});

    // SOURCE "" leaves the envelope sender to SES (the From header).
    std::string send_raw(const std::string& raw, const std::string& source,
                         const std::vector<std::string>& destinations);

  private:
    const ServiceContext& ctx_;
    HttpClient http_;
};

}  // namespace sesame::aws

// sqs.hpp - the SQS calls Sesame makes, over the JSON protocol.
//
// ReceiveMessage (long poll up to 20 s, up to 10 messages, with
// ApproximateReceiveCount), DeleteMessageBatch, ChangeMessageVisibility and
// GetQueueAttributes. Each call exists twice: as request/parse halves (so
// the ingest poller can run many long polls at once on one curl multi
// handle) and as a blocking method on SqsClient. SqsClient owns an
// HttpClient and is NOT thread-safe: one per thread. Failures throw
// AwsException (after the retries of the context's policy); parse_* throw it
// too on a non-2xx answer or a body that is not what SQS sends.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "aws/sdk/error.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/service.hpp"

namespace sesame::aws {

struct SqsMessage {
    std::string message_id;
    std::string receipt_handle;
    std::string body;
    int receive_count = 0;  // ApproximateReceiveCount (0 when not given)
};

struct DeleteResult {
    std::vector<std::string> failed;  // receipt handles SQS did not delete, with reasons
};

// Requests (signed) and answers, for callers that run them themselves.
HttpRequest sqs_receive_request(const ServiceContext& ctx, const std::string& queue_url, int max_messages,
                                int wait_seconds, int visibility_timeout = -1);
std::vector<SqsMessage> sqs_parse_receive(const HttpResponse& response);

class SqsClient {
  public:
    explicit SqsClient(const ServiceContext& ctx, HttpOptions options = {});

    std::vector<SqsMessage> receive(const std::string& queue_url, int max_messages, int wait_seconds,
                                    int visibility_timeout = -1);
    // Deletes up to 10 messages at once; returns the ones SQS refused.
    DeleteResult delete_batch(const std::string& queue_url, const std::vector<std::string>& receipt_handles);
    void change_visibility(const std::string& queue_url, const std::string& receipt_handle, int timeout_seconds);
    std::map<std::string, std::string> queue_attributes(const std::string& queue_url,
                                                        const std::vector<std::string>& names = {"All"});
    // For tests and the demo: SendMessage; returns the message id.
    std::string send(const std::string& queue_url, const std::string& body);
    // For tests and the demo: CreateQueue; returns the queue URL.
    std::string create_queue(const std::string& name, const std::map<std::string, std::string>& attributes = {});

  private:
    std::string call(const std::string& target, const std::string& json, const std::string& operation);

    const ServiceContext& ctx_;
    HttpClient http_;
};

}  // namespace sesame::aws

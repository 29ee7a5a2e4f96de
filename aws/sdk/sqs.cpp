// sqs.cpp - see sqs.hpp. SQS's JSON protocol: POST / with
// X-Amz-Target: AmazonSQS.<Operation> and a JSON body, answers in JSON.
#include "aws/sdk/sqs.hpp"

#include <nlohmann/json.hpp>

namespace sesame::aws {

namespace {

using nlohmann::json;

HttpRequest json_request(const ServiceContext& ctx, const std::string& target, const std::string& body)
{
    HttpRequest r;
    r.method = "POST";
    r.url = ctx.base_url("sqs") + "/";
    r.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + target}};
    r.body = body;
    return r;
}

// The JSON answer of a 2xx RESPONSE; AwsException otherwise.
json answer(const HttpResponse& response, const std::string& operation)
{
    if (response.status < 200 || response.status >= 300) throw AwsException(operation, parse_error(response));
    if (response.body.empty()) return json::object();
    json j = json::parse(response.body, nullptr, false);
    if (!j.is_object()) {
        AwsError e;
        e.kind = AwsError::Kind::server;
        e.status = response.status;
        e.message = "answer is not a JSON object";
        throw AwsException(operation, e);
    }
    return j;
}

std::string string_of(const json& j, const char* key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

HttpRequest sqs_receive_request(const ServiceContext& ctx, const std::string& queue_url, int max_messages,
                                int wait_seconds, int visibility_timeout)
{
    json body = {{"QueueUrl", queue_url},
                 {"MaxNumberOfMessages", max_messages},
                 {"WaitTimeSeconds", wait_seconds},
                 // Both names: AWS deprecated AttributeNames in favour of the second.
                 {"AttributeNames", {"ApproximateReceiveCount"}},
                 {"MessageSystemAttributeNames", {"ApproximateReceiveCount"}}};
    if (visibility_timeout >= 0) body["VisibilityTimeout"] = visibility_timeout;
    HttpRequest r = json_request(ctx, "ReceiveMessage", body.dump());
    ctx.sign(r, "sqs");
    return r;
}

std::vector<SqsMessage> sqs_parse_receive(const HttpResponse& response)
{
    json j = answer(response, "SQS ReceiveMessage");
    std::vector<SqsMessage> out;
    auto it = j.find("Messages");
    if (it == j.end() || !it->is_array()) return out;
    for (const auto& m : *it) {
        if (!m.is_object()) continue;
        SqsMessage msg;
        msg.message_id = string_of(m, "MessageId");
        msg.receipt_handle = string_of(m, "ReceiptHandle");
        msg.body = string_of(m, "Body");
        if (auto a = m.find("Attributes"); a != m.end() && a->is_object()) {
            std::string count = string_of(*a, "ApproximateReceiveCount");
            try {
                msg.receive_count = count.empty() ? 0 : std::stoi(count);
            } catch (const std::exception&) {
                msg.receive_count = 0;
            }
        }
        if (!msg.receipt_handle.empty()) out.push_back(std::move(msg));
    }
    return out;
}

SqsClient::SqsClient(const ServiceContext& ctx, HttpOptions options) : ctx_(ctx), http_(options) {}

std::string SqsClient::call(const std::string& target, const std::string& body, const std::string& operation)
{
    HttpResponse r = http_.perform(json_request(ctx_, target, body), ctx_.retry, aws_retryable,
                                   [&](HttpRequest& req) { ctx_.sign(req, "sqs"); });
    answer(r, operation);
    return r.body;
}

std::vector<SqsMessage> SqsClient::receive(const std::string& queue_url, int max_messages, int wait_seconds,
                                           int visibility_timeout)
{
    HttpRequest req = sqs_receive_request(ctx_, queue_url, max_messages, wait_seconds, visibility_timeout);
    HttpResponse r = http_.perform(
        std::move(req), ctx_.retry, aws_retryable, [&](HttpRequest& q) { ctx_.sign(q, "sqs"); },
        std::chrono::seconds(wait_seconds));
    return sqs_parse_receive(r);
}

DeleteResult SqsClient::delete_batch(const std::string& queue_url, const std::vector<std::string>& handles)
{
    DeleteResult result;
    for (std::size_t start = 0; start < handles.size(); start += 10) {
        json entries = json::array();
        for (std::size_t i = start; i < handles.size() && i < start + 10; ++i)
            entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", handles[i]}});
        json j = json::parse(call("DeleteMessageBatch", json{{"QueueUrl", queue_url}, {"Entries", entries}}.dump(),
                                  "SQS DeleteMessageBatch"),
                             nullptr, false);
        if (auto f = j.find("Failed"); j.is_object() && f != j.end() && f->is_array())
            for (const auto& e : *f) {
                std::size_t i = 0;
                try {
                    i = std::stoul(string_of(e, "Id"));
                } catch (const std::exception&) {
                    continue;
                }
                if (i < handles.size()) result.failed.push_back(handles[i] + ": " + string_of(e, "Code"));
            }
    }
    return result;
}

void SqsClient::change_visibility(const std::string& queue_url, const std::string& receipt_handle, int timeout_seconds)
{
    call(
        "ChangeMessageVisibility",
        json{{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}, {"VisibilityTimeout", timeout_seconds}}.dump(),
        "SQS ChangeMessageVisibility");
}

std::map<std::string, std::string> SqsClient::queue_attributes(const std::string& queue_url,
                                                               const std::vector<std::string>& names)
{
    json j = json::parse(call("GetQueueAttributes", json{{"QueueUrl", queue_url}, {"AttributeNames", names}}.dump(),
                              "SQS GetQueueAttributes"),
                         nullptr, false);
    std::map<std::string, std::string> out;
    if (auto a = j.find("Attributes"); j.is_object() && a != j.end() && a->is_object())
        for (const auto& [k, v] : a->items())
            if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

std::string SqsClient::send(const std::string& queue_url, const std::string& body)
{
    json j =
        json::parse(call("SendMessage", json{{"QueueUrl", queue_url}, {"MessageBody", body}}.dump(), "SQS SendMessage"),
                    nullptr, false);
    return j.is_object() ? string_of(j, "MessageId") : "";
}

std::string SqsClient::create_queue(const std::string& name, const std::map<std::string, std::string>& attributes)
{
    json body = {{"QueueName", name}};
    if (!attributes.empty()) body["Attributes"] = attributes;
    json j = json::parse(call("CreateQueue", body.dump(), "SQS CreateQueue"), nullptr, false);
    return j.is_object() ? string_of(j, "QueueUrl") : "";
}

}  // namespace sesame::aws

// error.cpp - see error.hpp.
#include "aws/sdk/error.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace sesame::aws {

namespace {

struct XmlDocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct XmlStringFree {
    void operator()(xmlChar* s) const { xmlFree(s); }
};

// The text of the first element named NAME under NODE, depth first.
std::string xml_find(xmlNode* node, const char* name)
{
    for (xmlNode* n = node; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0) {
            std::unique_ptr<xmlChar, XmlStringFree> text(xmlNodeGetContent(n));
            return text ? reinterpret_cast<const char*>(text.get()) : "";
        }
        if (std::string found = xml_find(n->children, name); !found.empty()) return found;
    }
    return "";
}

// One line, at most 300 bytes, no control characters.
std::string one_line(std::string_view s)
{
    std::string out;
    for (char c : s.substr(0, 300)) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

void read_json(const std::string& body, AwsError& e)
{
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return;
    auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
    std::string type = str("__type");
    if (type.empty()) type = str("code");
    // "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist"
    if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
    e.code = type;
    e.message = str("message");
    if (e.message.empty()) e.message = str("Message");
}

// libxml2 2.9 reports an input it cannot convert from the declared encoding
// through its generic error handler, which XML_PARSE_NOERROR does not
// silence and which writes to stderr: an error body in a bad encoding would
// put a stray "encoding error" line into the daemon's log. The handler is
// per thread (libxml2's globals are), so it is set before each parse.
void ignore_xml_error(void*, const char*, ...) {}

// libxml2 2.9 makes its global state (the mutex guarding each thread's
// globals) on first use, without a lock: two workers reading their first
// error answer at once raced there (ThreadSanitizer, in the soak). Its
// documented cure is xmlInitParser() once before any concurrent use.
void xml_init()
{
    static std::once_flag once;
    std::call_once(once, [] { xmlInitParser(); });
}

void read_xml(const std::string& body, AwsError& e)
{
    xml_init();
    xmlSetGenericErrorFunc(nullptr, ignore_xml_error);
    std::unique_ptr<xmlDoc, XmlDocFree> doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), "error.xml",
                                                          nullptr,
                                                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return;
    xmlNode* root = xmlDocGetRootElement(doc.get());
    e.code = xml_find(root, "Code");
    e.message = xml_find(root, "Message");
}

bool is_one_of(const std::string& code, std::initializer_list<std::string_view> list)
{
    return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

const char* to_string(AwsError::Kind kind)
{
    switch (kind) {
        case AwsError::Kind::network:
            return "network";
        case AwsError::Kind::throttling:
            return "throttling";
        case AwsError::Kind::server:
            return "server";
        case AwsError::Kind::credentials:
            return "credentials";
        case AwsError::Kind::not_found:
            return "not_found";
        case AwsError::Kind::client:
            return "client";
    }
    return "?";
}

std::string AwsError::describe(std::string_view operation) const
{
    std::string out(operation);
    out += ": ";
    if (status == 0) return out + "no answer: " + message;
    out += std::to_string(status);
    if (!code.empty()) out += " " + code;
    if (!message.empty()) out += ": " + message;
    if (kind == Kind::credentials) out += " (check the AWS credentials and their permissions)";
    return out;
}

AwsError parse_error(const HttpResponse& r)
{
    AwsError e;
    e.status = r.status;
    if (r.status == 0) {
        e.kind = AwsError::Kind::network;
        e.message = one_line(r.error.empty() ? "no HTTP answer" : r.error);
        return e;
    }
    std::size_t start = r.body.find_first_not_of(" \t\r\n");
    if (start != std::string::npos && r.body[start] == '{')
        read_json(r.body, e);
    else if (start != std::string::npos && r.body[start] == '<')
        read_xml(r.body, e);
    // SQS's JSON protocol also names the query-protocol code in a header:
    // "AWS.SimpleQueueService.NonExistentQueue;Sender".
    if (std::string q = r.header("x-amzn-query-error"); e.code.empty() && !q.empty()) e.code = q.substr(0, q.find(';'));
    if (e.code.empty() && e.message.empty() && start != std::string::npos) e.message = r.body.substr(start);
    e.code = one_line(e.code);
    e.message = one_line(e.message);

    if (r.status == 429 ||
        is_one_of(e.code, {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
                           "RequestThrottledException", "SlowDown", "TooManyRequestsException", "RequestLimitExceeded",
                           "ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
                           "PriorRequestNotComplete", "AWS.SimpleQueueService.RequestThrottled"}))
        e.kind = AwsError::Kind::throttling;
    else if (r.status >= 500)
        e.kind = AwsError::Kind::server;
    else if (r.status == 401 || r.status == 403 ||
             is_one_of(e.code,
                       {"AccessDenied", "AccessDeniedException", "SignatureDoesNotMatch", "InvalidClientTokenId",
                        "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
                        "InvalidToken", "MissingAuthenticationToken", "IncompleteSignature",
                        "InvalidSignatureException", "AuthFailure", "RequestExpired"}))
        e.kind = AwsError::Kind::credentials;
    else if (r.status == 404 || is_one_of(e.code, {"NoSuchKey", "NoSuchBucket", "QueueDoesNotExist",
                                                   "AWS.SimpleQueueService.NonExistentQueue", "NotFound"}))
        e.kind = AwsError::Kind::not_found;
    else
        e.kind = AwsError::Kind::client;
    return e;
}

bool aws_retryable(const HttpResponse& response)
{
    if (response.status >= 200 && response.status < 300) return false;
    return parse_error(response).retryable();
}

AwsException::AwsException(std::string operation, AwsError error)
    : std::runtime_error(error.describe(operation)), operation_(std::move(operation)), error_(std::move(error))
{
}

}  // namespace sesame::aws

// aws_response_fuzz.cpp - libFuzzer target for what the AWS clients read
// from an HTTP answer (aws/sdk): parse_error() and aws_retryable() (the
// S3/SES XML and SQS/DynamoDB JSON error bodies, the x-amzn-query-error
// header), sqs_parse_receive() (ReceiveMessage), item_from_json() (DynamoDB
// items, as GetItem, Scan and Query answers hold them) and parse_aws_ini()
// (the shared credentials and config files).
//
// Input, like an HTTP answer: a first line with the status (not a number:
// status 0, the line as curl's error), "name: value" header lines up to an
// empty line, then the body. Beyond no crash and no sanitizer report, it
// checks: parse_error() never throws, keeps the status, gives a code and
// message of at most 300 bytes on one line, and a kind that agrees with the
// status (0 network, 429 throttling, 5xx server or throttling), and
// aws_retryable() agrees with it; sqs_parse_receive() throws nothing but
// AwsException (with a one-line what()), and only for a non-2xx status or a
// body that is not a JSON object, and returns messages with receipt
// handles; item_from_json() throws nothing but std::invalid_argument, and an
// item it reads converts back to JSON and reads back the same; the INI
// reader gives lower-case keys and trimmed names and values. A broken
// promise aborts, so libFuzzer saves the input. Built only with
// SESAME_FUZZ=ON (clang); run by the CTest test fuzz.aws_response.
#include <libxml/xmlerror.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sdk/credentials.hpp"
#include "aws/sdk/dynamodb.hpp"
#include "aws/sdk/error.hpp"
#include "aws/sdk/http.hpp"
#include "aws/sdk/sqs.hpp"
#include "policy/text/ascii.hpp"

namespace {

namespace aws = sesame::aws;
using nlohmann::json;

// libxml2 prints some errors (a bad encoding) on stderr whatever the parse
// options say; that is noise for the fuzzer, not a finding.
void quiet(void*, const char*, ...) {}

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

void require_clean(std::string_view s)
{
    for (char c : s) require(static_cast<unsigned char>(c) >= 0x20);
}

bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view next_line(std::string_view& rest)
{
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

aws::HttpResponse response_of(std::string_view input)
{
    aws::HttpResponse r;
    const std::string_view status = next_line(input);
    const auto [end, ec] = std::from_chars(status.data(), status.data() + status.size(), r.status);
    if (ec != std::errc{} || end != status.data() + status.size() || r.status < 0 || r.status > 999) {
        r.status = 0;
        r.error = std::string(status);
    }
    while (!input.empty()) {
        const std::string_view line = next_line(input);
        if (line.empty()) break;
        const auto colon = line.find(':');
        std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        r.headers.emplace_back(sesame::text::ascii_lower(line.substr(0, colon)), std::string(value));
    }
    r.body = std::string(input);
    return r;
}

void check_error(const aws::HttpResponse& r)
{
    const aws::AwsError e = aws::parse_error(r);
    require(e.status == r.status);
    for (const std::string* s : {&e.code, &e.message}) {
        require(s->size() <= 300);
        require_clean(*s);
    }
    using Kind = aws::AwsError::Kind;
    if (r.status == 0) require(e.kind == Kind::network);
    if (r.status == 429) require(e.kind == Kind::throttling);
    if (r.status >= 500) require(e.kind == Kind::server || e.kind == Kind::throttling);
    if (r.status > 0 && r.status < 500) require(e.kind != Kind::network && e.kind != Kind::server);
    require(aws::aws_retryable(r) == e.retryable());
    require_clean(e.describe("Fuzz Operation"));
}

void check_sqs(const aws::HttpResponse& r)
{
    const bool ok = r.status >= 200 && r.status < 300;
    try {
        const std::vector<aws::SqsMessage> messages = aws::sqs_parse_receive(r);
        require(ok);
        for (const aws::SqsMessage& m : messages) require(!m.receipt_handle.empty());
    } catch (const aws::AwsException& e) {
        require(!ok || !json::parse(r.body, nullptr, false).is_object());
        require_clean(e.what());
    }
}

// An item read from J converts back to JSON and reads back the same.
void check_item(const json& j)
{
    aws::Item item;
    try {
        item = aws::item_from_json(j);
    } catch (const std::invalid_argument&) {
        return;  // refused, as promised
    }
    require(j.is_object() && item.size() == j.size());
    json back = json::object();
    for (const auto& [name, value] : item) back[name] = value;
    require(aws::item_from_json(back) == item);
}

void check_dynamodb(const std::string& body)
{
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return;
    check_item(j);
    if (!j.is_object()) return;
    for (const char* key : {"Item", "Attributes", "LastEvaluatedKey"})
        if (auto it = j.find(key); it != j.end()) check_item(*it);
    if (auto it = j.find("Items"); it != j.end() && it->is_array())
        for (const json& item : *it) check_item(item);
}

void check_ini(const std::string& text)
{
    for (const auto& [section, keys] : aws::parse_aws_ini(text)) {
        require(section.empty() || (!is_blank(section.front()) && !is_blank(section.back())));
        for (const auto& [key, value] : keys) {
            require(!key.empty() && !is_blank(key.front()) && !is_blank(key.back()));
            require(sesame::text::ascii_lower(key) == key);
            require(value.empty() || (!is_blank(value.front()) && !is_blank(value.back())));
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    xmlSetGenericErrorFunc(nullptr, quiet);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const aws::HttpResponse r = response_of(std::string_view(reinterpret_cast<const char*>(data), size));
    if (r.status < 200 || r.status >= 300) check_error(r);  // parse_error() is for what is not a success
    check_sqs(r);
    check_dynamodb(r.body);
    check_ini(r.body);
    return 0;
}

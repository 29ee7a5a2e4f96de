// ses.cpp - see ses.hpp. The query protocol: a form POST, an XML answer.
#include "aws/sdk/ses.hpp"

#include <openssl/evp.h>

namespace sesame::aws {

namespace {

std::string base64(std::string_view data)
{
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return out;
}

// The text of the first <MessageId> in XML, or "".
std::string message_id_of(const std::string& xml)
{
    auto open = xml.find("<MessageId>");
    if (open == std::string::npos) return "";
    open += 11;
    auto close = xml.find("</MessageId>", open);
    return close == std::string::npos ? "" : xml.substr(open, close - open);
}

}  // namespace

SesClient::SesClient(const ServiceContext& ctx, HttpOptions options) : ctx_(ctx), http_(options) {}

std::string SesClient::send_raw(const std::string& raw, const std::string& source,
                                const std::vector<std::string>& destinations)
{
    std::string form = "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=" + uri_encode(base64(raw), false);
    if (!source.empty()) form += "&Source=" + uri_encode(source, false);
    for (std::size_t i = 0; i < destinations.size(); ++i)
        form += "&Destinations.member." + std::to_string(i + 1) + "=" + uri_encode(destinations[i], false);
    HttpRequest q;
    q.method = "POST";
    q.url = ctx_.base_url("email") + "/";
    q.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    q.body = std::move(form);
    HttpResponse r =
        http_.perform(std::move(q), ctx_.retry, aws_retryable, [&](HttpRequest& req) { ctx_.sign(req, "ses"); });
    if (r.status < 200 || r.status >= 300) throw AwsException("SES SendRawEmail", parse_error(r));
    std::string id = message_id_of(r.body);
    if (id.empty()) {
        AwsError e;
        e.kind = AwsError::Kind::server;
        e.status = r.status;
        e.message = "answer carries no MessageId";
        throw AwsException("SES SendRawEmail", e);
    }
    return id;
}

}  // namespace sesame::aws

// aws_sigv4_test.cpp - the SigV4 signer held against the AWS test suite.
//
// SigV4Suite replays tests/data/aws-sigv4/<case>/ (the header-signing cases
// of the aws-c-auth suite, copied byte for byte): request.txt is parsed into
// a SignableRequest, context.json into Credentials and SigningParams, and
// each step is compared with the expected file: canonical request, string to
// sign, signature, and the headers sign() leaves on the request (those of
// header-signed-request.txt, Authorization included, in order). One test per
// case folder, so CTest lists them one by one. The tables below print
// got/want for amz_date, sha256_hex, path and query encoding, and sign().
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "aws/sdk/sigv4.hpp"

namespace sesame::aws {
namespace {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

const std::filesystem::path kSuite = std::filesystem::path(SESAME_SOURCE_DIR) / "tests/data/aws-sigv4";

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string lower(std::string s)
{
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// An HTTP/1.1 request as the suite writes it: "METHOD target HTTP/1.1" (the
// target may hold spaces), "Name:value" lines, lines that start with white
// space continuing the previous value (kept, joined by '\n'), a blank line,
// the body.
SignableRequest parse_request(const std::string& text)
{
    SignableRequest req;
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    std::size_t first = line.find(' ');
    std::size_t last = line.rfind(' ');
    if (first == std::string::npos || last <= first) throw std::runtime_error("bad request line: " + line);
    req.method = line.substr(0, first);
    std::string target = line.substr(first + 1, last - first - 1);
    std::size_t question = target.find('?');
    req.path = target.substr(0, question);
    req.query = question == std::string::npos ? "" : target.substr(question + 1);
    while (std::getline(in, line) && !line.empty()) {
        if (line[0] == ' ' || line[0] == '\t') {
            if (req.headers.empty()) throw std::runtime_error("continuation before any header");
            req.headers.back().second += "\n" + line;
            continue;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string::npos) throw std::runtime_error("bad header line: " + line);
        req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    std::ostringstream body;
    body << in.rdbuf();
    req.body = body.str();
    return req;
}

struct SuiteCase {
    SignableRequest request;
    Credentials creds;
    SigningParams params;
};

SuiteCase load_case(const std::filesystem::path& dir)
{
    SuiteCase c;
    c.request = parse_request(read_file(dir / "request.txt"));
    auto ctx = nlohmann::json::parse(read_file(dir / "context.json"));
    const auto& creds = ctx.at("credentials");
    c.creds.access_key_id = creds.at("access_key_id").get<std::string>();
    c.creds.secret_access_key = creds.at("secret_access_key").get<std::string>();
    c.creds.session_token = creds.value("token", "");
    c.params.region = ctx.at("region").get<std::string>();
    c.params.service = ctx.at("service").get<std::string>();
    std::string stamp = ctx.at("timestamp").get<std::string>();  // "2015-08-30T12:36:00Z"
    std::erase_if(stamp, [](char ch) { return ch == '-' || ch == ':'; });
    c.params.amz_date = stamp;
    c.params.normalize_path = ctx.at("normalize").get<bool>();
    // The suite's "sign_body" asks for X-Amz-Content-Sha256; the payload
    // hash in its canonical requests is always the SHA-256 of the body.
    c.params.add_content_sha256 = ctx.at("sign_body").get<bool>();
    c.params.omit_session_token = ctx.value("omit_session_token", false);
    return c;
}

std::vector<std::string> suite_cases()
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(kSuite, ec))
        if (entry.is_directory()) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// "Name: value" per header, names lower-cased (HTTP names are case-blind).
std::string show_headers(const HeaderList& headers)
{
    std::string out;
    for (const auto& [name, value] : headers) out += lower(name) + ":" + value + "\n";
    return out;
}

class SigV4Suite : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4Suite, MatchesAws)
{
    const std::filesystem::path dir = kSuite / GetParam();
    SuiteCase c = load_case(dir);

    SignableRequest prepared = c.request;
    add_signing_headers(prepared, c.creds, c.params);
    std::string canonical = canonical_request(prepared, c.params);
    EXPECT_EQ(canonical, read_file(dir / "header-canonical-request.txt"));
    std::string sts = string_to_sign(canonical, c.params);
    EXPECT_EQ(sts, read_file(dir / "header-string-to-sign.txt"));
    EXPECT_EQ(signature(sts, c.creds, c.params), read_file(dir / "header-signature.txt"));

    SignableRequest signed_req = c.request;
    sign(signed_req, c.creds, c.params);
    SignableRequest want = parse_request(read_file(dir / "header-signed-request.txt"));
    EXPECT_EQ(show_headers(signed_req.headers), show_headers(want.headers));
    EXPECT_EQ(signed_req.method, want.method);
    EXPECT_EQ(signed_req.path, want.path);
    EXPECT_EQ(signed_req.query, want.query);
    EXPECT_EQ(signed_req.body, want.body);
}

INSTANTIATE_TEST_SUITE_P(Aws, SigV4Suite, ::testing::ValuesIn(suite_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// The parameterised test above silently shrinks if the data goes missing.
TEST(SigV4, SuiteHasEveryCase)
{
    std::vector<std::string> cases = suite_cases();
    EXPECT_EQ(cases.size(), 38u);
    for (const auto& name : cases)
        for (const char* file : {"context.json", "request.txt", "header-canonical-request.txt",
                                 "header-string-to-sign.txt", "header-signature.txt", "header-signed-request.txt"})
            EXPECT_TRUE(std::filesystem::is_regular_file(kSuite / name / file)) << name << "/" << file;
}

TEST(SigV4, AmzDate)
{
    struct Row {
        long long unix_time;
        const char* want;
    };
    for (const Row& row :
         {Row{0, "19700101T000000Z"}, Row{1440938160, "20150830T123600Z"}, Row{951782400, "20000229T000000Z"},
          Row{1709683199, "20240305T235959Z"}, Row{253402300799, "99991231T235959Z"}})
        EXPECT_EQ(amz_date(row.unix_time), row.want) << "unix time " << row.unix_time;
    EXPECT_THROW(amz_date(253402300800), std::invalid_argument);  // year 10000
    EXPECT_THROW(amz_date(-62167219201), std::invalid_argument);  // year -1
}

TEST(SigV4, Sha256Hex)
{
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // Binary-safe: the NUL byte and what follows it are hashed too.
    EXPECT_EQ(sha256_hex(std::string("a\0b", 3)), "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

TEST(SigV4, CanonicalPath)
{
    struct Row {
        const char* path;
        bool normalize;
        const char* want;
    };
    for (const Row& row : {
             Row{"a%20b/c%2Bd", false, "a%20b/c%2Bd"},  // S3 key encoded by uri_encode: kept
             Row{"/bucket/a%20b/c%2Bd", false, "/bucket/a%20b/c%2Bd"},
             Row{"/a b/%zz%4", false, "/a%20b/%25zz%254"},  // raw bytes and broken escapes encoded
             Row{"//a/./../b", false, "//a/./../b"},        // S3: no normalisation
             Row{"/a%20b", true, "/a%2520b"},               // other services: encoded twice
             Row{"/a/b/..", true, "/a/"},                   // RFC 3986 remove_dot_segments
             Row{"/a/b/../c/./d", true, "/a/c/d"},
             Row{"/../..", true, "/"},
             Row{"//a///b//", true, "/a/b/"},
             Row{"", true, "/"},
             Row{"", false, "/"},
             Row{"/\xE1\x88\xB4", true, "/%E1%88%B4"},
         })
        EXPECT_EQ(canonical_path(row.path, row.normalize), row.want)
            << "path \"" << row.path << "\" normalize=" << row.normalize;
}

TEST(SigV4, CanonicalQuery)
{
    struct Row {
        const char* query;
        const char* want;
    };
    for (const Row& row : {
             Row{"", ""},
             Row{"b=2&a=1", "a=1&b=2"},
             Row{"a=2&a=1", "a=1&a=2"},
             Row{"flag&x=", "flag=&x="},
             Row{"k=a b+c", "k=a%20b%2Bc"},
             Row{"k=%7e%2f%41", "k=~%2FA"},  // decoded, then encoded again
             Row{"a=1&&b=2&", "a=1&b=2"},
         })
        EXPECT_EQ(canonical_query(row.query), row.want) << "query \"" << row.query << "\"";
}

Credentials make_creds(const std::string& key_id, const std::string& secret, const std::string& token = "")
{
    Credentials c;
    c.access_key_id = key_id;
    c.secret_access_key = secret;
    c.session_token = token;
    return c;
}

SignableRequest make_request(const std::string& method, const std::string& path, HeaderList headers)
{
    SignableRequest r;
    r.method = method;
    r.path = path;
    r.headers = std::move(headers);
    return r;
}

SigningParams s3_params()
{
    SigningParams p;
    p.region = "eu-west-1";
    p.service = "s3";
    p.amz_date = "20240305T120000Z";
    p.normalize_path = false;
    p.add_content_sha256 = true;
    return p;
}

// Enough headers that an unstable sort would shuffle the duplicates.
TEST(SigV4, DuplicateHeadersKeepTheirOrder)
{
    SignableRequest req = make_request("GET", "/", {});
    std::string want_dup;
    for (int i = 0; i < 40; ++i) {
        req.headers.emplace_back(i % 2 ? "X-Dup" : "x-other-" + std::to_string(39 - i),
                                 "  v" + std::to_string(i) + " ");
        if (i % 2) want_dup += (want_dup.empty() ? "" : ",") + ("v" + std::to_string(i));
    }
    SigningParams p = s3_params();
    std::string canonical = canonical_request(req, p);
    EXPECT_NE(canonical.find("\nx-dup:" + want_dup + "\n"), std::string::npos) << canonical;
}

TEST(SigV4, S3KeyIsSignedAsEncoded)
{
    SignableRequest req = make_request("PUT", "/bucket/a%20b/c%2Bd", {{"Host", "s3.eu-west-1.amazonaws.com"}});
    req.body = "abc";
    Credentials creds = make_creds("AKID", "secret");
    add_signing_headers(req, creds, s3_params());
    EXPECT_EQ(canonical_request(req, s3_params()),
              "PUT\n/bucket/a%20b/c%2Bd\n\n"
              "host:s3.eu-west-1.amazonaws.com\n"
              "x-amz-content-sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
              "x-amz-date:20240305T120000Z\n\n"
              "host;x-amz-content-sha256;x-amz-date\n"
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SigV4, UnsignedPayload)
{
    SignableRequest req = make_request("PUT", "/b/k", {{"Host", "h"}});
    req.body = "abc";
    SigningParams p = s3_params();
    p.sign_body = false;
    add_signing_headers(req, make_creds("AKID", "s"), p);
    std::string canonical = canonical_request(req, p);
    EXPECT_TRUE(canonical.ends_with("\nUNSIGNED-PAYLOAD")) << canonical;
    EXPECT_NE(canonical.find("x-amz-content-sha256:UNSIGNED-PAYLOAD\n"), std::string::npos) << canonical;
}

std::string header(const SignableRequest& req, const std::string& name)
{
    std::string found;
    int count = 0;
    for (const auto& [n, v] : req.headers)
        if (lower(n) == lower(name)) found = v, ++count;
    return count == 1 ? found : "(" + std::to_string(count) + " headers)";
}

TEST(SigV4, SignWithSessionToken)
{
    SignableRequest req =
        make_request("POST", "/", {{"Host", "sqs.us-east-1.amazonaws.com"}, {"Authorization", "stale"}});
    Credentials creds = make_creds("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN");
    SigningParams p;
    p.region = "us-east-1";
    p.service = "sqs";
    p.amz_date = amz_date(1440938160);
    sign(req, creds, p);

    EXPECT_EQ(header(req, "X-Amz-Security-Token"), "TOKEN");
    EXPECT_EQ(header(req, "X-Amz-Date"), "20150830T123600Z");
    std::string auth = header(req, "Authorization");
    const std::string prefix =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=";
    ASSERT_TRUE(auth.starts_with(prefix)) << auth;

    // The signature is the one the pieces give, and it covers the token.
    SignableRequest again = make_request("POST", "/", {{"Host", "sqs.us-east-1.amazonaws.com"}});
    add_signing_headers(again, creds, p);
    std::string want = signature(string_to_sign(canonical_request(again, p), p), creds, p);
    EXPECT_EQ(auth.substr(prefix.size()), want);
    Credentials other_token = creds;
    other_token.session_token = "OTHER";
    SignableRequest with_other = req;
    sign(with_other, other_token, p);
    EXPECT_NE(header(with_other, "Authorization"), auth);
    EXPECT_EQ(header(with_other, "X-Amz-Security-Token"), "OTHER");
}

TEST(SigV4, ExistingDateIsTheOneSigned)
{
    SignableRequest req = make_request("GET", "/", {{"Host", "h"}, {"x-amz-date", "20200101T000000Z"}});
    Credentials creds = make_creds("AKID", "s");
    SigningParams p;
    p.region = "r";
    p.service = "s";
    p.amz_date = "20240305T120000Z";
    sign(req, creds, p);
    EXPECT_EQ(header(req, "X-Amz-Date"), "20200101T000000Z");
    EXPECT_NE(header(req, "Authorization").find("Credential=AKID/20200101/r/s/aws4_request,"), std::string::npos)
        << header(req, "Authorization");
}

TEST(SigV4, RefusesWhatCannotBeSigned)
{
    Credentials creds = make_creds("AKID", "s");
    SigningParams p;
    p.region = "r";
    p.service = "s";
    p.amz_date = "20240305T120000Z";
    SignableRequest no_method = make_request("", "/", {{"Host", "h"}});
    EXPECT_THROW(sign(no_method, creds, p), std::invalid_argument);
    SignableRequest bad_name = make_request("GET", "/", {{"Host", "h"}, {"a:b", "v"}});
    EXPECT_THROW(sign(bad_name, creds, p), std::invalid_argument);
    EXPECT_EQ(bad_name.headers.size(), 2u);  // left as it was
    SignableRequest ok = make_request("GET", "/", {{"Host", "h"}});
    p.amz_date = "2024-03-05";
    EXPECT_THROW(sign(ok, creds, p), std::invalid_argument);
    EXPECT_EQ(ok.headers.size(), 1u);
}

}  // namespace
}  // namespace sesame::aws

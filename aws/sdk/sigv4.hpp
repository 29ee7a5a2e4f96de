// sigv4.hpp - AWS Signature Version 4 for HTTP requests (header signing).
//
// sign() adds the Authorization header (and X-Amz-Date, X-Amz-Security-Token
// when the credentials carry a session token, X-Amz-Content-Sha256 when asked)
// to a request described by method, path, query and headers. The pieces of
// the algorithm are exposed one by one (canonical_request, string_to_sign,
// signature) so the unit test can hold each against the AWS test suite in
// tests/data/aws-sigv4/. Pure: the time is handed in; no clock, no network.
// Thread-safe (no shared state). Throws std::invalid_argument only on a
// request that cannot be signed (empty method, an empty header name or one
// with a colon, a malformed amz_date, a Unix time past year 9999); OpenSSL
// failing is std::runtime_error.
//
// What is signed, precisely:
// - Path, normalize_path == true (every service but S3): RFC 3986
//   remove_dot_segments on the path as given (only literal "." and ".." are
//   dot segments, "%2E" is not), runs of '/' collapsed ("//a//" -> "/a/"), then
//   every byte but A-Z a-z 0-9 - _ . ~ and '/' percent-encoded with upper-case
//   hex. A path that already holds "%20" gets "%2520": AWS encodes twice for
//   these services, on purpose.
// - Path, normalize_path == false (S3): no normalisation ("/a/../b" and "//"
//   stay); bytes encoded the same way, except that a valid "%XX" escape is
//   kept as written (S3 keys arrive encoded by uri_encode; raw bytes such as
//   a space are encoded here). An empty path is "/" in both modes.
// - Query: split on '&' (empty pieces dropped); name and value are
//   percent-decoded ('+' stays '+'), then re-encoded (unreserved kept, all
//   else %XX, space %20); sorted by encoded name, then encoded value. "a" is
//   "a=".
// - Headers: all headers of the request are signed (none is skipped). Names
//   lower-cased; values trimmed and inner runs of whitespace (space, tab, CR,
//   LF: folded continuation lines) collapsed to one space; duplicate names
//   joined with ',' in their order; sorted by name.
// - Payload: lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" when
//   sign_body is false.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/sdk/credentials.hpp"

namespace sesame::aws {

struct SignableRequest {
    std::string method = "GET";  // "GET", "POST", ...
    std::string path = "/";      // as sent, already percent-encoded by the caller
    std::string query;           // as sent, without '?': "a=1&b=2" (encoded by the caller)
    std::vector<std::pair<std::string, std::string>> headers;  // as sent, Host included
    std::string body;
};

struct SigningParams {
    std::string region;               // "us-east-1"
    std::string service;              // "sqs", "s3", "email", "dynamodb", "service"
    std::string amz_date;             // "20150830T123600Z" (UTC)
    bool normalize_path = true;       // false for S3 (keys are not paths); see above
    bool add_content_sha256 = false;  // S3 wants X-Amz-Content-Sha256 (the suite's "sign_body": true)
    // true: the payload hash is the SHA-256 of the body (what the suite
    // expects for every case, whatever its "sign_body" says); false: the
    // literal "UNSIGNED-PAYLOAD" (S3 over HTTPS only).
    bool sign_body = true;
    // true: X-Amz-Security-Token is sent but left out of the signed headers
    // (the suite's "omit_session_token"; a few services want that).
    bool omit_session_token = false;
};

// "20150830T123600Z" for the Unix time T (std::invalid_argument outside years 0000-9999).
std::string amz_date(long long unix_time);

// Lower-case hex SHA-256 of DATA.
std::string sha256_hex(std::string_view data);

// The canonical URI of PATH (see above for the two modes).
std::string canonical_path(std::string_view path, bool normalize);

// The canonical query string of QUERY (without '?').
std::string canonical_query(std::string_view query);

// Adds to REQ the headers that sign() signs besides the caller's: X-Amz-Date
// (PARAMS.amz_date, unless the request has one), X-Amz-Security-Token (the
// token of CREDS; removed when they carry none) and X-Amz-Content-Sha256
// (when asked). Any Authorization header (an earlier signature) is removed.
void add_signing_headers(SignableRequest& req, const Credentials& creds, const SigningParams& params);

// The canonical request of REQ exactly as it is (call add_signing_headers
// first), lines joined by '\n' as AWS documents it.
std::string canonical_request(const SignableRequest& req, const SigningParams& params);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>".
std::string string_to_sign(const std::string& canonical, const SigningParams& params);

// Lower-case hex signature of STRING_TO_SIGN with the secret of CREDS.
std::string signature(const std::string& string_to_sign, const Credentials& creds, const SigningParams& params);

// add_signing_headers, then appends Authorization to REQ.headers:
// "AWS4-HMAC-SHA256 Credential=<key id>/<scope>, SignedHeaders=a;b, Signature=<hex>".
// An X-Amz-Date already in the request is the date signed (PARAMS.amz_date
// is then ignored).
void sign(SignableRequest& req, const Credentials& creds, const SigningParams& params);

}  // namespace sesame::aws

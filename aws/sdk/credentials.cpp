// credentials.cpp - see credentials.hpp.
#include "aws/sdk/credentials.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "aws/sdk/http.hpp"
#include "policy/text/ascii.hpp"

namespace sesame::aws {

namespace {

using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr auto kRefreshAhead = 5min;  // refresh temporary credentials this long before they expire
constexpr auto kRetryEvery = 10s;     // run the chain at most this often
constexpr std::size_t kMaxAnswer = 64 * 1024;
const char* const kEcsAddress = "http://169.254.170.2";
const char* const kImdsAddress = "http://169.254.169.254";

using text::ascii_lower;

std::string_view trim(std::string_view s)
{
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// What one source of the chain gave: credentials, or why not. STOP: the
// source is configured but broken, so the chain must not fall through.
struct Outcome {
    std::optional<Credentials> creds;
    std::string reason;
    bool stop = false;
};

Outcome nothing(std::string reason, bool stop = false)
{
    Outcome o;
    o.reason = std::move(reason);
    o.stop = stop;
    return o;
}

// The environment as the chain reads it: an empty variable counts as unset.
class Env {
  public:
    explicit Env(const CredentialsEnvironment& e) : e_(e) {}
    std::optional<std::string> get(const std::string& name) const
    {
        if (!e_.getenv) return std::nullopt;
        std::optional<std::string> v = e_.getenv(name);
        if (v && v->empty()) return std::nullopt;
        return v;
    }
    Clock::time_point now() const { return e_.now ? e_.now() : Clock::now(); }
    const CredentialsEnvironment& raw() const { return e_; }

  private:
    const CredentialsEnvironment& e_;
};

// The contents of PATH, or nullopt and REASON ("... not found", "cannot read ...").
std::optional<std::string> read_text(const std::string& path, std::string& reason)
{
    struct Close {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    errno = 0;
    std::unique_ptr<std::FILE, Close> f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        int err = errno;
        reason =
            err == ENOENT ? path + " not found" : "cannot read " + path + ": " + std::generic_category().message(err);
        return std::nullopt;
    }
    std::string text;
    char buf[8192];
    for (;;) {
        std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
        text.append(buf, n);
        if (n < sizeof buf) break;
    }
    if (std::ferror(f.get())) {
        int err = errno;
        reason = "cannot read " + path + ": " + std::generic_category().message(err);
        return std::nullopt;
    }
    return text;
}

// "~/x" with HOME; nullopt when HOME is needed and unset.
std::optional<std::string> expand_home(const std::string& path, const Env& env)
{
    if (path != "~" && path.rfind("~/", 0) != 0) return path;
    std::optional<std::string> home = env.get("HOME");
    if (!home) return std::nullopt;
    return *home + path.substr(1);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long long>(doe) - 719468;
}

// ISO 8601 as AWS writes it: "2026-11-22T12:00:00Z", fractions of a second
// and a "+hh:mm" offset allowed.
std::optional<Clock::time_point> parse_iso8601(std::string_view s)
{
    std::size_t i = 0;
    auto number = [&](std::size_t digits, int& out) {
        if (i + digits > s.size()) return false;
        out = 0;
        for (std::size_t k = 0; k < digits; ++k) {
            char c = s[i + k];
            if (c < '0' || c > '9') return false;
            out = out * 10 + (c - '0');
        }
        i += digits;
        return true;
    };
    auto expect = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    int y, mo, d, h, mi, sec;
    if (!number(4, y) || !expect('-') || !number(2, mo) || !expect('-') || !number(2, d)) return std::nullopt;
    if (!(expect('T') || expect('t') || expect(' '))) return std::nullopt;
    if (!number(2, h) || !expect(':') || !number(2, mi) || !expect(':') || !number(2, sec)) return std::nullopt;
    if (expect('.'))
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    long long offset = 0;  // seconds east of UTC
    if (expect('Z') || expect('z')) {
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        const int sign = s[i] == '-' ? -1 : 1;
        ++i;
        int oh, om;
        if (!number(2, oh)) return std::nullopt;
        expect(':');
        if (!number(2, om)) return std::nullopt;
        offset = sign * (oh * 3600LL + om * 60LL);
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    const long long t = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400LL + h * 3600LL +
                        mi * 60LL + sec - offset;
    return Clock::time_point{std::chrono::duration_cast<Clock::duration>(std::chrono::seconds{t})};
}

// The JSON that ECS and IMDS answer with, or why it is no good (the reason
// never quotes the answer: it holds secrets).
Outcome credentials_from_json(const std::string& body, const std::string& source)
{
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return nothing("the answer is not a JSON object");
    auto text = [&](const char* key) -> std::optional<std::string> {
        auto it = j.find(key);
        if (it == j.end() || !it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    if (auto code = text("Code"); code && *code != "Success") return nothing("the answer has Code " + *code);
    Credentials c;
    auto id = text("AccessKeyId");
    auto secret = text("SecretAccessKey");
    if (!id || id->empty() || !secret || secret->empty())
        return nothing("the answer lacks AccessKeyId or SecretAccessKey");
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = text("Token").value_or("");
    if (j.contains("Expiration")) {
        auto e = text("Expiration");
        auto when = e ? parse_iso8601(*e) : std::nullopt;
        if (!when) return nothing("the answer has an unreadable Expiration");
        c.expiration = when;
    }
    c.source = source;
    Outcome o;
    o.creds = std::move(c);
    return o;
}

// URL without its query (which could carry a token) for messages.
std::string shown(const std::string& url)
{
    return url.substr(0, url.find('?'));
}

// "http://x/y: HTTP 500" or "http://x/y: <curl's error>".
std::string failure(const std::string& url, const HttpResponse& r)
{
    if (r.status == 0) return shown(url) + ": " + r.error;
    return shown(url) + ": HTTP " + std::to_string(r.status);
}

HttpClient make_client(const Env& env)
{
    HttpOptions o;
    o.connect_timeout = env.raw().http_timeout;
    o.total_timeout = env.raw().http_timeout;
    return HttpClient(o);
}

// --- The sources ---------------------------------------------------------

Outcome from_environment(const Env& env)
{
    auto id = env.get("AWS_ACCESS_KEY_ID");
    auto secret = env.get("AWS_SECRET_ACCESS_KEY");
    if (!id && !secret) return nothing("AWS_ACCESS_KEY_ID not set");
    if (!secret) return nothing("AWS_ACCESS_KEY_ID set but AWS_SECRET_ACCESS_KEY not", true);
    if (!id) return nothing("AWS_SECRET_ACCESS_KEY set but AWS_ACCESS_KEY_ID not", true);
    Credentials c;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = env.get("AWS_SESSION_TOKEN").value_or(env.get("AWS_SECURITY_TOKEN").value_or(""));
    c.source = "environment";
    Outcome o;
    o.creds = std::move(c);
    return o;
}

// "profile  x " -> "profile x"; other names trimmed.
std::string normalized_section(std::string_view name)
{
    name = trim(name);
    if (name.rfind("profile", 0) == 0 && name.size() > 7 && (name[7] == ' ' || name[7] == '\t'))
        return "profile " + std::string(trim(name.substr(7)));
    return std::string(name);
}

// One shared file: credentials of PROFILE, or why not. CONFIG: the file
// names its sections "profile NAME" (but "default").
Outcome from_one_file(const std::string& path, const std::string& profile, bool config)
{
    std::string reason;
    std::optional<std::string> text = read_text(path, reason);
    if (!text) return nothing(reason);
    const auto sections = parse_aws_ini(*text);
    const std::map<std::string, std::string>* keys = nullptr;
    for (const auto& [name, values] : sections) {
        std::string n = config ? normalized_section(name) : std::string(trim(name));
        bool match = config ? (n == "profile " + profile || (profile == "default" && n == "default")) : n == profile;
        if (!match) continue;
        // In the config file "[default]" wins over "[profile default]", as the AWS CLI does.
        if (!keys || n == "default") keys = &values;
    }
    if (!keys) return nothing("no profile " + profile + " in " + path);
    auto value = [&](const char* k) -> std::string {
        auto it = keys->find(k);
        return it == keys->end() ? "" : it->second;
    };
    const std::string id = value("aws_access_key_id");
    const std::string secret = value("aws_secret_access_key");
    if (!id.empty() && !secret.empty()) {
        Credentials c;
        c.access_key_id = id;
        c.secret_access_key = secret;
        c.session_token = value("aws_session_token");
        if (c.session_token.empty()) c.session_token = value("aws_security_token");
        c.source = "shared file (profile " + profile + ")";
        Outcome o;
        o.creds = std::move(c);
        return o;
    }
    if (!id.empty()) return nothing("profile " + profile + " in " + path + " has no aws_secret_access_key", true);
    if (!secret.empty()) return nothing("profile " + profile + " in " + path + " has no aws_access_key_id", true);
    for (const char* other :
         {"role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"})
        if (keys->count(other))
            return nothing("profile " + profile + " in " + path + " uses " + other + " (not supported)");
    return nothing("profile " + profile + " in " + path + " has no keys");
}

Outcome from_shared_files(const Env& env, const std::string& profile, bool explicit_profile)
{
    std::vector<std::string> reasons;
    bool stop = false;
    auto one = [&](const char* variable, const char* default_path, bool config) -> std::optional<Credentials> {
        std::optional<std::string> path;
        if (auto set = env.get(variable)) {
            path = expand_home(*set, env);
        } else if (auto home = env.get("HOME")) {
            path = *home + default_path;
        }
        if (!path) {
            reasons.push_back(std::string(variable) + " and HOME not set");
            return std::nullopt;
        }
        Outcome o = from_one_file(*path, profile, config);
        if (o.creds) return o.creds;
        reasons.push_back(o.reason);
        stop = stop || o.stop;
        return std::nullopt;
    };
    // The credentials file wins over the config file.
    if (auto c = one("AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials", false)) {
        Outcome o;
        o.creds = std::move(c);
        return o;
    }
    if (!stop) {
        if (auto c = one("AWS_CONFIG_FILE", "/.aws/config", true)) {
            Outcome o;
            o.creds = std::move(c);
            return o;
        }
    }
    std::string reason;
    for (const auto& r : reasons) reason += (reason.empty() ? "" : ", ") + r;
    // A profile asked for by name must be the one used: no falling through to ECS or the instance role.
    if (explicit_profile && !stop) {
        reason += " (AWS_PROFILE=" + profile + " was asked for)";
        stop = true;
    }
    return nothing(reason, stop);
}

// ECS and EKS agents; for FULL_URI over plain HTTP only loopback and the
// agents' link-local addresses, so that a token never crosses a network.
bool allowed_full_uri(const std::string& url, std::string& reason)
{
    struct UrlFree {
        void operator()(CURLU* u) const { curl_url_cleanup(u); }
    };
    struct StrFree {
        void operator()(char* s) const { curl_free(s); }
    };
    std::unique_ptr<CURLU, UrlFree> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        reason = "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL";
        return false;
    }
    auto part = [&](CURLUPart what) -> std::string {
        char* raw = nullptr;
        if (curl_url_get(u.get(), what, &raw, 0) != CURLUE_OK || !raw) return "";
        std::unique_ptr<char, StrFree> owned(raw);
        return ascii_lower(raw);
    };
    const std::string scheme = part(CURLUPART_SCHEME);
    const std::string host = part(CURLUPART_HOST);
    if (scheme == "https") return true;
    if (scheme == "http") {
        if (host == "localhost" || host == "[::1]" || host == "169.254.170.2" || host == "169.254.170.23" ||
            host == "[fd00:ec2::23]" || host.rfind("127.", 0) == 0)
            return true;
        reason =
            "AWS_CONTAINER_CREDENTIALS_FULL_URI over http must name a loopback or ECS/EKS agent address, not " + host;
        return false;
    }
    reason = "AWS_CONTAINER_CREDENTIALS_FULL_URI must be http or https";
    return false;
}

Outcome from_ecs(const Env& env)
{
    auto relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    auto full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!relative && !full) return nothing("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set");
    std::string url;
    if (relative) {
        url = std::string(kEcsAddress) + (relative->front() == '/' ? "" : "/") + *relative;
    } else {
        std::string reason;
        if (!allowed_full_uri(*full, reason)) return nothing(reason, true);
        url = *full;
    }
    std::optional<std::string> token;
    if (auto file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
        std::string reason;
        auto text = read_text(*file, reason);
        if (!text) return nothing("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: " + reason, true);
        token = std::string(trim(*text));
    } else {
        token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (token && token->find_first_of("\r\n") != std::string::npos)
        return nothing("the container authorization token has a line break in it", true);

    HttpRequest req;
    req.url = url;
    req.headers.emplace_back("Accept", "application/json");
    if (token && !token->empty()) req.headers.emplace_back("Authorization", *token);
    req.max_response_bytes = kMaxAnswer;
    RetryPolicy policy;
    policy.max_attempts = 2;
    HttpClient client = make_client(env);
    if (env.raw().sleep) client.set_sleep(env.raw().sleep);
    HttpResponse r = client.perform(req, policy);
    if (r.status != 200) return nothing(failure(url, r), true);
    Outcome o = credentials_from_json(r.body, "ecs");
    if (!o.creds) {
        o.reason = shown(url) + ": " + o.reason;
        o.stop = true;
    }
    return o;
}

Outcome from_imds(const Env& env)
{
    if (auto off = env.get("AWS_EC2_METADATA_DISABLED"); off && text::iequals(trim(*off), "true"))
        return nothing("disabled by AWS_EC2_METADATA_DISABLED");
    std::string base = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(kImdsAddress);
    while (!base.empty() && base.back() == '/') base.pop_back();

    HttpClient client = make_client(env);
    if (env.raw().sleep) client.set_sleep(env.raw().sleep);

    // IMDSv2: a session token first. One attempt: when nothing answers, this is no EC2 instance.
    HttpRequest put;
    put.method = "PUT";
    put.url = base + "/latest/api/token";
    put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    put.max_response_bytes = kMaxAnswer;
    RetryPolicy once;
    once.max_attempts = 1;
    HttpResponse r = client.perform(put, once);
    if (r.status != 200) return nothing(failure(put.url, r) + " (token)");
    const std::string token(trim(r.body));
    if (token.empty() || token.find_first_of("\r\n") != std::string::npos)
        return nothing(shown(put.url) + ": unusable token");

    RetryPolicy twice;
    twice.max_attempts = 2;
    HttpRequest get;
    get.url = base + "/latest/meta-data/iam/security-credentials/";
    get.headers.emplace_back("X-aws-ec2-metadata-token", token);
    get.max_response_bytes = kMaxAnswer;
    r = client.perform(get, twice);
    if (r.status == 404) return nothing(shown(get.url) + ": no IAM role attached to the instance");
    if (r.status != 200) return nothing(failure(get.url, r));
    std::string_view role = trim(r.body);
    role = trim(role.substr(0, role.find('\n')));
    if (role.empty()) return nothing(shown(get.url) + ": no IAM role attached to the instance");
    if (role.find_first_of("/?#% ") != std::string_view::npos) return nothing(shown(get.url) + ": unusable role name");

    get.url += std::string(role);
    r = client.perform(get, twice);
    if (r.status != 200) return nothing(failure(get.url, r));
    Outcome o = credentials_from_json(r.body, "imds");
    if (!o.creds) o.reason = shown(get.url) + ": " + o.reason;
    return o;
}

// Runs one source; an unexpected exception is its reason, not the caller's problem.
template <typename F>
Outcome guarded(F&& source)
{
    try {
        return source();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return nothing(std::string("internal error: ") + e.what(), true);
    }
}

std::string one_line(std::string s)
{
    for (char& c : s)
        if (c == '\r' || c == '\n' || c == '\t') c = ' ';
    return s;
}

}  // namespace

CredentialsEnvironment CredentialsEnvironment::process()
{
    CredentialsEnvironment e;
    e.getenv = [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
    e.now = [] { return Clock::now(); };
    e.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    return e;
}

std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text)
{
    std::map<std::string, std::map<std::string, std::string>> out;
    std::map<std::string, std::string>* section = nullptr;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view raw(text.data() + pos, end - pos);
        pos = end + 1;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            std::size_t close = line.find(']');
            if (close == std::string_view::npos) {
                section = nullptr;  // a broken header: its keys belong nowhere
                continue;
            }
            section = &out[std::string(trim(line.substr(1, close - 1)))];
            continue;
        }
        if (indented || !section) continue;  // nested settings ("s3 =\n  key = v") and stray lines
        std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string key = ascii_lower(trim(line.substr(0, eq)));
        if (key.empty()) continue;
        (*section)[key] = std::string(trim(line.substr(eq + 1)));
    }
    return out;
}

CredentialsProvider::CredentialsProvider(CredentialsEnvironment env) : env_(std::move(env)) {}

std::shared_ptr<CredentialsProvider> CredentialsProvider::fixed(Credentials creds)
{
    auto p = std::make_shared<CredentialsProvider>(CredentialsEnvironment{});
    if (creds.source.empty()) creds.source = "fixed";
    p->cached_ = std::move(creds);
    p->fixed_ = true;
    return p;
}

Credentials CredentialsProvider::get()
{
    std::lock_guard<std::mutex> lock(mutex_);
    if (fixed_) return *cached_;
    const Clock::time_point now = Env(env_).now();
    const bool usable = cached_ && (!cached_->expiration || *cached_->expiration > now);
    const bool fresh = cached_ && (!cached_->expiration || *cached_->expiration - now > kRefreshAhead);
    if (fresh) return *cached_;
    // The chain ran less than 10 s ago (a clock that went back does not count).
    if (last_attempt_ && now >= *last_attempt_ && now - *last_attempt_ < kRetryEvery) {
        if (usable) return *cached_;
        if (!last_error_.empty()) throw CredentialsError(last_error_);
    }
    last_attempt_ = now;
    try {
        Credentials c = resolve();
        cached_ = c;
        last_error_.clear();
        return c;
    } catch (const CredentialsError& e) {
        last_error_ = e.what();
        if (usable) return *cached_;
        throw;
    }
}

Credentials CredentialsProvider::resolve()
{
    const Env env(env_);
    const std::optional<std::string> asked = env.get("AWS_PROFILE");
    const std::string profile = asked.value_or("default");

    std::vector<std::string> reasons;
    auto fail = [&](const std::string& stopped_at) -> CredentialsError {
        std::string msg = "no AWS credentials: ";
        for (std::size_t i = 0; i < reasons.size(); ++i) msg += (i ? "; " : "") + reasons[i];
        if (!stopped_at.empty()) msg += "; the chain stops at " + stopped_at + " (configured but not working)";
        return CredentialsError(one_line(msg));
    };
    struct Step {
        const char* name;
        std::function<Outcome()> run;
    };
    const Step steps[] = {
        {"environment", [&] { return from_environment(env); }},
        {"shared files", [&] { return from_shared_files(env, profile, asked.has_value()); }},
        {"ecs", [&] { return from_ecs(env); }},
        {"imds", [&] { return from_imds(env); }},
    };
    for (const Step& step : steps) {
        Outcome o = guarded(step.run);
        if (o.creds) return std::move(*o.creds);
        std::string label = step.name;
        if (label == "shared files") label += " (profile " + profile + ")";
        reasons.push_back(label + ": " + o.reason);
        if (o.stop) throw fail(step.name);
    }
    throw fail("");
}

}  // namespace sesame::aws

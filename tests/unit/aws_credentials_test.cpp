// aws_credentials_test.cpp - the credentials chain, source by source.
//
// The environment is a map handed in through CredentialsEnvironment, HOME
// points at a temporary directory (so the real ~/.aws is never read), the
// clock is a variable the test moves, and the sleep between ECS/IMDS
// retries is a recorder. There is no real EC2 instance metadata service
// and no ECS agent on this machine (169.254.169.254 and 169.254.170.2 lead
// nowhere here), so the ECS and IMDSv2 tests point
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_EC2_METADATA_SERVICE_ENDPOINT at
// an in-process HTTP server (tests/unit/http_test_server.hpp) that answers
// as those services document; a stand-in is used only because the real
// services cannot run here. Every other test disables IMDS so that nothing
// leaves the machine. No sleeps, no fixed ports, no timing thresholds.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "aws/sdk/credentials.hpp"
#include "tests/unit/http_test_server.hpp"
#include "tests/unit/scratch_dir.hpp"

namespace sesame::aws {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;
using testenv::ClosedPort;
using testenv::TestHttpServer;
using testenv::TestReply;
using testenv::TestRequest;

// 2026-11-22T11:00:00Z, and the ISO 8601 text of T.
const Clock::time_point kStart = Clock::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 22}} + 11h;

std::string iso(Clock::time_point t)
{
    auto secs = std::chrono::floor<std::chrono::seconds>(t);
    auto day = std::chrono::floor<std::chrono::days>(secs);
    std::chrono::year_month_day ymd{day};
    std::chrono::hh_mm_ss hms{secs - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::string credentials_json(const std::string& id, const std::string& secret, const std::string& token,
                             const std::string& expiration)
{
    return R"({"Code":"Success","LastUpdated":"2026-11-22T10:00:00Z","Type":"AWS-HMAC","AccessKeyId":")" + id +
           R"(","SecretAccessKey":")" + secret + R"(","Token":")" + token + R"(","Expiration":")" + expiration + "\"}";
}

class Credentials_ : public ::testing::Test {
  protected:
    void SetUp() override
    {
        vars["HOME"] = dir_;
        vars["AWS_EC2_METADATA_DISABLED"] = "true";
    }

    CredentialsEnvironment env()
    {
        CredentialsEnvironment e;
        e.getenv = [this](const std::string& name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
        e.now = [this] { return now; };
        e.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
        e.http_timeout = 5s;
        return e;
    }

    // Writes TEXT to RELATIVE (under the temporary directory) and returns its path.
    std::string write(const std::string& relative, const std::string& text)
    {
        std::filesystem::path p = std::filesystem::path(dir_) / relative;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

    // Error message of a get() that must fail.
    static std::string failure(CredentialsProvider& p)
    {
        try {
            Credentials c = p.get();
            ADD_FAILURE() << "got credentials from " << c.source;
        } catch (const CredentialsError& e) {
            return e.what();
        }
        return "";
    }

    testdata::ScratchDir scratch_{"sesame-creds"};
    std::string dir_ = scratch_.path();
    std::map<std::string, std::string> vars;
    Clock::time_point now = kStart;
    std::vector<std::chrono::milliseconds> sleeps;
};

using CredentialsChain = Credentials_;

// --- environment ----------------------------------------------------------

TEST_F(CredentialsChain, FromTheEnvironment)
{
    vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    vars["AWS_SECRET_ACCESS_KEY"] = "secret-env";
    vars["AWS_SESSION_TOKEN"] = "token-env";
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDENV");
    EXPECT_EQ(c.secret_access_key, "secret-env");
    EXPECT_EQ(c.session_token, "token-env");
    EXPECT_EQ(c.source, "environment");
    EXPECT_FALSE(c.expiration);
    // Long-term keys are never refreshed, however much time passes.
    vars["AWS_ACCESS_KEY_ID"] = "AKIDCHANGED";
    now += 24h * 365;
    EXPECT_EQ(p.get().access_key_id, "AKIDENV");
}

TEST_F(CredentialsChain, HalfTheKeysInTheEnvironmentStopTheChain)
{
    vars["AWS_SECRET_ACCESS_KEY"] = "the-env-secret-never-printed";
    write(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("AWS_ACCESS_KEY_ID not"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("the-env-secret-never-printed"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("shared files"), std::string::npos) << msg;  // not tried
}

// --- shared files ---------------------------------------------------------

TEST_F(CredentialsChain, SharedCredentialsFileDefaultProfile)
{
    write(".aws/credentials",
          "# written by aws configure\n"
          "[default]\n"
          "aws_access_key_id = AKIDDEFAULT\n"
          "aws_secret_access_key = secret-default\n"
          "\n"
          "[work]\n"
          "aws_access_key_id=AKIDWORK\n"
          "aws_secret_access_key=secret-work\n"
          "aws_session_token=token-work\n");
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDDEFAULT");
    EXPECT_EQ(c.secret_access_key, "secret-default");
    EXPECT_EQ(c.session_token, "");
    EXPECT_EQ(c.source, "shared file (profile default)");
}

TEST_F(CredentialsChain, SharedCredentialsFileNamedProfile)
{
    write(".aws/credentials",
          "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = secret-default\n"
          "[work]\r\naws_access_key_id=AKIDWORK\r\naws_secret_access_key=secret-work\r\naws_session_token=token-"
          "work\r\n");
    vars["AWS_PROFILE"] = "work";
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDWORK");
    EXPECT_EQ(c.secret_access_key, "secret-work");
    EXPECT_EQ(c.session_token, "token-work");
    EXPECT_EQ(c.source, "shared file (profile work)");
}

TEST_F(CredentialsChain, ConfigFileUsesProfileSections)
{
    write(".aws/config",
          "[default]\nregion = eu-west-1\n"
          "[x]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n"  // not a profile in config
          "[profile   x ]\naws_access_key_id = AKIDX\naws_secret_access_key = secret-x\nregion = us-east-1\n");
    vars["AWS_PROFILE"] = "x";
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDX");
    EXPECT_EQ(c.source, "shared file (profile x)");
}

TEST_F(CredentialsChain, ConfigFileDefaultSection)
{
    write(".aws/config", "[default]\naws_access_key_id = AKIDCFG\naws_secret_access_key = secret-cfg\n");
    CredentialsProvider p(env());
    EXPECT_EQ(p.get().access_key_id, "AKIDCFG");
}

TEST_F(CredentialsChain, CredentialsFileWinsOverConfigFile)
{
    write(".aws/config", "[profile p]\naws_access_key_id = AKIDCFG\naws_secret_access_key = secret-cfg\n");
    write(".aws/credentials", "[p]\naws_access_key_id = AKIDCRED\naws_secret_access_key = secret-cred\n");
    vars["AWS_PROFILE"] = "p";
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDCRED");
    EXPECT_EQ(c.secret_access_key, "secret-cred");
}

TEST_F(CredentialsChain, FilePathsFromTheEnvironment)
{
    vars["AWS_SHARED_CREDENTIALS_FILE"] = write("elsewhere/creds.ini", "[default]\naws_access_key_id = A1\n");
    vars["AWS_CONFIG_FILE"] = "~/elsewhere/config.ini";  // '~' is HOME
    write("elsewhere/config.ini", "[default]\naws_access_key_id = A2\naws_secret_access_key = s2\n");
    write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = home\n");
    CredentialsProvider p(env());
    // The credentials file has half a pair: that is an error, not a reason to look further.
    std::string msg = failure(p);
    EXPECT_NE(msg.find(dir_ + "/elsewhere/creds.ini has no aws_secret_access_key"), std::string::npos) << msg;

    write("elsewhere/creds.ini", "[other]\naws_access_key_id = A1\n");
    now += 1h;  // past the 10 s during which a failure is remembered
    CredentialsProvider q(env());
    EXPECT_EQ(q.get().access_key_id, "A2");
}

TEST_F(CredentialsChain, AProfileAskedForByNameMustExist)
{
    write(".aws/credentials", "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n");
    TestHttpServer ecs;  // would answer, but must not be asked
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");
    vars["AWS_PROFILE"] = "nope";
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("no profile nope in " + dir_ + "/.aws/credentials"), std::string::npos) << msg;
    EXPECT_NE(msg.find("AWS_PROFILE=nope"), std::string::npos) << msg;
    EXPECT_EQ(ecs.request_count(), 0u);
}

// --- precedence -----------------------------------------------------------

TEST_F(CredentialsChain, PrecedenceEnvironmentFilesEcsImds)
{
    TestHttpServer ecs([](const TestRequest&) {
        TestReply r;
        r.body = credentials_json("AKIDECS", "secret-ecs", "token-ecs", "2026-11-22T12:00:00Z");
        return r;
    });
    TestHttpServer imds;  // must never be asked while ECS answers
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");
    vars.erase("AWS_EC2_METADATA_DISABLED");
    vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url("");
    vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    vars["AWS_SECRET_ACCESS_KEY"] = "secret-env";
    write(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret-file\n");

    EXPECT_EQ(CredentialsProvider(env()).get().source, "environment");
    vars.erase("AWS_ACCESS_KEY_ID");
    vars.erase("AWS_SECRET_ACCESS_KEY");
    EXPECT_EQ(CredentialsProvider(env()).get().source, "shared file (profile default)");
    EXPECT_EQ(ecs.request_count(), 0u);
    std::filesystem::remove(dir_ + "/.aws/credentials");
    EXPECT_EQ(CredentialsProvider(env()).get().source, "ecs");
    EXPECT_EQ(ecs.request_count(), 1u);
    EXPECT_EQ(imds.request_count(), 0u);
}

// --- the error message ----------------------------------------------------

TEST_F(CredentialsChain, TheErrorNamesEverySourceInOneLine)
{
    ClosedPort nobody;
    vars.erase("AWS_EC2_METADATA_DISABLED");
    vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = nobody.url("/");
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("no AWS credentials: ", 0), 0u) << msg;
    for (const std::string& part : {
             std::string("environment: AWS_ACCESS_KEY_ID not set"),
             "shared files (profile default): " + dir_ + "/.aws/credentials not found, " + dir_ +
                 "/.aws/config not found",
             std::string("ecs: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set"),
             "imds: " + nobody.url("/latest/api/token") + ": ",
         }) {
        EXPECT_NE(msg.find(part), std::string::npos) << "missing: " << part << "\nin: " << msg;
    }
}

TEST_F(CredentialsChain, TheErrorNeverShowsASecret)
{
    write(".aws/credentials", "[default]\naws_secret_access_key = file-secret-never-printed\n");
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("has no aws_access_key_id"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("file-secret-never-printed"), std::string::npos) << msg;

    // ECS answers with a broken document holding a secret.
    TestHttpServer ecs;
    ecs.script(200, R"({"AccessKeyId":"","SecretAccessKey":"json-secret-never-printed"})");
    std::filesystem::remove(dir_ + "/.aws/credentials");
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds?token=query-secret-never-printed");
    vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "auth-secret-never-printed";
    CredentialsProvider q(env());
    msg = failure(q);
    EXPECT_NE(msg.find("lacks AccessKeyId"), std::string::npos) << msg;
    for (const char* secret : {"json-secret", "query-secret", "auth-secret"})
        EXPECT_EQ(msg.find(secret), std::string::npos) << secret << " in: " << msg;
}

// --- ECS ------------------------------------------------------------------

TEST_F(CredentialsChain, EcsFullUriWithAuthorizationToken)
{
    TestHttpServer ecs;
    ecs.script(200, credentials_json("AKIDECS", "secret-ecs", "token-ecs", "2026-11-22T12:00:00Z"));
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/v2/credentials/abc");
    vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Basic ecs-auth";
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDECS");
    EXPECT_EQ(c.secret_access_key, "secret-ecs");
    EXPECT_EQ(c.session_token, "token-ecs");
    EXPECT_EQ(c.source, "ecs");
    ASSERT_TRUE(c.expiration);
    EXPECT_EQ(*c.expiration, Clock::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 22}} + 12h);
    auto reqs = ecs.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].method, "GET");
    EXPECT_EQ(reqs[0].target, "/v2/credentials/abc");
    EXPECT_EQ(reqs[0].header("authorization"), "Basic ecs-auth");
}

TEST_F(CredentialsChain, EcsTokenFileWinsOverTheTokenVariable)
{
    TestHttpServer ecs;
    ecs.script(200, credentials_json("AKIDECS", "s", "t", "2026-11-22T12:00:00.000+01:00"));
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");
    vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "from-variable";
    vars["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = write("eks/token", "from-file\n");
    CredentialsProvider p(env());
    Credentials c = p.get();
    ASSERT_TRUE(c.expiration);
    EXPECT_EQ(*c.expiration, Clock::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 22}} + 11h);
    auto reqs = ecs.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("authorization"), "from-file");
}

TEST_F(CredentialsChain, EcsFullUriOverHttpMustStayOnThisMachine)
{
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://example.com/creds";
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("not example.com"), std::string::npos) << msg;
}

TEST_F(CredentialsChain, AFailingEcsEndsTheChain)
{
    TestHttpServer ecs;
    ecs.script(500, "agent down");
    ecs.script(500, "agent down");
    TestHttpServer imds;  // would be the EC2 host's role: must not be used instead
    vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");
    vars.erase("AWS_EC2_METADATA_DISABLED");
    vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url("");
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("ecs: " + ecs.url("/creds") + ": HTTP 500"), std::string::npos) << msg;
    EXPECT_EQ(ecs.request_count(), 2u);  // retried once
    EXPECT_EQ(sleeps.size(), 1u);
    EXPECT_EQ(imds.request_count(), 0u);
}

// --- IMDSv2 -----------------------------------------------------------------

// Answers as the EC2 instance metadata service does (IMDSv2 only): a token
// for a PUT with a TTL, then the role name and the role's credentials for
// GETs that carry the token. ROUND numbers the credentials handed out;
// FAIL makes every answer a 500.
struct FakeImds {
    std::atomic<int> round{0};
    std::atomic<bool> fail{false};
    std::atomic<long long> expires_in_minutes{60};
    std::function<Clock::time_point()> now;

    TestReply operator()(const TestRequest& r)
    {
        TestReply out;
        if (fail) {
            out.status = 500;
            return out;
        }
        if (r.method == "PUT" && r.target == "/latest/api/token") {
            if (r.header("x-aws-ec2-metadata-token-ttl-seconds").empty()) {
                out.status = 400;
                return out;
            }
            out.body = "imds-session-token";
            return out;
        }
        if (r.header("x-aws-ec2-metadata-token") != "imds-session-token") {
            out.status = 401;
            return out;
        }
        if (r.method == "GET" && r.target == "/latest/meta-data/iam/security-credentials/") {
            out.body = "sesame-role";
            return out;
        }
        if (r.method == "GET" && r.target == "/latest/meta-data/iam/security-credentials/sesame-role") {
            int n = ++round;
            out.body = credentials_json("AKIDIMDS" + std::to_string(n), "secret-imds-" + std::to_string(n),
                                        "token-imds", iso(now() + std::chrono::minutes{expires_in_minutes.load()}));
            return out;
        }
        out.status = 404;
        return out;
    }
};

class ImdsTest : public Credentials_ {
  protected:
    void SetUp() override
    {
        Credentials_::SetUp();
        fake.now = [this] { return now; };
        server.set_handler([this](const TestRequest& r) { return fake(r); });
        vars.erase("AWS_EC2_METADATA_DISABLED");
        vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url("/");
    }
    FakeImds fake;
    TestHttpServer server;
};

TEST_F(ImdsTest, TokenThenRoleThenCredentials)
{
    CredentialsProvider p(env());
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDIMDS1");
    EXPECT_EQ(c.secret_access_key, "secret-imds-1");
    EXPECT_EQ(c.session_token, "token-imds");
    EXPECT_EQ(c.source, "imds");
    ASSERT_TRUE(c.expiration);
    EXPECT_EQ(*c.expiration, kStart + 60min);

    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[0].method, "PUT");
    EXPECT_EQ(reqs[0].target, "/latest/api/token");
    EXPECT_EQ(reqs[0].header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    EXPECT_EQ(reqs[1].target, "/latest/meta-data/iam/security-credentials/");
    EXPECT_EQ(reqs[2].target, "/latest/meta-data/iam/security-credentials/sesame-role");
    for (std::size_t i = 1; i < reqs.size(); ++i) {
        EXPECT_EQ(reqs[i].method, "GET");
        EXPECT_EQ(reqs[i].header("x-aws-ec2-metadata-token"), "imds-session-token");
    }
}

TEST_F(ImdsTest, DisabledMeansNotAsked)
{
    vars["AWS_EC2_METADATA_DISABLED"] = "TRUE";
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("imds: disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos) << msg;
    EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(ImdsTest, NoRoleAttached)
{
    server.set_handler([](const TestRequest& r) {
        TestReply out;
        if (r.method == "PUT") {
            out.body = "imds-session-token";
        } else {
            out.status = 404;
        }
        return out;
    });
    CredentialsProvider p(env());
    std::string msg = failure(p);
    EXPECT_NE(msg.find("no IAM role attached"), std::string::npos) << msg;
}

TEST_F(ImdsTest, RefreshesWithinFiveMinutesOfExpiration)
{
    CredentialsProvider p(env());
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    const std::size_t asked = server.request_count();

    now = kStart + 54min;  // 6 minutes left: cached
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    EXPECT_EQ(server.request_count(), asked);

    now = kStart + 56min;  // 4 minutes left: refreshed
    Credentials c = p.get();
    EXPECT_EQ(c.access_key_id, "AKIDIMDS2");
    ASSERT_TRUE(c.expiration);
    EXPECT_EQ(*c.expiration, kStart + 56min + 60min);
    EXPECT_EQ(server.request_count(), 2 * asked);
}

TEST_F(ImdsTest, KeepsCachedCredentialsWhenARefreshFailsBeforeExpiry)
{
    CredentialsProvider p(env());
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    fake.fail = true;

    now = kStart + 58min;  // 2 minutes left; the refresh fails
    std::size_t before = server.request_count();
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    EXPECT_GT(server.request_count(), before);

    // Not asked again within 10 s...
    before = server.request_count();
    now += 9s;
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    EXPECT_EQ(server.request_count(), before);

    // ...but after.
    now += 2s;
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
    EXPECT_GT(server.request_count(), before);

    // Once they have expired, a failing refresh is an error.
    now = kStart + 60min + 1s;
    std::string msg = failure(p);
    EXPECT_NE(msg.find("imds: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("HTTP 500"), std::string::npos) << msg;

    // And a working service is used again.
    fake.fail = false;
    now += 11s;
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS2");
}

TEST_F(ImdsTest, AFailureIsRememberedForTenSeconds)
{
    fake.fail = true;
    CredentialsProvider p(env());
    std::string first = failure(p);
    const std::size_t asked = server.request_count();
    EXPECT_EQ(asked, 1u);  // the token PUT is tried once
    now += 5s;
    EXPECT_EQ(failure(p), first);
    EXPECT_EQ(server.request_count(), asked);
    fake.fail = false;
    now += 6s;
    EXPECT_EQ(p.get().access_key_id, "AKIDIMDS1");
}

// --- fixed, parsing -------------------------------------------------------

TEST(CredentialsFixed, AlwaysTheGivenCredentials)
{
    Credentials c;
    c.access_key_id = "test";
    c.secret_access_key = "test";
    auto p = CredentialsProvider::fixed(c);
    Credentials got = p->get();
    EXPECT_EQ(got.access_key_id, "test");
    EXPECT_EQ(got.secret_access_key, "test");
    EXPECT_EQ(got.source, "fixed");
    // Even "expired" fixed credentials are returned as they are.
    c.expiration = Clock::time_point{};
    c.source = "emulator";
    got = CredentialsProvider::fixed(c)->get();
    EXPECT_EQ(got.source, "emulator");
    EXPECT_EQ(got.access_key_id, "test");
}

TEST(ParseAwsIni, TheShapesTheAwsCliWrites)
{
    auto ini = parse_aws_ini(
        "# comment\n"
        "; another\n"
        "[default]\n"
        "aws_access_key_id = AKID\n"
        "AWS_Secret_Access_Key=se=cret \n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "\n"
        "[ profile dev ]\r\n"
        "region = eu-west-1\r\n"
        "not a setting\n"
        "[default]\n"
        "aws_session_token = tok\n"
        "[broken\n"
        "lost = yes\n");
    ASSERT_EQ(ini.size(), 2u);
    const auto& d = ini["default"];
    EXPECT_EQ(d.at("aws_access_key_id"), "AKID");
    EXPECT_EQ(d.at("aws_secret_access_key"), "se=cret");
    EXPECT_EQ(d.at("aws_session_token"), "tok");
    EXPECT_EQ(d.at("s3"), "");
    EXPECT_EQ(d.count("max_concurrent_requests"), 0u);
    EXPECT_EQ(ini["profile dev"].at("region"), "eu-west-1");
    EXPECT_EQ(ini["profile dev"].size(), 1u);
    EXPECT_TRUE(parse_aws_ini("").empty());
}

}  // namespace
}  // namespace sesame::aws

// credentials.hpp - AWS credentials found the way the AWS tools find them.
//
// The default chain, first that yields wins: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the shared
// files (~/.aws/credentials and ~/.aws/config, AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE, profile from AWS_PROFILE or "default"); ECS container
// credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
// AWS_CONTAINER_AUTHORIZATION_TOKEN); EC2 instance metadata with IMDSv2
// (token PUT, then the role's credentials; AWS_EC2_METADATA_SERVICE_ENDPOINT
// overrides the address, AWS_EC2_METADATA_DISABLED=true skips it).
// Temporary credentials are refreshed before they expire (5 minutes ahead);
// a failed refresh keeps the cached ones while they still work, and the chain
// is run at most once every 10 s (a failure is remembered that long). A
// source that is configured but broken (one of the two keys, a profile named
// by AWS_PROFILE without keys, an ECS URI that fails) ends the chain:
// falling through to the instance role would be wrong.
//
// CredentialsProvider::get() is thread-safe; a refresh happens under a lock
// on the calling thread, bounded by short timeouts. Failure: get() throws
// CredentialsError with one line that says which sources were tried and
// why each failed; never a secret in a message.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace sesame::aws {

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty for long-term keys
    // When they stop working; nullopt for long-term keys.
    std::optional<std::chrono::system_clock::time_point> expiration;
    std::string source;  // "environment", "shared file (profile x)", "ecs", "imds"
};

class CredentialsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What the chain reads from outside, injectable for tests: environment
// lookup (nullopt when unset; HOME comes from it too), the clock, and the
// sleep between the ECS/IMDS retries. Empty functions mean: nothing set,
// system_clock::now, this_thread::sleep_for.
struct CredentialsEnvironment {
    std::function<std::optional<std::string>(const std::string&)> getenv;
    std::function<std::chrono::system_clock::time_point()> now;
    std::chrono::milliseconds http_timeout{2000};  // ECS and IMDS calls: connect and whole request
    std::function<void(std::chrono::milliseconds)> sleep;
    static CredentialsEnvironment process();  // the real process environment and clock
};

// Parses the text of an INI file as the AWS CLI writes it: "[section]" lines,
// "key = value" lines, whole-line '#' and ';' comments. Section names are kept
// as written but trimmed ("profile x" in the config file); keys are lower-cased,
// values trimmed; indented lines (nested settings such as "s3 =") and other
// lines are ignored; a repeated section is merged, the later value winning.
// Pure; never throws but std::bad_alloc (reading the file is the caller's).
std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text);

class CredentialsProvider {
  public:
    explicit CredentialsProvider(CredentialsEnvironment env = CredentialsEnvironment::process());
    // Fixed credentials (tests, emulators): never refreshed; source "fixed" unless given.
    static std::shared_ptr<CredentialsProvider> fixed(Credentials creds);

    // Current credentials, refreshed first if they expire within 5 minutes.
    Credentials get();

  private:
    Credentials resolve();  // runs the chain; throws CredentialsError

    CredentialsEnvironment env_;
    std::mutex mutex_;
    std::optional<Credentials> cached_;
    bool fixed_ = false;
    // When the chain last ran, and its error when it failed (for the 10 s throttle).
    std::optional<std::chrono::system_clock::time_point> last_attempt_;
    std::string last_error_;
};

}  // namespace sesame::aws

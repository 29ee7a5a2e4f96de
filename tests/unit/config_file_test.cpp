// config_file_test.cpp - finding and reading the configuration file.
//
// default_config_path() with $SESAME_CONFIG set, empty and unset;
// load_config() on a missing file (required: one-line error; not required: the
// built-in defaults), on a directory, on an unreadable file, and on real files
// whose errors must name the file's own path. Files live in a fresh directory
// under the test's temporary directory, removed at the end.
//
// Changes the process environment (SESAME_CONFIG) and restores it; the tests
// of this file must not run in parallel threads.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "policy/config/config.hpp"
#include "tests/unit/scratch_dir.hpp"

namespace sesame::config {
namespace {

namespace fs = std::filesystem;

class ConfigFile : public ::testing::Test {
  protected:
    std::string write(const std::string& name, const std::string& text)
    {
        const std::string path = (dir_ / name).string();
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }
    std::string error_of(const std::string& path, bool required)
    {
        try {
            load_config(path, required);
            return "(accepted)";
        } catch (const ConfigError& e) {
            return e.what();
        }
    }

    testdata::ScratchDir scratch_{"sesame-config"};
    fs::path dir_ = scratch_.path();
};

// Sets $SESAME_CONFIG (or unsets it, for nullopt) for one scope.
class ScopedEnv {
  public:
    explicit ScopedEnv(std::optional<std::string> value)
    {
        if (const char* old = std::getenv("SESAME_CONFIG")) old_ = old;
        if (value)
            setenv("SESAME_CONFIG", value->c_str(), 1);
        else
            unsetenv("SESAME_CONFIG");
    }
    ~ScopedEnv()
    {
        if (old_)
            setenv("SESAME_CONFIG", old_->c_str(), 1);
        else
            unsetenv("SESAME_CONFIG");
    }

  private:
    std::optional<std::string> old_;
};

TEST_F(ConfigFile, DefaultPath)
{
    struct Case {
        std::optional<std::string> env;
        std::string want;
    };
    const Case cases[] = {
        {std::nullopt, "/etc/sesame/sesame.conf"},
        {"", "/etc/sesame/sesame.conf"},
        {"/srv/test/sesame.conf", "/srv/test/sesame.conf"},
    };
    for (const Case& tc : cases) {
        ScopedEnv env(tc.env);
        EXPECT_EQ(default_config_path(), tc.want) << "SESAME_CONFIG=" << tc.env.value_or("(unset)");
    }
}

TEST_F(ConfigFile, MissingFileRequired)
{
    const std::string path = (dir_ / "absent.conf").string();
    EXPECT_EQ(error_of(path, true), path + ": cannot read: No such file or directory");
    EXPECT_EQ(error_of(path, /*required=*/true), error_of(path, true));
}

TEST_F(ConfigFile, MissingFileNotRequiredGivesDefaults)
{
    const Config got = load_config((dir_ / "absent.conf").string(), false);
    EXPECT_EQ(got, Config{});
    EXPECT_EQ(got.source, "(built-in defaults)");
}

TEST_F(ConfigFile, MissingDirectoryNotRequiredGivesDefaults)
{
    const Config got = load_config((dir_ / "no-such-dir" / "sesame.conf").string(), false);
    EXPECT_EQ(got.source, "(built-in defaults)");
}

TEST_F(ConfigFile, DirectoryIsAnError)
{
    const std::string path = dir_.string();
    EXPECT_EQ(error_of(path, false), path + ": cannot read: Is a directory");
}

TEST_F(ConfigFile, UnreadableFileIsAnErrorEvenWhenNotRequired)
{
    if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
    const std::string path = write("secret.conf", "[log]\nlevel = \"info\"\n");
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
    EXPECT_EQ(error_of(path, false), path + ": cannot read: Permission denied");
}

TEST_F(ConfigFile, GoodFile)
{
    const std::string path = write("sesame.conf", "[policy]\ndomains = [\"Example.com\"]\n");
    const Config got = load_config(path);
    EXPECT_EQ(got.source, path);
    EXPECT_EQ(got.policy_domains, std::vector<std::string>{"example.com"});
}

TEST_F(ConfigFile, ErrorsNameTheFile)
{
    struct Case {
        std::string text;
        std::string want_after_path;
    };
    const Case cases[] = {
        {"[policy]\ndomains = [\"example.com\"]\n\n\n\n\nmax_hops = \"many\"\n",
         ":7: policy.max_hops: expected an integer, got a string"},
        {"# sesame\n\n[polcy]\ndomains = []\n", ":4: unknown key \"polcy.domains\" (did you mean \"policy.domains\"?)"},
        {"[store]\nbackend = sqlite\n",
         ":2: syntax error: bad format: unknown value appeared (strings need double quotes)"},
    };
    int n = 0;
    for (const Case& tc : cases) {
        const std::string path = write("case" + std::to_string(n++) + ".conf", tc.text);
        EXPECT_EQ(error_of(path, true), path + tc.want_after_path) << "input:\n" << tc.text;
    }
}

TEST_F(ConfigFile, CrlfLineEndings)
{
    const std::string path = write("crlf.conf", "[log]\r\nlevel = \"debug\"\r\n\r\n[policy]\r\n");
    EXPECT_EQ(load_config(path).log_level, "debug");
}

}  // namespace
}  // namespace sesame::config

// config_fuzz.cpp - libFuzzer target for sesame::config::parse_config.
//
// Feeds arbitrary bytes as the text of the configuration file. Beyond no
// crash and no sanitizer report, it checks what config.hpp promises: bad
// input is a ConfigError (any other exception aborts) whose what() is one
// line starting with the file name; a good file gives a Config whose
// config_to_toml() parses back to the same Config (the round trip that
// `sesame` relies on when it writes a file), restart_needed() of a Config
// against itself is empty, and policy_settings() copies the [policy] keys.
// A broken promise aborts, so libFuzzer saves the input. Built only with
// SESAME_FUZZ=ON (clang); run by the CTest test fuzz.config.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "policy/config/config.hpp"

namespace {

namespace config = sesame::config;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

std::optional<config::Config> parse(const std::string& text, const std::string& name)
{
    try {
        return config::parse_config(text, name);
    } catch (const config::ConfigError& e) {
        const std::string_view what = e.what();
        require(what.compare(0, name.size(), name) == 0);
        require(what.find('\n') == std::string_view::npos);
        return std::nullopt;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const std::string name = "fuzz.conf";
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::optional<config::Config> c = parse(text, name);
    if (!c) return 0;
    require(c->source == name);

    const std::string written = config::config_to_toml(*c);
    const std::optional<config::Config> again = parse(written, name);
    require(again.has_value());
    require(*again == *c);
    require(config::restart_needed(*c, *again).empty());

    const sesame::engine::PolicySettings s = config::policy_settings(*c);
    require(s.domains == c->policy_domains && s.max_hops == c->max_hops);
    return 0;
}

// srs_fuzz.cpp - libFuzzer target for sesame::deliver::Srs (SRS0/SRS1).
//
// Input: an optional first line with the time (decimal seconds, taken
// modulo 2^40: from 1970 on, as a clock gives it, and adding days cannot
// overflow), then the address. The address goes to reverse() as a bounce's
// recipient would, and to forward() as a forwarded copy's sender would,
// with an Srs of fixed domain and secrets. Beyond no crash, no exception,
// no sanitizer report, it checks what srs.hpp promises: reverse() refuses
// with a reason or gives an address, forward() leaves "" and what it
// reverses unchanged; and, when forward() rewrites, the result is an SRS
// address at our domain that reverse() accepts (with the same time, 21
// days later, and with an Srs that holds the secret second, as after a
// rotation), giving back the sender (SRS0 in upper case for another's
// SRS0); 22 days later a plain SRS0 is "expired"; forward() of it changes
// nothing. The one case reverse() may refuse is a sender host holding '=',
// which the SRS0 format cannot carry (postsrsd's neither). A broken promise
// aborts, so libFuzzer saves the input. Built only with SESAME_FUZZ=ON
// (clang); run by the CTest test fuzz.srs.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "policy/deliver/srs.hpp"
#include "policy/text/ascii.hpp"

namespace {

using sesame::deliver::Srs;
using sesame::engine::Time;

constexpr Time kDay = 86400;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

bool ends_with(std::string_view s, std::string_view tail)
{
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Mirrors srs.cpp's reading of a local part: "SRS0"/"SRS1" (any case), then
// nothing or one of "=-+".
bool tagged(std::string_view local, std::string_view tag)
{
    if (!sesame::text::istarts_with(local, tag)) return false;
    return local.size() == tag.size() || std::string_view("=-+").find(local[tag.size()]) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const Srs srs("srs.example.net", {"tops3cr3t", "old secret"});
    static const Srs verifier("srs.example.net", {"another", "tops3cr3t"});  // verifies only

    std::string_view input(reinterpret_cast<const char*>(data), size);
    Time now = 1709640000;  // 2024-03-05 12:00:00 UTC
    if (const auto nl = input.find('\n'); nl != std::string_view::npos) {
        std::int64_t t = 0;
        const auto [end, ec] = std::from_chars(input.data(), input.data() + nl, t);
        if (ec == std::errc{} && end == input.data() + nl)
            now = static_cast<Time>(static_cast<std::uint64_t>(t) % (std::uint64_t{1} << 40));
        input.remove_prefix(nl + 1);
    }

    // As the reverse lookup sees a bounce's recipient.
    std::string why;
    const std::optional<std::string> back = srs.reverse(input, now, &why);
    if (back) {
        require(Srs::looks_like_srs(input));
        require(back->find('@') != std::string::npos);
        // What reverses is already rewritten: forward() leaves it alone.
        require(srs.forward(input, now) == input);
    } else {
        require(!why.empty());
    }

    // As a forwarded copy's sender.
    const std::string f = srs.forward(input, now);
    if (input.empty()) require(f.empty());
    if (f == input) return 0;

    require(ends_with(f, "@srs.example.net"));
    require(Srs::looks_like_srs(f));
    const auto at = input.rfind('@');
    require(at != std::string_view::npos);
    const std::string_view user = input.substr(0, at), host = input.substr(at + 1);
    const bool srs1 = tagged(user, "SRS1"), srs0 = !srs1 && tagged(user, "SRS0");
    if (!srs1 && host.find('=') != std::string_view::npos) return 0;  // the format cannot carry it

    const std::optional<std::string> r = srs.reverse(f, now);
    require(r.has_value());
    require(verifier.reverse(f, now) == r);
    require(srs.reverse(f, now + Srs::kMaxAgeDays * kDay) == r);
    require(srs.forward(f, now) == f);
    if (srs1) {
        require(r->compare(0, 4, "SRS0") == 0);
    } else if (srs0) {
        require(r->compare(0, 4, "SRS0") == 0 && r->substr(4) == input.substr(4));
    } else {
        require(*r == input);
        std::string expired;
        require(!srs.reverse(f, now + (Srs::kMaxAgeDays + 1) * kDay, &expired) && expired == "expired");
    }
    return 0;
}

// deliver_srs_test.cpp - SRS forward and reverse, and that they are postsrsd's.
//
// SrsVectors replays tests/data/srs-postsrsd-vectors.txt: answers recorded
// from the real postsrsd 1.10 under faketime (the file says how), each at the
// day it was made, so no postsrsd is needed here. The other tables print
// got/want: round trips (case, quoted and '+' local parts), SRS1 for another
// forwarder's SRS0 and back, the null sender and our own domain left alone,
// expiry and stamps from the future, tampered hashes, wrong and rotated
// secrets, case-insensitive hashes, malformed addresses with their reason,
// and the secret file's format and errors. Time is always passed in.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "policy/deliver/srs.hpp"
#include "tests/unit/scratch_dir.hpp"
#include "tests/unit/test_text.hpp"

namespace sesame::deliver {
namespace {

const std::string kData = std::string(SESAME_SOURCE_DIR) + "/tests/data/";
constexpr const char* kDomain = "srs.example.net";
constexpr const char* kSecret = "tops3cr3t";  // tests/data/srs-secret-a.txt
constexpr engine::Time kDay = 86400;
constexpr engine::Time kD0 = 1709640000;  // 2024-03-05 12:00:00 UTC, stamp "KL"

using testdata::show;

Srs make(std::vector<std::string> secrets = {kSecret})
{
    return Srs(kDomain, std::move(secrets));
}

// postsrsd's 500 texts (srs_strerror) to the reasons Srs::reverse gives.
std::string reason_for(const std::string& postsrsd_text)
{
    if (postsrsd_text == "Hash invalid in SRS address.") return "bad hash";
    if (postsrsd_text == "Time stamp out of date.") return "expired";
    if (postsrsd_text == "Not an SRS address.") return "not an SRS address";
    return "malformed";  // SRS_ERRTYPE_SYNTAX: No hash/stamp/host/user, bad base32, hash too short
}

std::vector<std::string> split_tabs(const std::string& line)
{
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, '\t')) out.push_back(field);
    return out;
}

TEST(SrsVectors, MatchPostsrsd)
{
    std::ifstream in(kData + "srs-postsrsd-vectors.txt");
    ASSERT_TRUE(in) << "cannot open " << kData << "srs-postsrsd-vectors.txt";
    std::map<std::string, Srs> by_config;
    std::string line;
    int lineno = 0, forwards = 0, reverses = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty() || line[0] == '#') continue;
        const auto f = split_tabs(line);
        ASSERT_EQ(f.size(), 7u) << "line " << lineno << ": " << line;
        const std::string &file = f[0], &domain = f[1], &op = f[3], &input = f[4], &code = f[5], &output = f[6];
        const engine::Time now = std::stoll(f[2]);
        auto it = by_config.find(file + " " + domain);
        if (it == by_config.end())
            it = by_config.emplace(file + " " + domain, Srs::from_file(domain, kData + file)).first;
        const Srs& srs = it->second;
        const std::string where =
            "line " + std::to_string(lineno) + " (" + file + ", now " + f[2] + ") " + op + " \"" + input + "\": ";
        if (op == "forward") {
            ++forwards;
            const std::string want = code == "200" ? output : input;  // on 500 Postfix keeps the sender
            const std::string got = srs.forward(input, now);
            EXPECT_EQ(got, want) << where << "got \"" << got << "\" want \"" << want << "\"";
        } else {
            ASSERT_EQ(op, "reverse") << "line " << lineno;
            ++reverses;
            std::string why;
            const auto got = srs.reverse(input, now, &why);
            if (code == "200") {
                EXPECT_EQ(got, output) << where << "got " << show(got) << " (" << why << ") want \"" << output << "\"";
            } else {
                EXPECT_FALSE(got) << where << "got " << show(got) << " want refused (" << output << ")";
                EXPECT_EQ(why, reason_for(output)) << where << "reason got \"" << why << "\" for \"" << output << "\"";
            }
        }
    }
    EXPECT_GE(forwards, 30) << "too few forward vectors read";
    EXPECT_GE(reverses, 60) << "too few reverse vectors read";
}

TEST(SrsRoundTrip, ForwardThenReverseGivesTheSender)
{
    const Srs srs = make();
    const char* senders[] = {
        "user@example.org",           "User.Name@Example.ORG",
        "first.last+tag@example.org", "first.last+tag+more@example.org",
        "\"john doe\"@example.org",
        "\"a@b\"@example.org",  // postsrsd cannot reverse its own rewrite of this one; see SrsQuoted
        "a=b=c@example.org",          "MÜLLER@Example.org",
        "user@sub.srs.example.net",  // a subdomain is not ours
        "user@[192.0.2.1]",
    };
    for (const char* s : senders) {
        const std::string fwd = srs.forward(s, kD0);
        EXPECT_EQ(fwd.rfind("SRS0=", 0), 0u) << "sender \"" << s << "\": got \"" << fwd << "\"";
        EXPECT_TRUE(fwd.ends_with("@srs.example.net")) << "sender \"" << s << "\": got \"" << fwd << "\"";
        for (engine::Time later : {kD0, kD0 + kDay, kD0 + 21 * kDay}) {
            std::string why;
            const auto back = srs.reverse(fwd, later, &why);
            EXPECT_EQ(back, s) << "sender \"" << s << "\" via \"" << fwd << "\" at +" << (later - kD0) / kDay
                               << " days: got " << show(back) << " (" << why << ")";
        }
    }
}

TEST(SrsRoundTrip, LeavesAloneWhatPostsrsdLeavesAlone)
{
    const Srs srs = make();
    const std::string ours = srs.forward("user@example.org", kD0);
    struct Case {
        const char* sender;
        const char* why;
    };
    const Case cases[] = {
        {"", "null sender"},
        {"<>", "null sender, bracketed: no '@'"},
        {"user@srs.example.net", "our own domain"},
        {"User@SRS.Example.NET", "our own domain, any case"},
        {"nobody", "no '@'"},
        {"SRS1=abcd@fwd.example", "an SRS1 without a host"},
    };
    for (const auto& c : cases) {
        const std::string got = srs.forward(c.sender, kD0);
        EXPECT_EQ(got, c.sender) << c.why << ": got \"" << got << "\" want \"" << c.sender << "\"";
    }
    EXPECT_EQ(srs.forward(ours, kD0), ours) << "already rewritten";
}

TEST(SrsRoundTrip, ForeignSrs0BecomesSrs1AndReversesToIt)
{
    const Srs srs = make();
    struct Case {
        const char* sender;
        const char* want;  // postsrsd 1.10's answer (also in the vectors)
    };
    const Case cases[] = {
        {"SRS0=ab12=KT=orig.example=alice@fwd.example",
         "SRS1=k+4+=fwd.example==ab12=KT=orig.example=alice@srs.example.net"},
        {"srs0+ab12=KT=orig.example=alice@fwd.example",
         "SRS1=7ODJ=fwd.example=+ab12=KT=orig.example=alice@srs.example.net"},
        // an SRS1 from another forwarder keeps the original host, re-signed by us
        {"SRS1=Zz9q=orig.example==ab12=KT=orig2.example=bob@fwd2.example",
         "SRS1=j/ok=orig.example==ab12=KT=orig2.example=bob@srs.example.net"},
    };
    for (const auto& c : cases) {
        const std::string got = srs.forward(c.sender, kD0);
        EXPECT_EQ(got, c.want) << "sender \"" << c.sender << "\": got \"" << got << "\" want \"" << c.want << "\"";
    }
    // SRS1 carries no timestamp, so postsrsd reverses it on any day.
    for (engine::Time when : {kD0, kD0 + 400 * kDay, kD0 - 5 * kDay}) {
        std::string why;
        const auto back = srs.reverse(cases[0].want, when, &why);
        EXPECT_EQ(back, cases[0].sender) << "at " << when << ": got " << show(back) << " (" << why << ")";
    }
    EXPECT_EQ(srs.reverse(cases[2].want, kD0), "SRS0=ab12=KT=orig2.example=bob@orig.example");
}

TEST(SrsTime, MaxAgeIs21DaysAndFutureStampsAreRefused)
{
    const Srs srs = make();
    const std::string fwd = srs.forward("user@example.org", kD0);  // stamp KL, day 19787
    const engine::Time day_start = kD0 - kD0 % kDay;
    struct Case {
        engine::Time now;
        const char* want_why;  // "" = reverses
        const char* what;
    };
    const Case cases[] = {
        {day_start, "", "start of the day it was made"},
        {day_start + 21 * kDay + kDay - 1, "", "last second of day 21"},
        {day_start + 22 * kDay, "expired", "first second of day 22"},
        {day_start - 1, "expired", "one second before the day it was made (postsrsd: 1023 days old)"},
        {kD0 - 5 * kDay, "expired", "five days before"},
        {kD0 + 1024 * kDay + 3 * kDay, "", "1027 days later: the 10-bit day counter wrapped (as postsrsd)"},
        {kD0 + 1024 * kDay - 3 * kDay, "expired", "1021 days later"},
    };
    for (const auto& c : cases) {
        std::string why;
        const auto got = srs.reverse(fwd, c.now, &why);
        const std::string want_why = c.want_why;
        if (want_why.empty()) {
            EXPECT_EQ(got, "user@example.org") << c.what << ": got " << show(got) << " (" << why << ")";
        } else {
            EXPECT_TRUE(!got && why == want_why)
                << c.what << ": got " << show(got) << " reason \"" << why << "\" want \"" << want_why << "\"";
        }
    }
}

TEST(SrsHash, TamperingIsRefusedAndCaseIsIgnored)
{
    const Srs srs = make();
    const std::string fwd = srs.forward("user@example.org", kD0);
    ASSERT_EQ(fwd, "SRS0=4p5Z=KL=example.org=user@srs.example.net");
    struct Case {
        std::string address;
        std::optional<std::string> want;
        const char* want_why;
    };
    const Case cases[] = {
        {"SRS0=qp5Z=KL=example.org=user@srs.example.net", std::nullopt, "bad hash"},  // 1st char
        {"SRS0=4q5Z=KL=example.org=user@srs.example.net", std::nullopt, "bad hash"},  // 2nd char
        {"SRS0=4pqZ=KL=example.org=user@srs.example.net", std::nullopt, "bad hash"},  // 3rd char
        {"SRS0=4p5q=KL=example.org=user@srs.example.net", std::nullopt, "bad hash"},  // 4th char
        {"SRS0=4p5Z=KK=example.org=user@srs.example.net", std::nullopt, "bad hash"},  // stamp
        {"SRS0=4p5Z=KL=example.com=user@srs.example.net", std::nullopt, "bad hash"},  // host
        {"SRS0=4p5Z=KL=example.org=usel@srs.example.net", std::nullopt, "bad hash"},  // user
        {"SRS0=4p5=KL=example.org=user@srs.example.net", std::nullopt, "malformed"},  // 3-char hash
        {"SRS0=4P5z=KL=example.org=user@srs.example.net", "user@example.org", ""},    // hash case
        {"srs0=4p5z=kl=example.org=user@srs.example.net", "user@example.org", ""},    // all lower
        {"SRS0=4P5Z=KL=EXAMPLE.ORG=USER@SRS.EXAMPLE.NET", "USER@EXAMPLE.ORG", ""},    // all upper
        {"SRS0=4p5ZX=KL=example.org=user@srs.example.net", "user@example.org", ""},   // longer hash
        {"SRS0+4p5Z=KL=example.org=user@srs.example.net", "user@example.org", ""},    // '+' after tag
        {"SRS0-4p5Z=KL=example.org=user@srs.example.net", "user@example.org", ""},    // '-' after tag
        {"SRS0=4p5Z=KL=example.org=user@elsewhere.example", "user@example.org", ""},  // host ignored
        {"SRS0=4p5Z=KL=example.org=user", "user@example.org", ""},                    // no host at all
    };
    for (const auto& c : cases) {
        std::string why;
        const auto got = srs.reverse(c.address, kD0, &why);
        EXPECT_EQ(got, c.want) << "\"" << c.address << "\": got " << show(got) << " (" << why << ") want "
                               << show(c.want);
        if (!c.want) {
            EXPECT_EQ(why, c.want_why) << "\"" << c.address << "\"";
        }
    }
}

TEST(SrsSecrets, WrongSecretRefusedRotatedSecretAccepted)
{
    const Srs old_only = make({kSecret});
    const Srs other = make({"a different secret"});
    const Srs rotated = make({"n3w-s3cret yes", kSecret});
    const Srs new_only = make({"n3w-s3cret yes"});
    const std::string by_old = old_only.forward("user@example.org", kD0);

    std::string why;
    EXPECT_EQ(other.reverse(by_old, kD0, &why), std::nullopt);
    EXPECT_EQ(why, "bad hash");
    EXPECT_EQ(rotated.reverse(by_old, kD0), "user@example.org") << "the second secret must still verify";

    const std::string by_rotated = rotated.forward("user@example.org", kD0);
    EXPECT_EQ(by_rotated, new_only.forward("user@example.org", kD0)) << "the first secret signs";
    EXPECT_NE(by_rotated, by_old);
    EXPECT_EQ(old_only.reverse(by_rotated, kD0, &why), std::nullopt);
    EXPECT_EQ(why, "bad hash");
}

TEST(SrsSecrets, FileFormatIsPostsrsds)
{
    // CR LF, blank lines, a space kept inside the secret, first line signs.
    const Srs from_file = Srs::from_file(kDomain, kData + "srs-secret-rotated.txt");
    const Srs by_hand = make({"n3w-s3cret yes", kSecret});
    for (const char* s : {"user@example.org", "SRS0=ab12=KT=orig.example=alice@fwd.example"})
        EXPECT_EQ(from_file.forward(s, kD0), by_hand.forward(s, kD0)) << s;

    // A line longer than postsrsd's fgets buffer: 1023 bytes sign, the rest is a second secret.
    std::ifstream in(kData + "srs-secret-long.txt");
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    ASSERT_EQ(line.size(), 1500u);
    const Srs long_file = Srs::from_file(kDomain, kData + "srs-secret-long.txt");
    const Srs split = make({line.substr(0, 1023), line.substr(1023)});
    EXPECT_EQ(long_file.forward("user@example.org", kD0), split.forward("user@example.org", kD0));
    EXPECT_EQ(long_file.reverse(make({line.substr(1023)}).forward("x@example.org", kD0), kD0), "x@example.org");
}

class SrsFile : public ::testing::Test {
  protected:
    std::string write(const std::string& name, const std::string& content)
    {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
    static std::string error_of(const std::string& path, const std::string& domain = kDomain)
    {
        try {
            Srs::from_file(domain, path);
        } catch (const SrsError& e) {
            return e.what();
        }
        return "(no error)";
    }
    testdata::ScratchDir scratch_{"sesame-srs-test"};
    std::string dir_ = scratch_.path();
};

TEST_F(SrsFile, ErrorsNameThePathAndTheReason)
{
    const std::string dir = dir_ + "/a-directory";
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    struct Case {
        std::string path;
        std::string want;
    };
    const Case cases[] = {
        {dir_ + "/missing", dir_ + "/missing: cannot open: No such file or directory"},
        {write("empty", ""), dir_ + "/empty: no secret in the file (empty, or blank lines only)"},
        {write("blank", "\n\r\n\n"), dir_ + "/blank: no secret in the file (empty, or blank lines only)"},
        {dir, dir + ": cannot read: Is a directory"},
    };
    for (const auto& c : cases) {
        const std::string got = error_of(c.path);
        EXPECT_EQ(got, c.want) << "path " << c.path;
    }
    const std::string ok = write("ok", "s3cret-not-in-messages\n");
    EXPECT_EQ(error_of(ok, ""), ok + ": SRS domain is empty") << "and no secret in it";
    EXPECT_EQ(Srs::from_file(kDomain, ok).forward("user@example.org", kD0),
              make({"s3cret-not-in-messages"}).forward("user@example.org", kD0));
}

TEST(SrsConstruct, BadArgumentsThrowWithoutTheSecret)
{
    struct Case {
        std::string domain;
        std::vector<std::string> secrets;
        const char* want;
    };
    const Case cases[] = {
        {"", {"s3cret-not-in-messages"}, "SRS domain is empty"},
        {"user@", {"s3cret-not-in-messages"}, "SRS domain is empty"},
        {kDomain, {}, "no SRS secret given"},
        {kDomain, {"s3cret-not-in-messages", ""}, "SRS secret 2 is empty"},
        {kDomain, {std::string("s3cret-not\0in-messages", 22)}, "SRS secret 1 contains a NUL byte"},
    };
    for (const auto& c : cases) {
        std::string got = "(no error)";
        try {
            Srs(c.domain, c.secrets);
        } catch (const SrsError& e) {
            got = e.what();
        }
        EXPECT_EQ(got, c.want) << "domain \"" << c.domain << "\"";
        EXPECT_EQ(got.find("s3cret"), std::string::npos) << "a secret in the message: " << got;
    }
    EXPECT_EQ(Srs("@srs.example.net", {kSecret}).domain(), "srs.example.net") << "as postsrsd's -d";
}

TEST(SrsParse, LooksLikeSrs)
{
    struct Case {
        const char* address;
        bool want;
    };
    const Case cases[] = {
        {"SRS0=abcd=KL=example.org=user@srs.example.net", true},
        {"srs0=x@y", true},
        {"SRS1=x@y", true},
        {"Srs1+x@y", true},
        {"SRS0-x@y", true},
        {"SRS0*x@y", false},
        {"SRS2=x@y", false},
        {"SRS0@y", false},
        {"SRS0", false},
        {"SRS", false},
        {"", false},
        {"user@example.org", false},
        {"xSRS0=x@y", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(Srs::looks_like_srs(c.address), c.want)
            << "\"" << c.address << "\": got " << !c.want << " want " << c.want;
}

TEST(SrsParse, MalformedAddressesSayWhy)
{
    const Srs srs = make();
    struct Case {
        const char* address;
        const char* want_why;
    };
    const Case cases[] = {
        {"user@example.org", "not an SRS address"},
        {"", "not an SRS address"},
        {"SRS0", "not an SRS address"},
        {"SRS0=@x.example", "malformed"},
        {"SRS0=abcd@x.example", "malformed"},
        {"SRS0=abcd=KT@x.example", "malformed"},
        {"SRS0=abcd=KT=host@x.example", "malformed"},
        {"SRS0=abcd=1T=host=user@x.example", "malformed"},  // '1' is not base32
        {"SRS0=abcd=KTK=host=user@x.example", "expired"},   // postsrsd: a stamp not 2 long is out of date
        {"SRS1=@x.example", "malformed"},
        {"SRS1=abcd@x.example", "malformed"},
        {"SRS1=abcd=host@x.example", "malformed"},
        {"SRS1=abc=host==rest@x.example", "malformed"},  // hash too short
        {"SRS1=abcd=host==rest@x.example", "bad hash"},
    };
    for (const auto& c : cases) {
        std::string why;
        const auto got = srs.reverse(c.address, kD0, &why);
        EXPECT_TRUE(!got && why == c.want_why) << "\"" << c.address << "\": got " << show(got) << " reason \"" << why
                                               << "\" want \"" << c.want_why << "\"";
    }
    EXPECT_EQ(srs.reverse("user@example.org", kD0), std::nullopt) << "why may be null";
}

TEST(SrsQuoted, AtSignInsideQuotedLocalPart)
{
    // postsrsd splits at the first '@': for "a@b"@example.org it wrote (recorded
    // from postsrsd 1.10 at kD0, secret tops3cr3t) the address below, which it
    // cannot reverse itself ("No user in SRS0 address."). We split at the last
    // '@', so we reverse that one to the sender, and write one that round-trips.
    const Srs srs = make();
    const std::string by_postsrsd = "SRS0=MnN6=KL=b\"@example.org=\"a@srs.example.net";
    EXPECT_EQ(srs.reverse(by_postsrsd, kD0), "\"a@b\"@example.org");
    const std::string ours = srs.forward("\"a@b\"@example.org", kD0);
    EXPECT_EQ(ours.rfind("SRS0=", 0), 0u) << ours;
    EXPECT_NE(ours.find("=KL=example.org=\"a@b\"@srs.example.net"), std::string::npos) << ours;
    EXPECT_EQ(srs.reverse(ours, kD0), "\"a@b\"@example.org");
}

}  // namespace
}  // namespace sesame::deliver

// srs.hpp - the Sender Rewriting Scheme, in exactly the format of postsrsd 1.x.
//
// A forwarded copy leaves with SRS0=HHHH=TT=host=local@DOMAIN (SRS1=HHHH=
// host==... when the sender was already an SRS0 of someone else), so SPF
// passes at the target; a bounce to that address is reversed to the sender.
// The format, hash and secret file are postsrsd 1.10's (libsrs2, as Debian 12
// ships it), so a site moving from postsrsd keeps its secret and its old SRS
// addresses still reverse (one deliberate difference: see srs.cpp). Time is
// handed in, never read from a clock. An Srs is immutable after construction,
// so one instance may be shared by any number of threads. Construction fails
// with SrsError (never naming a secret); forward() fails only if libcrypto
// cannot do HMAC-SHA1; reverse() says why it refused an address.
#pragma once

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/types.hpp"

namespace sesame::deliver {

// A bad domain, secret or secret file; the message never contains a secret.
class SrsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class Srs {
  public:
    // postsrsd's defaults (libsrs2 srs_init, postsrsd -a/-n/-N), fixed here.
    static constexpr char kSeparator = '=';              // -a: the character after SRS0/SRS1 we write
    static constexpr int kHashLength = 4;                // -n: base64 characters of HMAC-SHA1 written
    static constexpr int kHashMin = 4;                   // -N: fewer characters than this are refused
    static constexpr int kMaxAgeDays = 21;               // srs->maxage: an SRS0 older than this is refused
    static constexpr int kMaxSecretFileBytes = 1 << 20;  // ours: a larger secret file is refused

    // DOMAIN as postsrsd's -d (anything up to a last '@' dropped); secrets[0] signs, all verify.
    Srs(std::string domain, std::vector<std::string> secrets);
    // Reads secrets as postsrsd -s does: one per line, first signs; throws SrsError "PATH: reason".
    static Srs from_file(std::string domain, const std::string& path);
    Srs(const Srs&) = default;
    Srs(Srs&&) = default;
    Srs& operator=(const Srs&) = delete;  // immutable: replace the whole object (a new snapshot)
    Srs& operator=(Srs&&) = delete;
    ~Srs();  // wipes the secrets

    // The envelope sender for a forwarded copy: SRS0 (SRS1 for another's SRS0/SRS1) at DOMAIN. What
    // postsrsd leaves alone comes back unchanged: "", DOMAIN's own, no '@', an SRS address we reverse.
    std::string forward(std::string_view sender, engine::Time now) const;
    // The address an SRS0/SRS1 address stands for; nullopt and *why when forged, expired or malformed.
    std::optional<std::string> reverse(std::string_view address, engine::Time now, std::string* why = nullptr) const;
    // True when the address starts SRS0 or SRS1 (any case) and then '=', '+' or '-'.
    static bool looks_like_srs(std::string_view address);

    const std::string& domain() const { return domain_; }

  private:
    bool hash_matches(std::string_view given, std::initializer_list<std::string_view> parts) const;

    std::string domain_;
    std::vector<std::string> secrets_;
};

}  // namespace sesame::deliver

// text.cpp - see text.hpp.
#include "policy/mime/text.hpp"

namespace sesame::mime {
std::string collapse_blanks(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    bool pending = false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            pending = !out.empty();
            continue;
        }
        if (pending) out += ' ';
        pending = false;
        out += c;
    }
    return out;
}

}  // namespace sesame::mime

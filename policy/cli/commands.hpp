// commands.hpp - `sesame`, the admin command, as a function tests can call.
//
// run() parses the command line (CLI11), loads the configuration, opens
// the store and carries out one subcommand of DESIGN.md's contract. Input
// and output streams are parameters so that tests need no subprocess.
//
// Exit status: 0 done; 1 nothing to do (removing what is not there);
// 2 bad input or an unusable configuration or store, with one line on
// ERR saying why. Everything is validated before the store is opened for
// writing, so bad input never changes the store. No exception escapes.
#pragma once

#include <iosfwd>

namespace sesame::cli {

int run(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace sesame::cli

// config_doc.cpp - sesame-config-doc, the generator of docs/config.md.
//
// Prints config_reference_markdown(), the configuration reference rendered from
// the key table in config.cpp, to standard output, or writes it to the file
// named as the only argument (the `config-doc` build target passes
// docs/config.md). The unit test config_doc_test.cpp fails when the committed
// file differs from what this program writes, so docs and code cannot drift.
//
// Single-threaded, no state. Failure: a write error prints one line on stderr
// and exits 1; bad usage exits 2.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "policy/config/config.hpp"

int main(int argc, char** argv)
{
    if (argc > 2) {
        std::cerr << "usage: sesame-config-doc [OUTPUT-FILE]\n";
        return 2;
    }
    const std::string text = sesame::config::config_reference_markdown();
    if (argc == 1) {
        std::cout << text;
        return std::cout.flush() ? 0 : 1;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::cerr << "sesame-config-doc: cannot write " << argv[1] << "\n";
        return 1;
    }
    return 0;
}

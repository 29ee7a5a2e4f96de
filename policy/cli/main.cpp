// main.cpp - the `sesame` program: everything is in commands.cpp.
#include <iostream>

#include "policy/cli/commands.hpp"

int main(int argc, char** argv)
{
    return sesame::cli::run(argc, argv, std::cin, std::cout, std::cerr);
}

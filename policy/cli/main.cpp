// main.cpp - the `sesame` program: everything is in commands.cpp; the
// DynamoDB backend is linked in and registered here.
#include <iostream>

#include "aws/dynamodb/dynamo_store.hpp"
#include "policy/cli/commands.hpp"

int main(int argc, char** argv)
{
    sesame::dynamodb::register_backend();  // `[store] backend = "dynamodb"`
    return sesame::cli::run(argc, argv, std::cin, std::cout, std::cerr);
}

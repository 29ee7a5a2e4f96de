// aws_tool.cpp - the emulator chores of the ingest tests, the demo and the
// benchmark, through Sesame's own AWS clients (so they are exercised too).
//
//   aws_tool create-queue NAME [VISIBILITY]  prints the queue URL
//   aws_tool send URL FILE|-                 SendMessage with the file's bytes
//   aws_tool count URL                       visible + in flight messages
//   aws_tool create-bucket BUCKET
//   aws_tool put BUCKET KEY FILE|-
//   aws_tool head BUCKET KEY                 "missing", or one "name=value" per
//                                            metadata entry, sorted
//   aws_tool ses-send FROM TO FILE           SendRawEmail; prints the MessageId
//
// The endpoint comes from $AWS_ENDPOINT_URL, the region from $AWS_REGION
// (default us-east-1), credentials the usual way (the emulators accept any).
// Exit status 0, or 1 with one line on stderr.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "aws/sdk/s3.hpp"
#include "aws/sdk/ses.hpp"
#include "aws/sdk/sqs.hpp"

namespace {

std::string slurp(const std::string& path)
{
    if (path == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), {}};
}

int run(int argc, char** argv)
{
    using namespace sesame::aws;
    if (argc < 2) throw std::runtime_error("usage: aws_tool COMMAND ARGS...");
    ServiceContext ctx;
    const char* endpoint = std::getenv("AWS_ENDPOINT_URL");
    const char* region = std::getenv("AWS_REGION");
    ctx.endpoint = endpoint ? endpoint : "";
    if (region && *region) ctx.region = region;
    ctx.credentials = std::make_shared<CredentialsProvider>();
    const std::string cmd = argv[1];
    auto arg = [&](int i) -> std::string {
        if (i >= argc) throw std::runtime_error(cmd + ": missing argument");
        return argv[i];
    };
    if (cmd == "create-queue") {
        std::map<std::string, std::string> attrs;
        if (argc > 3) attrs["VisibilityTimeout"] = arg(3);
        std::cout << SqsClient(ctx).create_queue(arg(2), attrs) << "\n";
    } else if (cmd == "send") {
        std::cout << SqsClient(ctx).send(arg(2), slurp(arg(3))) << "\n";
    } else if (cmd == "count") {
        auto a = SqsClient(ctx).queue_attributes(
            arg(2), {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"});
        std::cout << std::stoll(a["ApproximateNumberOfMessages"]) +
                         std::stoll(a["ApproximateNumberOfMessagesNotVisible"])
                  << "\n";
    } else if (cmd == "create-bucket") {
        S3Client(ctx).create_bucket(arg(2));
    } else if (cmd == "put") {
        S3Client(ctx).put(arg(2), arg(3), slurp(arg(4)));
    } else if (cmd == "head") {
        auto o = S3Client(ctx).head(arg(2), arg(3));
        if (!o) {
            std::cout << "missing\n";
        } else {
            for (const auto& [k, v] : o->metadata) std::cout << k << "=" << v << "\n";
        }
    } else if (cmd == "ses-send") {
        std::cout << SesClient(ctx).send_raw(slurp(arg(4)), arg(2), {arg(3)}) << "\n";
    } else {
        throw std::runtime_error("unknown command " + cmd);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "aws_tool: " << e.what() << "\n";
        return 1;
    }
}

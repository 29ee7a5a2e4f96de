// aws_error_test.cpp - parse_error(): what an AWS error answer is taken to
// mean (retry, credentials, not found, our own mistake) and what the log
// line says, from the bodies S3 (XML), SQS (JSON) and the query protocol
// write; a body that cannot be read still gives the status and a one-line
// excerpt, and writes nothing to stderr.
#include <gtest/gtest.h>

#include <string>

#include "aws/sdk/error.hpp"

namespace sesame::aws {
namespace {

HttpResponse answer(long status, std::string body, Headers headers = {})
{
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

TEST(AwsError, S3XmlBodyGivesCodeAndMessage)
{
    AwsError e = parse_error(answer(404,
                                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                                    "<Message>The specified key does not exist.</Message><Key>m1</Key></Error>"));
    EXPECT_EQ(e.kind, AwsError::Kind::not_found);
    EXPECT_EQ(e.code, "NoSuchKey");
    EXPECT_EQ(e.describe("S3 GetObject"), "S3 GetObject: 404 NoSuchKey: The specified key does not exist.");
    EXPECT_FALSE(e.retryable());
}

TEST(AwsError, SqsJsonThrottlingIsRetryableWhateverItsStatus)
{
    AwsError e =
        parse_error(answer(400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})"));
    EXPECT_EQ(e.kind, AwsError::Kind::throttling);
    EXPECT_EQ(e.code, "ThrottlingException");
    EXPECT_EQ(e.message, "Rate exceeded");
    EXPECT_TRUE(e.retryable());
}

TEST(AwsError, AccessDeniedIsACredentialsErrorNotRetried)
{
    AwsError e = parse_error(answer(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"));
    EXPECT_EQ(e.kind, AwsError::Kind::credentials);
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.describe("S3 GetObject"),
              "S3 GetObject: 403 AccessDenied: Access Denied (check the AWS credentials and their permissions)");
}

TEST(AwsError, QueryErrorHeaderNamesTheCodeWhenTheBodyDoesNot)
{
    AwsError e =
        parse_error(answer(400, "{}", {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}));
    EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
    EXPECT_EQ(e.kind, AwsError::Kind::not_found);
}

TEST(AwsError, NoAnswerIsANetworkErrorWithCurlsReason)
{
    HttpResponse r;
    r.error = "Failed to connect to 127.0.0.1 port 1: Connection refused";
    AwsError e = parse_error(r);
    EXPECT_EQ(e.kind, AwsError::Kind::network);
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(e.describe("SQS ReceiveMessage"),
              "SQS ReceiveMessage: no answer: Failed to connect to 127.0.0.1 port 1: Connection refused");
}

// An XML body in an encoding libxml2 cannot convert: the answer is still
// classified by its status, the message is a one-line excerpt, and libxml2
// writes nothing to stderr (the daemon's log).
TEST(AwsError, UnreadableXmlGivesAnExcerptAndNothingOnStderr)
{
    testing::internal::CaptureStderr();
    AwsError e = parse_error(answer(503,
                                    "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<Error><Code>\x81</Code>"
                                    "</Error>"));
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "");
    EXPECT_EQ(e.kind, AwsError::Kind::server);
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(e.code, "");
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
    EXPECT_EQ(e.message.rfind("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?> <Error>", 0), 0u) << e.message;
}

}  // namespace
}  // namespace sesame::aws

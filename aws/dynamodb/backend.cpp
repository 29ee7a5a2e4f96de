// backend.cpp - `[store] backend = "dynamodb"`: the configuration's tables,
// region and endpoint, registered with policy/store's backend registry.
//
// One credentials provider serves every store the program opens (it
// caches and refreshes credentials itself, thread-safely); each store gets
// its own ServiceContext and HTTP connection.
#include "policy/store/backend.hpp"
#include "aws/dynamodb/dynamo_store.hpp"

namespace sesame::dynamodb {

Tables tables_from(const config::Config& c)
{
    Tables t;
    t.rules = c.store_dynamodb_rules_table;
    t.blocked_senders = c.store_dynamodb_blocked_senders_table;
    t.outbound = c.store_dynamodb_outbound_table;
    t.policy = c.store_dynamodb_policy_table;
    t.reply_state = c.store_dynamodb_reply_state_table;
    t.ingest_state = c.store_dynamodb_ingest_state_table;
    return t;
}

aws::ServiceContext context_from(const config::Config& c, std::shared_ptr<aws::CredentialsProvider> credentials)
{
    aws::ServiceContext ctx;
    ctx.region = c.store_dynamodb_region.empty() ? c.aws_region : c.store_dynamodb_region;
    ctx.endpoint = c.store_dynamodb_endpoint.empty() ? c.aws_endpoint : c.store_dynamodb_endpoint;
    ctx.credentials = std::move(credentials);
    return ctx;
}

void register_backend()
{
    auto credentials = std::make_shared<aws::CredentialsProvider>();
    auto open = [credentials](const config::Config& c) {
        return std::make_unique<DynamoStore>(std::make_shared<const aws::ServiceContext>(context_from(c, credentials)),
                                             tables_from(c));
    };
    store::Backend b;
    b.open = [open](const config::Config& c, bool) -> std::unique_ptr<engine::Store> { return open(c); };
    b.init = [open](const config::Config& c) { return open(c)->init(); };
    b.timing = [](const config::Config& c) {
        store::WatchTiming t;
        t.poll = std::chrono::seconds(c.store_dynamodb_poll_seconds);
        t.full_refresh = std::chrono::seconds(c.store_dynamodb_refresh_seconds);
        return t;
    };
    b.start_without_policy = true;
    store::register_backend("dynamodb", std::move(b));
}

}  // namespace sesame::dynamodb

// dynamo_store.hpp - the policy store in DynamoDB, read the older workers' way.
//
// Six tables (docs/dynamodb.md has every attribute and the create-table
// commands):
//   email-rules            the older workers' forward and out-of-office items,
//                          one per address; Sesame adds attributes of its own
//                          (forward_mode, ooo_subject, ooo_start, ...).
//   email-blocked-senders  the older workers' blocklists: blocked_patterns, a
//                          list of globs per address. Read, and removed from;
//                          Sesame adds its own patterns to sesame-policy.
//   ses-outbound-messages  mail sent through SES (original_source,
//                          bouncedRecipients), for bounce rewriting.
//   sesame-policy          pk/sk items: the policy version, local domains, and
//                          one item per blocklist pattern Sesame adds.
//   sesame-reply-state     mailbox/sender -> replied_at, with a TTL.
//   sesame-ingest-state    message_id/recipient -> outcome, with a TTL.
// The older tables' key attribute names are read with DescribeTable, so a
// table keyed "email", "address" or anything else is read as it is.
//
// Every write made here to the policy bumps the version item, which the
// daemons poll (one GetItem); writes made by other tools are found by the
// daemons' periodic full reload. A DynamoStore owns one HTTP connection and
// is NOT thread-safe. Failures throw engine::StoreError naming the table.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/sdk/dynamodb.hpp"
#include "aws/sdk/service.hpp"
#include "policy/config/config.hpp"
#include "policy/engine/store.hpp"

namespace sesame::dynamodb {

struct Tables {
    std::string rules = "email-rules";
    std::string blocked_senders = "email-blocked-senders";
    std::string outbound = "ses-outbound-messages";
    std::string policy = "sesame-policy";
    std::string reply_state = "sesame-reply-state";
    std::string ingest_state = "sesame-ingest-state";
};

// The [store.dynamodb] table names.
Tables tables_from(const config::Config& config);
// Region and endpoint from [store.dynamodb], else [aws]; CREDENTIALS shared.
aws::ServiceContext context_from(const config::Config& config, std::shared_ptr<aws::CredentialsProvider> credentials);

// Makes `[store] backend = "dynamodb"` available to this program; call it
// from main() before anything opens a store.
void register_backend();

// The key attributes Sesame gives the tables it creates; the older tables
// keep whatever key they were created with.
inline constexpr const char* kAddressKey = "email";
inline constexpr const char* kMessageIdKey = "message_id";

class DynamoStore : public engine::Store {
  public:
    DynamoStore(std::shared_ptr<const aws::ServiceContext> ctx, Tables tables, aws::HttpOptions http = {});

    // `sesame db init`: creates the tables that are missing (and turns on
    // their TTL where DynamoDB allows), checks the key schema of the others;
    // one line per table.
    std::vector<std::string> init();

    std::string name() const override;

    bool add_domain(const std::string& domain) override;
    bool remove_domain(const std::string& domain) override;
    std::vector<std::string> domains() override;

    bool add_block(const std::string& key, const std::string& pattern) override;
    bool remove_block(const std::string& key, const std::string& pattern) override;
    std::vector<engine::BlockRule> blocks(const std::optional<std::string>& key = std::nullopt) override;
    std::size_t import_blocks(const std::string& key, const std::vector<std::string>& patterns) override;

    void set_forward(const std::string& key, const engine::ForwardRule& rule) override;
    bool clear_forward(const std::string& key) override;
    void set_ooo(const std::string& key, const engine::OooRule& rule) override;
    bool clear_ooo(const std::string& key) override;

    engine::RuleSet load_rules() override;
    std::uint64_t policy_version() override;

    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override;
    bool record_reply_if_due(std::string_view mailbox, std::string_view sender, engine::Time now,
                             engine::Time interval) override;
    std::size_t prune_replies(engine::Time before) override;

    std::map<std::string, std::string> ingest_outcomes(std::string_view ses_message_id) override;
    void record_ingest_outcomes(std::string_view ses_message_id, const std::vector<engine::IngestOutcome>& outcomes,
                                engine::Time now) override;
    std::size_t prune_ingest(engine::Time before) override;

    void record_outbound(const engine::OutboundRecord& record) override;
    std::optional<engine::OutboundRecord> outbound(std::string_view message_id) override;
    void add_bounced(std::string_view message_id, const std::vector<std::string>& recipients) override;

  private:
    // Runs F, turning the AWS layer's errors into StoreError.
    template <typename F>
    auto guarded(const char* what, F&& f) const -> decltype(f());
    // The hash key attribute of an older table, asked once.
    const std::string& key_attribute(const std::string& table) const;
    aws::Item address_key(const std::string& table, const std::string& address) const;
    // Every item of TABLE to EACH, a page at a time.
    void scan(const std::string& table, const std::function<void(const aws::Item&)>& each);
    void bump_version();
    // UPDATE on KEY's item in the rules table (on CONDITION), then the
    // version bump; false when CONDITION failed.
    bool update_rule(const std::string& key, const std::string& update, const std::string& condition,
                     const aws::ExpressionNames& names, const aws::ExpressionValues& values, const char* what);
    // The patterns of KEY in the older table's item (as stored), and whether
    // that attribute is a list (L) rather than a string set (SS).
    std::vector<std::string> legacy_patterns(const std::string& key, bool* is_list = nullptr);
    std::vector<std::string> own_patterns(const std::string& key);

    std::shared_ptr<const aws::ServiceContext> ctx_;  // before client_, which refers to it
    Tables tables_;
    mutable aws::DynamoClient client_;
    mutable std::map<std::string, std::string> key_attributes_;
};

}  // namespace sesame::dynamodb

// bounce.cpp - SES bounces: read with gmime, rewritten as plain text.
//
// An SES bounce (the DSN SES sends as MAILER-DAEMON@amazonses.com) is a
// multipart/report; report-type=delivery-status with three parts: a
// text/plain note ("An error occurred while trying to deliver the mail to
// the following recipients: ..."), a message/delivery-status report
// (Reporting-MTA, then one block per recipient: Action, Final-Recipient,
// Diagnostic-Code, Status) and the original, as message/rfc822 or only its
// header as text/rfc822-headers, whose Message-ID is
// "<SES-MESSAGE-ID@email.amazonses.com>" (or "@REGION.amazonses.com").
//
// Reading: the sender check comes first and costs only a header read
// (mime::read_message), so mail that is not from SES is never parsed as a
// whole. Then gmime parses the message (its parser stops nesting at 1024
// levels); the parts are searched below the top multipart, through nested
// multiparts but never inside a returned message (a bounce of a bounce must
// not be read as the outer one). The report's fields are read here, not by
// gmime, which has no DSN parser: blocks separated by empty lines, folded
// lines unfolded, every value collapsed to one clean line. The returned
// original's header is read by mime::read_message, so its Message-ID and
// Subject get the same hardening as any inbound message's.
//
// Rewriting works on the header block as text: each field is the line that
// names it and its continuation lines; fields we set are replaced or
// dropped, everything else is copied byte for byte, and the body is not
// touched at all. gmime encodes and folds the new address fields.
#include "aws/ingest/bounce.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <utility>

#include "policy/mime/gobject_ptr.hpp"
#include "policy/mime/message_reader.hpp"
#include "policy/mime/text.hpp"

namespace sesame::ingest {
namespace {

using mime::iends_with;
using mime::iequals;

using mime::adopt;
using mime::GCharPtr;
using mime::GObjectPtr;

constexpr std::string_view kSesDomain = "amazonses.com";
constexpr std::string_view kDefaultMarker = "X-Sesame-Processed";
constexpr std::size_t kMaxIds = 16;
constexpr std::size_t kMaxRecipients = 1000;
constexpr std::size_t kMaxIdLength = 128;
constexpr std::size_t kMaxAddressLength = 320;    // 64 + '@' + 255
constexpr std::size_t kMaxDiagnostic = 1000;      // bytes of Diagnostic-Code kept
constexpr std::size_t kMaxReportBytes = 1 << 20;  // of the delivery-status part read
constexpr std::size_t kMaxHeaderPartBytes = 256 * 1024;
constexpr int kMaxPartDepth = 8;            // multiparts searched below the top one
constexpr std::size_t kMaxNameBytes = 200;  // of the From display name, but for the first address

bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

std::string_view strip_angles(std::string_view s)
{
    s = trim(s);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
    return s;
}

// RFC 5322 ftext: a character allowed in a header field name.
bool is_ftext(char c)
{
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
}

// A host name ending in amazonses.com: "amazonses.com" itself or
// LABEL(.LABEL)*.amazonses.com, labels of letters, digits and '-'.
bool is_ses_domain(std::string_view domain)
{
    if (iequals(domain, kSesDomain)) return true;
    if (!iends_with(domain, kSesDomain) || domain.size() < kSesDomain.size() + 2) return false;
    std::string_view sub = domain.substr(0, domain.size() - kSesDomain.size());
    if (sub.back() != '.') return false;
    sub.remove_suffix(1);
    std::size_t label = 0;
    for (char c : sub) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            ++label;
        } else {
            return false;
        }
    }
    return label > 0;
}

// An address we can name in a header: local@domain, no blank, control
// character, quote or other RFC 5322 special outside the one '@'.
bool usable_address(std::string_view a)
{
    if (a.empty() || a.size() > kMaxAddressLength) return false;
    std::size_t at = a.rfind('@');
    if (at == 0 || at == std::string_view::npos || at + 1 == a.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto c = static_cast<unsigned char>(a[i]);
        if (c <= 0x20 || c == 0x7f) return false;
        if (std::string_view("()<>[]:;,\\\"").find(static_cast<char>(c)) != std::string_view::npos) return false;
        if (c == '@' && i != at) return false;
    }
    return true;
}

// S as valid UTF-8 on one line; cut to MAX bytes at a character boundary.
std::string one_line(std::string_view s, std::size_t max)
{
    std::string out = mime::collapse_blanks(s);
    if (!g_utf8_validate(out.data(), static_cast<gssize>(out.size()), nullptr)) {
        GCharPtr fixed(g_utf8_make_valid(out.data(), static_cast<gssize>(out.size())));
        out = fixed != nullptr ? std::string(fixed.get()) : std::string();
    }
    if (out.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
    }
    return out;
}

// The SES MessageId in a Message-ID-like VALUE: "<id@email.amazonses.com>",
// "<id@us-west-2.amazonses.com>", or a bare id; "" when there is none.
std::string ses_message_id(std::string_view value)
{
    std::string v = mime::collapse_blanks(value);
    std::string_view s = v;
    std::size_t lt = s.find('<');
    if (lt != std::string_view::npos) {
        std::size_t gt = s.find('>', lt + 1);
        if (gt == std::string_view::npos) return {};
        s = s.substr(lt + 1, gt - lt - 1);
    }
    s = trim(s);
    std::size_t at = s.rfind('@');
    std::string_view id = s;
    if (at != std::string_view::npos) {
        if (!is_ses_domain(s.substr(at + 1))) return {};
        id = s.substr(0, at);
    }
    if (id.empty() || id.size() > kMaxIdLength) return {};
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return {};
    return std::string(id);
}

void add_id(std::vector<std::string>& ids, std::string id)
{
    if (id.empty() || ids.size() >= kMaxIds) return;
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
}

// ---- the delivery-status report ----------------------------------------

struct Field {
    std::string name;
    std::string value;  // unfolded, raw
};
using Group = std::vector<Field>;

// RFC 3464: groups of header-like fields separated by empty lines (the
// per-message group, then one per recipient). Folded lines are unfolded;
// lines that are neither a field nor a continuation are skipped.
std::vector<Group> report_groups(std::string_view text)
{
    std::vector<Group> groups(1);
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        std::size_t end = eol == std::string_view::npos ? text.size() : eol;
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim(line).empty()) {
            if (!groups.back().empty()) groups.emplace_back();
            continue;
        }
        if (is_wsp(line.front())) {
            if (!groups.back().empty()) groups.back().back().value.append(" ").append(trim(line));
            continue;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_ftext)) continue;
        groups.back().push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
    }
    if (groups.back().empty()) groups.pop_back();
    return groups;
}

const std::string* field(const Group& g, std::string_view name)
{
    for (const Field& f : g)
        if (iequals(f.name, name)) return &f.value;
    return nullptr;
}

// "rfc822; addr" -> "addr"; a value with no type is taken whole.
std::string recipient_address(std::string_view value)
{
    std::size_t semi = value.find(';');
    if (semi != std::string_view::npos) value = value.substr(semi + 1);
    std::string_view a = strip_angles(value);
    return usable_address(a) ? std::string(a) : std::string();
}

std::string first_word(std::string_view value, std::size_t max)
{
    std::string s = one_line(value, max);
    std::size_t space = s.find(' ');
    if (space != std::string::npos) s.resize(space);
    return s;
}

// Fills B's recipients and ids from the report TEXT.
void read_report(std::string_view text, SesBounce& b)
{
    for (const Group& g : report_groups(text)) {
        for (const Field& f : g)
            if (iequals(f.name, "X-Original-Message-ID") || iequals(f.name, "Original-Message-ID"))
                add_id(b.original_message_ids, ses_message_id(f.value));

        const std::string* rcpt = field(g, "Final-Recipient");
        if (rcpt == nullptr) rcpt = field(g, "Original-Recipient");
        if (rcpt == nullptr || b.failed_recipients.size() >= kMaxRecipients) continue;
        BouncedRecipient r;
        r.address = recipient_address(*rcpt);
        if (r.address.empty()) continue;
        if (const std::string* v = field(g, "Action")) r.action = first_word(*v, 64);
        r.action = mime::ascii_lower(r.action);
        if (const std::string* v = field(g, "Status")) r.status = first_word(*v, 64);
        if (const std::string* v = field(g, "Diagnostic-Code")) r.diagnostic = one_line(*v, kMaxDiagnostic);
        bool failed = r.action == "failed" || (r.action.empty() && !r.status.empty() && r.status.front() == '5');
        if (failed) {
            r.action = "failed";
            b.failed_recipients.push_back(std::move(r));
        }
    }
}

// ---- the MIME structure -------------------------------------------------

// Up to MAX decoded bytes of the content of a leaf PART.
std::string part_content(GMimePart* part, std::size_t max)
{
    GMimeDataWrapper* content = g_mime_part_get_content(part);  // borrowed
    if (content == nullptr) return {};
    GObjectPtr<GMimeStream> out = adopt(g_mime_stream_mem_new());
    if (out == nullptr || g_mime_data_wrapper_write_to_stream(content, out.get()) < 0) return {};
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));  // borrowed
    if (bytes == nullptr || bytes->data == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(bytes->data), std::min<std::size_t>(bytes->len, max));
}

bool content_type_is(GMimeObject* object, const char* type, const char* subtype)
{
    GMimeContentType* ct = g_mime_object_get_content_type(object);  // borrowed
    return ct != nullptr && g_mime_content_type_is_type(ct, type, subtype);
}

struct Parts {
    GMimePart* report = nullptr;      // message/delivery-status
    GMimeObject* original = nullptr;  // message/rfc822 or the original's header
};

// Searches the children of MULTIPART (and of multiparts inside it), never
// the inside of a message part.
void find_parts(GMimeMultipart* multipart, Parts& found, int depth)
{
    const int n = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < n; ++i) {
        GMimeObject* part = g_mime_multipart_get_part(multipart, i);  // borrowed
        if (part == nullptr) continue;
        if (GMIME_IS_MULTIPART(part)) {
            if (depth < kMaxPartDepth) find_parts(GMIME_MULTIPART(part), found, depth + 1);
        } else if (GMIME_IS_MESSAGE_PART(part)) {
            if (found.original == nullptr) found.original = part;
        } else if (GMIME_IS_PART(part)) {
            if (found.report == nullptr && (content_type_is(part, "message", "delivery-status") ||
                                            content_type_is(part, "message", "global-delivery-status")))
                found.report = GMIME_PART(part);
            else if (found.original == nullptr && (content_type_is(part, "text", "rfc822-headers") ||
                                                   content_type_is(part, "message", "rfc822-headers") ||
                                                   content_type_is(part, "message", "global-headers")))
                found.original = part;
        }
    }
}

// The header text of the returned original in PART.
std::string original_header(GMimeObject* part)
{
    if (GMIME_IS_MESSAGE_PART(part)) {
        GMimeMessage* message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));  // borrowed
        if (message == nullptr) return {};
        GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(message));  // borrowed
        if (headers == nullptr) return {};
        GCharPtr text(g_mime_header_list_to_string(headers, nullptr));
        return text != nullptr ? std::string(text.get()) : std::string();
    }
    return part_content(GMIME_PART(part), kMaxHeaderPartBytes);
}

// A leading mbox "From " line (not a "From:" field) is skipped.
std::string_view skip_mbox_line(std::string_view raw)
{
    if (raw.substr(0, 5) != "From ") return raw;
    std::size_t i = 5;
    while (i < raw.size() && is_wsp(raw[i])) ++i;
    if (i < raw.size() && raw[i] == ':') return raw;
    std::size_t eol = raw.find('\n');
    return eol == std::string_view::npos ? std::string_view() : raw.substr(eol + 1);
}

GObjectPtr<GMimeObject> parse_message(std::string_view raw)
{
    GObjectPtr<GMimeStream> stream = adopt(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    if (stream == nullptr) return nullptr;
    GObjectPtr<GMimeParser> parser = adopt(g_mime_parser_new_with_stream(stream.get()));
    if (parser == nullptr) return nullptr;
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    return adopt(g_mime_parser_construct_part(parser.get(), nullptr));
}

// ---- rewriting ----------------------------------------------------------

// One unit of the header block: a field (its line and continuation lines)
// or a line that is not a field (an mbox line, garbage, the empty line).
struct Unit {
    std::string_view text;
    std::string_view name;  // empty when not a field
};

std::vector<Unit> header_units(std::string_view block)
{
    std::vector<Unit> units;
    std::size_t start = 0;  // of the last unit
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t eol = block.find('\n', pos);
        std::size_t end = eol == std::string_view::npos ? block.size() : eol + 1;
        std::string_view line = block.substr(pos, end - pos);
        if (is_wsp(line.front()) && !units.empty()) {
            units.back().text = block.substr(start, end - start);  // a continuation line
        } else {
            start = pos;
            Unit u{line, {}};
            std::size_t colon = line.find(':');
            if (colon != std::string_view::npos) {
                std::string_view name = line.substr(0, colon);
                while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
                if (!name.empty() && std::all_of(name.begin(), name.end(), is_ftext)) u.name = name;
            }
            units.push_back(u);
        }
        pos = end;
    }
    return units;
}

// gmime's folded rendering of LIST after "NAME: ", with EOL line ends.
std::string encode_address_field(std::string_view name, InternetAddressList* list, std::string_view eol)
{
    GString* text = g_string_new(nullptr);
    g_string_append_len(text, name.data(), static_cast<gssize>(name.size()));
    g_string_append(text, ": ");
    internet_address_list_encode(list, nullptr, text);
    std::string out;
    out.reserve(text->len + 8);
    for (gsize i = 0; i < text->len; ++i) {
        char c = text->str[i];
        if (c == '\r') continue;
        if (c == '\n')
            out.append(eol);
        else
            out += c;
    }
    g_string_free(text, TRUE);
    if (out.size() < eol.size() || out.compare(out.size() - eol.size(), eol.size(), eol) != 0) out.append(eol);
    return out;
}

// PHRASE split at the blanks outside quoted strings.
std::vector<std::string> phrase_tokens(std::string_view phrase)
{
    std::vector<std::string> tokens(1);
    bool quoted = false;
    for (std::size_t i = 0; i < phrase.size(); ++i) {
        char c = phrase[i];
        if (!quoted && is_wsp(c)) {
            if (!tokens.back().empty()) tokens.emplace_back();
            continue;
        }
        tokens.back() += c;
        if (quoted && c == '\\' && i + 1 < phrase.size())
            tokens.back() += phrase[++i];
        else if (c == '"')
            quoted = !quoted;
    }
    if (tokens.back().empty()) tokens.pop_back();
    return tokens;
}

// "NAME: " and TOKENS separated by blanks, folded (EOL and one space, so
// that unfolding gives back the single space) before a token that would
// take the line past 78 characters.
std::string folded_field(std::string_view name, const std::vector<std::string>& tokens, std::string_view eol)
{
    std::string out(name);
    out += ':';
    std::size_t line = out.size();
    for (const std::string& t : tokens) {
        if (line + 1 + t.size() > 78 && line > name.size() + 1) {
            out.append(eol);
            line = 0;
        }
        out += ' ';
        out += t;
        line += 1 + t.size();
    }
    out.append(eol);
    return out;
}

// The display name: "Delivery failed: a@x, b@y (+N more)". At most
// kMaxNamedRecipients addresses, and no more once it passes kMaxNameBytes
// (the first is always named), so the phrase needs no folding inside.
std::string display_name(const SesBounce& b)
{
    std::string name = "Delivery failed";
    std::size_t named = 0;
    for (const BouncedRecipient& r : b.failed_recipients) {
        if (named == kMaxNamedRecipients || (named > 0 && name.size() + 2 + r.address.size() > kMaxNameBytes)) break;
        name += named == 0 ? ": " : ", ";
        name += r.address;
        ++named;
    }
    if (named < b.failed_recipients.size())
        name += " (+" + std::to_string(b.failed_recipients.size() - named) + " more)";
    return name;
}

std::string from_field(const SesBounce& b, std::string_view eol)
{
    const std::string name = display_name(b);
    std::string phrase;
    if (std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
        // One quoted-string; addresses hold no '"' or '\\', but be exact.
        phrase = "\"";
        for (char c : name) {
            if (c == '"' || c == '\\') phrase += '\\';
            phrase += c;
        }
        phrase += '"';
    } else {
        // RFC 2047 encoded-words (quoted-strings for the ASCII runs).
        GCharPtr encoded(g_mime_utils_header_encode_phrase(nullptr, name.c_str(), "utf-8"));
        phrase = encoded != nullptr ? encoded.get() : "\"Delivery failed\"";
    }
    std::vector<std::string> tokens = phrase_tokens(phrase);
    const std::string address = b.from_address.empty() ? "MAILER-DAEMON@amazonses.com" : b.from_address;
    tokens.push_back("<" + address + ">");
    return folded_field("From", tokens, eol);
}

// "" when no failed recipient has a usable address.
std::string reply_to_field(const SesBounce& b, std::string_view eol)
{
    GObjectPtr<InternetAddressList> list = adopt(internet_address_list_new());
    std::vector<std::string_view> seen;
    for (const BouncedRecipient& r : b.failed_recipients) {
        if (seen.size() >= kMaxReplyTo) break;
        if (!usable_address(r.address)) continue;
        if (std::find(seen.begin(), seen.end(), r.address) != seen.end()) continue;
        seen.push_back(r.address);
        GObjectPtr<InternetAddress> mailbox = adopt(internet_address_mailbox_new(nullptr, r.address.c_str()));
        internet_address_list_add(list.get(), mailbox.get());
    }
    if (seen.empty()) return {};
    return encode_address_field("Reply-To", list.get(), eol);
}

// NAME trimmed of blanks and a trailing colon, or the default marker when
// it is still not a field name.
std::string_view marker_name(std::string_view name)
{
    while (!name.empty() && is_wsp(name.front())) name.remove_prefix(1);
    while (!name.empty() && (is_wsp(name.back()) || name.back() == ':')) name.remove_suffix(1);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_ftext)) return kDefaultMarker;
    return name;
}

}  // namespace

bool is_ses_mailer_daemon(std::string_view address)
{
    std::string_view a = strip_angles(address);
    std::size_t at = a.rfind('@');
    if (at == std::string_view::npos) return false;
    return iequals(a.substr(0, at), "MAILER-DAEMON") && is_ses_domain(a.substr(at + 1));
}

std::optional<SesBounce> read_ses_bounce(std::string_view raw, std::string_view envelope_sender)
{
    return read_ses_bounce(raw, mime::read_message(raw, std::string()), envelope_sender);
}

std::optional<SesBounce> read_ses_bounce(std::string_view raw, const engine::MessageInfo& info,
                                         std::string_view envelope_sender)
{
    mime::mime_init();

    // Who sent it: a header read only.
    SesBounce b;
    if (info.from_address && is_ses_mailer_daemon(*info.from_address))
        b.from_address = *info.from_address;
    else if (is_ses_mailer_daemon(envelope_sender))
        b.from_address = std::string(strip_angles(envelope_sender));
    else
        return std::nullopt;
    b.subject = info.subject;

    GObjectPtr<GMimeObject> top = parse_message(skip_mbox_line(raw));
    if (top == nullptr || !GMIME_IS_MULTIPART(top.get())) return std::nullopt;
    Parts parts;
    find_parts(GMIME_MULTIPART(top.get()), parts, 0);
    if (parts.report == nullptr) return std::nullopt;

    read_report(part_content(parts.report, kMaxReportBytes), b);
    if (b.failed_recipients.empty()) return std::nullopt;

    if (parts.original != nullptr) {
        const std::string header = original_header(parts.original);
        if (!header.empty()) {
            const engine::MessageInfo original = mime::read_message(header, std::string());
            add_id(b.original_message_ids, ses_message_id(original.message_id));
            b.original_subject = original.subject;
        }
    }
    return b;
}

std::string rewrite_bounce(std::string_view raw, const SesBounce& bounce, std::string_view original_source,
                           std::string_view marker_header)
{
    mime::mime_init();
    const std::string_view block = mime::header_block(raw);
    const std::string_view body = raw.substr(block.size());

    // The line end of the first line; CRLF when there is none.
    std::string_view eol = "\r\n";
    std::size_t lf = raw.find('\n');
    if (lf != std::string_view::npos && (lf == 0 || raw[lf - 1] != '\r')) eol = "\n";

    const std::string_view marker = marker_name(marker_header);
    const std::string from = from_field(bounce, eol);
    const std::string reply_to = reply_to_field(bounce, eol);
    const std::vector<Unit> units = header_units(block);
    const bool had_from =
        std::any_of(units.begin(), units.end(), [](const Unit& u) { return iequals(u.name, "From"); });
    const bool had_reply_to =
        std::any_of(units.begin(), units.end(), [](const Unit& u) { return iequals(u.name, "Reply-To"); });

    std::string out;
    out.reserve(raw.size() + from.size() + reply_to.size() + 256);
    out.append(kBounceForHeader).append(": ").append(one_line(original_source, 1024)).append(eol);
    out.append(marker).append(": ").append(kBounceRewrittenMarker).append(eol);
    if (!had_from) {
        out.append(from);
        if (!had_reply_to) out.append(reply_to);
    }

    bool from_done = false, reply_to_done = false;
    for (const Unit& u : units) {
        if (iequals(u.name, "From")) {
            if (!std::exchange(from_done, true)) {
                out.append(from);
                if (!had_reply_to) out.append(reply_to);
            }
        } else if (iequals(u.name, "Reply-To")) {
            if (!std::exchange(reply_to_done, true)) out.append(reply_to.empty() ? u.text : reply_to);
        } else if (!iequals(u.name, kBounceForHeader) && !iequals(u.name, marker)) {
            out.append(u.text);
        }
    }
    out.append(body);
    return out;
}

}  // namespace sesame::ingest

// message_reader.cpp - the header facts policy needs, read with gmime.
//
// The header block is cut off the raw bytes here (so a large or hostile
// body costs nothing) and parsed by g_mime_parser_construct_part, which
// keeps every header in order with its raw value. GMimeMessage is not used:
// it re-parses all To/Cc headers each time one is added, which is quadratic
// in the number of such headers. Values are then read one header at a time:
// addresses through internet_address_list_parse, the subject through
// g_mime_utils_header_decode_text, the rest by the small text helpers below.
//
// gmime's address parser lets an unquoted comma continue a display name
// ("Doe, John <j@x>"), so a long comma-separated list with no address in it
// makes it rescan to the end of the string for every item. Address text is
// therefore handed over in slices of at most kSliceHard bytes, cut at a
// top-level comma once kSliceSoft bytes are reached; one item (between
// top-level commas) longer than kSliceHard is not cut, so that no part of it
// is read as an address: only the angle address that ends it is read (a
// long display name cannot hide it); and a slice with more than kMaxColons
// colons loses them (group syntax nests by recursion).
#include "policy/mime/message_reader.hpp"
#include "policy/mime/text.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "policy/mime/gobject_ptr.hpp"

namespace sesame::mime {
namespace {

constexpr std::size_t kSliceSoft = 256;
constexpr std::size_t kSliceHard = 1024;
constexpr std::ptrdiff_t kMaxColons = 64;

bool is_blank_or_control(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_blank_or_control(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && is_blank_or_control(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// RFC 5322 unfolding: CR and LF go, the white space after them stays.
std::string unfold(const char* raw)
{
    std::string out;
    if (raw == nullptr) return out;
    for (const char* p = raw; *p != '\0'; ++p)
        if (*p != '\r' && *p != '\n') out += *p;
    return out;
}

// RFC 5322 comments removed: nested, backslash escapes honoured, quoted
// strings left alone. An unclosed comment runs to the end.
std::string strip_comments(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (depth > 0) {
            if (c == '\\')
                ++i;
            else if (c == '(')
                ++depth;
            else if (c == ')' && --depth == 0)
                out += ' ';
            continue;
        }
        if (quoted) {
            if (c == '\\' && i + 1 < s.size()) {
                out += c;
                c = s[++i];
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == '(') {
            depth = 1;
            continue;
        }
        out += c;
    }
    return out;
}

// Auto-Submitted, Precedence: the keyword alone, lower-cased, without
// comments or ";" parameters. "Auto-Replied (vacation)" is "auto-replied".
std::string keyword(const char* raw)
{
    std::string s = strip_comments(unfold(raw));
    s.resize(std::min(s.size(), s.find(';')));
    return ascii_lower(collapse_blanks(s));
}

// Delivered-To, X-Original-To: the address, trimmed, angle brackets gone.
std::string delivered_address(const char* raw)
{
    std::string s = collapse_blanks(strip_comments(unfold(raw)));
    std::size_t lt = s.find('<');
    std::size_t gt = lt == std::string::npos ? std::string::npos : s.find('>', lt + 1);
    std::string_view v = s;
    if (gt != std::string::npos) {
        v = v.substr(lt + 1, gt - lt - 1);
    } else {
        while (!v.empty() && v.front() == '<') v.remove_prefix(1);
        while (!v.empty() && v.back() == '>') v.remove_suffix(1);
    }
    return std::string(trim(v));
}

// Message-ID: "<id>", or "" when there is no usable id. A bare id gets
// angle brackets; an id with blanks inside is refused.
std::string message_id(const char* raw)
{
    std::string s = collapse_blanks(strip_comments(unfold(raw)));
    std::size_t gt = s.find('>');
    std::size_t lt = gt == std::string::npos ? s.find('<') : s.rfind('<', gt);
    std::string_view id = s;
    if (lt != std::string::npos) {
        if (gt == std::string::npos || gt < lt) return {};
        id = id.substr(lt + 1, gt - lt - 1);
    }
    if (id.empty() || id.find_first_of(" <>") != std::string_view::npos) return {};
    std::string out;
    out.reserve(id.size() + 2);
    out += '<';
    out += id;
    out += '>';
    return out;
}

// Subject: RFC 2047 decoded to UTF-8 (a broken encoded-word stays as it
// was written), invalid UTF-8 repaired, white space collapsed, so that a
// decoded CR LF can never reach a header we write.
std::string subject(const char* raw)
{
    std::string text = unfold(raw);
    GCharPtr decoded(g_mime_utils_header_decode_text(nullptr, text.c_str()));
    if (decoded == nullptr) return collapse_blanks(text);
    if (!g_utf8_validate(decoded.get(), -1, nullptr)) decoded.reset(g_utf8_make_valid(decoded.get(), -1));
    return collapse_blanks(decoded.get());
}

// A mailbox address we keep: present, and no control character or white
// space outside what gmime kept inside quotes.
bool usable_address(const char* addr)
{
    if (addr == nullptr || *addr == '\0') return false;
    for (const char* p = addr; *p != '\0'; ++p)
        if (static_cast<unsigned char>(*p) < 0x20 || *p == 0x7f) return false;
    return true;
}

// Appends the mailboxes of LIST (groups flattened) to OUT until it holds MAX.
void append_mailboxes(InternetAddressList* list, std::vector<std::string>& out, std::size_t max, int depth)
{
    int n = internet_address_list_length(list);
    for (int i = 0; i < n && out.size() < max; ++i) {
        InternetAddress* a = internet_address_list_get_address(list, i);  // borrowed
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            if (usable_address(addr)) out.emplace_back(addr);
        } else if (INTERNET_ADDRESS_IS_GROUP(a) && depth < kMaxColons) {
            InternetAddressList* members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
            if (members != nullptr) append_mailboxes(members, out, max, depth + 1);
        }
    }
}

void parse_slice(std::string_view slice, std::vector<std::string>& out, std::size_t max)
{
    std::string text(slice);
    if (std::count(text.begin(), text.end(), ':') > kMaxColons) std::replace(text.begin(), text.end(), ':', ' ');
    GObjectPtr<InternetAddressList> list = adopt(internet_address_list_parse(nullptr, text.c_str()));
    if (list != nullptr) append_mailboxes(list.get(), out, max, 0);
}

// The address of an item too long to read whole: a display name of any
// length cannot hide the angle address that ends it ("...long name...
// <a@b>"), so that is read on its own; anything else in such an item is not.
void read_angle_addr(std::string_view item, std::vector<std::string>& out, std::size_t max)
{
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty() || item.back() != '>') return;
    const std::size_t lt = item.rfind('<');
    if (lt == std::string_view::npos || item.size() - lt > kSliceHard) return;
    parse_slice(item.substr(lt), out, max);
}

// Appends the mailboxes of one address header to OUT until it holds MAX,
// spending at most BUDGET bytes (what is left of it is written back).
void collect_addresses(const char* raw, std::vector<std::string>& out, std::size_t max, std::size_t& budget)
{
    std::string text = unfold(raw);
    if (text.size() > budget) {
        // Cut after the last comma that fits, so no address is half read;
        // nothing after this is read.
        std::size_t comma = text.rfind(',', budget);
        text.resize(comma == std::string::npos ? 0 : comma + 1);
        budget = 0;
    } else {
        budget -= text.size();
    }

    std::string_view s = text;
    std::size_t start = 0;
    std::size_t last_comma = std::string_view::npos;  // the slice's last top-level comma
    bool skipping = false;  // in an item longer than a slice: dropped up to the next top-level comma
    std::size_t item = 0;   // where the skipped item began
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
        char c = s[i];
        if (c == '\\' && (quoted || depth > 0) && i + 1 < s.size()) {
            ++i;
        } else if (depth > 0) {
            if (c == '(') ++depth;
            if (c == ')') --depth;
        } else if (quoted) {
            quoted = c != '"';
        } else if (c == '"') {
            quoted = true;
        } else if (c == '(') {
            depth = 1;
        }
        bool top_comma = c == ',' && !quoted && depth == 0;
        if (skipping) {
            if (top_comma) {
                skipping = false;
                read_angle_addr(s.substr(item, i - item), out, max);
                start = i + 1;
            }
            continue;
        }
        std::size_t len = i + 1 - start;
        if (top_comma && len >= kSliceSoft) {
            parse_slice(s.substr(start, len), out, max);
            start = i + 1;
            last_comma = std::string_view::npos;
        } else if (top_comma) {
            last_comma = i;
        } else if (len >= kSliceHard) {
            // Cut here, the item would be read as an address it is not (the
            // "<user@exam" of a long display name): the items before it are
            // read, it is skipped, as unparseable addresses are.
            if (last_comma != std::string_view::npos) parse_slice(s.substr(start, last_comma + 1 - start), out, max);
            item = last_comma == std::string_view::npos ? start : last_comma + 1;
            last_comma = std::string_view::npos;
            skipping = true;
        }
    }
    if (skipping && out.size() < max) read_angle_addr(s.substr(item), out, max);
    if (!skipping && start < s.size() && out.size() < max) parse_slice(s.substr(start), out, max);
}

bool suppresses_replies(const std::string& precedence)
{
    return precedence == "bulk" || precedence == "list" || precedence == "junk";
}

// Where a header is repeated, the value that suppresses auto-replies wins
// (RFC 3834: when in doubt, do not reply); otherwise the first one.
void note_auto_submitted(std::string& field, std::string value)
{
    if (value.empty()) return;
    if (field.empty() || (field == "no" && value != "no")) field = std::move(value);
}

void note_precedence(std::string& field, std::string value)
{
    if (value.empty()) return;
    if (field.empty() || (!suppresses_replies(field) && suppresses_replies(value))) field = std::move(value);
}

// A leading mbox "From " line (not a "From :" header) is skipped, as
// g_mime_parser does for messages.
std::string_view skip_mbox_line(std::string_view raw)
{
    if (raw.substr(0, 5) != "From ") return raw;
    std::size_t i = 5;
    while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
    if (i < raw.size() && raw[i] == ':') return raw;
    std::size_t eol = raw.find('\n');
    return eol == std::string_view::npos ? std::string_view() : raw.substr(eol + 1);
}

// The header block as handed to gmime: each logical header (a line and its
// continuation lines) keeps at most kHeaderSizeLimit bytes, whole lines
// where it can, and the last line is terminated (else the parser refuses a
// header name cut by the end of input). gmime grows its header buffer 64
// bytes at a time, so an unbounded header costs quadratic copying.
std::string bounded_header_block(std::string_view block)
{
    std::string out;
    out.reserve(block.size() + 1);
    std::size_t logical = 0;  // bytes kept of the current logical header
    bool dropping = false;
    for (std::size_t pos = 0; pos < block.size();) {
        std::size_t eol = block.find('\n', pos);
        std::size_t end = eol == std::string_view::npos ? block.size() : eol + 1;
        std::string_view line = block.substr(pos, end - pos);
        pos = end;
        if (line.front() != ' ' && line.front() != '\t') {
            logical = 0;
            dropping = false;
        }
        if (dropping) continue;
        if (logical + line.size() > kHeaderSizeLimit) {
            dropping = true;
            if (logical == 0) out.append(line.substr(0, kHeaderSizeLimit - 1)).append("\n");
            continue;
        }
        out.append(line);
        logical += line.size();
    }
    if (out.empty() || out.back() != '\n') out += '\n';
    return out;
}

GObjectPtr<GMimeObject> parse_header(const std::string& block)
{
    GObjectPtr<GMimeStream> stream = adopt(g_mime_stream_mem_new_with_buffer(block.data(), block.size()));
    if (stream == nullptr) return nullptr;
    GObjectPtr<GMimeParser> parser = adopt(g_mime_parser_new_with_stream(stream.get()));
    if (parser == nullptr) return nullptr;
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    return adopt(g_mime_parser_construct_part(parser.get(), nullptr));
}

}  // namespace

void mime_init()
{
    static std::once_flag once;
    std::call_once(once, [] {
        g_mime_init();
        // GLib creates a type's class on its first instance, under locks of
        // its own (futexes ThreadSanitizer cannot see), and keeps it for the
        // life of the process. Creating the classes used here now lets a
        // daemon that calls this before starting threads hand them over
        // complete: thread creation orders them for every checker.
        for (GType t : {INTERNET_ADDRESS_LIST_TYPE, INTERNET_ADDRESS_TYPE_MAILBOX, INTERNET_ADDRESS_TYPE_GROUP,
                        GMIME_TYPE_MESSAGE, GMIME_TYPE_MESSAGE_PART, GMIME_TYPE_PART, GMIME_TYPE_TEXT_PART,
                        GMIME_TYPE_MULTIPART, GMIME_TYPE_PARSER, GMIME_TYPE_STREAM_MEM, GMIME_TYPE_STREAM_FILTER,
                        GMIME_TYPE_DATA_WRAPPER, GMIME_TYPE_CONTENT_TYPE, GMIME_TYPE_CONTENT_DISPOSITION})
            g_type_class_ref(t);  // never released: static types keep their class anyway
    });
}

std::string_view header_block(std::string_view raw)
{
    std::size_t pos = 0;
    while (pos < raw.size()) {
        std::size_t eol = raw.find('\n', pos);
        if (eol == std::string_view::npos) break;
        if (eol == pos || (eol == pos + 1 && raw[pos] == '\r')) return raw.substr(0, eol + 1);
        pos = eol + 1;
    }
    return raw;
}

engine::MessageInfo read_message(std::string_view raw, const std::string& marker)
{
    mime_init();
    engine::MessageInfo info;

    GObjectPtr<GMimeObject> part = parse_header(bounded_header_block(header_block(skip_mbox_line(raw))));
    if (part == nullptr) return info;                                      // no header at all
    GMimeHeaderList* headers = g_mime_object_get_header_list(part.get());  // borrowed
    if (headers == nullptr) return info;

    const std::string_view our_marker = trim(marker);
    bool seen_subject = false, seen_message_id = false, seen_references = false, seen_in_reply_to = false;
    std::size_t from_budget = kAddressBudget, to_cc_budget = kAddressBudget;
    std::vector<std::string> from;

    const int count = g_mime_header_list_get_count(headers);
    for (int i = 0; i < count; ++i) {
        GMimeHeader* header = g_mime_header_list_get_header_at(headers, i);  // borrowed
        if (header == nullptr) continue;
        const char* name_cstr = g_mime_header_get_name(header);
        const char* raw_value = g_mime_header_get_raw_value(header);
        if (name_cstr == nullptr) continue;
        if (raw_value == nullptr) raw_value = "";
        const std::string_view name = name_cstr;

        if (iequals(name, "Received")) {
            ++info.received_count;
        } else if (iequals(name, "From")) {
            if (from.empty()) collect_addresses(raw_value, from, 1, from_budget);
        } else if (iequals(name, "To") || iequals(name, "Cc")) {
            collect_addresses(raw_value, info.to_cc, static_cast<std::size_t>(-1), to_cc_budget);
        } else if (iequals(name, "Delivered-To") || iequals(name, "X-Original-To")) {
            std::string address = delivered_address(raw_value);
            if (!address.empty() && iequals(name, "X-Original-To")) info.original_to.push_back(address);
            if (!address.empty()) info.delivered_to.push_back(std::move(address));
        } else if (iequals(name, "Subject")) {
            if (!std::exchange(seen_subject, true)) info.subject = subject(raw_value);
        } else if (iequals(name, "Message-ID")) {
            if (!std::exchange(seen_message_id, true)) info.message_id = message_id(raw_value);
        } else if (iequals(name, "References")) {
            if (!std::exchange(seen_references, true)) info.references = collapse_blanks(unfold(raw_value));
        } else if (iequals(name, "In-Reply-To")) {
            if (!std::exchange(seen_in_reply_to, true)) info.in_reply_to = collapse_blanks(unfold(raw_value));
        } else if (iequals(name, "Auto-Submitted")) {
            note_auto_submitted(info.auto_submitted, keyword(raw_value));
        } else if (iequals(name, "Precedence")) {
            note_precedence(info.precedence, keyword(raw_value));
        } else if (iequals(name, "List-Id")) {
            info.has_list_id = true;
        }

        // Not "else": the configured marker may be any name, even one above.
        if (!our_marker.empty() && iequals(name, our_marker)) {
            info.has_marker = true;
            info.marker_name = std::string(our_marker);
        } else if (iequals(name, kSesWorkerMarker) && !info.has_marker) {
            info.has_marker = true;
            info.marker_name = std::string(kSesWorkerMarker);
        }
    }
    if (!from.empty()) info.from_address = std::move(from.front());
    return info;
}

}  // namespace sesame::mime

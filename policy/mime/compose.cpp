// compose.cpp - building Sesame's own messages with gmime.
//
// Every text that reaches a header is cleaned first (valid UTF-8, no control
// character, white space collapsed), so nothing taken from a message or a
// rule can end a header line early; gmime then RFC 2047-encodes and folds.
// Address fields go through internet_address_list_parse: a value that holds
// no mailbox leaves its header out rather than writing something broken.
// Bodies are UTF-8 text parts whose transfer encoding gmime picks for 7-bit
// transport (7bit, quoted-printable, or base64 for mostly non-ASCII text).
//
// The resend attaches the original whole, as message/rfc822, instead of
// re-attaching its parts: the bytes are copied unchanged (only bare LF line
// ends become CRLF), so every attachment, the headers and any DKIM signature
// of the original survive, and a part we cannot parse is never lost. An
// original that cannot legally travel as a message part (not starting with
// a header field, NUL, bare CR, a line over 998 octets) is attached as
// application/octet-stream in base64 instead: still every byte, still a
// valid outer message.
#include "policy/mime/compose.hpp"
#include "policy/mime/text.hpp"

#include <gmime/gmime.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>

#include "policy/mime/gobject_ptr.hpp"
#include "policy/mime/message_reader.hpp"

namespace sesame::mime {
namespace {

struct FormatOptionsFree {
    void operator()(GMimeFormatOptions* options) const noexcept { g_mime_format_options_free(options); }
};

struct DateTimeUnref {
    void operator()(GDateTime* date) const noexcept { g_date_time_unref(date); }
};

struct ReferencesFree {
    void operator()(GMimeReferences* refs) const noexcept { g_mime_references_free(refs); }
};

// Longer "addresses" are not parsed (RFC 5321 paths stop at 256 octets).
constexpr std::size_t kAddressMax = 1024;
// Bytes of one original header shown in the resend's text part.
constexpr std::size_t kSummaryValueMax = 2048;
// RFC 5322 line limit, line end excluded.
constexpr std::size_t kLineMax = 998;
constexpr const char* kOriginalFilename = "original-message.eml";

bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

// RFC 5322 ftext: a character allowed in a header field name.
bool is_ftext(char c)
{
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
}

// S without NUL bytes, invalid UTF-8 sequences replaced by U+FFFD.
std::string valid_utf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (c != '\0') out += c;
    if (g_utf8_validate(out.data(), static_cast<gssize>(out.size()), nullptr)) return out;
    GCharPtr fixed(g_utf8_make_valid(out.data(), static_cast<gssize>(out.size())));
    return fixed != nullptr ? std::string(fixed.get()) : std::string();
}

// One header-safe line: valid UTF-8, every run of white space or control
// characters one space, the ends trimmed.
std::string clean_line(std::string_view s)
{
    return collapse_blanks(valid_utf8(s));
}

// A body text: valid UTF-8 with LF line ends (gmime writes them as CRLF),
// the last line ended too (gmime's quoted-printable encoder adds that line
// end anyway, so every encoding decodes to the same text).
std::string clean_body(std::string_view s)
{
    std::string valid = valid_utf8(s);
    std::string out;
    out.reserve(valid.size());
    for (std::size_t i = 0; i < valid.size(); ++i) {
        if (valid[i] != '\r') {
            out += valid[i];
        } else if (i + 1 >= valid.size() || valid[i + 1] != '\n') {
            out += '\n';
        }
    }
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out;
}

// The right-hand side of our Message-IDs: the host name's letters, digits,
// dots and dashes; "localhost" when nothing is left.
std::string id_host(std::string_view hostname)
{
    std::string out;
    for (char c : hostname)
        if (g_ascii_isalnum(c) || c == '.' || c == '-') out += c;
    while (!out.empty() && out.front() == '.') out.erase(out.begin());
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out.empty() ? std::string("localhost") : out;
}

// "<time base 36>.<128 random bits in hex>@host", without angle brackets.
std::string new_message_id(const ComposeContext& ctx)
{
    static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string stamp;
    auto t = static_cast<std::uint64_t>(ctx.now);
    do {
        stamp.insert(stamp.begin(), kDigits[t % 36]);
        t /= 36;
    } while (t != 0);
    std::string id = stamp + '.';
    for (int i = 0; i < 4; ++i) {
        guint32 r = g_random_int();
        for (int shift = 28; shift >= 0; shift -= 4) id += kDigits[(r >> shift) & 0xf];
    }
    return id + '@' + id_host(ctx.hostname);
}

// The configured marker name when it is a valid field name, else the default.
std::string marker_name(std::string_view configured)
{
    std::string name = clean_line(configured);
    if (name.empty()) return std::string(kDefaultMarker);
    for (char c : name)
        if (!is_ftext(c)) return std::string(kDefaultMarker);
    return name;
}

// The first mailbox of LIST, groups searched too; WANT, if given, must match
// its address. Borrowed from LIST.
InternetAddress* find_mailbox(InternetAddressList* list, std::string_view want, int depth = 0)
{
    int n = internet_address_list_length(list);
    for (int i = 0; i < n; ++i) {
        InternetAddress* a = internet_address_list_get_address(list, i);  // borrowed
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            if (addr == nullptr || *addr == '\0') continue;
            if (want.empty() || iequals(addr, want)) return a;
        } else if (INTERNET_ADDRESS_IS_GROUP(a) && depth < 8) {
            InternetAddressList* members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
            if (members == nullptr) continue;
            if (InternetAddress* found = find_mailbox(members, want, depth + 1)) return found;
        }
    }
    return nullptr;
}

// The mailbox written in TEXT ("a@b", "<a@b>", "Name <a@b>"), whose address
// is WANT when WANT is given; null for none, the null sender or oversized text.
GObjectPtr<InternetAddress> parse_mailbox(std::string_view text, std::string_view want = {})
{
    std::string s = clean_line(text);
    if (s.empty() || s.size() > kAddressMax || s == "<>") return nullptr;
    GObjectPtr<InternetAddressList> list = adopt(internet_address_list_parse(nullptr, s.c_str()));
    if (list == nullptr) return nullptr;
    return retain(find_mailbox(list.get(), want));
}

void add_mailbox(InternetAddressList* field, GObjectPtr<InternetAddress> mailbox)
{
    if (field != nullptr && mailbox != nullptr) internet_address_list_add(field, mailbox.get());
}

void set_header(GMimeMessage* message, const std::string& name, const std::string& value)
{
    g_mime_object_set_header(GMIME_OBJECT(message), name.c_str(), value.c_str(), "utf-8");
}

// In-Reply-To / References: set only when VALUE holds at least one msg-id
// (gmime writes back only the ids it could parse).
void set_references(GMimeMessage* message, const char* name, std::string_view value)
{
    std::string v = clean_line(value);
    if (v.empty()) return;
    std::unique_ptr<GMimeReferences, ReferencesFree> refs(g_mime_references_parse(nullptr, v.c_str()));
    if (refs == nullptr || g_mime_references_length(refs.get()) == 0) return;
    g_mime_object_set_header(GMIME_OBJECT(message), name, v.c_str(), nullptr);
}

// Date and a fresh Message-ID: what every message we write carries.
void set_date_and_id(GMimeMessage* message, const ComposeContext& ctx)
{
    std::unique_ptr<GDateTime, DateTimeUnref> date(g_date_time_new_from_unix_utc(ctx.now));
    if (date == nullptr) date.reset(g_date_time_new_from_unix_utc(0));  // outside years 1..9999
    if (date != nullptr) g_mime_message_set_date(message, date.get());
    g_mime_message_set_message_id(message, new_message_id(ctx).c_str());
}

GObjectPtr<GMimeDataWrapper> memory_content(std::string_view bytes, GMimeContentEncoding encoding)
{
    GObjectPtr<GMimeStream> stream = adopt(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
    return adopt(g_mime_data_wrapper_new_with_stream(stream.get(), encoding));
}

// LF line ends as CRLF (the canonical form base64 must encode).
std::string with_crlf(std::string_view lf)
{
    std::string out;
    out.reserve(lf.size() + lf.size() / 32);
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

// A text/SUBTYPE; charset=utf-8 part holding TEXT, encoded for 7-bit transport.
GObjectPtr<GMimeTextPart> text_part(const char* subtype, std::string_view text)
{
    std::string body = clean_body(text);
    GObjectPtr<GMimeTextPart> part = adopt(g_mime_text_part_new_with_subtype(subtype));
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part.get()), "charset", "utf-8");
    GMimePart* p = GMIME_PART(part.get());
    g_mime_part_set_content(p, memory_content(body, GMIME_CONTENT_ENCODING_DEFAULT).get());
    GMimeContentEncoding encoding = g_mime_part_get_best_content_encoding(p, GMIME_ENCODING_CONSTRAINT_7BIT);
    // 7bit and quoted-printable get CRLF from the writer's newline filter,
    // after encoding; base64 must encode the CRLF itself.
    if (encoding == GMIME_CONTENT_ENCODING_BASE64)
        g_mime_part_set_content(p, memory_content(with_crlf(body), GMIME_CONTENT_ENCODING_DEFAULT).get());
    g_mime_part_set_content_encoding(p, encoding);
    return part;
}

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

// Draws a new boundary until none of CONTENTS holds its delimiter line.
void pick_boundary(GMimeMultipart* multipart, std::initializer_list<std::string_view> contents)
{
    for (int attempt = 0; attempt < 16; ++attempt) {
        const char* boundary = g_mime_multipart_get_boundary(multipart);  // generated on first use
        if (boundary == nullptr) return;
        std::string delimiter = std::string("--") + boundary;
        bool clash = false;
        for (std::string_view c : contents) clash = clash || contains(c, delimiter);
        if (!clash) return;
        g_mime_multipart_set_boundary(multipart, nullptr);
    }
}

// True when RAW can be the body of a message/rfc822 part as it is: it starts
// with a header field, and has no NUL, no bare CR and no line over 998 octets.
bool fits_message_part(std::string_view raw)
{
    std::size_t i = 0;
    while (i < raw.size() && is_ftext(raw[i])) ++i;
    if (i == 0) return false;
    while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
    if (i >= raw.size() || raw[i] != ':') return false;

    std::size_t line = 0;
    for (std::size_t k = 0; k < raw.size(); ++k) {
        char c = raw[k];
        if (c == '\0') return false;
        if (c == '\r') {
            if (k + 1 >= raw.size() || raw[k + 1] != '\n') return false;
            continue;
        }
        if (c == '\n') {
            line = 0;
        } else if (++line > kLineMax) {
            return false;
        }
    }
    return true;
}

bool is_ascii(std::string_view s)
{
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// The original, attached whole (see the top of this file).
GObjectPtr<GMimePart> original_part(std::string_view raw, bool as_message)
{
    GObjectPtr<GMimePart> part = adopt(as_message ? g_mime_part_new_with_type("message", "rfc822")
                                                  : g_mime_part_new_with_type("application", "octet-stream"));
    GMimeContentEncoding encoding = GMIME_CONTENT_ENCODING_BASE64;
    GMimeContentEncoding stored = GMIME_CONTENT_ENCODING_DEFAULT;  // raw bytes, to be encoded
    if (as_message) {
        // Same encoding on both sides: gmime copies the bytes, only LF -> CRLF.
        encoding = is_ascii(raw) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_8BIT;
        stored = encoding;
    }
    g_mime_part_set_content(part.get(), memory_content(raw, stored).get());
    g_mime_part_set_content_encoding(part.get(), encoding);
    g_mime_object_set_disposition(GMIME_OBJECT(part.get()), "attachment");
    g_mime_part_set_filename(part.get(), kOriginalFilename);
    return part;
}

// The first NAME: header of BLOCK, unfolded, at most kSummaryValueMax bytes;
// "" when there is none.
std::string first_header(std::string_view block, std::string_view name)
{
    std::string value;
    bool inside = false;
    for (std::size_t pos = 0; pos < block.size();) {
        std::size_t eol = block.find('\n', pos);
        std::size_t end = eol == std::string_view::npos ? block.size() : eol;
        std::string_view line = block.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (inside) {
            if (line.empty() || (line.front() != ' ' && line.front() != '\t')) break;
        } else {
            if (!istarts_with(line, name)) continue;
            std::size_t i = name.size();
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
            if (i >= line.size() || line[i] != ':') continue;
            inside = true;
            line.remove_prefix(i + 1);
        }
        value.append(line.substr(0, kSummaryValueMax - value.size()));
        if (value.size() >= kSummaryValueMax) break;
    }
    return value;
}

// A header value for display: RFC 2047 decoded, cleaned.
std::string display(std::string_view raw)
{
    std::string text = clean_line(raw);
    GCharPtr decoded(g_mime_utils_header_decode_text(nullptr, text.c_str()));
    return decoded != nullptr ? clean_line(decoded.get()) : text;
}

// "Fwd: SUBJECT"; a subject already starting "Fwd:" or "Fw:" is kept as it
// is, so a chain of forwards does not grow "Fwd: Fwd: ...".
std::string resend_subject(std::string_view subject)
{
    std::string s = clean_line(subject);
    if (s.empty()) return "Fwd: (no subject)";
    if (istarts_with(s, "fwd:") || istarts_with(s, "fw:")) return s;
    return "Fwd: " + s;
}

bool is_null_sender(std::string_view sender)
{
    std::string s = clean_line(sender);
    return s.empty() || s == "<>";
}

std::string resend_summary(std::string_view original, const engine::MessageInfo& info, std::string_view forwarder,
                           std::string_view envelope_sender, const std::vector<std::string>& targets, bool as_message)
{
    std::string_view block = header_block(original);
    std::string from = display(first_header(block, "From"));
    if (from.empty() && !is_null_sender(envelope_sender)) from = clean_line(envelope_sender);
    std::string date = display(first_header(block, "Date"));
    std::string to = display(first_header(block, "To"));
    std::string cc = display(first_header(block, "Cc"));
    std::string subject = clean_line(info.subject);

    std::string text = "---------- Forwarded message ----------\n";
    text += "From: " + (from.empty() ? std::string("(unknown)") : from) + "\n";
    text += "Date: " + (date.empty() ? std::string("(unknown)") : date) + "\n";
    text += "Subject: " + (subject.empty() ? std::string("(no subject)") : subject) + "\n";
    text += "To: " + (to.empty() ? std::string("(unknown)") : to) + "\n";
    if (!cc.empty()) text += "Cc: " + cc + "\n";
    text += "\nForwarded by " + clean_line(forwarder) + " to ";
    for (std::size_t i = 0; i < targets.size(); ++i) text += (i > 0 ? ", " : "") + clean_line(targets[i]);
    text += ".\n";
    if (original.empty())
        text += "The original message was empty.\n";
    else if (as_message)
        text += "The original message is attached unchanged, with its attachments.\n";
    else
        text += "The original message could not be attached as a message; it is attached unchanged as the file " +
                std::string(kOriginalFilename) + ".\n";
    return text;
}

// OBJECT as RFC 5322 bytes with CRLF line ends.
std::string serialise(GMimeObject* object)
{
    std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> options(g_mime_format_options_new());
    g_mime_format_options_set_newline_format(options.get(), GMIME_NEWLINE_FORMAT_DOS);
    GObjectPtr<GMimeStream> stream = adopt(g_mime_stream_mem_new());
    if (g_mime_object_write_to_stream(object, options.get(), stream.get()) < 0) return {};
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));  // borrowed
    if (bytes == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

}  // namespace

std::string build_autoreply(const engine::AutoReplyAction& action, const ComposeContext& ctx)
{
    mime_init();
    GObjectPtr<GMimeMessage> message = adopt(g_mime_message_new(TRUE));
    GMimeMessage* m = message.get();

    add_mailbox(g_mime_message_get_from(m), parse_mailbox(action.from));
    add_mailbox(g_mime_message_get_to(m), parse_mailbox(action.to));
    g_mime_message_set_subject(m, clean_line(action.subject).c_str(), "utf-8");
    set_date_and_id(m, ctx);
    set_references(m, "In-Reply-To", action.in_reply_to);
    set_references(m, "References", action.references);
    set_header(m, "Auto-Submitted", "auto-replied");
    // Exchange and Outlook honour this, not Auto-Submitted: no OOF in return.
    set_header(m, "X-Auto-Response-Suppress", "All");
    set_header(m, marker_name(ctx.marker_header), "auto-replied");

    GObjectPtr<GMimeTextPart> plain = text_part("plain", action.text);
    if (action.html.empty()) {
        g_mime_message_set_mime_part(m, GMIME_OBJECT(plain.get()));
    } else {
        GObjectPtr<GMimeMultipart> alternative = adopt(g_mime_multipart_new_with_subtype("alternative"));
        GObjectPtr<GMimeTextPart> html = text_part("html", action.html);
        g_mime_multipart_add(alternative.get(), GMIME_OBJECT(plain.get()));
        g_mime_multipart_add(alternative.get(), GMIME_OBJECT(html.get()));
        pick_boundary(alternative.get(), {action.text, action.html});
        g_mime_message_set_mime_part(m, GMIME_OBJECT(alternative.get()));
    }
    return serialise(GMIME_OBJECT(m));
}

std::string build_resend(std::string_view original, std::string_view forwarder, std::string_view envelope_sender,
                         const std::vector<std::string>& targets, const ComposeContext& ctx)
{
    mime_init();
    const std::string marker = marker_name(ctx.marker_header);
    const engine::MessageInfo info = read_message(original, marker);

    GObjectPtr<GMimeMessage> message = adopt(g_mime_message_new(TRUE));
    GMimeMessage* m = message.get();

    add_mailbox(g_mime_message_get_from(m), parse_mailbox(forwarder));
    for (const std::string& target : targets) add_mailbox(g_mime_message_get_to(m), parse_mailbox(target));

    // Reply-To: the original From: mailbox (with its display name), else the
    // envelope sender; none when both are missing or null.
    GObjectPtr<InternetAddress> reply_to;
    if (info.from_address) {
        reply_to = parse_mailbox(first_header(header_block(original), "From"), *info.from_address);
        if (reply_to == nullptr) reply_to = parse_mailbox(*info.from_address);
    }
    if (reply_to == nullptr && !is_null_sender(envelope_sender)) reply_to = parse_mailbox(envelope_sender);
    add_mailbox(g_mime_message_get_reply_to(m), std::move(reply_to));

    g_mime_message_set_subject(m, resend_subject(info.subject).c_str(), "utf-8");
    set_date_and_id(m, ctx);
    set_header(m, marker, "forwarded");

    const bool as_message = fits_message_part(original);
    const std::string summary = resend_summary(original, info, forwarder, envelope_sender, targets, as_message);
    GObjectPtr<GMimeMultipart> mixed = adopt(g_mime_multipart_new_with_subtype("mixed"));
    GObjectPtr<GMimeTextPart> intro = text_part("plain", summary);
    g_mime_multipart_add(mixed.get(), GMIME_OBJECT(intro.get()));
    if (!original.empty()) {
        GObjectPtr<GMimePart> attached = original_part(original, as_message);
        g_mime_multipart_add(mixed.get(), GMIME_OBJECT(attached.get()));
    }
    pick_boundary(mixed.get(), {original, summary});
    g_mime_message_set_mime_part(m, GMIME_OBJECT(mixed.get()));
    return serialise(GMIME_OBJECT(m));
}

std::string add_header_on_top(std::string_view original, std::string_view name, std::string_view value)
{
    // The name as configured, surrounding blanks and a trailing colon
    // forgiven; one that is still not a field name inserts nothing.
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t' || name.back() == ':')) name.remove_suffix(1);
    if (name.empty()) return std::string(original);
    for (char c : name)
        if (!is_ftext(c)) return std::string(original);

    // The line end of the original's first line; CRLF when it has none.
    std::string_view eol = "\r\n";
    std::size_t lf = original.find('\n');
    if (lf != std::string_view::npos && (lf == 0 || original[lf - 1] != '\r')) eol = "\n";

    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    std::string out;
    out.reserve(name.size() + value.size() + 4 + original.size());
    out.append(name).append(":");
    if (!value.empty()) out += ' ';
    for (char c : value) out += (c != '\t' && is_control(static_cast<unsigned char>(c))) ? ' ' : c;
    out.append(eol).append(original);
    return out;
}

}  // namespace sesame::mime

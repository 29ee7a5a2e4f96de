// render.hpp - a policy Decision as `sesame policy test` prints it.
//
// render_text() is for people: one block per recipient with its verdict,
// SMTP reply, actions and trace. render_json() is for scripts and is the
// documented contract (DESIGN.md "The admin command"): one JSON object,
// {"sender", "loop", "recipients": [{"address", "verdict", "smtp",
// "actions", "trace"}]}, "smtp" null where there is no reply. Keys are
// only ever added, never renamed. Pure functions.
#pragma once

#include <string>

#include "policy/engine/types.hpp"

namespace sesame::cli {

std::string render_text(const engine::Decision& d);
std::string render_json(const engine::Decision& d);

}  // namespace sesame::cli

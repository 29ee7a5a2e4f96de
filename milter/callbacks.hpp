// callbacks.hpp - the libmilter callbacks of sesame-milter.
//
// Each callback stores what it got in the per-connection or per-message
// context (smfi_setpriv), asks the engine, and applies the answer; the
// policy itself lives in policy/engine. A message is evaluated on the
// snapshot current at MAIL FROM, to the end, even if a newer one is swapped
// in meanwhile. Every callback is noexcept: an exception or a store error
// becomes 451 4.3.0 (tempfail), never an accept and never a 5xx.
#pragma once

#include <libmilter/mfapi.h>

namespace sesame::milter {

// The filter description handed to smfi_register().
smfiDesc* filter_description();

// Messages between MAIL FROM and their end (end of message or abort).
int messages_in_flight();

// From now on MAIL FROM is deferred (4xx): the process is about to stop.
void start_draining();

}  // namespace sesame::milter

// hub/deadline.hpp: the one rule that turns a relative timeout into a deadline (monotonic_now()
// seconds, -1 for none). Each API's own convention (SO_RCVTIMEO's "0 = no timeout", poll's
// "negative = forever", select's NULL timeval) is mapped by its caller, where it is called.
#pragma once

#include <green/detail/task.hpp>

namespace green::detail {

// Longer timeouts count as this long (about 31 years): neither a deadline nor what is left of it
// overflows a time_t or int64 nanoseconds.
inline constexpr double kMaxTimeout = 1e9;

// Contract: s < 0 or NaN -> -1 (none); otherwise now + min(s, kMaxTimeout) (0: now; +inf: the cap).
inline double deadline_after(double s) noexcept {
    if (!(s >= 0)) return -1;
    return monotonic_now() + (s < kMaxTimeout ? s : kMaxTimeout);
}

}  // namespace green::detail

#include "neurocore/cm/link_calendar.h"

#include <algorithm>
#include <iterator>

namespace nc::cm {

int64_t LinkCalendar::reserve(int64_t ready, int64_t cycles) {
  if (cycles <= 0) return ready;
  busy_ += cycles;
  // The common case: at or after every reservation (no search, no new node when it touches
  // the last one).
  if (busy_at_.empty() || ready >= busy_at_.rbegin()->second) {
    if (!busy_at_.empty() && busy_at_.rbegin()->second == ready) {
      busy_at_.rbegin()->second = ready + cycles;
    } else {
      busy_at_.emplace_hint(busy_at_.end(), ready, ready + cycles);
    }
    return ready;
  }
  auto next = busy_at_.upper_bound(ready);  // the first interval starting after `ready`
  int64_t s = ready;
  if (next != busy_at_.begin()) s = std::max(s, std::prev(next)->second);
  // Skip every interval that would overlap [s, s + cycles).
  while (next != busy_at_.end() && next->first < s + cycles) {
    s = std::max(s, next->second);
    ++next;
  }
  // Insert [s, e) before `next`, merged with the neighbours it touches (keeps the map short on
  // a saturated channel).
  int64_t e = s + cycles;
  if (next != busy_at_.end() && next->first == e) {
    e = next->second;
    next = busy_at_.erase(next);
  }
  if (next != busy_at_.begin()) {
    auto prev = std::prev(next);
    if (prev->second == s) {
      prev->second = e;
      return s;
    }
  }
  busy_at_.emplace_hint(next, s, e);
  return s;
}

void LinkCalendar::forget_before(int64_t t) {
  auto it = busy_at_.begin();
  while (it != busy_at_.end() && it->second <= t) ++it;  // ends are sorted like starts
  busy_at_.erase(busy_at_.begin(), it);
}

}  // namespace nc::cm

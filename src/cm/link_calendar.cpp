#include "neurocore/cm/link_calendar.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace nc::cm {

void LinkCalendar::insert(int64_t b, int64_t e) {
  auto next = busy_at_.lower_bound(b);
  if (next != busy_at_.end() && next->first == e) {
    e = next->second;
    next = busy_at_.erase(next);
  }
  if (next != busy_at_.begin()) {
    auto prev = std::prev(next);
    if (prev->second == b) {
      prev->second = e;
      return;
    }
  }
  busy_at_.emplace_hint(next, b, e);
}

std::pair<int64_t, int64_t> LinkCalendar::serve(int64_t ready, int64_t cycles) {
  if (cycles <= 0) return {ready, ready};
  busy_ += cycles;
  // The common case: at or after every reservation.
  if (busy_at_.empty() || ready >= busy_at_.rbegin()->second) {
    insert(ready, ready + cycles);
    return {ready, ready + cycles};
  }
  // Collect the free pieces first (inserting would move the iterator), then reserve them.
  pieces_.clear();
  auto it = busy_at_.upper_bound(ready);  // the first interval starting after `ready`
  int64_t t = ready, left = cycles;
  if (it != busy_at_.begin()) t = std::max(t, std::prev(it)->second);
  while (left > 0) {
    const int64_t gap_end = it == busy_at_.end() ? std::numeric_limits<int64_t>::max() : it->first;
    const int64_t take = std::min(left, gap_end - t);
    if (take > 0) {
      pieces_.emplace_back(t, t + take);
      left -= take;
      t += take;
    }
    if (left > 0) {
      t = it->second;
      ++it;
    }
  }
  for (const auto& [b, e] : pieces_) insert(b, e);
  return {pieces_.front().first, pieces_.back().second};
}

void LinkCalendar::forget_before(int64_t t) {
  auto it = busy_at_.begin();
  while (it != busy_at_.end() && it->second <= t) ++it;  // ends are sorted like starts
  busy_at_.erase(busy_at_.begin(), it);
}

}  // namespace nc::cm

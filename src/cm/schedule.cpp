#include "neurocore/cm/schedule.h"

#include <algorithm>

namespace nc::cm {

namespace {

// Row-major width of node n's iteration domain (1 for a flat output).
int64_t schedule_width(const Graph& g, NodeId n) {
  const Shape& s = g.value(g.node(n).output).shape;
  return s.size() == 3 ? s[2] : 1;
}
int64_t schedule_size(const Graph& g, NodeId n) {
  const Shape& s = g.value(g.node(n).output).shape;
  return s.size() == 3 ? s[1] * s[2] : 1;
}
int64_t linear_index(const std::vector<int64_t>& v, int64_t width) { return v[0] * width + v[1]; }

}  // namespace

EdgeSchedule edge_schedule(const Graph& g, const EdgeDependence& e) {
  EdgeSchedule s;
  const int64_t w1 = schedule_width(g, e.writer), w2 = schedule_width(g, e.reader);
  s.writer_iterations = schedule_size(g, e.writer);
  s.reader_iterations = schedule_size(g, e.reader);
  s.enable.assign(static_cast<std::size_t>(s.writer_iterations), -1);
  s.war_gate.assign(static_cast<std::size_t>(s.writer_iterations), -1);
  s.free_after.assign(static_cast<std::size_t>(s.writer_iterations), -1);
  s.need.assign(static_cast<std::size_t>(s.reader_iterations), -1);
  for (const auto& [i1, i2] : points(e.dep.enable)) {
    s.enable[static_cast<std::size_t>(linear_index(i1, w1))] = linear_index(i2, w2);
  }
  for (const auto& [i1, i2] : points(e.dep.war_gate)) {
    s.war_gate[static_cast<std::size_t>(linear_index(i1, w1))] = linear_index(i2, w2);
  }
  for (const auto& [i1, i2] : points(e.dep.write.apply_range(e.dep.last_read).lexmax())) {
    s.free_after[static_cast<std::size_t>(linear_index(i1, w1))] = linear_index(i2, w2);
  }
  // The runtime's max_iter (spec §5): starts just before lexmin(dom D'), raised to M(i1) when
  // the writer completes i1, and to the end when it completes its last iteration.
  const isl::set dep_dom = e.dep.need_prefix.domain();
  s.first_dependent = s.reader_iterations;
  if (!dep_dom.is_empty()) s.first_dependent = linear_index(points(dep_dom.lexmin()).at(0), w2);
  int64_t limit = s.first_dependent - 1;
  for (int64_t i1 = 0; i1 < s.writer_iterations; ++i1) {
    int64_t m = s.enable[static_cast<std::size_t>(i1)];
    if (i1 == s.writer_iterations - 1) m = s.reader_iterations - 1;
    for (int64_t i2 = limit + 1; i2 <= m; ++i2) s.need[static_cast<std::size_t>(i2)] = i1;
    limit = std::max(limit, m);
  }
  return s;
}

}  // namespace nc::cm

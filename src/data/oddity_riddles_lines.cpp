// Riddles 0-9 and 26-32: rectangles, lines, dots on lines, distances (docs/oddity.md).
// Each scene is drawn around the origin, turned, then placed at random (place()).
#include <algorithm>
#include <cmath>

#include "oddity_riddles.h"

namespace nc::data::oddity {

namespace {

std::vector<Vec2> rect(double w, double h) { return {{-w / 2, -h / 2}, {w / 2, -h / 2}, {w / 2, h / 2}, {-w / 2, h / 2}}; }

// 0: rectangle outline (1 px, spec §0); oddity filled.
bool colour(Rng& rng, double, bool odd, Scene& s) {
  s.shapes.push_back(polygon(rect(rng.u(0.2, 0.6), rng.u(0.2, 0.6)), odd, 0));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 1: axis-aligned filled rectangle; oddity turned by +-U(15, 45) degrees.
bool orientation(Rng& rng, double, bool odd, Scene& s) {
  s.shapes.push_back(polygon(rect(rng.u(0.15, 0.5), rng.u(0.15, 0.5)), true, 0));
  if (odd) rotate_scene(s, rng.sign() * deg(rng.u(15, 45)));
  return place(s, rng);
}

// 2/3: straight segment vs quadratic Bezier whose control point is 0.2-0.4 off the chord
// (the curve's largest deviation is half that).
Shape straight_or_curved(Rng& rng, bool curved) {
  const double len = rng.u(0.3, 0.8), w = line_width(rng);
  const Vec2 a{-len / 2, 0}, b{len / 2, 0};
  if (!curved) return segment(a, b, w);
  return polyline(bezier(a, {rng.u(-0.3, 0.3) * len, rng.sign() * rng.u(0.2, 0.4)}, b, 32), w);
}
bool straight_line(Rng& rng, double, bool odd, Scene& s) {
  s.shapes.push_back(straight_or_curved(rng, odd));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}
bool curve_line(Rng& rng, double, bool odd, Scene& s) {
  s.shapes.push_back(straight_or_curved(rng, !odd));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 4: dot on the segment; 5: dot on the line beyond the segment's end. Oddity: the dot moved
// perpendicular by U(0.10, 0.15). Dot radius = line width.
bool dot_and_line(Rng& rng, bool odd, bool beyond, Scene& s) {
  const double len = rng.u(0.3, 0.7), w = line_width(rng);
  s.shapes.push_back(segment({-len / 2, 0}, {len / 2, 0}, w));
  const double x = beyond ? rng.sign() * (len / 2 + rng.u(0.1, 0.25)) : len * rng.u(-0.4, 0.4);
  s.shapes.push_back(disk({x, odd ? rng.sign() * rng.u(0.10, 0.15) : 0.0}, w));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}
bool point_on_line(Rng& rng, double, bool odd, Scene& s) { return dot_and_line(rng, odd, false, s); }
bool point_on_extension(Rng& rng, double, bool odd, Scene& s) { return dot_and_line(rng, odd, true, s); }

// 6/7: two segments 0.15-0.35 apart, parallel or at U(10, 30) degrees.
Scene two_lines(Rng& rng, bool secant) {
  Scene s;
  const double w = line_width(rng), gap = rng.u(0.15, 0.35);
  for (int i = 0; i < 2; ++i) {
    const double len = rng.u(0.3, 0.7), turn = (i == 1 && secant) ? rng.sign() * deg(rng.u(10, 30)) : 0.0;
    const Vec2 c{rng.u(-0.1, 0.1), (i - 0.5) * gap}, d = (len / 2) * unit(turn);
    s.shapes.push_back(segment(c - d, c + d, w));
  }
  rotate_scene(s, rng.angle());
  return s;
}
bool parallel_lines(Rng& rng, double, bool odd, Scene& s) {
  s = two_lines(rng, odd);
  return place(s, rng);
}
bool secant_lines(Rng& rng, double, bool odd, Scene& s) {
  s = two_lines(rng, !odd);
  return place(s, rng);
}

// 8: two segments crossing at 90 degrees (oddity: U(25, 65)), each crossed at 30-70 % of its length.
bool right_angle_cross(Rng& rng, double, bool odd, Scene& s) {
  const double w = line_width(rng), l1 = rng.u(0.3, 0.7), l2 = rng.u(0.3, 0.7);
  const double t1 = rng.u(0.3, 0.7), t2 = rng.u(0.3, 0.7);
  const double a = odd ? rng.sign() * deg(rng.u(25, 65)) : deg(90);
  s.shapes.push_back(segment({-t1 * l1, 0}, {(1 - t1) * l1, 0}, w));
  s.shapes.push_back(segment((-t2 * l2) * unit(a), ((1 - t2) * l2) * unit(a), w));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 9: a T: a segment and a half-length segment from its midpoint at 90 (oddity 90 +- U{25..65}).
bool right_angle_half(Rng& rng, double, bool odd, Scene& s) {
  const double w = line_width(rng), len = rng.u(0.4, 0.7);
  const double a = deg(odd ? 90 + rng.sign() * rng.ui(25, 65) : 90);
  s.shapes.push_back(segment({-len / 2, 0}, {len / 2, 0}, w));
  s.shapes.push_back(segment({0, 0}, (len / 2) * unit(a), w));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 31/32: a dot of radius 1-2 % on a 1-3 % line is hidden by the line; their lines are 0.5-1 %
// (one pixel at 100 px).
double thin_line(Rng& rng) { return rng.u(0.005, 0.01); }

// Segment of length len along x centred at 0 with a dot at proportion p from its first end.
void segment_with_dot(Scene& s, double len, double p, double y, double w, double r) {
  s.shapes.push_back(segment({-len / 2, 0}, {len / 2, 0}, w));
  s.shapes.push_back(disk({-len / 2 + p * len, y}, r));
}

// 26: the dot's distance from the line is the sample's shared value (oddity: >= 0.07 apart).
double distance_value(Rng& rng, bool odd, double context) {
  if (!odd) return rng.u(0.05, 0.3);
  for (;;) {
    const double d = rng.u(0.05, 0.35);
    if (std::abs(d - context) >= 0.07) return d;
  }
}
bool distance(Rng& rng, double d, bool, Scene& s) {
  const double w = line_width(rng);
  segment_with_dot(s, rng.u(0.4, 0.7), rng.u(0.2, 0.8), rng.sign() * d, w, w);
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 27: four dots at {0, 1/3, 2/3, 1} L, no line; the oddity moves an interior dot by +-U(0.10, 0.12) L.
bool equidistance(Rng& rng, double, bool odd, Scene& s) {
  const double len = rng.u(0.4, 0.8), r = rng.u(0.01, 0.03);
  double t[4] = {0, 1.0 / 3, 2.0 / 3, 1};
  if (odd) t[rng.ui(1, 2)] += rng.sign() * rng.u(0.10, 0.12);
  for (double x : t) s.shapes.push_back(disk({(x - 0.5) * len, 0}, r));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 28: four collinear dots, gaps g1 < g2 < g3 with steps >= 0.05 L; the oddity's middle gap is
// the largest or the smallest, by >= 0.05 L on both sides.
bool increasing_distance(Rng& rng, double, bool odd, Scene& s) {
  const double len = rng.u(0.45, 0.85), r = rng.u(0.01, 0.03);
  const double d1 = rng.u(0.05, 0.15), d2 = rng.u(0.05, 0.15), sg = odd ? rng.sign() : 1.0;
  // Gaps as fractions of L: f1, f1 + sg d1, f1 + sg d1 - (odd ? sg : -1) d2, summing to 1.
  const double s2 = odd ? -sg : 1.0;
  const double f1 = (1 - 2 * sg * d1 - s2 * d2) / 3, f2 = f1 + sg * d1, f3 = f2 + s2 * d2;
  if (std::min({f1, f2, f3}) < 0.08) return false;
  double x = -0.5;
  for (double f : {0.0, f1, f2, f3}) {
    x += f;
    s.shapes.push_back(disk({x * len, 0}, r));
  }
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 29: filled circle, white dot (radius 1-3 %) at its centre; the oddity's offset components
// +-U(0.2, 0.8) r, norm <= 0.8 r.
bool circle_centre(Rng& rng, double, bool odd, Scene& s) {
  const double r = rng.u(0.15, 0.35);
  Vec2 off{};
  if (odd) {
    off = {rng.sign() * rng.u(0.2, 0.8) * r, rng.sign() * rng.u(0.2, 0.8) * r};
    if (norm(off) > 0.8 * r) return false;
  }
  s.shapes.push_back(disk({0, 0}, r));
  s.shapes.push_back(disk(off, rng.u(0.01, 0.03), Ink::white));
  return place(s, rng);
}

// 30: filled quadrilateral, white dot where its diagonals cross; the oddity's dot U(0.06, 0.12)
// away, at least its radius + 0.01 inside the outline.
bool quad_centre(Rng& rng, double, bool odd, Scene& s) {
  const auto q = random_quad(rng, rng.u(0.2, 0.4));
  // Diagonals q0-q2 and q1-q3: q0 + t (q2 - q0) with t = cross(q1 - q0, q3 - q1) / cross(q2 - q0, q3 - q1).
  const Vec2 d1 = q[2] - q[0], d2 = q[3] - q[1];
  const Vec2 c = q[0] + (cross(q[1] - q[0], d2) / cross(d1, d2)) * d1;
  const double r = rng.u(0.01, 0.02);
  const Vec2 dot_at = odd ? c + rng.u(0.06, 0.12) * unit(rng.angle()) : c;
  if (!point_in_polygon(dot_at, q) || distance_to_polygon(dot_at, q) < r + 0.01) return false;
  s.shapes.push_back(polygon(q, true, 0));
  s.shapes.push_back(disk(dot_at, r, Ink::white));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 31: segment, dot at its middle (the shared proportion 0.5); the oddity's proportion
// p ~ U(0.10, 0.35), mirrored by a coin.
double middle_value(Rng& rng, bool odd, double) {
  if (!odd) return 0.5;
  const double p = rng.u(0.10, 0.35);
  return rng.coin() ? 1 - p : p;
}
bool segment_middle(Rng& rng, double p, bool, Scene& s) {
  segment_with_dot(s, rng.u(0.4, 0.8), p, 0, thin_line(rng), rng.u(0.01, 0.02));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 32: the proportion q = min(p, 1 - p) (a segment has no first end to see) is shared,
// q ~ U(0.1, 0.4); the oddity's q' in [0.05, 0.5] differs by > 0.2. Either end by a coin.
double proportion_value(Rng& rng, bool odd, double context) {
  if (!odd) return rng.u(0.1, 0.4);
  for (;;) {
    const double q = rng.u(0.05, 0.5);
    if (std::abs(q - context) > 0.2) return q;
  }
}
bool fixed_proportion(Rng& rng, double q, bool, Scene& s) {
  segment_with_dot(s, rng.u(0.4, 0.8), rng.coin() ? q : 1 - q, 0, thin_line(rng), rng.u(0.01, 0.02));
  rotate_scene(s, rng.angle());
  return place(s, rng);
}

}  // namespace

void line_riddles(RiddleDef* t) {
  t[0] = {"color", nullptr, colour};
  t[1] = {"orientation", nullptr, orientation};
  t[2] = {"straight_line", nullptr, straight_line};
  t[3] = {"curve_line", nullptr, curve_line};
  t[4] = {"point_on_line", nullptr, point_on_line};
  t[5] = {"point_on_extension", nullptr, point_on_extension};
  t[6] = {"parallel_lines", nullptr, parallel_lines};
  t[7] = {"secant_lines", nullptr, secant_lines};
  t[8] = {"right_angle_cross", nullptr, right_angle_cross};
  t[9] = {"right_angle_half", nullptr, right_angle_half};
  t[26] = {"distance", distance_value, distance};
  t[27] = {"equidistance", nullptr, equidistance};
  t[28] = {"increasing_distance", nullptr, increasing_distance};
  t[29] = {"circle_centre", nullptr, circle_centre};
  t[30] = {"quadrilateral_centre", nullptr, quad_centre};
  t[31] = {"segment_middle", middle_value, segment_middle};
  t[32] = {"fixed_proportion", proportion_value, fixed_proportion};
}

}  // namespace nc::data::oddity

// Riddles 10-18 and 41-44: polygons, circles, blobs and closed curves (docs/oddity.md).
#include <algorithm>
#include <cmath>

#include "oddity_riddles.h"

namespace nc::data::oddity {

namespace {

bool finish(Rng& rng, Scene& s, bool turn = true) {
  if (turn) rotate_scene(s, rng.angle());
  return place(s, rng);
}

// 10: convex quadrilateral outline; the oddity drops one vertex (a triangle).
bool quadrilateral(Rng& rng, double, bool odd, Scene& s) {
  auto q = random_quad(rng, rng.u(0.2, 0.4));
  if (odd) q.erase(q.begin() + rng.ui(0, 3));
  if (max_interior_angle(q) > deg(160)) return false;
  s.shapes.push_back(polygon(q, false, line_width(rng)));
  return finish(rng, s);
}

// A quadrilateral with bottom side a, top side b (centred at shift s, tilted by `tilt`), height h.
std::vector<Vec2> quad_from_sides(double a, double b, double h, double shift, double tilt) {
  const Vec2 top{shift, -h / 2}, d = (b / 2) * unit(tilt);
  return {{-a / 2, h / 2}, {a / 2, h / 2}, top + d, top - d};
}
// Direction difference of sides (p0 p1, p3 p2) and (p1 p2, p0 p3).
double pair_angle(const std::vector<Vec2>& q, int pair) {
  return pair == 0 ? acute_angle(q[1] - q[0], q[2] - q[3]) : acute_angle(q[2] - q[1], q[3] - q[0]);
}

// 11: trapezoid (bases parallel, legs >= 10 degrees apart); oddity: the top base tilted by
// +-U(10, 25) degrees, so that no two sides are within 10 degrees of parallel.
bool trapezoid(Rng& rng, double, bool odd, Scene& s) {
  const double a = rng.u(0.3, 0.6), b = rng.u(0.15, 0.45);
  const auto q = quad_from_sides(a, b, rng.u(0.2, 0.4), rng.u(-0.1, 0.1), odd ? rng.sign() * deg(rng.u(10, 25)) : 0);
  if (pair_angle(q, 1) < deg(10) || (odd && pair_angle(q, 0) < deg(10))) return false;
  if (max_interior_angle(q) > deg(160) || convex_hull(q).size() != 4) return false;
  s.shapes.push_back(polygon(q, false, line_width(rng)));
  return finish(rng, s);
}

// 12: parallelogram (base a, sheared top of the same length); oddity: the top side lengthened
// or shortened so that the legs are >= 10 degrees apart (a trapezoid, not a parallelogram).
bool parallelogram(Rng& rng, double, bool odd, Scene& s) {
  const double a = rng.u(0.25, 0.55), h = rng.u(0.2, 0.4), shift = rng.u(-0.15, 0.15);
  const double b = odd ? a + rng.sign() * rng.u(0.12, 0.25) : a;
  if (b < 0.1) return false;
  const auto q = quad_from_sides(a, b, h, shift, 0);
  if (odd && pair_angle(q, 1) < deg(10)) return false;
  if (max_interior_angle(q) > deg(160)) return false;
  s.shapes.push_back(polygon(q, false, line_width(rng)));
  return finish(rng, s);
}

// 13: rectangle; oddity sheared to an interior angle of U(44, 75) degrees, same side lengths.
bool rectangle(Rng& rng, double, bool odd, Scene& s) {
  const double w = rng.u(0.2, 0.5), h = rng.u(0.2, 0.5), a = odd ? deg(rng.u(44, 75)) : deg(90);
  const Vec2 side = h * unit(a);
  s.shapes.push_back(polygon({{0, 0}, {w, 0}, Vec2{w, 0} + side, side}, false, line_width(rng)));
  return finish(rng, s);
}

// 14: square; oddity a rectangle with |w - h| >= 0.05.
bool square(Rng& rng, double, bool odd, Scene& s) {
  const double w = rng.u(0.2, 0.5), h = odd ? rng.u(0.15, 0.6) : w;
  if (odd && std::abs(w - h) < 0.05) return false;
  s.shapes.push_back(polygon({{0, 0}, {w, 0}, {w, h}, {0, h}}, false, line_width(rng)));
  return finish(rng, s);
}

// 15: equilateral triangle of side t; oddity isosceles with base t +- U(0.1, 0.25).
bool equilateral(Rng& rng, double, bool odd, Scene& s) {
  const double t = rng.u(0.25, 0.5), base = odd ? t + rng.sign() * rng.u(0.1, 0.25) : t;
  if (base < 0.1) return false;
  const double h = std::sqrt(t * t - base * base / 4);
  s.shapes.push_back(polygon({{-base / 2, 0}, {base / 2, 0}, {0, -h}}, false, line_width(rng)));
  return finish(rng, s);
}

// 16: triangle inscribed in a circle: one side a diameter (right angle) and the third vertex
// >= 20 degrees from its ends; oddity: every vertex pair subtends a central angle outside
// (150, 210) degrees and >= 30 degrees. Thick outline (black unless clean_colours).
bool right_triangle(Rng& rng, double, bool odd, Scene& s) {
  const double r = rng.u(0.2, 0.4), a0 = rng.angle();
  double a[3] = {a0, a0 + kPi, a0 + (rng.coin() ? 1 : -1) * deg(rng.u(20, 160))};
  if (odd) {
    for (auto& x : a) x = rng.angle();
    for (int i = 0; i < 3; ++i) {
      for (int j = i + 1; j < 3; ++j) {
        double c = std::fmod(std::abs(a[i] - a[j]), 2 * kPi);
        c = std::min(c, 2 * kPi - c);  // central angle in [0, 180]
        if (c > deg(150) || c < deg(30)) return false;
      }
    }
  }
  Shape t = polygon({r * unit(a[0]), r * unit(a[1]), r * unit(a[2])}, false, rng.u(0.02, 0.03));
  t.ink = Ink::black;
  s.shapes.push_back(t);
  return finish(rng, s, false);
}

// 17: filled disk; oddity a filled ellipse with |2 rx - 2 ry| >= 0.05, turned at random.
bool circle(Rng& rng, double, bool odd, Scene& s) {
  const double rx = rng.u(0.1, 0.3), ry = odd ? rng.u(0.1, 0.35) : rx;
  if (odd && std::abs(2 * rx - 2 * ry) < 0.05) return false;
  s.shapes.push_back(ellipse({0, 0}, rx, ry, odd ? rng.angle() : 0, true, 0));
  return place(s, rng);
}

// 18: Catmull-Rom blob through convex-hull vertices (solidity >= 0.98); oddity: one hull vertex
// pulled U(45, 75) % of the way to the centre (solidity <= 0.95).
bool convex(Rng& rng, double, bool odd, Scene& s) {
  auto h = blob_hull(rng, rng.u(0.2, 0.35));
  if (odd) {
    const Vec2 c = centroid(h);
    auto& v = h[rng.ui(0, static_cast<int>(h.size()) - 1)];
    v = v + rng.u(0.45, 0.75) * (c - v);
  }
  const auto blob = catmull_rom_closed(h, 12);
  const double sol = solidity(blob);
  if (odd ? sol > 0.95 : sol < 0.98) return false;
  if (polygon_area(blob) < 0.02) return false;
  s.shapes.push_back(polygon(blob, true, 0));
  return finish(rng, s);
}

// 41: closed smooth curve (1 px outline), dot of radius 2 px at the 100 px size inside
// (oddity: outside), >= 0.03 from the curve.
bool inside(Rng& rng, double, bool odd, Scene& s) {
  const auto c = random_blob(rng, rng.ui(5, 8), 0.12, 0.35);
  Vec2 p{rng.u(-0.4, 0.4), rng.u(-0.4, 0.4)};
  if (point_in_polygon(p, c) == odd || distance_to_polygon(p, c) < 0.03) return false;
  s.shapes.push_back(polygon(c, false, 0));
  s.shapes.push_back(disk(p, 2.0 / kRenderSide));
  return place(s, rng);
}

// 42: closed smooth curve (1 px); oddity: U(8, 15) % of its points removed, an open curve whose
// ends are >= 0.08 apart.
bool closure(Rng& rng, double, bool odd, Scene& s) {
  auto c = random_blob(rng, rng.ui(5, 8), 0.15, 0.35);
  if (!odd) {
    s.shapes.push_back(polygon(c, false, 0));
  } else {
    const int n = static_cast<int>(c.size()), gap = static_cast<int>(n * rng.u(0.08, 0.15)), start = rng.ui(0, n - 1);
    std::vector<Vec2> open;
    for (int i = 0; i < n - gap; ++i) open.push_back(c[(start + i) % n]);
    if (norm(open.front() - open.back()) < 0.08) return false;
    s.shapes.push_back(polyline(open, 0));
  }
  return place(s, rng);
}

// 43: one filled convex blob; oddity: the blob cut by a line near its centre, the halves pushed
// apart perpendicular to the cut to a gap of U(0.05, 0.1); exactly 1 (oddity 2) 8-connected
// components at 100 px, aliased.
bool connectedness(Rng& rng, double, bool odd, Scene& s) {
  const auto b = convex_blob(rng, rng.u(0.2, 0.32));
  if (!odd) {
    s.shapes.push_back(polygon(b, true, 0));
    return place(s, rng) && ink_components(s) == 1;
  }
  const Vec2 n = unit(rng.angle());
  const double c = dot(n, centroid(b)) + rng.u(-0.03, 0.03), gap = rng.u(0.05, 0.1);
  auto lo = clip_halfplane(b, n, c), hi = clip_halfplane(b, -1.0 * n, -c);
  if (polygon_area(lo) < 0.01 || polygon_area(hi) < 0.01) return false;
  for (auto& p : lo) p = p - (gap / 2) * n;
  for (auto& p : hi) p = p + (gap / 2) * n;
  if (polygon_distance(lo, hi) < 0.05) return false;
  s.shapes.push_back(polygon(lo, true, 0));
  s.shapes.push_back(polygon(hi, true, 0));
  // A sliver of a piece can fall apart into pixels: the spec's rule counts pixel components.
  return place(s, rng) && ink_components(s) == 2;
}

// 44: filled smooth blob; oddity: with a white disk hole of radius U(0.04, 0.08) >= 0.03 inside.
bool holes(Rng& rng, double, bool odd, Scene& s) {
  const auto b = random_blob(rng, rng.ui(5, 8), 0.2, 0.35);
  s.shapes.push_back(polygon(b, true, 0));
  if (odd) {
    const double r = rng.u(0.04, 0.08);
    const Vec2 p = centroid(b) + rng.u(0, 0.1) * unit(rng.angle());
    if (!point_in_polygon(p, b) || distance_to_polygon(p, b) < r + 0.03) return false;
    s.shapes.push_back(disk(p, r, Ink::white));
  }
  return place(s, rng);
}

}  // namespace

void shape_riddles(RiddleDef* t) {
  t[10] = {"quadrilateral", nullptr, quadrilateral};
  t[11] = {"trapezoid", nullptr, trapezoid};
  t[12] = {"parallelogram", nullptr, parallelogram};
  t[13] = {"rectangle", nullptr, rectangle};
  t[14] = {"square", nullptr, square};
  t[15] = {"equilateral_triangle", nullptr, equilateral};
  t[16] = {"right_triangle", nullptr, right_triangle};
  t[17] = {"circle", nullptr, circle};
  t[18] = {"convex_shape", nullptr, convex};
  t[41] = {"inside", nullptr, inside};
  t[42] = {"closure", nullptr, closure};
  t[43] = {"connectedness", nullptr, connectedness};
  t[44] = {"holes", nullptr, holes};
}

}  // namespace nc::data::oddity

// Riddles 19-25 and 33-40: symmetric figures, chirality, pairs of shapes (docs/oddity.md).
#include <algorithm>
#include <cmath>

#include "oddity_riddles.h"

namespace nc::data::oddity {

namespace {

// 19-21: a filled figure symmetric about the x axis: a smooth closed curve through 7 stations
// along the axis, half-widths U(0.05, 0.22) (0 at the two ends). The oddity redraws one half
// with sum |dh| >= 0.15. Anchors: two points on the axis. The axis is turned by `axis`.
bool figure(Rng& rng, bool odd, double axis, Scene& s) {
  const int n = 7;
  const double len = rng.u(0.4, 0.7);
  std::vector<double> up(n, 0), down(n, 0);
  double moved = 0;
  for (int i = 1; i < n - 1; ++i) {
    up[i] = rng.u(0.05, 0.22);
    down[i] = up[i];
    if (odd) {
      down[i] = std::max(0.03, up[i] + rng.u(-0.12, 0.12));
      moved += std::abs(down[i] - up[i]);
    }
  }
  if (odd && moved < 0.15) return false;
  std::vector<Vec2> pts;
  for (int i = 0; i < n; ++i) pts.push_back({len * (i / (n - 1.0) - 0.5), -up[i]});
  for (int i = n - 2; i > 0; --i) pts.push_back({len * (i / (n - 1.0) - 0.5), down[i]});
  s.shapes.push_back(polygon(catmull_rom_closed(pts, 8), true, 0));
  s.anchors = {{-len / 2, 0}, {len / 2, 0}};
  rotate_scene(s, axis);
  return place(s, rng);
}
bool symmetry_vertical(Rng& rng, double, bool odd, Scene& s) { return figure(rng, odd, deg(90), s); }
bool symmetry_horizontal(Rng& rng, double, bool odd, Scene& s) { return figure(rng, odd, 0, s); }
bool symmetry_oblique(Rng& rng, double, bool odd, Scene& s) {
  return figure(rng, odd, rng.sign() * deg(rng.ui(15, 75)), s);
}

// 22-25: a stick from (0, L/2) up to (0, -L/2) with an appendage on its side near the top:
// an outline circle (22, 24) or a filled flag triangle (23, 25). Context: the appendage on the
// +x side of the stick (cross(top - base, appendage - base) < 0 in these y-down coordinates);
// oddity: mirrored. 22/23 stand upright or upside down; 24/25 turn by U{5..355} degrees.
bool chiral(Rng& rng, bool odd, bool flag, bool oblique, Scene& s) {
  const double len = rng.u(0.3, 0.6), w = line_width(rng), side = odd ? -1 : 1;
  const Vec2 base{0, len / 2}, top{0, -len / 2};
  s.shapes.push_back(segment(base, top, w));
  if (flag) {
    const double f = rng.u(0.1, 0.15);
    s.shapes.push_back(polygon({top, top + Vec2{0, f}, top + Vec2{side * 1.2 * f, f / 2}}, true, 0));
  } else {
    const double r = rng.u(0.05, 0.08);
    s.shapes.push_back(ellipse(top + Vec2{side * r, r}, r, r, 0, false, w));
  }
  rotate_scene(s, oblique ? deg(rng.ui(5, 355)) : (rng.coin() ? kPi : 0));
  return place(s, rng);
}
bool chiral_circle_vertical(Rng& rng, double, bool odd, Scene& s) { return chiral(rng, odd, false, false, s); }
bool chiral_flag_vertical(Rng& rng, double, bool odd, Scene& s) { return chiral(rng, odd, true, false, s); }
bool chiral_circle_oblique(Rng& rng, double, bool odd, Scene& s) { return chiral(rng, odd, false, true, s); }
bool chiral_flag_oblique(Rng& rng, double, bool odd, Scene& s) { return chiral(rng, odd, true, true, s); }

std::vector<Vec2> moved(std::vector<Vec2> pts, double turn, double scale, Vec2 to) {
  const Vec2 c = centroid(pts);
  for (auto& p : pts) p = to + scale * rotate(p - c, turn);
  return pts;
}
double radius(const std::vector<Vec2>& pts) {
  double r = 0;
  const Vec2 c = centroid(pts);
  for (const auto& p : pts) r = std::max(r, norm(p - c));
  return r;
}

// 33-35: a filled triangle and a copy `scale` times larger, translated 0.05 clear of it;
// `turn` turns the copy about its centre. 33: scale 1, oddity turned +-U(30, 150) degrees;
// 34: scale shared U(1.5, 2.5), oddity turned; 35: oddity's scale >= 1.5 from the shared one.
// The oddity must not match any translated/scaled copy (cyclic vertex error >= 0.03).
bool pair_of_triangles(Rng& rng, double r, double scale, double turn, Scene& s) {
  const auto t = random_triangle(rng, r);
  const double gap = radius(t) * (1 + scale) + 0.05;
  const auto copy = moved(t, turn, scale, rng.u(gap, gap + 0.15) * unit(rng.angle()));
  if (turn != 0 && cyclic_match_error(moved(t, 0, scale, centroid(copy)), copy) < 0.03) return false;
  s.shapes.push_back(polygon(t, true, 0));
  s.shapes.push_back(polygon(copy, true, 0));
  return place(s, rng);
}
double turn_of(Rng& rng, bool odd) { return odd ? rng.sign() * deg(rng.u(30, 150)) : 0.0; }
bool translation(Rng& rng, double, bool odd, Scene& s) {
  return pair_of_triangles(rng, rng.u(0.08, 0.15), 1, turn_of(rng, odd), s);
}
double homothecy_scale(Rng& rng, bool odd, double context) { return odd ? context : rng.u(1.5, 2.5); }
bool homothecy_orientation(Rng& rng, double k, bool odd, Scene& s) {
  return pair_of_triangles(rng, rng.u(0.05, 0.09), k, turn_of(rng, odd), s);
}
double homothecy_size(Rng& rng, bool odd, double context) {
  if (!odd) return rng.u(1.5, 4.0);
  for (;;) {
    const double k = rng.u(1.2, 5.5);
    if (std::abs(k - context) >= 1.5) return k;
  }
}
bool homothecy(Rng& rng, double k, bool, Scene& s) { return pair_of_triangles(rng, rng.u(0.035, 0.07), k, 0, s); }

// 36-38: the axis (a drawn segment through the origin at angle `axis`), a filled triangle or
// quadrilateral U(0.12, 0.25) to one side, and its mirror image (oddity: the copy translated to
// the mirrored centre, >= 0.04 from the mirror image). Both clear of the axis by 0.02.
bool pair_symmetry(Rng& rng, bool odd, double axis, Scene& s) {
  auto shape = rng.coin() ? random_triangle(rng, rng.u(0.07, 0.13)) : random_quad(rng, rng.u(0.07, 0.13));
  const double d = rng.u(0.12, 0.25), along = rng.u(-0.15, 0.15);
  shape = moved(shape, 0, 1, {along, d});
  std::vector<Vec2> copy;
  for (const auto& p : shape) copy.push_back({p.x, -p.y});
  if (odd) {
    const auto mirror = copy;
    copy = moved(shape, 0, 1, {centroid(shape).x, -centroid(shape).y});
    double far = 0;  // Hausdorff distance between the mirror image and the translated copy
    for (const auto& p : mirror) far = std::max(far, distance_to_polygon(p, copy));
    for (const auto& p : copy) far = std::max(far, distance_to_polygon(p, mirror));
    if (far < 0.04) return false;
  }
  for (const auto& p : shape) {
    if (p.y < 0.02) return false;
  }
  const double half = rng.u(0.3, 0.42);
  s.shapes.push_back(segment({-half, 0}, {half, 0}, line_width(rng)));
  s.shapes.push_back(polygon(shape, true, 0));
  s.shapes.push_back(polygon(copy, true, 0));
  rotate_scene(s, axis);
  return place(s, rng);
}
bool pair_horizontal(Rng& rng, double, bool odd, Scene& s) { return pair_symmetry(rng, odd, 0, s); }
bool pair_vertical(Rng& rng, double, bool odd, Scene& s) { return pair_symmetry(rng, odd, deg(90), s); }
bool pair_oblique(Rng& rng, double, bool odd, Scene& s) {
  return pair_symmetry(rng, odd, rng.sign() * deg(rng.ui(15, 75)), s);
}

// 39: centre dot (radius 1-4 %), a filled triangle U(0.18, 0.3) away and its point reflection
// (oddity: a translated copy at the reflected centre, >= 0.03 from the reflection).
bool point_symmetry(Rng& rng, double, bool odd, Scene& s) {
  const auto t = moved(random_triangle(rng, rng.u(0.07, 0.13)), 0, 1, rng.u(0.18, 0.3) * unit(rng.angle()));
  std::vector<Vec2> copy;
  for (const auto& p : t) copy.push_back(-1.0 * p);
  if (odd) {
    const auto reflected = copy;
    copy = moved(t, 0, 1, -1.0 * centroid(t));
    if (cyclic_match_error(reflected, copy) < 0.03) return false;
  }
  if (polygon_distance(t, copy) < 0.05) return false;
  s.shapes.push_back(polygon(t, true, 0));
  s.shapes.push_back(polygon(copy, true, 0));
  s.shapes.push_back(disk({0, 0}, rng.u(0.01, 0.04)));
  if (point_in_polygon({0, 0}, t) || distance_to_polygon({0, 0}, t) < s.shapes.back().rx + 0.02) return false;
  return place(s, rng);
}

// 40: pivot dot (radius = line width) at the origin, a filled triangle U(0.15, 0.3) away, its
// copy turned about the pivot by +-U(60, 180) degrees, 1 px lines from the pivot to both centres.
// Oddity: the copy also turned about its own centre by +-U(30, 150) degrees (>= 0.03 from the
// rigid rotation). The triangles stay 0.03 apart.
bool rotation(Rng& rng, double, bool odd, Scene& s) {
  const auto t = moved(random_triangle(rng, rng.u(0.06, 0.1)), 0, 1, rng.u(0.15, 0.3) * unit(rng.angle()));
  const double a = rng.sign() * deg(rng.u(60, 180));
  std::vector<Vec2> copy;
  for (const auto& p : t) copy.push_back(rotate(p, a));
  if (odd) {
    const auto rigid = copy;
    copy = moved(copy, rng.sign() * deg(rng.u(30, 150)), 1, centroid(copy));
    if (cyclic_match_error(rigid, copy) < 0.03) return false;
  }
  if (polygon_distance(t, copy) < 0.03) return false;
  const double w = line_width(rng);
  s.shapes.push_back(segment({0, 0}, centroid(t), 0));
  s.shapes.push_back(segment({0, 0}, centroid(copy), 0));
  s.shapes.push_back(polygon(t, true, 0));
  s.shapes.push_back(polygon(copy, true, 0));
  s.shapes.push_back(disk({0, 0}, w));
  return place(s, rng);
}

}  // namespace

void pair_riddles(RiddleDef* t) {
  t[19] = {"symmetry_vertical", nullptr, symmetry_vertical};
  t[20] = {"symmetry_horizontal", nullptr, symmetry_horizontal};
  t[21] = {"symmetry_oblique", nullptr, symmetry_oblique};
  t[22] = {"chiral_circle_vertical", nullptr, chiral_circle_vertical};
  t[23] = {"chiral_flag_vertical", nullptr, chiral_flag_vertical};
  t[24] = {"chiral_circle_oblique", nullptr, chiral_circle_oblique};
  t[25] = {"chiral_flag_oblique", nullptr, chiral_flag_oblique};
  t[33] = {"translation", nullptr, translation};
  t[34] = {"homothecy_orientation", homothecy_scale, homothecy_orientation};
  t[35] = {"homothecy_size", homothecy_size, homothecy};
  t[36] = {"pair_symmetry_horizontal", nullptr, pair_horizontal};
  t[37] = {"pair_symmetry_vertical", nullptr, pair_vertical};
  t[38] = {"pair_symmetry_oblique", nullptr, pair_oblique};
  t[39] = {"point_symmetry", nullptr, point_symmetry};
  t[40] = {"rotation", nullptr, rotation};
}

}  // namespace nc::data::oddity

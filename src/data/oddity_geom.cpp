// Geometry helpers of the oddity scene generators (oddity_geom.h).
#include "oddity_geom.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "neurocore/data/omnist.h"  // splitmix64

namespace nc::data::oddity {

uint64_t Rng::next() { return splitmix64(state_ += 0x9E3779B97F4A7C15ULL); }

Vec2 rotate(Vec2 p, double angle, Vec2 about) {
  const double c = std::cos(angle), s = std::sin(angle);
  const Vec2 d = p - about;
  return {about.x + c * d.x - s * d.y, about.y + s * d.x + c * d.y};
}

Vec2 centroid(const std::vector<Vec2>& pts) {
  Vec2 c;
  for (const auto& p : pts) c = c + p;
  return (1.0 / static_cast<double>(pts.size())) * c;
}

double acute_angle(Vec2 a, Vec2 b) {
  const double c = std::abs(dot(a, b)) / (norm(a) * norm(b));
  return std::acos(std::min(1.0, c));
}

Vec2 reflect(Vec2 p, Vec2 a, Vec2 d) {
  const Vec2 u = (1.0 / norm(d)) * d;
  const Vec2 q = p - a;
  return a + (2.0 * dot(q, u)) * u - q;
}

Shape segment(Vec2 a, Vec2 b, double width) { return polyline({a, b}, width); }

Shape polyline(std::vector<Vec2> pts, double width) {
  Shape s;
  s.kind = Shape::Kind::polyline;
  s.points = std::move(pts);
  s.width = width;
  return s;
}

Shape polygon(std::vector<Vec2> pts, bool filled, double width) {
  Shape s;
  s.kind = Shape::Kind::polygon;
  s.points = std::move(pts);
  s.filled = filled;
  s.width = width;
  return s;
}

Shape disk(Vec2 c, double r, Ink ink) {
  Shape s = ellipse(c, r, r, 0, true, 0);
  s.ink = ink;
  return s;
}

Shape ellipse(Vec2 c, double rx, double ry, double angle, bool filled, double width) {
  Shape s;
  s.kind = Shape::Kind::ellipse;
  s.centre = c;
  s.rx = rx;
  s.ry = ry;
  s.angle = angle;
  s.filled = filled;
  s.width = width;
  return s;
}

std::vector<Vec2> bezier(Vec2 p0, Vec2 c, Vec2 p2, int n) {
  std::vector<Vec2> out;
  for (int i = 0; i <= n; ++i) {
    const double t = static_cast<double>(i) / n, s = 1 - t;
    out.push_back((s * s) * p0 + (2 * s * t) * c + (t * t) * p2);
  }
  return out;
}

std::vector<Vec2> catmull_rom_closed(const std::vector<Vec2>& p, int per_segment) {
  // Uniform Catmull-Rom: the curve passes through every point, tangent (p[i+1] - p[i-1]) / 2.
  std::vector<Vec2> out;
  const size_t n = p.size();
  for (size_t i = 0; i < n; ++i) {
    const Vec2 p0 = p[(i + n - 1) % n], p1 = p[i], p2 = p[(i + 1) % n], p3 = p[(i + 2) % n];
    for (int k = 0; k < per_segment; ++k) {
      const double t = static_cast<double>(k) / per_segment, t2 = t * t, t3 = t2 * t;
      out.push_back(0.5 * ((2 * t3 - 3 * t2 + 1) * (2.0 * p1) + (t3 - 2 * t2 + t) * (p2 - p0) +
                           (-2 * t3 + 3 * t2) * (2.0 * p2) + (t3 - t2) * (p3 - p1)));
    }
  }
  return out;
}

std::vector<Vec2> convex_hull(std::vector<Vec2> pts) {
  std::sort(pts.begin(), pts.end(), [](Vec2 a, Vec2 b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  if (pts.size() < 3) return pts;
  std::vector<Vec2> h(2 * pts.size());
  size_t k = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    while (k >= 2 && cross(h[k - 1] - h[k - 2], pts[i] - h[k - 2]) <= 0) --k;
    h[k++] = pts[i];
  }
  for (size_t i = pts.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(h[k - 1] - h[k - 2], pts[i] - h[k - 2]) <= 0) --k;
    h[k++] = pts[i];
  }
  h.resize(k - 1);
  return h;
}

double polygon_area(const std::vector<Vec2>& poly) {
  double a = 0;
  for (size_t i = 0; i < poly.size(); ++i) a += cross(poly[i], poly[(i + 1) % poly.size()]);
  return std::abs(a) / 2;
}

double solidity(const std::vector<Vec2>& poly) { return polygon_area(poly) / polygon_area(convex_hull(poly)); }

bool point_in_polygon(Vec2 p, const std::vector<Vec2>& poly) {
  bool in = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const Vec2 a = poly[i], b = poly[j];
    if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) in = !in;
  }
  return in;
}

namespace {
double point_segment(Vec2 p, Vec2 a, Vec2 b) {
  const Vec2 d = b - a;
  const double l2 = dot(d, d);
  const double t = l2 > 0 ? std::clamp(dot(p - a, d) / l2, 0.0, 1.0) : 0.0;
  return norm(p - (a + t * d));
}
}  // namespace

double distance_to_polygon(Vec2 p, const std::vector<Vec2>& poly) {
  double d = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < poly.size(); ++i) d = std::min(d, point_segment(p, poly[i], poly[(i + 1) % poly.size()]));
  return d;
}

double polygon_distance(const std::vector<Vec2>& a, const std::vector<Vec2>& b) {
  // Disjoint polygons: the closest pair involves a vertex of one; overlap: a vertex inside.
  for (const auto& p : a) if (point_in_polygon(p, b)) return 0;
  for (const auto& p : b) if (point_in_polygon(p, a)) return 0;
  double d = std::numeric_limits<double>::infinity();
  for (const auto& p : a) d = std::min(d, distance_to_polygon(p, b));
  for (const auto& p : b) d = std::min(d, distance_to_polygon(p, a));
  return d;
}

std::vector<Vec2> clip_halfplane(const std::vector<Vec2>& poly, Vec2 n, double c) {
  std::vector<Vec2> out;
  for (size_t i = 0; i < poly.size(); ++i) {
    const Vec2 a = poly[i], b = poly[(i + 1) % poly.size()];
    const double da = dot(n, a) - c, db = dot(n, b) - c;
    if (da <= 0) out.push_back(a);
    if ((da < 0 && db > 0) || (da > 0 && db < 0)) out.push_back(a + (da / (da - db)) * (b - a));
  }
  return out;
}

double max_interior_angle(const std::vector<Vec2>& poly) {
  double m = 0;
  const size_t n = poly.size();
  for (size_t i = 0; i < n; ++i) {
    const Vec2 a = poly[(i + n - 1) % n] - poly[i], b = poly[(i + 1) % n] - poly[i];
    m = std::max(m, std::acos(std::clamp(dot(a, b) / (norm(a) * norm(b)), -1.0, 1.0)));
  }
  return m;
}

double min_triangle_angle(const std::vector<Vec2>& t) {
  double m = kPi;
  for (int i = 0; i < 3; ++i) {
    const Vec2 a = t[(i + 2) % 3] - t[i], b = t[(i + 1) % 3] - t[i];
    m = std::min(m, std::acos(std::clamp(dot(a, b) / (norm(a) * norm(b)), -1.0, 1.0)));
  }
  return m;
}

double cyclic_match_error(const std::vector<Vec2>& a, const std::vector<Vec2>& b) {
  double best = std::numeric_limits<double>::infinity();
  for (size_t s = 0; s < b.size(); ++s) {
    double e = 0;
    for (size_t i = 0; i < a.size(); ++i) e = std::max(e, norm(a[i] - b[(i + s) % b.size()]));
    best = std::min(best, e);
  }
  return best;
}

std::vector<Vec2> random_triangle(Rng& rng, double r) {
  for (;;) {
    std::vector<double> a = {rng.angle(), rng.angle(), rng.angle()};
    std::sort(a.begin(), a.end());
    if (a[1] - a[0] < deg(60) || a[2] - a[1] < deg(60) || a[0] + 2 * kPi - a[2] < deg(60)) continue;
    std::vector<Vec2> t;
    for (double x : a) t.push_back(r * unit(x));
    if (min_triangle_angle(t) < deg(20)) continue;
    const Vec2 c = centroid(t);
    for (auto& p : t) p = p - c;
    return t;
  }
}

std::vector<Vec2> random_quad(Rng& rng, double r) {
  for (;;) {
    std::vector<double> a = {rng.angle(), rng.angle(), rng.angle(), rng.angle()};
    std::sort(a.begin(), a.end());
    bool ok = a[0] + 2 * kPi - a[3] >= deg(50);
    for (int i = 0; i < 3; ++i) ok = ok && a[i + 1] - a[i] >= deg(50);
    if (!ok) continue;
    std::vector<Vec2> q;
    for (double x : a) q.push_back((r * rng.u(0.8, 1.0)) * unit(x));
    if (max_interior_angle(q) > deg(160) || convex_hull(q).size() != 4) continue;
    return q;
  }
}

std::vector<Vec2> random_blob(Rng& rng, int n, double r_min, double r_max) {
  std::vector<Vec2> p;
  const double step = 2 * kPi / n, start = rng.angle();
  for (int i = 0; i < n; ++i) p.push_back(rng.u(r_min, r_max) * unit(start + step * (i + rng.u(-0.3, 0.3))));
  return catmull_rom_closed(p, 12);
}

std::vector<Vec2> convex_blob(Rng& rng, double r) { return catmull_rom_closed(blob_hull(rng, r), 12); }

std::vector<Vec2> blob_hull(Rng& rng, double r) {
  for (;;) {
    std::vector<Vec2> p;
    const int n = rng.ui(5, 8);
    for (int i = 0; i < n; ++i) p.push_back((r * std::sqrt(rng.u(0.3, 1.0))) * unit(rng.angle()));
    const auto h = convex_hull(p);
    if (h.size() < 4 || polygon_area(h) < 0.5 * r * r) continue;
    // Close hull vertices make the spline overshoot into a thin loop (a stray component).
    bool spread = true;
    for (size_t i = 0; i < h.size(); ++i) spread = spread && norm(h[(i + 1) % h.size()] - h[i]) >= 0.35 * r;
    if (!spread) continue;
    return h;
  }
}

namespace {

void transform_scene(Scene& s, const std::function<Vec2(Vec2)>& f, double turn) {
  for (auto& sh : s.shapes) {
    for (auto& p : sh.points) p = f(p);
    sh.centre = f(sh.centre);
    sh.angle += turn;
  }
  for (auto& a : s.anchors) a = f(a);
}

// The ink's bounding box, padded by half the stroke width and one pixel (aliased rounding).
void ink_box(const Scene& s, Vec2& lo, Vec2& hi) {
  const double inf = std::numeric_limits<double>::infinity();
  lo = {inf, inf};
  hi = {-inf, -inf};
  auto grow = [&](Vec2 p, double pad) {
    lo = {std::min(lo.x, p.x - pad), std::min(lo.y, p.y - pad)};
    hi = {std::max(hi.x, p.x + pad), std::max(hi.y, p.y + pad)};
  };
  const double px = 1.0 / kRenderSide;
  for (const auto& sh : s.shapes) {
    const double pad = (sh.filled && sh.kind != Shape::Kind::polyline ? 0 : std::max(sh.width, px) / 2) + px;
    if (sh.kind == Shape::Kind::ellipse) {
      const double c = std::cos(sh.angle), si = std::sin(sh.angle);
      const double ex = std::hypot(sh.rx * c, sh.ry * si), ey = std::hypot(sh.rx * si, sh.ry * c);
      grow({sh.centre.x - ex, sh.centre.y - ey}, pad);
      grow({sh.centre.x + ex, sh.centre.y + ey}, pad);
    } else {
      for (const auto& p : sh.points) grow(p, pad);
    }
  }
}

}  // namespace

void rotate_scene(Scene& s, double angle) {
  transform_scene(s, [angle](Vec2 p) { return rotate(p, angle); }, angle);
}

void translate_scene(Scene& s, Vec2 t) {
  transform_scene(s, [t](Vec2 p) { return p + t; }, 0);
}

bool place(Scene& s, Rng& rng) {
  Vec2 lo, hi;
  ink_box(s, lo, hi);
  const double margin = 0.05;
  const double room_x = (1 - 2 * margin) - (hi.x - lo.x), room_y = (1 - 2 * margin) - (hi.y - lo.y);
  if (room_x < 0 || room_y < 0) return false;
  translate_scene(s, {margin + rng.u(0, room_x) - lo.x, margin + rng.u(0, room_y) - lo.y});
  return true;
}

}  // namespace nc::data::oddity

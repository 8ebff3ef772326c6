#pragma once
// Geometry and randomness shared by the oddity scene generators (oddity_riddles_*.cpp).
// Internal to src/data: the tests check scenes with their own geometry, not with this.
#include <cmath>
#include <cstdint>
#include <vector>

#include "neurocore/data/oddity.h"

namespace nc::data::oddity {

constexpr double kPi = 3.14159265358979323846;
inline double deg(double d) { return d * kPi / 180.0; }

/// splitmix64 stream: the same samples on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double u() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double u(double a, double b) { return a + (b - a) * u(); }
  int ui(int a, int b) { return a + static_cast<int>(u() * (b - a + 1)); }  // {a..b}
  int sign() { return (next() >> 63) ? 1 : -1; }
  bool coin() { return (next() >> 63) != 0; }
  double angle() { return u(0, 2 * kPi); }

 private:
  uint64_t state_;
};

inline Vec2 operator+(Vec2 a, Vec2 b) { return {a.x + b.x, a.y + b.y}; }
inline Vec2 operator-(Vec2 a, Vec2 b) { return {a.x - b.x, a.y - b.y}; }
inline Vec2 operator*(double s, Vec2 a) { return {s * a.x, s * a.y}; }
inline double dot(Vec2 a, Vec2 b) { return a.x * b.x + a.y * b.y; }
inline double cross(Vec2 a, Vec2 b) { return a.x * b.y - a.y * b.x; }
inline double norm(Vec2 a) { return std::hypot(a.x, a.y); }
inline Vec2 unit(double angle) { return {std::cos(angle), std::sin(angle)}; }
inline Vec2 perp(Vec2 a) { return {-a.y, a.x}; }
Vec2 rotate(Vec2 p, double angle, Vec2 about = {});
Vec2 centroid(const std::vector<Vec2>& pts);  ///< vertex mean
/// The acute angle between two directions, radians in [0, pi/2].
double acute_angle(Vec2 a, Vec2 b);
/// Reflection of p across the line through a with direction d.
Vec2 reflect(Vec2 p, Vec2 a, Vec2 d);

// Primitives.
Shape segment(Vec2 a, Vec2 b, double width);
Shape polyline(std::vector<Vec2> pts, double width);
Shape polygon(std::vector<Vec2> pts, bool filled, double width);
Shape disk(Vec2 c, double r, Ink ink = Ink::foreground);
Shape ellipse(Vec2 c, double rx, double ry, double angle, bool filled, double width);

// Curves, flattened.
std::vector<Vec2> bezier(Vec2 p0, Vec2 c, Vec2 p2, int n);
std::vector<Vec2> catmull_rom_closed(const std::vector<Vec2>& pts, int per_segment);
std::vector<Vec2> convex_hull(std::vector<Vec2> pts);  ///< counter-clockwise (y up) order
double polygon_area(const std::vector<Vec2>& poly);       ///< absolute
double solidity(const std::vector<Vec2>& poly);          ///< area / hull area
bool point_in_polygon(Vec2 p, const std::vector<Vec2>& poly);
double distance_to_polygon(Vec2 p, const std::vector<Vec2>& poly);  ///< to the boundary
double polygon_distance(const std::vector<Vec2>& a, const std::vector<Vec2>& b);  ///< 0 if touching
/// Sutherland-Hodgman: the part of `poly` where dot(n, x) <= c.
std::vector<Vec2> clip_halfplane(const std::vector<Vec2>& poly, Vec2 n, double c);
/// Largest interior angle of a polygon, radians (near pi: nearly collinear vertices).
double max_interior_angle(const std::vector<Vec2>& poly);
/// Smallest interior angle of a triangle, radians.
double min_triangle_angle(const std::vector<Vec2>& t);
/// max over vertices i of |a_i - b_i|, minimised over the cyclic shifts of b.
double cyclic_match_error(const std::vector<Vec2>& a, const std::vector<Vec2>& b);

/// A random triangle: three points at angles >= 60 degrees apart on a circle of radius r, its
/// smallest angle >= 20 degrees, centred on its vertex mean.
std::vector<Vec2> random_triangle(Rng& rng, double r);
/// A random convex quadrilateral around the origin (angles >= 50 degrees apart on a circle of
/// radius r, radii jittered by [0.8, 1]).
std::vector<Vec2> random_quad(Rng& rng, double r);
/// A smooth star-shaped closed curve: Catmull-Rom through n points at sorted angles with radii
/// in [r_min, r_max].
std::vector<Vec2> random_blob(Rng& rng, int n, double r_min, double r_max);
/// The convex hull of 5-8 points in a disk of radius r: >= 4 vertices, each edge >= 0.35 r long
/// (closer vertices make the spline below overshoot into a thin loop), area >= 0.5 r^2.
std::vector<Vec2> blob_hull(Rng& rng, double r);
/// A smooth convex-ish blob: Catmull-Rom through blob_hull's vertices.
std::vector<Vec2> convex_blob(Rng& rng, double r);

/// Transforms every point of a scene (shapes and anchors); ellipses turn with `angle`.
void rotate_scene(Scene& s, double angle);
void translate_scene(Scene& s, Vec2 t);
/// 8-connected components of the scene's ink drawn aliased at 100 px (oddity_raster.cpp).
int ink_components(const Scene& scene);

/// Moves the scene to a uniformly random place with all ink inside [0.05, 0.95]^2; false when
/// the ink is too large to fit.
bool place(Scene& s, Rng& rng);

}  // namespace nc::data::oddity

// The oddity rasteriser: scenes drawn with Cairo (aliased by default, as the reference), and the
// area-averaging downsampler (oddity.h).
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "neurocore/core/error.h"
#include "oddity_geom.h"

namespace nc::data::oddity {

namespace {

// One Cairo surface per thread and size: creating one per panel would dominate the cost.
struct Canvas {
  int side = 0;
  cairo_surface_t* surface = nullptr;
  cairo_t* cr = nullptr;
  ~Canvas() { release(); }
  void release() {
    if (cr) cairo_destroy(cr);
    if (surface) cairo_surface_destroy(surface);
    cr = nullptr;
    surface = nullptr;
  }
  void resize(int s) {
    if (s == side) return;
    release();
    side = s;
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, s, s);
    cr = cairo_create(surface);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) throw InternalError("oddity: cannot create a Cairo surface");
  }
};

void path_of(cairo_t* cr, const Shape& sh, double side) {
  cairo_new_path(cr);
  if (sh.kind == Shape::Kind::ellipse) {
    cairo_save(cr);
    cairo_translate(cr, sh.centre.x * side, sh.centre.y * side);
    cairo_rotate(cr, sh.angle);
    cairo_scale(cr, sh.rx * side, sh.ry * side);
    cairo_arc(cr, 0, 0, 1, 0, 2 * kPi);
    cairo_restore(cr);  // the stroke width stays in pixels
    return;
  }
  for (const auto& p : sh.points) cairo_line_to(cr, p.x * side, p.y * side);
  if (sh.kind == Shape::Kind::polygon) cairo_close_path(cr);
}

}  // namespace

void render_scene(const Scene& scene, int side, uint8_t foreground, uint8_t background,
                  const OddityOptions& options, uint8_t* out) {
  thread_local Canvas canvas;
  canvas.resize(side);
  cairo_t* cr = canvas.cr;
  cairo_set_antialias(cr, options.antialias ? CAIRO_ANTIALIAS_BEST : CAIRO_ANTIALIAS_NONE);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  auto grey = [cr](uint8_t g) { cairo_set_source_rgb(cr, g / 255.0, g / 255.0, g / 255.0); };
  grey(background);
  cairo_paint(cr);
  for (const auto& sh : scene.shapes) {
    uint8_t g = foreground;
    if (!options.clean_colours && sh.ink == Ink::white) g = 255;
    if (!options.clean_colours && sh.ink == Ink::black) g = 0;
    if (options.clean_colours && sh.ink == Ink::white) g = background;
    grey(g);
    path_of(cr, sh, side);
    if (sh.filled && sh.kind != Shape::Kind::polyline) {
      cairo_fill(cr);
    } else {
      cairo_set_line_width(cr, std::max(1.0, sh.width * side));
      cairo_stroke(cr);
    }
  }
  cairo_surface_flush(canvas.surface);
  const unsigned char* data = cairo_image_surface_get_data(canvas.surface);
  const int stride = cairo_image_surface_get_stride(canvas.surface);
  for (int y = 0; y < side; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
    for (int x = 0; x < side; ++x) out[y * side + x] = static_cast<uint8_t>(row[x] & 0xFF);  // blue = grey
  }
}

int ink_components(const Scene& scene) {
  const int n = kRenderSide;
  std::vector<uint8_t> img(n * n);
  render_scene(scene, n, 0, 255, OddityOptions{}, img.data());
  std::vector<int> stack;
  int components = 0;
  for (int start = 0; start < n * n; ++start) {
    if (img[start] == 255) continue;
    ++components;
    img[start] = 255;  // visited pixels become background
    stack.assign(1, start);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int y = p / n + dy, x = p % n + dx;
          if (y >= 0 && y < n && x >= 0 && x < n && img[y * n + x] != 255) {
            img[y * n + x] = 255;
            stack.push_back(y * n + x);
          }
        }
      }
    }
  }
  return components;
}

std::vector<uint8_t> downsample(const uint8_t* image, int side, int factor) {
  if (factor < 1 || side % factor != 0) {
    throw InternalError("oddity downsample: side " + std::to_string(side) + " not divisible by " + std::to_string(factor));
  }
  const int out_side = side / factor, area = factor * factor;
  std::vector<uint8_t> out(static_cast<size_t>(out_side) * out_side);
  for (int y = 0; y < out_side; ++y) {
    for (int x = 0; x < out_side; ++x) {
      int sum = 0;
      for (int dy = 0; dy < factor; ++dy) {
        for (int dx = 0; dx < factor; ++dx) sum += image[(y * factor + dy) * side + x * factor + dx];
      }
      out[y * out_side + x] = static_cast<uint8_t>((sum + area / 2) / area);
    }
  }
  return out;
}

}  // namespace nc::data::oddity

#pragma once
// The 45 scene generators (oddity_riddles_*.cpp), one entry per riddle id. Internal to src/data.
#include "oddity_geom.h"

namespace nc::data::oddity {

/// One riddle: `shared` draws the per-sample parameter (null: none), `scene` draws a context
/// (odd = false) or oddity (odd = true) panel into an empty scene and returns false when the
/// draw breaks the riddle's own rule check or does not fit (the caller draws again).
struct RiddleDef {
  const char* name;
  double (*shared)(Rng&, bool odd, double context);  ///< odd: the oddity's value given the context's
  bool (*scene)(Rng&, double shared, bool odd, Scene&);
};

/// Riddles 0-9 and 26-32 (lines, dots, distances), 10-18 and 41-44 (shapes, curves),
/// 19-25 and 33-40 (symmetry, chirality, pairs): fills the entries of `table` it owns.
void line_riddles(RiddleDef* table);
void shape_riddles(RiddleDef* table);
void pair_riddles(RiddleDef* table);

/// A stroke width of the reference: 1-3 % of the frame.
inline double line_width(Rng& rng) { return rng.u(0.01, 0.03); }

}  // namespace nc::data::oddity

#include "ostl_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace nc::learn::kernels {

bool fused_applicable(const torch::Tensor& eps, const torch::Tensor& g) {
  const auto t = eps.scalar_type();
  return eps.is_cpu() && g.is_cpu() && (t == torch::kFloat || t == torch::kDouble) &&
         g.scalar_type() == t && eps.is_contiguous() && g.is_contiguous();
}

void trace_update_contract(torch::Tensor& eps, const torch::Tensor& alpha, const torch::Tensor& gp,
                           const torch::Tensor& x, torch::Tensor& g, const torch::Tensor& c) {
  const int64_t B = eps.size(0), n = eps.size(1), m = eps.size(2);
  const auto a = alpha.contiguous(), gc = gp.contiguous(), xc = x.contiguous(), cc = c.contiguous();
  AT_DISPATCH_FLOATING_TYPES(eps.scalar_type(), "ostl_trace_update_contract", [&] {
    scalar_t* e = eps.data_ptr<scalar_t>();
    scalar_t* gout = g.data_ptr<scalar_t>();
    const scalar_t* ap = a.data_ptr<scalar_t>();
    const scalar_t* gpp = gc.data_ptr<scalar_t>();
    const scalar_t* xp = xc.data_ptr<scalar_t>();
    const scalar_t* cp = cc.data_ptr<scalar_t>();
    at::parallel_for(0, n, 4, [&](int64_t begin, int64_t end) {
      for (int64_t b = 0; b < B; ++b) {
        const scalar_t* xr = xp + b * m;
        for (int64_t j = begin; j < end; ++j) {
          const int64_t r = b * n + j;
          const scalar_t ar = ap[r], gr = gpp[r], cr = cp[r];
          scalar_t* row = e + r * m;
          if (cr == scalar_t(0)) {
            for (int64_t i = 0; i < m; ++i) row[i] = ar * row[i] + gr * xr[i];
            continue;
          }
          scalar_t* gj = gout + j * m;
          for (int64_t i = 0; i < m; ++i) {
            const scalar_t v = ar * row[i] + gr * xr[i];
            row[i] = v;
            gj[i] += cr * v;
          }
        }
      }
    });
  });
}

}  // namespace nc::learn::kernels

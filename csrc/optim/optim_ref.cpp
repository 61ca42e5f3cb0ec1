// Plain float64 reference of the optimizer update, written from Keras 3's rules
// (keras/src/optimizers/{sgd,adagrad,rmsprop,adam,adamax,nadam}.py) apart from the shared
// element steps (optim_rule.h), so that it checks them. Every element is read as float32,
// computed in double and stored as float32 once. The step-dependent scalars arrive in
// coef[0..2] (Python, fastdnn/optimizers.py): Adam coef0 = lr·√(1-β2^t)/(1-β1^t), Adamax
// coef0 = lr/(1-β1^t), Nadam coef0 = u_{t+1}/(1-Πu·u_{t+1}), coef1 = (1-u_t)/(1-Πu),
// coef2 = 1/(1-β2^t).
//
// Edge semantics kept from the fast path: the gradient is scaled by the norm-clipping factor
// first, then clamped to ±clipvalue (when > 0) with NaN kept NaN; decoupled weight decay
// w -= lr·wd·w before the rule, skipped when wd is 0 (so an infinite weight stays infinite);
// max(a, b) is std::max's choice (a unless a < b), so max(v̂, NaN) keeps v̂ and Adamax's
// max(β2·u, |NaN|) keeps β2·u.
#include "optim_ref.h"

#include <cmath>

namespace fastdnn {

namespace {

double larger(double a, double b) { return a < b ? b : a; }
double smaller(double a, double b) { return b < a ? b : a; }

}  // namespace

void optim_reference(const OptimHyper& h, const OptimTensor& t, int64_t i0, int64_t i1) {
  const double lr = h.lr, eps = h.eps, b1 = h.beta1, b2 = h.beta2, rho = h.rho, mu = h.momentum;
  const double cv = h.clipvalue, wd = h.weight_decay, scale = t.scale;
  const double c0 = h.coef[0], c1 = h.coef[1], c2 = h.coef[2];
  const bool momentum = h.momentum > 0;
  for (int64_t i = i0; i < i1; ++i) {
    double g = (double)t.g[i] * scale;
    if (cv > 0) g = smaller(larger(g, -cv), cv);
    double w = t.w[i];
    if (wd != 0) w = w - lr * wd * w;
    switch (h.kind) {
      case kSgd:  // velocity m = μ·m − lr·g; w += m, or w += μ·m − lr·g with Nesterov
        if (momentum) {
          const double m = mu * (double)t.s[0][i] - lr * g;
          t.s[0][i] = (float)m;
          w = h.nesterov ? w + mu * m - lr * g : w + m;
        } else {
          w = w - lr * g;
        }
        break;
      case kAdagrad: {  // accumulator a += g²; w −= lr·g / √(a + ε)
        const double a = (double)t.s[0][i] + g * g;
        t.s[0][i] = (float)a;
        w = w - lr * g / std::sqrt(a + eps);
        break;
      }
      case kRmsprop: {  // slots: velocity v, then momentum (if μ > 0), then average gradient (if centered)
        const double v = rho * (double)t.s[0][i] + (1.0 - rho) * g * g;
        t.s[0][i] = (float)v;
        double denominator = v + eps;
        if (h.centered) {
          float* avg = momentum ? t.s[2] : t.s[1];
          const double c = rho * (double)avg[i] + (1.0 - rho) * g;
          avg[i] = (float)c;
          denominator = v - c * c + eps;
        }
        const double increment = lr * g / std::sqrt(denominator);
        if (momentum) {
          const double m = mu * (double)t.s[1][i] + increment;
          t.s[1][i] = (float)m;
          w = w - m;
        } else {
          w = w - increment;
        }
        break;
      }
      case kAdam: {  // m += (g − m)(1 − β1); v += (g² − v)(1 − β2); AMSGrad: v̂ = max(v̂, v)
        const double m_old = t.s[0][i], v_old = t.s[1][i];
        const double m = m_old + (g - m_old) * (1.0 - b1);
        double v = v_old + (g * g - v_old) * (1.0 - b2);
        t.s[0][i] = (float)m;
        t.s[1][i] = (float)v;
        if (h.amsgrad) {
          v = larger((double)t.s[2][i], v);
          t.s[2][i] = (float)v;
        }
        w = w - c0 * m / (std::sqrt(v) + eps);
        break;
      }
      case kAdamax: {  // m += (g − m)(1 − β1); u = max(β2·u, |g|); w −= coef0·m / (u + ε)
        const double m_old = t.s[0][i];
        const double m = m_old + (g - m_old) * (1.0 - b1);
        const double u = larger(b2 * (double)t.s[1][i], std::fabs(g));
        t.s[0][i] = (float)m;
        t.s[1][i] = (float)u;
        w = w - c0 * m / (u + eps);
        break;
      }
      case kNadam: {  // m, v as Adam; w −= lr·(coef0·m + coef1·g) / (√(coef2·v) + ε)
        const double m_old = t.s[0][i], v_old = t.s[1][i];
        const double m = m_old + (g - m_old) * (1.0 - b1);
        const double v = v_old + (g * g - v_old) * (1.0 - b2);
        t.s[0][i] = (float)m;
        t.s[1][i] = (float)v;
        w = w - lr * (c0 * m + c1 * g) / (std::sqrt(c2 * v) + eps);
        break;
      }
    }
    t.w[i] = (float)w;
  }
}

}  // namespace fastdnn

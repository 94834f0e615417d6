// The BG/NBD model of Fader, Hardie and Lee (2005), "Counting your customers
// the easy way": maximum-likelihood fit, probability alive and conditional
// expected purchases. No plugin plumbing, so tests can fit published data.
//
// The likelihood is evaluated in logs throughout (lgamma, log-sum-exp) and
// the parameters are searched as logs, so long daily histories with hundreds
// of repeat purchases neither overflow nor step outside the domain; that is
// where a naive implementation fails to converge on Online Retail.
#pragma once

#include <math.h>  // lgamma_r

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <tuple>
#include <vector>

namespace crm::bgnbd {

struct Customer {
  double x = 0;    // repeat purchases
  double t_x = 0;  // time of the last purchase since the first
  double T = 0;    // time since the first purchase
};

struct Parameters {
  double r = 0;
  double alpha = 0;
  double a = 0;
  double b = 0;
};

struct FitResult {
  Parameters parameters;
  double log_likelihood = 0;
  int iterations = 0;
  bool converged = false;
  // The likelihood peaks at the edge of the parameter space (a -> 0 and b ->
  // infinity: no customer seems to drop out, the NBD limit); the parameters
  // are where the search stopped improving the likelihood, not a true optimum.
  bool at_boundary = false;
};

// lgamma sets the global signgam; lgamma_r does not, so fits may run on several threads.
inline double log_gamma(double value) {
  int sign = 0;
  return ::lgamma_r(value, &sign);
}

inline double log_likelihood_one(const Parameters& p, const Customer& c) {
  const double a1 = log_gamma(p.r + c.x) - log_gamma(p.r) + p.r * std::log(p.alpha);
  const double a2 = log_gamma(p.a + p.b) + log_gamma(p.b + c.x) - log_gamma(p.b) - log_gamma(p.a + p.b + c.x);
  const double a3 = -(p.r + c.x) * std::log(p.alpha + c.T);
  if (c.x <= 0) {
    return a1 + a2 + a3;
  }
  const double a4 = std::log(p.a) - std::log(p.b + c.x - 1) - (p.r + c.x) * std::log(p.alpha + c.t_x);
  const double high = std::max(a3, a4);
  return a1 + a2 + high + std::log(std::exp(a3 - high) + std::exp(a4 - high));
}

// Identical (x, t_x, T) triples weigh once each, with their count.
struct Grouped {
  std::vector<Customer> customers;
  std::vector<double> weights;
  // Repeat purchases are counts: when all are whole numbers the x-only terms
  // are computed once per distinct x instead of once per customer.
  bool whole_x = true;
  std::size_t max_x = 0;
};

inline Grouped group(const std::vector<Customer>& customers) {
  std::map<std::tuple<double, double, double>, double> counts;
  for (const Customer& c : customers) {
    counts[{c.x, c.t_x, c.T}] += 1;
  }
  Grouped grouped;
  for (const auto& [key, count] : counts) {
    const double x = std::get<0>(key);
    grouped.customers.push_back({x, std::get<1>(key), std::get<2>(key)});
    grouped.weights.push_back(count);
    grouped.whole_x = grouped.whole_x && x >= 0 && x == std::floor(x) && x < 1e6;
    grouped.max_x = grouped.whole_x ? std::max(grouped.max_x, static_cast<std::size_t>(x)) : grouped.max_x;
  }
  return grouped;
}

inline double log_likelihood(const Parameters& p, const Grouped& data) {
  double total = 0;
  if (!data.whole_x) {
    for (std::size_t i = 0; i < data.customers.size(); ++i) {
      total += data.weights[i] * log_likelihood_one(p, data.customers[i]);
    }
    return total;
  }
  // a1 + a2 without the r*log(alpha) part, and log(a) - log(b + x - 1), per x.
  std::vector<double> x_terms(data.max_x + 1);
  std::vector<double> dropout_terms(data.max_x + 1);
  const double constant = -log_gamma(p.r) + p.r * std::log(p.alpha) + log_gamma(p.a + p.b) - log_gamma(p.b);
  for (std::size_t x = 0; x <= data.max_x; ++x) {
    const auto xd = static_cast<double>(x);
    x_terms[x] = log_gamma(p.r + xd) + log_gamma(p.b + xd) - log_gamma(p.a + p.b + xd) + constant;
    dropout_terms[x] = x > 0 ? std::log(p.a) - std::log(p.b + xd - 1) : 0;
  }
  for (std::size_t i = 0; i < data.customers.size(); ++i) {
    const Customer& c = data.customers[i];
    const auto x = static_cast<std::size_t>(c.x);
    const double a3 = -(p.r + c.x) * std::log(p.alpha + c.T);
    double value = x_terms[x] + a3;
    if (x > 0) {
      const double a4 = dropout_terms[x] - (p.r + c.x) * std::log(p.alpha + c.t_x);
      const double high = std::max(a3, a4);
      value = x_terms[x] + high + std::log(std::exp(a3 - high) + std::exp(a4 - high));
    }
    total += data.weights[i] * value;
  }
  return total;
}

// Nelder-Mead on the logs of (r, alpha, a, b), restarted from its own optimum
// until a restart no longer improves: restarts repair a collapsed simplex.
inline FitResult fit(const std::vector<Customer>& customers, int max_iterations = 20'000) {
  const Grouped data = group(customers);
  using Point = std::array<double, 4>;
  const auto parameters_of = [](const Point& z) {
    return Parameters{std::exp(z[0]), std::exp(z[1]), std::exp(z[2]), std::exp(z[3])};
  };
  const auto objective = [&](const Point& z) {
    for (const double v : z) {
      if (!(v > -30 && v < 30)) {
        return 1e300;
      }
    }
    const double value = -log_likelihood(parameters_of(z), data);
    return std::isfinite(value) ? value : 1e300;
  };
  // Start where the means suggest: alpha near the mean time, r near 1 purchase per alpha.
  double mean_age = 0;
  for (const Customer& c : customers) {
    mean_age += c.T;
  }
  mean_age = customers.empty() ? 1 : std::max(1e-3, mean_age / static_cast<double>(customers.size()));
  Point best = {0.0, std::log(mean_age / 4), 0.0, 0.0};
  double best_value = objective(best);
  FitResult result;
  for (int restart = 0; restart < 8 && result.iterations < max_iterations; ++restart) {
    std::array<Point, 5> simplex{};
    std::array<double, 5> values{};
    simplex[0] = best;
    for (std::size_t k = 0; k < 4; ++k) {
      simplex[k + 1] = best;
      simplex[k + 1][k] += 0.5;
    }
    for (std::size_t k = 0; k < 5; ++k) {
      values[k] = objective(simplex[k]);
    }
    // Along a ridge to the boundary the simplex keeps moving while the
    // likelihood no longer changes: stop on the objective, checked every 500 steps.
    double checkpoint_value = *std::min_element(values.begin(), values.end());
    for (; result.iterations < max_iterations; ++result.iterations) {
      if (result.iterations % 500 == 499) {
        const double now = *std::min_element(values.begin(), values.end());
        if (checkpoint_value - now < 1e-9 * (1 + std::fabs(now))) {
          break;
        }
        checkpoint_value = now;
      }
      std::array<std::size_t, 5> order = {0, 1, 2, 3, 4};
      std::sort(order.begin(), order.end(), [&](std::size_t l, std::size_t r) { return values[l] < values[r]; });
      const std::size_t lowest = order[0];
      const std::size_t worst = order[4];
      const std::size_t second_worst = order[3];
      double spread = 0;
      for (std::size_t k = 0; k < 5; ++k) {
        for (std::size_t d = 0; d < 4; ++d) {
          spread = std::max(spread, std::fabs(simplex[k][d] - simplex[lowest][d]));
        }
      }
      if (std::fabs(values[worst] - values[lowest]) < 1e-10 * (1 + std::fabs(values[lowest])) && spread < 1e-8) {
        break;
      }
      Point centroid{};
      for (std::size_t k = 0; k < 5; ++k) {
        if (k != worst) {
          for (std::size_t d = 0; d < 4; ++d) {
            centroid[d] += simplex[k][d] / 4;
          }
        }
      }
      const auto along = [&](double t) {
        Point p{};
        for (std::size_t d = 0; d < 4; ++d) {
          p[d] = centroid[d] + t * (simplex[worst][d] - centroid[d]);
        }
        return p;
      };
      const Point reflected = along(-1);
      const double reflected_value = objective(reflected);
      if (reflected_value < values[lowest]) {
        const Point expanded = along(-2);
        const double expanded_value = objective(expanded);
        if (expanded_value < reflected_value) {
          simplex[worst] = expanded;
          values[worst] = expanded_value;
        } else {
          simplex[worst] = reflected;
          values[worst] = reflected_value;
        }
      } else if (reflected_value < values[second_worst]) {
        simplex[worst] = reflected;
        values[worst] = reflected_value;
      } else {
        const Point contracted = reflected_value < values[worst] ? along(-0.5) : along(0.5);
        const double contracted_value = objective(contracted);
        if (contracted_value < std::min(values[worst], reflected_value)) {
          simplex[worst] = contracted;
          values[worst] = contracted_value;
        } else {
          for (std::size_t k = 0; k < 5; ++k) {
            if (k != lowest) {
              for (std::size_t d = 0; d < 4; ++d) {
                simplex[k][d] = simplex[lowest][d] + 0.5 * (simplex[k][d] - simplex[lowest][d]);
              }
              values[k] = objective(simplex[k]);
            }
          }
        }
      }
    }
    const std::size_t lowest =
        static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
    const bool improved = values[lowest] < best_value - 1e-9 * (1 + std::fabs(best_value));
    if (values[lowest] <= best_value) {
      best = simplex[lowest];
      best_value = values[lowest];
    }
    if (!improved && restart > 0) {
      result.converged = true;
      break;
    }
  }
  result.parameters = parameters_of(best);
  result.log_likelihood = -best_value;
  result.at_boundary = std::any_of(best.begin(), best.end(), [](double v) { return std::fabs(v) > 12; }) ||
                       result.parameters.a / (result.parameters.a + result.parameters.b) < 1e-5;
  return result;
}

inline double probability_alive(const Parameters& p, const Customer& c) {
  if (c.x <= 0) {
    return 1.0;
  }
  const double log_ratio =
      std::log(p.a) - std::log(p.b + c.x - 1) + (p.r + c.x) * (std::log(p.alpha + c.T) - std::log(p.alpha + c.t_x));
  return 1.0 / (1.0 + std::exp(log_ratio));
}

// Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its series.
inline double hyp2f1(double a, double b, double c, double z) {
  double term = 1;
  double sum = 1;
  for (int n = 0; n < 100'000; ++n) {
    term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
    sum += term;
    if (std::fabs(term) < 1e-12 * std::fabs(sum)) {
      break;
    }
  }
  return sum;
}

// E[purchases in (T, T + t] | x, t_x, T], equation (10) of the paper.
inline double expected_purchases(const Parameters& p, const Customer& c, double t) {
  if (std::fabs(p.a - 1) < 1e-9 || p.a / (p.a + p.b) < 1e-5) {
    // The closed form divides by a - 1, and in the NBD limit (dropout ~ 0) it
    // subtracts two numbers equal to many digits: use the alive rate times t.
    return probability_alive(p, c) * (p.r + c.x) / (p.alpha + c.T) * t;
  }
  const double z = t / (p.alpha + c.T + t);
  const double factor = std::exp((p.r + c.x) * (std::log(p.alpha + c.T) - std::log(p.alpha + c.T + t)));
  const double head =
      (p.a + p.b + c.x - 1) / (p.a - 1) * (1 - factor * hyp2f1(p.r + c.x, p.b + c.x, p.a + p.b + c.x - 1, z));
  const double alive_odds = c.x > 0 ? std::exp(std::log(p.a) - std::log(p.b + c.x - 1) +
                                               (p.r + c.x) * (std::log(p.alpha + c.T) - std::log(p.alpha + c.t_x)))
                                    : 0.0;
  return head / (1 + alive_odds);
}

}  // namespace crm::bgnbd

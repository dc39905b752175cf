#pragma once
// Shapley values of cooperative games with several outputs (e.g. one per caption token):
// the game, a coalition cache that batches and never evaluates a coalition twice, and the
// estimators (exact, KernelSHAP, permutation sampling, Owen values over a binary
// hierarchy, pairwise Shapley interactions). No LibTorch, no Qt: a game is anything that
// maps coalitions to numbers; core/explain/shap_game.h makes one from a model.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/job.h"

namespace vlm::explain {

// One byte per player: 1 = present (its feature visible), 0 = absent (masked).
using Coalition = std::vector<uint8_t>;

// A game with n players and K outputs. evaluate() returns the values of a batch of
// coalitions, row-major [batch.size() x K].
class Game {
 public:
  virtual ~Game() = default;
  virtual int players() const = 0;
  virtual int outputs() const = 0;
  virtual std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext& job) = 0;
};

// Wraps a game: requests are split into batches of at most batchSize new coalitions, and
// a coalition already evaluated is answered from the cache (counted in hits()).
class CoalitionCache {
 public:
  CoalitionCache(Game& game, int batchSize);
  int players() const;
  int outputs() const;
  int batchSize() const { return batchSize_; }
  // Values of each coalition, row-major [coalitions.size() x K]. Coalitions repeated within
  // the request are evaluated once too. Every coalition must have players() bytes, each 0 or
  // 1 (InvalidArgument otherwise); job.throwIfCancelled() runs before each batch.
  std::vector<double> values(const std::vector<Coalition>& coalitions, const JobContext& job);
  int64_t evaluations() const { return evaluations_; }  // coalitions the game evaluated
  int64_t hits() const { return hits_; }                // requests answered from the cache
  int64_t batches() const { return batches_; }          // calls made to Game::evaluate
  bool contains(const Coalition& c) const;

 private:
  Game& game_;
  int batchSize_;
  int64_t evaluations_ = 0, hits_ = 0, batches_ = 0;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct ShapleyResult {
  std::string estimator;
  int players = 0;
  int outputs = 0;
  std::vector<double> values;   // [players x outputs]
  std::vector<double> stderrs;  // [players x outputs]; 0 for exact estimators and Owen values, and
                                // when fewer than two units were sampled (no spread to measure)
  std::vector<double> emptyValue;  // v(empty set), per output
  std::vector<double> fullValue;   // v(all players), per output
  int64_t evaluations = 0;  // new game evaluations this estimator caused (cache misses)
  int64_t cacheHits = 0;    // requests this estimator had answered from the cache
  int64_t samples = 0;      // sampled permutations / coalitions (0 for exact)
  bool converged = false;   // sampling stopped early because the error fell below tolerance;
                            // Owen values: the budget reached every leaf (exact Owen values)
  double value(int player, int output) const { return values[size_t(player) * outputs + output]; }
  double stderrOf(int player, int output) const { return stderrs[size_t(player) * outputs + output]; }
};

// All 2^n coalitions; refused (InvalidArgument) above kMaxExactPlayers.
inline constexpr int kMaxExactPlayers = 20;
ShapleyResult exactShapley(CoalitionCache& v, const JobContext& job);

struct SamplingOptions {
  int64_t maxEvaluations = 1000;  // budget of new game evaluations, v(empty) and v(N) included
  uint64_t seed = 0;
  // Stop early once, for every output, max_i stderr_i <= tolerance * (max_i phi_i - min_i phi_i).
  // 0: use the whole budget.
  double tolerance = 0;
  bool paired = true;  // antithetic: a coalition and its complement / a permutation and its reverse
};

// KernelSHAP (Lundberg & Lee) with the efficiency constraint; subset sizes are enumerated
// completely while the budget allows, the rest sampled; standard errors are the weighted
// regression's sandwich estimate over the sampled (paired) units. Budgets count new
// evaluations, so repeated draws answered by the cache are free (and still count as samples).
// With a budget of all 2^n coalitions the values are the exact Shapley values; with too few
// samples to determine every player, the minimum-norm solution of the constrained problem.
// samples: sampled coalitions. InvalidArgument below a budget of 2.
ShapleyResult kernelShap(CoalitionCache& v, const SamplingOptions& options, const JobContext& job);

// Permutation sampling (antithetic: each permutation and its reverse); efficiency holds
// exactly; standard errors from the spread of the per-permutation estimates (per pair when
// paired). samples: permutations. The budget must cover v(empty), v(N) and one permutation
// (pair): 2 + (n - 1) (x 2 when paired), InvalidArgument otherwise.
ShapleyResult permutationShapley(CoalitionCache& v, const SamplingOptions& options, const JobContext& job);

// A binary hierarchy over the players (e.g. an image split in halves recursively).
struct HierarchyNode {
  std::vector<int> players;  // the players under this node
  int left = -1, right = -1; // children; both -1 for a leaf (a leaf has exactly one player)
};
struct Hierarchy {
  std::vector<HierarchyNode> nodes;
  int root = 0;
};
// Checks the hierarchy covers 0..n-1 once per level (every node reachable from the root has
// players, a leaf exactly one, an internal node two children that split its players);
// InvalidArgument with the reason if not. Nodes not reachable from the root are ignored.
void validateHierarchy(const Hierarchy& h, int players);

// Owen values over the hierarchy (SHAP's Partition explainer): each node's children are
// explained in the two contexts of their sibling (absent / present), recursively, largest
// effects first, until maxEvaluations; unexplored nodes share their effect evenly among
// their players. Efficiency holds exactly for every budget; exact Owen values when the
// budget reaches the leaves (then converged is true). InvalidArgument below a budget of 2.
ShapleyResult owenValues(CoalitionCache& v, const Hierarchy& hierarchy, int64_t maxEvaluations,
                         const JobContext& job);

struct InteractionResult {
  int players = 0;
  int outputs = 0;
  bool exact = false;
  std::vector<double> shapley;     // [n x K] Shapley values
  std::vector<double> sii;         // [n x n x K] pairwise Shapley interaction index, symmetric, 0 diagonal
  std::vector<double> siiStderr;   // [n x n x K]; 0 when exact
  std::vector<double> ksiiSingle;  // [n x K] 2-SII main terms: phi_i - 1/2 sum_j SII_ij
  std::vector<double> emptyValue, fullValue;
  int64_t evaluations = 0;
  int64_t cacheHits = 0;
  double pair(int i, int j, int output) const { return sii[(size_t(i) * players + j) * outputs + output]; }
};

// Order-2 Shapley interaction index (k-SII with k = 2, as shapiq). Exact (all 2^n
// coalitions) when 2^n <= options.maxEvaluations and n <= kMaxExactPlayers; otherwise the
// Shapley values come from permutationShapley with a third of the budget and each pair is
// estimated by Monte-Carlo over its SII distribution (4 coalitions a sample) with the rest,
// which must give every pair one sample (InvalidArgument with the budget needed otherwise).
InteractionResult shapleyInteractions(CoalitionCache& v, const SamplingOptions& options,
                                      const JobContext& job);

}  // namespace vlm::explain

// The repair loop on the hand-built pairs of pairs.h: faults planted in the converted (NHWC,
// folded, fused) target are fixed, the repaired graph agrees with the source, the input graph
// is left as it was, and an edit that would break agreeing images is not kept.
#include "analysis/repair.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "analysis/localize.h"
#include "ir/graph.h"
#include "pairs.h"
#include "runtime/interpreter.h"

namespace convmend::analysis {
namespace {

using namespace pairs;  // NOLINT(google-build-using-namespace): the shared fixtures

Result<RepairResult> run_repair(const Graph& s, const Graph& t, int rounds = 4) {
  const Tensor x = batch();
  RepairOptions options;
  options.max_rounds = rounds;
  return repair(s, t, nullptr, {x}, {nchw_to_nhwc(x)}, options);
}

std::string steps_text(const RepairResult& r) {
  std::string out = "stopped: " + r.stopped + "\n";
  for (const RepairStep& s : r.steps) {
    out += std::to_string(s.round) + " " + s.finding.code + (s.kept ? " kept " : " dropped ") +
           s.reason + "\n";
    for (const std::string& e : s.edits) out += "    " + e + "\n";
  }
  return out;
}

TEST(analysis_Repair, CleanTargetNeedsNothing) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  Result<RepairResult> r = run_repair(*s, *t);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->steps.empty()) << steps_text(*r);
  EXPECT_EQ(r->rounds, 0);
  EXPECT_EQ(r->before.disagreeing, 0);
  EXPECT_LT(r->after.relative, 1e-5);
  EXPECT_TRUE(structurally_equal(*r->repaired, *t, nullptr));
}

TEST(analysis_Repair, TwoFaultsAreBothFixed) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  // A corrupted output channel of conv2 and a wrong stride on the pool.
  Value* w = t->find_value("t_conv2/w");
  Tensor changed = w->constant().clone();
  for (int64_t i = 3 * 72; i < 4 * 72; ++i) changed.data<float>()[i] = -changed.data<float>()[i];
  w->set_constant(changed);
  t->find_node("t_pool")->attrs().set("strides", std::vector<int64_t>{1, 1});
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  const uint64_t before_hash = t->structural_hash();

  Result<RepairResult> r = run_repair(*s, *t);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_GT(r->before.relative, 0.05) << steps_text(*r);
  EXPECT_TRUE(r->after.agrees(1e-4)) << steps_text(*r);
  EXPECT_LT(r->after.relative, 1e-5) << steps_text(*r);
  std::set<std::string> kept;
  for (const RepairStep& st : r->steps) {
    if (st.kept) kept.insert(st.finding.code);
  }
  EXPECT_TRUE(kept.count("param.value") == 1) << steps_text(*r);
  EXPECT_TRUE(kept.count("hparam.pooling") == 1 || kept.count("hparam.stride_dilation") == 1)
      << steps_text(*r);
  EXPECT_NE(r->stopped.find("agrees"), std::string::npos) << r->stopped;
  // The input graph is untouched; the repaired one carries the source's values.
  EXPECT_EQ(t->structural_hash(), before_hash);
  Result<std::vector<int64_t>> strides =
      r->repaired->find_node("t_pool")->attrs().get_ints("strides", {});
  ASSERT_TRUE(strides.is_ok());
  EXPECT_EQ(*strides, (std::vector<int64_t>{2, 2}));
  // Scores are those of a fresh run of the repaired graph.
  const Tensor x = batch();
  Result<std::vector<Tensor>> src = run_batch(*s, {x}, 3);
  Result<std::vector<Tensor>> dst = run_batch(*r->repaired, {nchw_to_nhwc(x)}, 3);
  ASSERT_TRUE(src.is_ok() && dst.is_ok());
  const BatchScore fresh = score_outputs(*src, *dst);
  EXPECT_EQ(fresh.disagreeing, 0);
  EXPECT_LT(fresh.relative, 1e-5);
}

TEST(analysis_Repair, RoundLimitStopsTheLoop) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  t->find_value("six")->set_constant(F32({}, {1.0f}));
  const Tensor x = batch();
  RepairOptions options;
  options.max_rounds = 1;
  Result<RepairResult> r = repair(*s, *t, nullptr, {x}, {x}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->rounds, 1);
  EXPECT_TRUE(r->after.agrees(1e-4)) << steps_text(*r);
}

TEST(analysis_Repair, ScoreCountsDisagreementsPerImage) {
  const Tensor a = F32({3, 2}, {1, 0, 0, 1, 5, 4});
  const Tensor b = F32({3, 2}, {1, 0, 2, 1, 5, 4});
  const BatchScore s = score_outputs({a}, {b});
  EXPECT_EQ(s.disagreeing, 1);
  ASSERT_EQ(s.disagree.size(), 3u);
  EXPECT_TRUE(s.disagree[1]);
  EXPECT_NEAR(s.relative, 2.0 / 5.0, 1e-12);
  const BatchScore other = score_outputs({a}, {F32({3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0})});
  EXPECT_EQ(other.disagreeing, 3);  // outputs of another size: every image differs
}

TEST(analysis_Repair, MismatchedBatchesAreAStatus) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  const Tensor x = batch();
  Result<RepairResult> r = repair(*s, *t, nullptr, {x}, {Random({2, 12, 12, 3}, 1)}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("same images"), std::string::npos);
}

}  // namespace
}  // namespace convmend::analysis

// The IR and the interpreter on small hand-built graphs: verification, text form, structural
// equality, shape inference, observers, incremental re-runs, isolated node runs, exact mode.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.h"
#include "runtime/interpreter.h"
#include "support/test_support.h"

namespace convmend {
namespace {

using testing::F32;
using testing::TensorsClose;

// y = Relu(x * w + b) followed by Softmax over the last axis.
std::unique_ptr<Graph> small_graph() {
  auto g = std::make_unique<Graph>();
  g->set_name("small");
  Value* x = g->add_input("x", DType::kFloat32, {1, 4});
  Value* w = g->add_constant("w", F32({4}, {1.0f, -2.0f, 0.5f, 3.0f}));
  Value* b = g->add_constant("b", F32({4}, {0.1f, 0.2f, -0.3f, 0.4f}));
  Node* mul = g->add_node(OpKind::kMul, "mul", {x, w}, {"xw"});
  Node* add = g->add_node(OpKind::kAdd, "add", {mul->output(0), b}, {"xwb"});
  Node* relu = g->add_node(OpKind::kRelu, "relu", {add->output(0)}, {"r"});
  Node* softmax = g->add_node(OpKind::kSoftmax, "softmax", {relu->output(0)}, {"y"});
  softmax->attrs().set("axis", int64_t{-1});
  g->add_output(softmax->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

std::vector<float> expected_output(const std::vector<float>& x, const std::vector<float>& w) {
  const float b[] = {0.1f, 0.2f, -0.3f, 0.4f};
  std::vector<double> r(4);
  double sum = 0, top = 0;
  for (int i = 0; i < 4; ++i) {
    r[i] = std::max(0.0, static_cast<double>(x[i]) * w[i] + b[i]);
    top = std::max(top, r[i]);
  }
  for (double& v : r) sum += std::exp(v - top);
  std::vector<float> out;
  for (double v : r) out.push_back(static_cast<float>(std::exp(v - top) / sum));
  return out;
}

TEST(Graph, VerifiesAndPrints) {
  auto g = small_graph();
  ASSERT_TRUE(g->verify().is_ok());
  const std::string text = g->to_text();
  EXPECT_NE(text.find("Softmax"), std::string::npos);
  EXPECT_NE(text.find("'w' f32[4]"), std::string::npos);
  EXPECT_EQ(g->find_value("y")->shape(), (Shape{1, 4}));
  EXPECT_EQ(g->find_value("xw")->dtype(), DType::kFloat32);
}

TEST(Graph, VerifyRefusesArityAndDanglingInputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {2});
  Node* add = g.add_node(OpKind::kAdd, "add", {x}, {"y"});  // Add needs two inputs
  g.add_output(add->output(0));
  Status s = g.verify();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("has 1 inputs"), std::string::npos) << s.message();

  Graph h;
  Value* floating = h.add_value("nowhere", DType::kFloat32, {2});
  Node* relu = h.add_node(OpKind::kRelu, "relu", {floating}, {"y"});
  h.add_output(relu->output(0));
  s = h.verify();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("neither produced"), std::string::npos) << s.message();
}

TEST(Graph, StructuralEqualityIgnoresNamesButNotWeights) {
  auto a = small_graph();
  auto b = small_graph();
  b->find_value("xw")->set_name("renamed");
  std::string diff;
  EXPECT_TRUE(structurally_equal(*a, *b, &diff)) << diff;
  EXPECT_EQ(a->structural_hash(), b->structural_hash());
  b->find_value("w")->set_constant(F32({4}, {1.0f, -2.0f, 0.5f, 3.5f}));
  EXPECT_FALSE(structurally_equal(*a, *b, &diff));
  EXPECT_NE(a->structural_hash(), b->structural_hash());
  auto c = small_graph();
  c->find_node("softmax")->attrs().set("axis", int64_t{1});
  EXPECT_FALSE(structurally_equal(*a, *c, &diff));
}

TEST(Graph, CloneKeepsIdsAndIsIndependent) {
  auto g = small_graph();
  auto clone = g->clone();
  ASSERT_TRUE(clone.is_ok());
  Graph& c = *clone.value();
  ASSERT_TRUE(c.verify().is_ok());
  EXPECT_EQ(c.find_value("w")->id(), g->find_value("w")->id());
  c.find_value("w")->set_constant(F32({4}, {0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(g->find_value("w")->constant().data<float>()[0], 1.0f);
}

TEST(Graph, RewireAndRemove) {
  auto g = small_graph();
  Node* relu = g->find_node("relu");
  Node* softmax = g->find_node("softmax");
  g->replace_all_uses(relu->output(0), relu->input(0));  // drop the Relu
  ASSERT_TRUE(g->remove_node(relu).is_ok());
  ASSERT_TRUE(g->verify().is_ok());
  EXPECT_EQ(softmax->input(0)->name(), "xwb");
  EXPECT_EQ(g->node_count(), 3u);
}

TEST(Interpreter, RunsAndObserves) {
  auto g = small_graph();
  auto interp = Interpreter::create(*g);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  const std::vector<float> x = {1.0f, 2.0f, -1.0f, 0.5f};
  std::vector<Tensor> out;
  struct Counting : Observer {
    int seen = 0;
    bool wants(const Node& n) override { return n.op() != OpKind::kSoftmax; }
    Status on_output(const Node&, size_t, const Tensor&) override {
      ++seen;
      return Status::ok();
    }
  } observer;
  ASSERT_TRUE(interp.value()->run({F32({1, 4}, x)}, &out, &observer).is_ok());
  EXPECT_EQ(observer.seen, 3);
  EXPECT_TRUE(TensorsClose(out[0], F32({1, 4}, expected_output(x, {1, -2, 0.5, 3})), 1e-6));
}

TEST(Interpreter, RefusesWrongInputShapeAndDtype) {
  auto g = small_graph();
  auto interp = Interpreter::create(*g);
  ASSERT_TRUE(interp.is_ok());
  std::vector<Tensor> out;
  Status s = interp.value()->run({F32({1, 5}, {0, 0, 0, 0, 0})}, &out);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("has shape [1,5], the model expects [1,4]"), std::string::npos)
      << s.message();
  s = interp.value()->run({testing::I64({1, 4}, {0, 0, 0, 0})}, &out);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("is i64, the model expects f32"), std::string::npos) << s.message();
}

TEST(Interpreter, RerunReusesUpstreamAndAppliesPatches) {
  auto g = small_graph();
  auto interp = Interpreter::create(*g);
  ASSERT_TRUE(interp.is_ok());
  const std::vector<float> x = {1.0f, 2.0f, -1.0f, 0.5f};
  RunState base;
  ASSERT_TRUE(interp.value()->run_keep({F32({1, 4}, x)}, &base).is_ok());

  // Patch the Mul output: as if w were {1, 1, 1, 1}.
  struct Counting : Observer {
    std::vector<std::string> ran;
    bool wants(const Node&) override { return true; }
    Status on_output(const Node& n, size_t, const Tensor&) override {
      ran.push_back(n.name());
      return Status::ok();
    }
  } observer;
  RunState patched;
  ValuePatch patch{g->find_value("xw"), F32({1, 4}, x)};
  ASSERT_TRUE(interp.value()->rerun(base, {patch}, {}, &patched, &observer).is_ok());
  EXPECT_EQ(observer.ran, (std::vector<std::string>{"add", "relu", "softmax"}));
  auto out = interp.value()->outputs_of(patched);
  ASSERT_TRUE(out.is_ok());
  EXPECT_TRUE(TensorsClose(out.value()[0], F32({1, 4}, expected_output(x, {1, 1, 1, 1})), 1e-6));

  // An attribute edit on a clone re-runs that node and what follows, nothing upstream.
  auto clone = g->clone();
  ASSERT_TRUE(clone.is_ok());
  Node* softmax = clone.value()->find_node("softmax");
  softmax->attrs().set("beta", 2.0);
  auto edited = Interpreter::create(*clone.value());
  ASSERT_TRUE(edited.is_ok());
  observer.ran.clear();
  RunState after_edit;
  ASSERT_TRUE(edited.value()->rerun(base, {}, {softmax}, &after_edit, &observer).is_ok());
  EXPECT_EQ(observer.ran, (std::vector<std::string>{"softmax"}));
}

TEST(Interpreter, EvaluatesOneNodeOnGivenInputs) {
  auto g = small_graph();
  auto interp = Interpreter::create(*g);
  ASSERT_TRUE(interp.is_ok());
  Tensor x = F32({1, 4}, {1, 1, 1, 1});
  std::vector<Tensor> out;
  // Mul's second input is the constant w, taken from the model.
  ASSERT_TRUE(interp.value()->evaluate_node(*g->find_node("mul"), {&x, nullptr}, &out).is_ok());
  EXPECT_TRUE(TensorsClose(out[0], F32({1, 4}, {1, -2, 0.5, 3})));
  Status s = interp.value()->evaluate_node(*g->find_node("mul"), {nullptr, nullptr}, &out);
  EXPECT_FALSE(s.is_ok());
}

// A float64 model input stays float64 outside exact mode (it was narrowed to float32, so a
// Mul with a float64 constant failed: ONNX test_flexattention_double_expanded_ver26).
TEST(Interpreter, KeepsFloat64InputsOfFloat64Models) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat64, {2});
  Value* c = g.add_constant("c", Tensor::from_vector<double>(DType::kFloat64, {2}, {1e-12, 2.0}));
  Node* add = g.add_node(OpKind::kAdd, "add", {x, c}, {"y"});
  g.add_output(add->output(0));
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
  auto interp = Interpreter::create(g);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  std::vector<Tensor> out;
  Tensor in = Tensor::from_vector<double>(DType::kFloat64, {2}, {1.0, 3.0});
  Status s = interp.value()->run({in}, &out);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(out[0].dtype(), DType::kFloat64);
  EXPECT_EQ(out[0].data<double>()[0], 1.0 + 1e-12);
  EXPECT_EQ(out[0].data<double>()[1], 5.0);
}

TEST(Interpreter, ExactModeComputesInFloat64) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {3});
  Value* c = g.add_constant("c", F32({3}, {1e8f, 1.0f, -1e8f}));
  Node* sum = g.add_node(OpKind::kReduceSum, "sum", {g.add_node(OpKind::kAdd, "add", {x, c},
                                                                {"xc"})->output(0)},
                         {"s"});
  sum->attrs().set("keepdims", int64_t{0});
  g.add_output(sum->output(0));
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
  RunOptions exact;
  exact.exact = true;
  auto interp = Interpreter::create(g, exact);
  ASSERT_TRUE(interp.is_ok());
  std::vector<Tensor> out;
  ASSERT_TRUE(interp.value()->run({F32({3}, {0.5f, 0.25f, 0.25f})}, &out).is_ok());
  ASSERT_EQ(out[0].dtype(), DType::kFloat64);
  // In float32, 1e8 + 0.5 rounds to 1e8; in float64 the sum keeps it: 0.5 + 1.25 + 0.25.
  EXPECT_DOUBLE_EQ(out[0].data<double>()[0], 2.0);
}

}  // namespace
}  // namespace convmend

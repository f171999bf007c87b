#include <algorithm>

#include "ir/shape_inference.h"

namespace convmend {
namespace {

bool dims_differ(int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; }

}  // namespace

Status infer_FullyConnected(const Node& node, std::span<const TensorMeta> inputs,
                            std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known || !inputs[1].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const Shape& x = inputs[0].shape;
  const Shape& w = inputs[1].shape;
  if (w.size() != 2) {
    return error(StatusCode::kInvalidModel, "FullyConnected weight ", shape_to_string(w),
                 " must be [out, in]");
  }
  if (x.empty()) {
    return error(StatusCode::kInvalidModel, "FullyConnected input is a scalar");
  }
  if (inputs.size() > 2 && inputs[2].rank_known) {
    const Shape& b = inputs[2].shape;
    if (b.size() != 1 || dims_differ(b[0], w[0])) {
      return error(StatusCode::kInvalidModel, "FullyConnected bias ", shape_to_string(b),
                   " does not match weight ", shape_to_string(w));
    }
  }
  ASSIGN_OR_RETURN(int64_t keep_num_dims, node.attrs().get_int("keep_num_dims", 0));
  ASSIGN_OR_RETURN(Activation activation, node.attrs().get_activation());
  (void)activation;
  if (keep_num_dims != 0) {
    if (dims_differ(x.back(), w[1])) {
      return error(StatusCode::kInvalidModel, "FullyConnected input ", shape_to_string(x),
                   " has ", x.back(), " features, weight ", shape_to_string(w), " expects ",
                   w[1]);
    }
    Shape out = x;
    out.back() = w[0];
    outputs[0].shape = out;
    return Status::ok();
  }
  int64_t rows = -1;
  if (shape_is_static(x) && w[1] > 0) {
    ASSIGN_OR_RETURN(int64_t n, shape_num_elements(x));
    if (n % w[1] != 0) {
      return error(StatusCode::kInvalidModel, "FullyConnected input ", shape_to_string(x),
                   " has ", n, " elements, not a multiple of the ", w[1],
                   " features of weight ", shape_to_string(w));
    }
    rows = n / w[1];
  }
  outputs[0].shape = {rows, w[0]};
  return Status::ok();
}

Status infer_Gemm(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known || !inputs[1].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const Shape& a = inputs[0].shape;
  const Shape& b = inputs[1].shape;
  if (a.size() != 2 || b.size() != 2) {
    return error(StatusCode::kInvalidModel, "Gemm operands ", shape_to_string(a), " and ",
                 shape_to_string(b), " must both be 2-D");
  }
  ASSIGN_OR_RETURN(int64_t trans_a, node.attrs().get_int("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, node.attrs().get_int("transB", 0));
  const int64_t m = trans_a ? a[1] : a[0];
  const int64_t ka = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0];
  const int64_t n = trans_b ? b[0] : b[1];
  if (dims_differ(ka, kb)) {
    return error(StatusCode::kInvalidModel, "Gemm A ", shape_to_string(a), " (transA ", trans_a,
                 ") and B ", shape_to_string(b), " (transB ", trans_b,
                 ") disagree on K: ", ka, " vs ", kb);
  }
  if (inputs.size() > 2 && inputs[2].rank_known) {
    const Shape& c = inputs[2].shape;
    ASSIGN_OR_RETURN(Shape bc, broadcast_shapes(c, {m, n}));
    if (c.size() > 2 || bc != Shape{m, n}) {
      return error(StatusCode::kInvalidModel, "Gemm C ", shape_to_string(c),
                   " does not broadcast to the output [", m, ",", n, "]");
    }
  }
  outputs[0].shape = {m, n};
  return Status::ok();
}

Status infer_MatMul(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known || !inputs[1].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  Shape a = inputs[0].shape;
  Shape b = inputs[1].shape;
  if (a.empty() || b.empty()) {
    return error(StatusCode::kInvalidModel, "MatMul operands ", shape_to_string(a), " and ",
                 shape_to_string(b), " must not be scalars");
  }
  const bool a_vector = a.size() == 1;
  const bool b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  const int64_t ka = a[a.size() - 1];
  const int64_t kb = b[b.size() - 2];
  if (dims_differ(ka, kb)) {
    return error(StatusCode::kInvalidModel, "MatMul operands ", shape_to_string(inputs[0].shape),
                 " and ", shape_to_string(inputs[1].shape), " disagree on K: ", ka, " vs ", kb);
  }
  ASSIGN_OR_RETURN(Shape batch, broadcast_shapes(Shape(a.begin(), a.end() - 2),
                                                 Shape(b.begin(), b.end() - 2)));
  Shape out = batch;
  if (!a_vector) out.push_back(a[a.size() - 2]);
  if (!b_vector) out.push_back(b.back());
  outputs[0].shape = out;
  return Status::ok();
}

}  // namespace convmend
